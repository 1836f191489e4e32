//! Thin actors that carry out the domain's decisions (ARCHITECTURE.md, "Actors"):
//! - [`department::DepartmentActor`], one per department: its queues, calendar, online
//!   operators; routes new tickets and fans events out to the sessions that may see them;
//! - [`ticket::TicketActor`], one per open ticket in use: the single writer of that ticket;
//! - [`operator::OperatorSession`], one per WebSocket: snapshot first, then events, each
//!   with a per-connection `seq`;
//! - [`registry::Registry`], the directory that finds (or starts) the actor for an id.

pub mod department;
pub mod events;
pub mod operator;
pub mod registry;
pub mod ticket;
