//! Micro-benchmark of the department actor's dispatch of a new waiting ticket to the sessions
//! of its N online operators: the visibility check per session, the frame serialised once and
//! one mailbox push per session, until every session has handled its copy. All actors run on
//! one arbiter, so the figure is the dispatch's own cost without thread hand-offs or sockets
//! (the load generator measures those end to end).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

use switchboard::actors::department::{DepartmentActor, Subscribe, TicketChanged};
use switchboard::actors::operator::Push;
use switchboard::actors::registry::Registry;
use switchboard::domain::calendar::Calendar;
use switchboard::domain::ids::{ChannelId, ContactId, OperatorId, TicketId};
use switchboard::domain::ticket::TicketState;
use switchboard::domain::visibility::{Role, Viewer};
use switchboard::views::{ContactRef, DepartmentView, Named, TicketView};

mod support;
use support::department_view;

/// Stands in for an operator's WebSocket session: counts the events it is handed.
struct Session {
    received: Arc<AtomicU64>,
}

impl Actor for Session {
    type Context = Context<Self>;
}

impl Handler<Push> for Session {
    type Result = ();

    fn handle(&mut self, msg: Push, _: &mut Self::Context) {
        std::hint::black_box(&msg.0);
        self.received.fetch_add(1, Ordering::Relaxed);
    }
}

fn new_ticket(department: &DepartmentView) -> Arc<TicketView> {
    Arc::new(TicketView {
        id: TicketId::new(),
        number: 4242,
        state: TicketState::Waiting,
        contact: ContactRef {
            id: ContactId::new(),
            name: "María".into(),
            phone: "+5491100000000".into(),
        },
        channel: Named {
            id: ChannelId::new(),
            name: "WhatsApp ventas".into(),
        },
        department: Named {
            id: department.id,
            name: department.name.clone(),
        },
        operator: None,
        classification: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        waiting_since: Some(Utc::now()),
        first_response_at: None,
        closed_at: None,
        unanswered_since: Some(Utc::now()),
    })
}

fn dispatch(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let system = System::new();
    // The registry needs a store; dispatch never touches it.
    let store = support::open_store(&dir.path().join("bench.sqlite3").display().to_string());
    let registry = Registry::new(store);
    let mut group = c.benchmark_group("department/new_ticket_to_online_operators");
    for operators in [10u64, 100, 1000] {
        let view = department_view();
        let calendar = Calendar::parse(&view.timezone, &view.business_hours, &view.holidays)
            .expect("an always-open calendar");
        let ticket = new_ticket(&view);
        let received = Arc::new(AtomicU64::new(0));
        let department = system.block_on(async {
            let department = DepartmentActor::new(
                Arc::new(view.clone()),
                Arc::new(calendar),
                registry.clone(),
                vec![],
                vec![],
            )
            .start();
            for session in 0..operators {
                let recipient = Session {
                    received: received.clone(),
                }
                .start()
                .recipient();
                let viewer = Viewer {
                    id: OperatorId::new(),
                    role: Role::Operator,
                    departments: vec![view.id],
                };
                department
                    .send(Subscribe {
                        session,
                        viewer,
                        recipient,
                    })
                    .await
                    .unwrap();
            }
            department
        });
        group.bench_with_input(
            BenchmarkId::from_parameter(operators),
            &operators,
            |b, &operators| {
                b.iter_custom(|iters| {
                    system.block_on(async {
                        let before = received.load(Ordering::Relaxed);
                        let target = before + iters * operators;
                        let started = Instant::now();
                        for _ in 0..iters {
                            department.do_send(TicketChanged {
                                before: None,
                                reason: None,
                                after: ticket.clone(),
                            });
                        }
                        // Every actor runs on this thread: yield until all sessions have it.
                        while received.load(Ordering::Relaxed) < target {
                            assert!(
                                started.elapsed() < Duration::from_secs(30),
                                "sessions stopped receiving the new ticket"
                            );
                            tokio::task::yield_now().await;
                        }
                        started.elapsed()
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
