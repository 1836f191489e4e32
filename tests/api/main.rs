//! Integration tests: the daemon driven through its public contract only.

mod authorization;
mod browser;
mod console;
mod daemon;
mod errors;
mod helpers;
mod lifecycle;
mod openapi;
mod operations;
mod outage;
mod races;
mod rate_limits;
mod recovery;
mod routing;
mod sessions;
mod side_panel;
mod socket_limits;
mod store;
mod visibility;
mod whatsapp;
mod ws;
