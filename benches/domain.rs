//! Micro-benchmarks of the decisions on the hot path, which need no network or database:
//! the ticket state machine, business-hours checks and variable expansion.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};

use switchboard::domain::calendar::{Calendar, WeeklyHoursSpec};
use switchboard::domain::ids::{DepartmentId, OperatorId};
use switchboard::domain::template::{Variables, expand};
use switchboard::domain::ticket::{Action, TicketState, decide};
use switchboard::domain::visibility::{Placement, Role, Viewer};

fn state_machine(c: &mut Criterion) {
    let dept = DepartmentId::new();
    let viewer = Viewer {
        id: OperatorId::new(),
        role: Role::Operator,
        departments: vec![DepartmentId::new(), dept, DepartmentId::new()],
    };
    let waiting = Placement {
        state: TicketState::Waiting,
        department_id: dept,
        operator_id: None,
    };
    c.bench_function("decide/claim_waiting", |b| {
        b.iter(|| decide(black_box(&waiting), black_box(&viewer), Action::Reply))
    });
}

fn calendar(c: &mut Criterion) {
    let day = vec![
        ["09:00".to_owned(), "13:00".to_owned()],
        ["14:00".to_owned(), "18:00".to_owned()],
    ];
    let hours: WeeklyHoursSpec = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| (d.to_string(), day.clone()))
        .collect();
    let holidays: Vec<String> = (1..=12).map(|m| format!("2026-{m:02}-01")).collect();
    let cal = Calendar::parse("America/Argentina/Buenos_Aires", &hours, &holidays).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 15, 30, 0).unwrap();
    c.bench_function("calendar/is_open", |b| {
        b.iter(|| cal.is_open(black_box(at)))
    });
}

fn template(c: &mut Criterion) {
    let vars = Variables {
        contact_name: "María",
        contact_phone: "+5491100000000",
        operator_name: "Ana",
        department_name: "Ventas",
        ticket_number: 4242,
        ..Variables::default()
    };
    let text = "Hola {{contact.name}}, soy {{operator.name}} de {{department.name}}. Tu número de trámite es {{ticket.number}}.";
    c.bench_function("template/expand", |b| {
        b.iter(|| expand(black_box(text), &vars))
    });
}

criterion_group!(benches, state_machine, calendar, template);
criterion_main!(benches);
