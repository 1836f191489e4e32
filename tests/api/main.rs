//! Integration tests: the daemon driven through its public contract only.

mod errors;
mod helpers;
mod lifecycle;
mod races;
mod visibility;
mod ws;
