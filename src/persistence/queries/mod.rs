//! Queries, one module per area. Each function takes a connection and runs inside whatever
//! transaction the caller (usually [`crate::persistence::Store::write`]) opened.

pub mod audit;
pub mod catalogues;
pub mod contacts;
pub mod directory;
pub mod inbound;
pub mod media;
pub mod reports;
pub mod tickets;
