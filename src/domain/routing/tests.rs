//! Tests of `routing`, kept apart so the module reads as what it decides.

use super::*;
use proptest::prelude::*;

fn op(n: u128) -> OperatorId {
    OperatorId(uuid::Uuid::from_u128(n))
}
fn ticket(n: u128) -> TicketId {
    TicketId(uuid::Uuid::from_u128(n))
}
fn waiting(n: u128) -> Waiting {
    Waiting {
        ticket: ticket(n),
        avoid: None,
    }
}
fn seat(n: u128, presence: Presence, attending: u32) -> Seat {
    Seat {
        operator: op(n),
        presence,
        max_open: None,
        attending,
        paused: 0,
    }
}
fn policy(assignment: Assignment, max: Option<u32>) -> RoutingSettings {
    RoutingSettings {
        assignment,
        max_open_per_operator: max,
        ..RoutingSettings::default()
    }
}

#[test]
fn manual_departments_assign_nothing() {
    let out = assign(
        &RoutingSettings::default(),
        &[waiting(1)],
        &[seat(1, Presence::Online, 0)],
        None,
    );
    assert!(out.is_empty());
}

#[test]
fn round_robin_takes_turns_and_wraps_around() {
    let seats = [
        seat(1, Presence::Online, 0),
        seat(2, Presence::Online, 0),
        seat(3, Presence::Online, 0),
    ];
    let queue: Vec<Waiting> = (1..=4).map(waiting).collect();
    let out = assign(
        &policy(Assignment::RoundRobin, None),
        &queue,
        &seats,
        Some(op(1)),
    );
    let who: Vec<OperatorId> = out.iter().map(|a| a.operator).collect();
    assert_eq!(who, vec![op(2), op(3), op(1), op(2)]);
}

#[test]
fn least_busy_fills_the_emptiest_seat_first() {
    let seats = [seat(1, Presence::Online, 2), seat(2, Presence::Online, 0)];
    let out = assign(
        &policy(Assignment::LeastBusy, Some(3)),
        &(1..=4).map(waiting).collect::<Vec<_>>(),
        &seats,
        None,
    );
    let who: Vec<OperatorId> = out.iter().map(|a| a.operator).collect();
    // 2 (0→1), 2 (1→2), then the tie goes to the lower id: 1 (2→3), then 2 (2→3).
    assert_eq!(who, vec![op(2), op(2), op(1), op(2)]);
}

#[test]
fn away_offline_and_full_operators_get_nothing() {
    let mut full = seat(3, Presence::Online, 1);
    full.max_open = Some(1);
    let seats = [
        seat(1, Presence::Away, 0),
        seat(2, Presence::Offline, 0),
        full,
    ];
    for a in [Assignment::RoundRobin, Assignment::LeastBusy] {
        assert!(assign(&policy(a, Some(5)), &[waiting(1)], &seats, None).is_empty());
    }
}

#[test]
fn a_personal_maximum_overrides_the_department() {
    let mut big = seat(1, Presence::Online, 2);
    big.max_open = Some(4);
    let out = assign(
        &policy(Assignment::RoundRobin, Some(2)),
        &(1..=3).map(waiting).collect::<Vec<_>>(),
        &[big],
        None,
    );
    assert_eq!(out.len(), 2);
}

#[test]
fn paused_tickets_count_unless_the_department_says_not() {
    let mut s = seat(1, Presence::Online, 0);
    s.paused = 1;
    let mut settings = policy(Assignment::LeastBusy, Some(1));
    assert!(assign(&settings, &[waiting(1)], std::slice::from_ref(&s), None).is_empty());
    settings.paused_counts = false;
    assert_eq!(assign(&settings, &[waiting(1)], &[s], None).len(), 1);
}

#[test]
fn a_timed_out_ticket_goes_to_someone_else_when_possible() {
    let seats = [seat(1, Presence::Online, 0), seat(2, Presence::Online, 3)];
    let queue = [Waiting {
        ticket: ticket(1),
        avoid: Some(op(1)),
    }];
    let out = assign(&policy(Assignment::LeastBusy, None), &queue, &seats, None);
    assert_eq!(out[0].operator, op(2));
    let out = assign(
        &policy(Assignment::LeastBusy, None),
        &queue,
        &seats[..1],
        None,
    );
    assert_eq!(out[0].operator, op(1), "nobody else: back to the same one");
}

#[test]
fn owner_timeout_counts_from_the_oldest_unanswered_message() {
    let now = Utc::now();
    let settings = RoutingSettings {
        owner_timeout_seconds: Some(60),
        ..RoutingSettings::default()
    };
    let ago = |s| Some(now - Duration::seconds(s));
    assert!(owner_timed_out(
        &settings,
        TicketState::Attending,
        ago(60),
        now
    ));
    assert!(!owner_timed_out(
        &settings,
        TicketState::Attending,
        ago(59),
        now
    ));
    assert!(!owner_timed_out(
        &settings,
        TicketState::Attending,
        None,
        now
    ));
    assert!(!owner_timed_out(
        &settings,
        TicketState::Paused,
        ago(600),
        now
    ));
    assert!(!owner_timed_out(
        &RoutingSettings::default(),
        TicketState::Attending,
        ago(600),
        now
    ));
}

#[test]
fn after_hours_a_ticket_waits_only_if_asked_and_someone_is_online() {
    let mut s = RoutingSettings::default();
    assert_eq!(queue_for(&s, true, false), TicketState::Waiting);
    assert_eq!(queue_for(&s, false, true), TicketState::OutOfHours);
    s.online_out_of_hours = true;
    assert_eq!(queue_for(&s, false, true), TicketState::Waiting);
    assert_eq!(queue_for(&s, false, false), TicketState::OutOfHours);
    assert!(drains_now(&s, true));
    assert!(!drains_now(&s, false));
    s.drain_out_of_hours = false;
    assert!(!drains_now(&s, true));
}

