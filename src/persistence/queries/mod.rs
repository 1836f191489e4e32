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

/// The values of `items` once each, sorted: the list of an `IN (…)` lookup.
pub(crate) fn distinct<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut all: Vec<T> = items.into_iter().collect();
    all.sort_unstable();
    all.dedup();
    all
}
