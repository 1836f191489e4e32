//! Micro-benchmarks of the writer's work for one inbound message, without the disk: every
//! iteration of a sample inside one transaction, as a large group commit would run them (and on
//! SQLite `synchronous = OFF`). What is left is the statements' own cost (diesel and the
//! database). On SQLite always; on PostgreSQL too when `SWITCHBOARD_TEST_DATABASE_URL` names a
//! server (a throw-away database is made there):
//!
//! ```sh
//! SWITCHBOARD_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench store
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use diesel::connection::SimpleConnection;

use switchboard::domain::ids::{ChannelId, DepartmentId};
use switchboard::domain::ticket::TicketState;
use switchboard::persistence::queries::directory::{insert_channel, insert_department};
use switchboard::persistence::queries::inbound::{Ingest, ingest, ingest_all};
use switchboard::persistence::ticket_numbers::TicketNumbers;
use switchboard::persistence::{DbConn, connect};
use switchboard::views::{ChannelView, Content};

#[path = "support/postgres.rs"]
mod postgres;
mod support;

fn message(channel: ChannelId, department: DepartmentId, phone: String) -> Ingest {
    Ingest {
        channel_id: channel,
        channel_name: "API".into(),
        department_id: department,
        department_name: "Ventas".into(),
        external_id: None,
        phone,
        name: None,
        content: Content::Text("Hola, ¿tienen stock?".into()),
        context: Default::default(),
        sent_at: None,
        sends_out: false,
        opening_state: TicketState::Waiting,
        greeting: None,
        now: Utc::now().naive_utc(),
    }
}

/// Runs `iters` calls of `each` in transactions, as the writer would, and times them. On SQLite
/// one transaction holds the whole sample. On PostgreSQL each holds at most `per_commit` calls
/// (one group commit), committed without waiting for the disk: rows left uncommitted for a
/// whole sample would go unseen by autovacuum's statistics, and the lookups planned against
/// them would not be the daemon's.
fn in_transactions(
    conn: &mut DbConn,
    iters: u64,
    per_commit: u64,
    mut each: impl FnMut(&mut DbConn, u64),
) -> Duration {
    let (begin, per_commit) = match conn {
        DbConn::Sqlite(_) => ("BEGIN IMMEDIATE", iters.max(1)),
        DbConn::Pg(_) => ("BEGIN", per_commit),
    };
    let started = Instant::now();
    for i in 0..iters {
        if i % per_commit == 0 {
            conn.batch_execute(begin).unwrap();
        }
        each(conn, i);
        if (i + 1) % per_commit == 0 || i + 1 == iters {
            conn.batch_execute("COMMIT").unwrap();
        }
    }
    started.elapsed()
}

fn inbound(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("bench.sqlite3").display().to_string();
    inbound_on(c, "sqlite", &sqlite);
    if let Ok(server) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
        && !server.is_empty()
    {
        let url = postgres::fresh_database(&server).unwrap();
        inbound_on(c, "postgres", &url);
        postgres::drop_database(&server, &url);
    }
}

fn inbound_on(c: &mut Criterion, backend: &str, url: &str) {
    // Opening the store creates the schema; the benchmark then writes on its own connection.
    drop(support::open_store(url));
    let mut conn = connect(url).unwrap();
    conn.batch_execute(match backend {
        "sqlite" => "PRAGMA synchronous = OFF",
        _ => "SET synchronous_commit = off",
    })
    .unwrap();
    let department = support::department_view();
    insert_department(&mut conn, &department).unwrap();
    let channel = ChannelView {
        id: ChannelId::new(),
        name: "API".into(),
        kind: switchboard::channels::ChannelKind::Api,
        department_id: department.id,
        created_at: Utc::now(),
    };
    insert_channel(&mut conn, &channel, "{}").unwrap();
    let numbers = TicketNumbers::load(&mut conn).unwrap();
    // 50 contacts with an open ticket each, as in the load generator.
    let known: Vec<String> = (0..50).map(|i| format!("+5491100{i:06}")).collect();
    for phone in &known {
        ingest(
            &mut conn,
            &numbers,
            &message(channel.id, department.id, phone.clone()),
        )
        .unwrap();
    }

    let mut group = c.benchmark_group(format!("store/ingest/{backend}"));
    group.bench_function("joins_open_ticket", |b| {
        b.iter_custom(|iters| {
            in_transactions(&mut conn, iters, 32, |conn, i| {
                let phone = known[i as usize % known.len()].clone();
                black_box(
                    ingest(conn, &numbers, &message(channel.id, department.id, phone)).unwrap(),
                );
            })
        })
    });
    let mut next = 0u64;
    group.bench_function("opens_ticket", |b| {
        b.iter_custom(|iters| {
            in_transactions(&mut conn, iters, 32, |conn, _| {
                next += 1;
                let phone = format!("+5492200{next:07}");
                black_box(
                    ingest(conn, &numbers, &message(channel.id, department.id, phone)).unwrap(),
                );
            })
        })
    });
    // The same messages as the writer stores them under load, one group (`ingest_all`) at a
    // time: 32 as under a heavy burst, and 7, about the mean group of the load generator's 32
    // clients (`switchboard_commit_batch_size`). The time is per message.
    for (size, opens) in [(32, false), (32, true), (7, false), (7, true)] {
        let name = match opens {
            false => format!("joins_open_ticket_in_groups_of_{size}"),
            true => format!("opens_ticket_in_groups_of_{size}"),
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let groups = iters.div_ceil(size);
                in_transactions(&mut conn, groups, 1, |conn, g| {
                    let batch: Vec<Ingest> = (0..size)
                        .map(|i| {
                            let phone = if opens {
                                next += 1;
                                format!("+5492200{next:07}")
                            } else {
                                known[((g * size + i) as usize) % known.len()].clone()
                            };
                            message(channel.id, department.id, phone)
                        })
                        .collect();
                    let refs: Vec<&Ingest> = batch.iter().collect();
                    black_box(ingest_all(conn, &numbers, &refs).unwrap());
                }) * iters as u32
                    / (groups * size) as u32
            })
        });
    }
    group.finish();
}

criterion_group!(benches, inbound);
criterion_main!(benches);
