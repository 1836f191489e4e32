//! Ticket numbers: unique, increasing in opening order, never reused.
//!
//! They used to come from a counter row updated inside the opening transaction. On PostgreSQL
//! that row stays locked until COMMIT, so every writer that opened a ticket waited for the
//! previous one's fsync: new conversations were numbered, and committed, one transaction at a
//! time (about 900 a second whatever the number of writers). Instead the daemon hands numbers
//! out itself, seeded at start-up from the largest number stored. A number taken by a
//! transaction that then fails is skipped — numbers may have gaps, never repeats — and since no
//! one ever saw it, a restart may give it out again.
//!
//! The ticket's id (a UUIDv7, ordered by time) is made under the same lock as its number, so
//! ids sort as numbers do even when several writers open tickets at once.

use std::sync::Mutex;

use diesel::prelude::*;

use super::schema::{counters, tickets};
use super::{DbConn, StoreError};
use crate::domain::ids::TicketId;

#[derive(Debug)]
pub struct TicketNumbers {
    last: Mutex<i64>,
}

impl TicketNumbers {
    /// Seeded from what is stored: the largest ticket number, or the counter that numbered
    /// tickets before this allocator (kept by databases written by older builds).
    pub fn load(conn: &mut DbConn) -> Result<Self, StoreError> {
        let stored: Option<i64> = tickets::table
            .select(diesel::dsl::max(tickets::number))
            .first(conn)?;
        let counted: Option<i64> = counters::table
            .filter(counters::name.eq("ticket_number"))
            .select(counters::value)
            .first(conn)
            .optional()?;
        Ok(Self::after(stored.max(counted).unwrap_or(0)))
    }

    /// Numbers from `last + 1` on.
    pub fn after(last: i64) -> Self {
        Self {
            last: Mutex::new(last),
        }
    }

    /// The next number and the id of the ticket that takes it.
    pub fn next(&self) -> (i64, TicketId) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        *last += 1;
        (*last, TicketId::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_ids_increase_together_across_threads() {
        let numbers = std::sync::Arc::new(TicketNumbers::after(41));
        let handed: Vec<(i64, TicketId)> = (0..4)
            .map(|_| {
                let numbers = numbers.clone();
                std::thread::spawn(move || (0..500).map(|_| numbers.next()).collect::<Vec<_>>())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let mut by_number = handed.clone();
        by_number.sort_by_key(|(n, _)| *n);
        let expected: Vec<i64> = (42..42 + 2000).collect();
        assert_eq!(
            by_number.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            expected
        );
        assert!(
            by_number
                .windows(2)
                .all(|w| w[0].1.to_string() < w[1].1.to_string()),
            "ids sort as numbers do"
        );
    }
}
