//! The decisions of the product, in plain Rust: no actix, no diesel, no tokio.
//! Everything here is unit-tested directly; actors and storage only carry out what it decides.

pub mod calendar;
pub mod classification;
pub mod contact;
pub mod email;
pub mod formatting;
pub mod ids;
pub mod message;
pub mod routing;
pub mod service_levels;
pub mod template;
pub mod ticket;
pub mod visibility;
