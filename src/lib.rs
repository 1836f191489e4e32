//! switchboard — a chat routing daemon for contact centres.
//!
//! Layout:
//! - [`domain`]: the decisions (ticket state machine, calendar, visibility, variables,
//!   formatting) in plain Rust, unit-tested directly;
//! - [`actors`]: departments, tickets and operator sessions, which carry the decisions out;
//! - [`persistence`]: the one storage interface, on SQLite or PostgreSQL;
//! - [`channels`]: where messages come from and go to (REST integrations, WhatsApp);
//! - [`http`]: the REST API and the WebSocket endpoint;
//! - [`views`]: the wire forms shared by REST and WebSocket;
//! - [`transcript`]: a ticket as a PDF; [`geocoder`]: addresses to coordinates;
//! - [`clock`]: the time routing reads, which tests move forward;
//! - [`config`], [`telemetry`], [`startup`], [`error`]: the daemon's plumbing.

pub mod actors;
pub mod admin_cli;
pub mod channels;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod geocoder;
pub mod http;
pub mod instruments;
pub mod persistence;
pub mod startup;
pub mod telemetry;
pub mod transcript;
pub mod views;
