//! Service levels: a department's tickets over a time range summed up as a contact centre
//! reads them — how many opened and closed, won and lost, and how long customers waited for a
//! first answer and how long conversations took, as median and 90th percentile, for the
//! department and for each operator.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::classification::Outcome;
use super::ids::OperatorId;

/// What one ticket contributes.
#[derive(Debug, Clone)]
pub struct TicketFacts {
    /// Its owner (the last one, once closed).
    pub operator: Option<(OperatorId, String)>,
    pub created_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub opened: usize,
    pub closed: usize,
    pub won: usize,
    pub lost: usize,
    /// Seconds from the ticket's opening to the first operator message.
    pub first_response_s: Spread,
    /// Seconds from the first operator message to the close.
    pub handling_s: Spread,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorTotals {
    pub operator_id: OperatorId,
    pub name: String,
    #[serde(flatten)]
    pub totals: Totals,
}

/// Sums up tickets: the department's totals and each operator's (by id).
pub fn summarize(tickets: &[TicketFacts]) -> (Totals, Vec<OperatorTotals>) {
    let mut operators: Vec<(OperatorId, String)> =
        tickets.iter().filter_map(|t| t.operator.clone()).collect();
    operators.sort();
    operators.dedup_by_key(|o| o.0);
    let per_operator = operators
        .into_iter()
        .map(|(id, name)| {
            let theirs: Vec<TicketFacts> = tickets
                .iter()
                .filter(|t| t.operator.as_ref().is_some_and(|o| o.0 == id))
                .cloned()
                .collect();
            OperatorTotals {
                operator_id: id,
                name,
                totals: totals(&theirs),
            }
        })
        .collect();
    (totals(tickets), per_operator)
}

fn totals(tickets: &[TicketFacts]) -> Totals {
    let closed: Vec<&TicketFacts> = tickets.iter().filter(|t| t.closed_at.is_some()).collect();
    let outcome = |o| closed.iter().filter(|t| t.outcome == Some(o)).count();
    let seconds =
        |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).num_milliseconds() as f64 / 1000.0;
    let first_response = tickets
        .iter()
        .filter_map(|t| Some(seconds(t.created_at, t.first_response_at?)))
        .collect();
    let handling = tickets
        .iter()
        .filter_map(|t| Some(seconds(t.first_response_at?, t.closed_at?)))
        .collect();
    Totals {
        opened: tickets.len(),
        closed: closed.len(),
        won: outcome(Outcome::Won),
        lost: outcome(Outcome::Lost),
        first_response_s: spread(first_response),
        handling_s: spread(handling),
    }
}

fn spread(values: Vec<f64>) -> Spread {
    let (median, p90) = super::routing::median_and_p90(values);
    Spread { median, p90 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn totals_per_department_and_operator() {
        let t0 = Utc::now();
        let ana = (OperatorId::new(), "Ana".to_owned());
        let beto = (OperatorId::new(), "Beto".to_owned());
        let at = |s| t0 + Duration::seconds(s);
        let facts = vec![
            TicketFacts {
                operator: Some(ana.clone()),
                created_at: t0,
                first_response_at: Some(at(10)),
                closed_at: Some(at(70)),
                outcome: Some(Outcome::Won),
            },
            TicketFacts {
                operator: Some(ana.clone()),
                created_at: t0,
                first_response_at: Some(at(30)),
                closed_at: Some(at(130)),
                outcome: Some(Outcome::Lost),
            },
            TicketFacts {
                operator: Some(beto.clone()),
                created_at: t0,
                first_response_at: Some(at(20)),
                closed_at: None,
                outcome: None,
            },
            TicketFacts {
                operator: None,
                created_at: t0,
                first_response_at: None,
                closed_at: None,
                outcome: None,
            },
        ];
        let (all, per) = summarize(&facts);
        assert_eq!((all.opened, all.closed, all.won, all.lost), (4, 2, 1, 1));
        assert_eq!(all.first_response_s.median, Some(20.0));
        assert_eq!(all.first_response_s.p90, Some(30.0));
        assert_eq!(all.handling_s.median, Some(60.0));
        assert_eq!(all.handling_s.p90, Some(100.0));
        assert_eq!(per.len(), 2);
        let a = per.iter().find(|o| o.operator_id == ana.0).unwrap();
        assert_eq!((a.totals.closed, a.totals.won, a.totals.lost), (2, 1, 1));
        let b = per.iter().find(|o| o.operator_id == beto.0).unwrap();
        assert_eq!(b.totals.handling_s.median, None);
        assert_eq!(b.totals.first_response_s.median, Some(20.0));
    }
}
