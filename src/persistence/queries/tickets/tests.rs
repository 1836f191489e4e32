//! Tests of `tickets`, kept apart so the module reads as what it decides.

use super::*;
use crate::domain::visibility::{Placement, Role, Viewer, can_see};
use crate::persistence::queries::{directory, inbound};
use crate::persistence::scratch_store;
use crate::persistence::ticket_numbers::TicketNumbers;
use crate::views::{ChannelView, DepartmentView};

/// The SQL filter and `can_see` agree on every ticket state, department and owner, for
/// every role, membership and identity: visibility is written twice, so this holds them
/// together.
#[test]
fn the_list_filter_agrees_with_can_see_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = scratch_store(&dir, "t.sqlite3");
    let now = crate::persistence::now();
    let departments: Vec<DepartmentId> = (0..2).map(|_| DepartmentId::new()).collect();
    let operators: Vec<OperatorId> = (0..3).map(|_| OperatorId::new()).collect();
    let placements = store
        .read_blocking(|c| {
            let mut channels = Vec::new();
            for (i, d) in departments.iter().enumerate() {
                let view = DepartmentView {
                    id: *d,
                    name: format!("D{i}"),
                    timezone: "UTC".into(),
                    business_hours: Default::default(),
                    holidays: vec![],
                    out_of_hours_message: None,
                    required_fields: vec![],
                    created_at: now,
                    routing: Default::default(),
                };
                directory::insert_department(c, &view)?;
                let channel = ChannelView {
                    id: ChannelId::new(),
                    name: format!("C{i}"),
                    kind: crate::channels::ChannelKind::Api,
                    department_id: *d,
                    created_at: now,
                };
                directory::insert_channel(c, &channel, "{}")?;
                channels.push(channel);
            }
            for (i, o) in operators.iter().enumerate() {
                directory::insert_operator(
                    c,
                    &directory::NewOperator {
                        id: *o,
                        name: &format!("O{i}"),
                        email: &format!("o{i}@example.com"),
                        password_hash: "x",
                        role: Role::Operator,
                        department_ids: &[],
                        created_at: now.naive_utc(),
                    },
                )?;
            }
            // Every state × department × owner (none, or one of the first two), where it can be.
            let mut placements = Vec::new();
            let mut n = 0;
            for state in TicketState::ALL {
                for (d, channel) in departments.iter().zip(&channels) {
                    for owner in [None, Some(operators[0]), Some(operators[1])] {
                        // Only placements that can exist: queued tickets have no owner,
                        // owned ones have one, closed ones remember one or none.
                        if (state.is_queued() && owner.is_some())
                            || (state.is_owned() && owner.is_none())
                        {
                            continue;
                        }
                        n += 1;
                        let numbers = TicketNumbers::load(c)?;
                        let stored = inbound::ingest(
                            c,
                            &numbers,
                            &inbound::Ingest {
                                channel_id: channel.id,
                                channel_name: channel.name.clone(),
                                department_id: *d,
                                department_name: String::new(),
                                external_id: None,
                                phone: format!("+54{n}"),
                                name: None,
                                content: Content::Text("hola".into()),
                                context: Default::default(),
                                sent_at: None,
                                sends_out: false,
                                opening_state: TicketState::Waiting,
                                greeting: None,
                                now: now.naive_utc(),
                            },
                        )?;
                        diesel::update(tickets::table.find(stored.ticket.id.to_string()))
                            .set((
                                tickets::state.eq(state.as_str()),
                                tickets::operator_id.eq(owner.map(|o| o.to_string())),
                            ))
                            .execute(c)?;
                        placements.push((
                            stored.ticket.id,
                            Placement {
                                state,
                                department_id: *d,
                                operator_id: owner,
                            },
                        ));
                    }
                }
            }
            Ok(placements)
        })
        .unwrap();
    let memberships = [
        vec![],
        vec![departments[0]],
        vec![departments[1]],
        departments.clone(),
    ];
    for role in [Role::Admin, Role::Supervisor, Role::Operator] {
        for member_of in &memberships {
            for id in &operators {
                let viewer = Viewer {
                    id: *id,
                    role,
                    departments: member_of.clone(),
                };
                let filter = TicketFilter {
                    visible_to: Scope::of(&viewer),
                    limit: 1000,
                    ..TicketFilter::default()
                };
                let listed: Vec<TicketId> = store
                    .read_blocking(|c| tickets(c, &filter))
                    .unwrap()
                    .into_iter()
                    .map(|t| t.id)
                    .collect();
                for (ticket, at) in &placements {
                    assert_eq!(
                        listed.contains(ticket),
                        can_see(&viewer, at),
                        "{viewer:?} at {at:?}"
                    );
                }
            }
        }
    }
}

/// A department's readings go through the tickets' index by state, department and time, on a
/// fresh SQLite database that has never been analyzed: the index leads with the state, so these
/// queries must name the states they read (`rows::state_in`). Without that, SQLite reads every
/// ticket (the report) or walks all of them by number (a department's list).
#[test]
fn a_departments_readings_use_the_index_by_state_without_statistics() {
    use std::sync::{Arc, Mutex};

    use diesel::connection::InstrumentationEvent;

    use crate::persistence::queries::reports;

    #[derive(QueryableByName)]
    struct PlanStep {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    /// The plan of the last statement run on `c` that read the tickets table.
    fn plan_of_last_read(c: &mut DbConn, ran: &Mutex<Vec<String>>) -> String {
        let ran = ran.lock().unwrap();
        let sql = ran
            .iter()
            .rev()
            .find(|q| q.contains("`tickets`") && q.contains("`department_id` = "))
            .and_then(|q| q.split(" -- binds").next())
            .unwrap_or_else(|| panic!("no reading of a department's tickets in {ran:?}"))
            .to_owned();
        drop(ran);
        let steps: Vec<PlanStep> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load(c)
            .unwrap();
        steps
            .into_iter()
            .map(|s| s.detail)
            .collect::<Vec<_>>()
            .join(" | ")
    }

    let dir = tempfile::tempdir().unwrap();
    let store = scratch_store(&dir, "t.sqlite3");
    let department = DepartmentId::new();
    let now = crate::persistence::now().naive_utc();
    let ran: Arc<Mutex<Vec<String>>> = Arc::default();
    let plans = store
        .read_blocking(|c| {
            let record = ran.clone();
            c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if let InstrumentationEvent::StartQuery { query, .. } = event {
                    record.lock().unwrap().push(query.to_string());
                }
            });
            reports::ticket_facts(c, department, now, now)?;
            let report = plan_of_last_read(c, &ran);
            let list = TicketFilter {
                department_id: Some(department),
                limit: 50,
                ..TicketFilter::default()
            };
            tickets(c, &list)?;
            let listed = plan_of_last_read(c, &ran);
            Ok([("the report", report), ("the department's list", listed)])
        })
        .unwrap();
    for (what, plan) in plans {
        assert!(
            plan.contains("SEARCH") && plan.contains("tickets_by_state_department_and_creation"),
            "{what} reads {plan}"
        );
    }
}