#[test]
fn an_opening_is_greeted_by_its_queue() {
    let mut s = RoutingSettings::default();
    let free = || true;
    assert_eq!(
        greeting(&s, TicketState::OutOfHours, true, free),
        Some(Greeting::OutOfHoursReply)
    );
    assert_eq!(greeting(&s, TicketState::OutOfHours, false, free), None);
    assert_eq!(greeting(&s, TicketState::Waiting, true, free), None);
    s.queue_message = Some("{{queue.position}}".into());
    assert_eq!(
        greeting(&s, TicketState::Waiting, false, free),
        Some(Greeting::QueueMessage),
        "manual: the seat does not matter"
    );
    s.assignment = Assignment::RoundRobin;
    assert_eq!(greeting(&s, TicketState::Waiting, false, free), None);
    assert_eq!(
        greeting(&s, TicketState::Waiting, false, || false),
        Some(Greeting::QueueMessage)
    );
}

#[test]
fn wait_estimates_grow_with_the_queue_and_shrink_with_operators() {
    let five = Some(Duration::minutes(5));
    assert_eq!(wait_minutes(1, 1, five), 5);
    assert_eq!(wait_minutes(3, 1, five), 15);
    assert_eq!(wait_minutes(3, 3, five), 5);
    assert_eq!(wait_minutes(1, 0, None), 5);
    assert_eq!(wait_minutes(1, 10, Some(Duration::seconds(30))), 1);
}

#[test]
fn percentiles_by_nearest_rank() {
    assert_eq!(median_and_p90(vec![]), (None, None));
    assert_eq!(median_and_p90(vec![3.0]), (Some(3.0), Some(3.0)));
    let v: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(median_and_p90(v), (Some(5.0), Some(9.0)));
}

fn presence() -> impl Strategy<Value = Presence> {
    prop_oneof![
        Just(Presence::Online),
        Just(Presence::Away),
        Just(Presence::Offline)
    ]
}

fn facts() -> impl Strategy<Value = (RoutingSettings, Vec<Waiting>, Vec<Seat>, Option<u128>)> {
    let settings = (
        prop_oneof![Just(Assignment::RoundRobin), Just(Assignment::LeastBusy)],
        proptest::option::of(0u32..4),
        any::<bool>(),
    )
        .prop_map(|(assignment, max, paused_counts)| RoutingSettings {
            assignment,
            max_open_per_operator: max,
            paused_counts,
            ..RoutingSettings::default()
        });
    let seats = proptest::collection::vec(
        (
            0u128..8,
            presence(),
            proptest::option::of(0u32..4),
            0u32..4,
            0u32..3,
        ),
        0..6,
    )
    .prop_map(|mut v| {
        // One seat per operator: the facts of one member are never given twice.
        v.sort_by_key(|s| s.0);
        v.dedup_by_key(|s| s.0);
        v.into_iter()
            .map(|(n, presence, max_open, attending, paused)| Seat {
                operator: op(n),
                presence,
                max_open,
                attending,
                paused,
            })
            .collect::<Vec<_>>()
    });
    let queue = proptest::collection::vec(proptest::option::of(0u128..8), 0..12).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, avoid)| Waiting {
                ticket: ticket(i as u128 + 100),
                avoid: avoid.map(op),
            })
            .collect::<Vec<_>>()
    });
    (settings, queue, seats, proptest::option::of(0u128..8))
}

proptest! {
    #[test]
    fn never_above_capacity_never_to_someone_not_online((settings, queue, seats, last) in facts()) {
        let out = assign(&settings, &queue, &seats, last.map(op));
        let mut unique = seats.clone();
        unique.sort_by_key(|s| s.operator);
        unique.dedup_by_key(|s| s.operator);
        for s in &unique {
            let given = out.iter().filter(|a| a.operator == s.operator).count() as u32;
            if given > 0 {
                prop_assert_eq!(s.presence, Presence::Online);
                if let Some(max) = s.max_open.or(settings.max_open_per_operator) {
                    prop_assert!(s.load(&settings) + given <= max);
                }
            }
        }
        prop_assert!(out.iter().all(|a| unique.iter().any(|s| s.operator == a.operator)));
    }

    #[test]
    fn never_skips_an_older_ticket((settings, queue, seats, last) in facts()) {
        let out = assign(&settings, &queue, &seats, last.map(op));
        // What was handed out is exactly the oldest part of the queue.
        let given: Vec<TicketId> = out.iter().map(|a| a.ticket).collect();
        let oldest: Vec<TicketId> = queue.iter().take(out.len()).map(|w| w.ticket).collect();
        prop_assert_eq!(given, oldest);
        // And it stopped only because no seat was left.
        if out.len() < queue.len() {
            let mut after = seats.clone();
            for a in &out {
                for s in after.iter_mut().filter(|s| s.operator == a.operator) {
                    s.attending += 1;
                }
            }
            prop_assert!(after.iter().all(|s| !s.has_room(&settings)));
        }
    }

    #[test]
    fn the_same_facts_give_the_same_decisions((settings, queue, mut seats, last) in facts()) {
        let first = assign(&settings, &queue, &seats, last.map(op));
        seats.reverse();
        prop_assert_eq!(first, assign(&settings, &queue, &seats, last.map(op)));
    }
}
