//! switchboard — a chat routing daemon for contact centres.
pub mod actors;
pub mod domain;
pub mod persistence;
pub mod views;
