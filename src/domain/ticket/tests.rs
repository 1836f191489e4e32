//! Tests of `ticket`, kept apart so the module reads as what it decides.

use super::*;
use crate::domain::visibility::Role;

struct World {
    sales: DepartmentId,
    support: DepartmentId,
    ana: Viewer,
    beto: Viewer,
    outsider: Viewer,
    boss: Viewer,
}

fn world() -> World {
    let sales = DepartmentId::new();
    let support = DepartmentId::new();
    let v = |role, deps: &[DepartmentId]| Viewer {
        id: OperatorId::new(),
        role,
        departments: deps.to_vec(),
    };
    World {
        sales,
        support,
        ana: v(Role::Operator, &[sales]),
        beto: v(Role::Operator, &[sales]),
        outsider: v(Role::Operator, &[support]),
        boss: v(Role::Supervisor, &[sales]),
    }
}

fn at(state: TicketState, dept: DepartmentId, owner: Option<&Viewer>) -> Placement {
    Placement {
        state,
        department_id: dept,
        operator_id: owner.map(|v| v.id),
    }
}

#[test]
fn first_reply_claims_queued_tickets() {
    let w = world();
    for state in [TicketState::Waiting, TicketState::OutOfHours] {
        let change = decide(&at(state, w.sales, None), &w.ana, Action::Reply)
            .unwrap()
            .unwrap();
        assert_eq!(change.to.state, TicketState::Attending);
        assert_eq!(change.to.operator_id, Some(w.ana.id));
        assert_eq!(change.reason, Reason::Claimed);
    }
}

#[test]
fn later_replies_by_members_are_told_the_ticket_was_taken() {
    let w = world();
    for state in [TicketState::Attending, TicketState::Paused] {
        let t = at(state, w.sales, Some(&w.ana));
        assert_eq!(
            decide(&t, &w.beto, Action::Reply),
            Err(TransitionError::TicketTaken {
                owner: Some(w.ana.id)
            })
        );
        assert_eq!(
            decide(&t, &w.outsider, Action::Reply),
            Err(TransitionError::NotFound)
        );
    }
    let queued = at(TicketState::Waiting, w.sales, None);
    assert_eq!(
        decide(&queued, &w.outsider, Action::Reply),
        Err(TransitionError::NotFound)
    );
}

#[test]
fn owner_replies_keep_or_resume_attention() {
    let w = world();
    let attending = at(TicketState::Attending, w.sales, Some(&w.ana));
    assert_eq!(decide(&attending, &w.ana, Action::Reply), Ok(None));
    let paused = at(TicketState::Paused, w.sales, Some(&w.ana));
    let change = decide(&paused, &w.ana, Action::Reply).unwrap().unwrap();
    assert_eq!(change.to, attending);
    assert_eq!(change.reason, Reason::Resumed);
}

#[test]
fn only_the_owner_pauses_an_attended_ticket() {
    let w = world();
    let attending = at(TicketState::Attending, w.sales, Some(&w.ana));
    let change = decide(&attending, &w.ana, Action::Pause).unwrap().unwrap();
    assert_eq!(change.to.state, TicketState::Paused);
    assert_eq!(
        decide(&attending, &w.boss, Action::Pause),
        Err(TransitionError::Forbidden { action: "pause" })
    );
    assert_eq!(
        decide(&attending, &w.beto, Action::Pause),
        Err(TransitionError::TicketTaken {
            owner: Some(w.ana.id)
        })
    );
    for state in [TicketState::Waiting, TicketState::Paused] {
        let owner = state.is_owned().then_some(&w.ana);
        assert!(matches!(
            decide(&at(state, w.sales, owner), &w.ana, Action::Pause),
            Err(TransitionError::InvalidTransition {
                action: "pause",
                ..
            })
        ));
    }
}

#[test]
fn transfer_to_a_department_queues_by_its_calendar() {
    let w = world();
    let attending = at(TicketState::Attending, w.sales, Some(&w.ana));
    for (open, expected) in [
        (true, TicketState::Waiting),
        (false, TicketState::OutOfHours),
    ] {
        let action = Action::Transfer {
            department_id: w.support,
            operator_id: None,
            department_open: open,
        };
        let change = decide(&attending, &w.ana, action).unwrap().unwrap();
        assert_eq!(change.to, at(expected, w.support, None));
        assert_eq!(change.reason, Reason::Transferred);
    }
}

#[test]
fn transfer_to_an_operator_hands_over_ownership() {
    let w = world();
    let paused = at(TicketState::Paused, w.sales, Some(&w.ana));
    let action = Action::Transfer {
        department_id: w.support,
        operator_id: Some(w.outsider.id),
        department_open: false,
    };
    let change = decide(&paused, &w.ana, action.clone()).unwrap().unwrap();
    assert_eq!(
        change.to,
        at(TicketState::Attending, w.support, Some(&w.outsider))
    );
    // A colleague may not move someone else's conversation; a supervisor may.
    assert!(matches!(
        decide(&paused, &w.beto, action.clone()),
        Err(TransitionError::TicketTaken { .. })
    ));
    assert!(decide(&paused, &w.boss, action.clone()).is_ok());
    // Queued tickets may be passed on by any member.
    assert!(decide(&at(TicketState::Waiting, w.sales, None), &w.beto, action).is_ok());
}

#[test]
fn finalize_requires_mandatory_fields_and_remembers_the_owner() {
    let w = world();
    let attending = at(TicketState::Attending, w.sales, Some(&w.ana));
    assert_eq!(
        decide(
            &attending,
            &w.ana,
            Action::Finalize {
                missing_fields: vec!["outcome".into()]
            }
        ),
        Err(TransitionError::MissingFields(vec!["outcome".into()]))
    );
    let change = decide(
        &attending,
        &w.ana,
        Action::Finalize {
            missing_fields: vec![],
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(change.to, at(TicketState::Closed, w.sales, Some(&w.ana)));
    // Closed is final.
    for action in [
        Action::Reply,
        Action::Pause,
        Action::Finalize {
            missing_fields: vec![],
        },
    ] {
        assert!(matches!(
            decide(&change.to, &w.ana, action),
            Err(TransitionError::InvalidTransition {
                from: TicketState::Closed,
                ..
            })
        ));
    }
}

#[test]
fn routing_steps_apply_only_where_the_ticket_still_stands() {
    let w = world();
    let waiting = at(TicketState::Waiting, w.sales, None);
    let change = route(&waiting, Route::Assign(w.ana.id)).unwrap();
    assert_eq!(change.to, at(TicketState::Attending, w.sales, Some(&w.ana)));
    assert_eq!(change.reason, Reason::AutoAssigned);
    let attending = at(TicketState::Attending, w.sales, Some(&w.beto));
    let back = route(&attending, Route::OwnerTimeout).unwrap();
    assert_eq!((back.to, back.reason), (waiting, Reason::OwnerTimeout));
    let night = at(TicketState::OutOfHours, w.sales, None);
    let opened = route(&night, Route::Opened).unwrap();
    assert_eq!((opened.to, opened.reason), (waiting, Reason::Opened));
    let paused = at(TicketState::Paused, w.sales, Some(&w.beto));
    for owned in [attending, paused] {
        let released = route(&owned, Route::OwnerDisabled(w.beto.id)).unwrap();
        assert_eq!(
            (released.to, released.reason),
            (waiting, Reason::OwnerDisabled)
        );
    }
    // Claimed meanwhile, paused, already queued, closed: nothing to do.
    for (t, step) in [
        (attending, Route::Assign(w.ana.id)),
        (night, Route::Assign(w.ana.id)),
        (
            at(TicketState::Paused, w.sales, Some(&w.ana)),
            Route::OwnerTimeout,
        ),
        (waiting, Route::OwnerTimeout),
        (waiting, Route::Opened),
        (attending, Route::OwnerDisabled(w.ana.id)),
        (waiting, Route::OwnerDisabled(w.beto.id)),
        (
            at(TicketState::Closed, w.sales, Some(&w.ana)),
            Route::Opened,
        ),
    ] {
        assert!(matches!(
            route(&t, step),
            Err(TransitionError::InvalidTransition { .. })
        ));
    }
}

#[test]
fn every_state_name_round_trips() {
    for s in TicketState::ALL {
        assert_eq!(TicketState::parse(s.as_str()), Some(s));
    }
}
