//! The storage interface's promise: a failed write leaves nothing behind, alone or grouped
//! with others in one commit, and the others are unaffected.

use std::time::Duration;

use diesel::prelude::*;
use switchboard::persistence::schema::counters;
use switchboard::persistence::{Store, StoreError, StoreOptions, WAL_RESTART_FRAMES};

use crate::helpers::TestDb;

fn open(db: &TestDb) -> Store {
    open_with(db, WAL_RESTART_FRAMES)
}

fn open_with(db: &TestDb, wal_restart_frames: i64) -> Store {
    Store::open(&StoreOptions {
        url: db.url.clone(),
        read_pool_size: 2,
        max_batch: 64,
        sqlite_synchronous: "normal".into(),
        busy_timeout: Duration::from_secs(5),
        // Several writers on PostgreSQL (SQLite always has one).
        writers: 4,
        wal_restart_frames,
    })
    .expect("store opens")
}

async fn write_counter(store: &Store, name: String, fail: bool) -> Result<(), StoreError> {
    store
        .write(move |c| {
            diesel::insert_into(counters::table)
                .values((counters::name.eq(&name), counters::value.eq(1i64)))
                .execute(c)?;
            if fail {
                return Err(StoreError::Corrupt(format!("{name} fails after writing")));
            }
            Ok(())
        })
        .await
}

async fn names(store: &Store) -> Vec<String> {
    store
        .read(|c| {
            Ok(counters::table
                .filter(counters::name.like("w%"))
                .order(counters::name)
                .select(counters::name)
                .load::<String>(c)?)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_alone_leaves_nothing() {
    let db = TestDb::new();
    let store = open(&db);
    let err = write_counter(&store, "w-lone".into(), true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("w-lone fails"), "{err}");
    assert!(names(&store).await.is_empty());
    write_counter(&store, "w-after".into(), false)
        .await
        .unwrap();
    assert_eq!(names(&store).await, ["w-after"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_writes_in_a_shared_commit_undo_only_themselves() {
    let db = TestDb::new();
    let store = open(&db);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            write_counter(&store, format!("w{i:02}"), i % 3 == 0)
                .await
                .is_ok()
        }));
    }
    let mut expected = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let ok = t.await.unwrap();
        assert_eq!(ok, i % 3 != 0, "w{i:02}");
        if ok {
            expected.push(format!("w{i:02}"));
        }
    }
    assert_eq!(names(&store).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_with_one_key_keep_their_order_across_writers() {
    let db = TestDb::new();
    let store = open(&db);
    // Each write needs the one before it with the same key to be committed already.
    let write = |key: u64, seq: u32| {
        let store = store.clone();
        async move {
            store
                .write_keyed(key, move |c| {
                    let previous = format!("w{key}-{:03}", seq.wrapping_sub(1));
                    let before: i64 = counters::table
                        .filter(counters::name.eq(&previous))
                        .count()
                        .get_result(c)?;
                    if seq > 0 && before == 0 {
                        return Err(StoreError::Corrupt(format!("{previous} is not there yet")));
                    }
                    diesel::insert_into(counters::table)
                        .values((
                            counters::name.eq(format!("w{key}-{seq:03}")),
                            counters::value.eq(1i64),
                        ))
                        .execute(c)?;
                    Ok(())
                })
                .await
        }
    };
    // Futures are first polled, and so queued, in the order they are listed.
    let all = (0..30u32).flat_map(|seq| (0..8u64).map(move |key| (key, seq)));
    let results = futures_util::future::join_all(all.map(|(key, seq)| write(key, seq))).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(names(&store).await.len(), 8 * 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_checkpointed_beside_the_writer() {
    // SQLite whatever the suite's backend: the checkpointer exists only there.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.sqlite3");
    let store = open(&TestDb::at(&path.display().to_string()));
    let size = || std::fs::metadata(&path).unwrap().len();
    let before = size();
    // About 2 MiB of rows, committed by the writer, which never checkpoints itself.
    let mut writes = Vec::new();
    for i in 0..2000 {
        let store = store.clone();
        writes.push(tokio::spawn(async move {
            write_counter(&store, format!("w{i:04}-{}", "x".repeat(1000)), false).await
        }));
    }
    for w in writes {
        w.await.unwrap().unwrap();
    }
    // The pages reach the database file itself only through a checkpoint.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while size() < before + 1024 * 1024 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        size() >= before + 1024 * 1024,
        "database file {} bytes, {before} before the writes",
        size()
    );
}

/// The nice value of this process's threads named `name` (Linux: field 19 of their `stat`).
fn nice_of_threads(name: &str) -> Vec<i64> {
    let mut nices = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.join("stat")).unwrap();
        // Fields after the command (in parentheses, which may hold spaces): state is field 3.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        nices.push(fields[19 - 3].parse().unwrap());
    }
    nices
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_yield_the_processor_to_writes() {
    // Copying the WAL into the database competes with the writer for the cores; on two cores
    // at half load it was the difference between a p99 of 4 and of 6 ms (benches/analysis.md).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nice.sqlite3");
    let store = open(&TestDb::at(&path.display().to_string()));
    write_counter(&store, "one".into(), false).await.unwrap();
    // Thread names are cut to 15 bytes.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut checkpointer = nice_of_threads("store-checkpoin");
    while checkpointer.iter().all(|n| *n <= 0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        checkpointer = nice_of_threads("store-checkpoin");
    }
    assert!(
        !checkpointer.is_empty() && checkpointer.iter().all(|n| *n == 10),
        "the checkpointer's nice value: {checkpointer:?}"
    );
    let writer = nice_of_threads("store-writer-0");
    assert!(
        !writer.is_empty() && writer.iter().all(|n| *n == 0),
        "the writer's nice value: {writer:?}"
    );
    drop(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_wait_for_a_restart_checkpoint_instead_of_failing() {
    // A RESTART checkpoint holds SQLite's write lock; a writer that took it lazily (a deferred
    // BEGIN) would fail at once with "database is locked" instead of waiting.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("restart.sqlite3");
    // Any WAL past 8 pages makes the checkpointer restart it, every 100 ms.
    let store = open_with(&TestDb::at(&path.display().to_string()), 8);
    let started = std::time::Instant::now();
    let mut round = 0;
    // Long enough for several checkpoints to land between writes.
    while started.elapsed() < Duration::from_millis(1500) {
        let mut writes = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            writes.push(tokio::spawn(async move {
                store
                    .write(move |c| {
                        // A read first, as every real write does, then the write itself.
                        let _: i64 = counters::table.count().get_result(c)?;
                        diesel::insert_into(counters::table)
                            .values((
                                counters::name
                                    .eq(format!("w{round:03}-{i:02}-{}", "x".repeat(500))),
                                counters::value.eq(1i64),
                            ))
                            .execute(c)?;
                        Ok(())
                    })
                    .await
            }));
        }
        for w in writes {
            let outcome = w.await.unwrap();
            assert!(outcome.is_ok(), "round {round}: {outcome:?}");
        }
        round += 1;
    }
}

/// One ticket and what its activity columns say.
type Activity = (String, Option<String>, Option<String>);

/// The ticket's activity columns as text, for comparing one backend's results with each other.
fn activity(c: &mut switchboard::persistence::DbConn, ticket: &str) -> Activity {
    use switchboard::persistence::schema::tickets;
    let (updated, unanswered, first): (
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
        Option<chrono::NaiveDateTime>,
    ) = tickets::table
        .find(ticket)
        .select((
            tickets::updated_at,
            tickets::unanswered_since,
            tickets::first_response_at,
        ))
        .first(c)
        .unwrap();
    let t = |v: chrono::NaiveDateTime| v.format("%T").to_string();
    (t(updated), unanswered.map(t), first.map(t))
}

/// A message row for a raw INSERT: (direction, author kind, second of the minute).
fn message_values(
    ticket: &str,
    n: usize,
    (direction, author, second): (&str, &str, u32),
) -> String {
    format!(
        "('{ticket}-m{n}', '{ticket}', 'ch', NULL, '{direction}', '{author}', NULL, 'x', 'text', \
         'hola', NULL, 'received', '2026-01-01 00:00:{second:02}')"
    )
}

/// The messages' INSERT keeps the ticket's activity columns (last activity, the unanswered
/// wait, the first response) however many messages it carries: one multi-row INSERT, for one
/// ticket or for many, ends as the same messages inserted one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_row_message_insert_keeps_ticket_activity_as_single_rows_do() {
    let db = TestDb::new();
    let store = open(&db);
    // Each sequence in time order; the columns start at 00:00:00 with nothing unanswered. The
    // last two bring no newer activity (second 0): the other columns must still change.
    let sequences: [&[(&str, &str, u32)]; 8] = [
        &[
            ("in", "contact", 1),
            ("out", "operator", 2),
            ("in", "contact", 3),
            ("out", "system", 4),
        ],
        &[("in", "contact", 1), ("in", "contact", 2)],
        &[("out", "operator", 1), ("out", "system", 2)],
        &[("in", "contact", 1), ("out", "operator", 2)],
        &[
            ("out", "operator", 1),
            ("in", "contact", 2),
            ("out", "operator", 3),
            ("in", "contact", 4),
            ("in", "contact", 5),
        ],
        &[("out", "system", 1)],
        &[
            ("in", "contact", 0),
            ("out", "operator", 0),
            ("in", "contact", 0),
        ],
        &[("in", "contact", 0), ("out", "operator", 0)],
    ];
    let results = store
        .write(move |c| {
            let run = |c: &mut switchboard::persistence::DbConn, sql: String| {
                diesel::sql_query(sql).execute(c).map(|_| ())
            };
            let t0 = "'2026-01-01 00:00:00'";
            run(c, format!("INSERT INTO departments (id, name, timezone, business_hours, holidays, required_fields, created_at) VALUES ('d', 'D', 'UTC', '{{}}', '[]', '[]', {t0})"))?;
            run(c, format!("INSERT INTO channels (id, name, kind, department_id, settings, created_at) VALUES ('ch', 'C', 'api', 'd', '{{}}', {t0})"))?;
            let head = "INSERT INTO messages (id, ticket_id, channel_id, external_id, direction, author_kind, author_id, author_name, kind, body, payload, status, created_at) VALUES ";
            let mut number = 0;
            let mut open = |c: &mut switchboard::persistence::DbConn, ticket: &str| {
                number += 1;
                run(c, format!("INSERT INTO contacts (id, phone, name, name_edited, created_at, updated_at) VALUES ('{ticket}', '{ticket}', 'x', FALSE, {t0}, {t0})"))?;
                run(c, format!("INSERT INTO tickets (id, number, state, contact_id, channel_id, department_id, created_at, updated_at) VALUES ('{ticket}', {number}, 'waiting', '{ticket}', 'ch', 'd', {t0}, {t0})"))
            };
            let mut results = vec![];
            for (s, sequence) in sequences.iter().enumerate() {
                let mut ends = vec![];
                for together in [true, false] {
                    let ticket = format!("t{s}{together}");
                    open(c, &ticket)?;
                    let rows: Vec<String> = sequence
                        .iter()
                        .enumerate()
                        .map(|(n, m)| message_values(&ticket, n, *m))
                        .collect();
                    if together {
                        run(c, format!("{head}{}", rows.join(", ")))?;
                    } else {
                        for row in rows {
                            run(c, format!("{head}{row}"))?;
                        }
                    }
                    ends.push(activity(c, &ticket));
                }
                results.push(ends);
            }
            // Every sequence in one INSERT, their messages interleaved as a group's are.
            let mut rows = vec![];
            for (s, sequence) in sequences.iter().enumerate() {
                let ticket = format!("t{s}all");
                open(c, &ticket)?;
                for (n, m) in sequence.iter().enumerate() {
                    rows.push((n, message_values(&ticket, n, *m)));
                }
            }
            rows.sort_by_key(|(n, _)| *n);
            let rows: Vec<String> = rows.into_iter().map(|(_, row)| row).collect();
            run(c, format!("{head}{}", rows.join(", ")))?;
            for (s, ends) in results.iter_mut().enumerate() {
                ends.push(activity(c, &format!("t{s}all")));
            }
            Ok(results)
        })
        .await
        .unwrap();
    let expected: [Activity; 8] = [
        (
            "00:00:04".into(),
            Some("00:00:03".into()),
            Some("00:00:02".into()),
        ),
        ("00:00:02".into(), Some("00:00:01".into()), None),
        ("00:00:02".into(), None, Some("00:00:01".into())),
        ("00:00:02".into(), None, Some("00:00:02".into())),
        (
            "00:00:05".into(),
            Some("00:00:04".into()),
            Some("00:00:01".into()),
        ),
        ("00:00:01".into(), None, None),
        (
            "00:00:00".into(),
            Some("00:00:00".into()),
            Some("00:00:00".into()),
        ),
        ("00:00:00".into(), None, Some("00:00:00".into())),
    ];
    for ((ends, expected), sequence) in results.iter().zip(&expected).zip(&sequences) {
        assert_eq!(&ends[0], expected, "one INSERT of {sequence:?}");
        assert_eq!(&ends[1], expected, "one INSERT per message of {sequence:?}");
        assert_eq!(
            &ends[2], expected,
            "one INSERT of every sequence, {sequence:?} among them"
        );
    }
}

/// One writer with a department and an API channel: the group tests' stage.
struct InboundStage {
    store: Store,
    department: switchboard::views::DepartmentView,
    channel: switchboard::domain::ids::ChannelId,
}

impl InboundStage {
    async fn new(db: &TestDb) -> Self {
        use switchboard::domain::ids::{ChannelId, DepartmentId};
        use switchboard::persistence::queries::directory::{insert_channel, insert_department};
        use switchboard::views::{ChannelView, DepartmentView};

        let store = Store::open(&StoreOptions {
            url: db.url.clone(),
            read_pool_size: 2,
            max_batch: 64,
            sqlite_synchronous: "normal".into(),
            busy_timeout: Duration::from_secs(5),
            writers: 1,
            wal_restart_frames: WAL_RESTART_FRAMES,
        })
        .expect("store opens");
        let department = DepartmentView {
            id: DepartmentId::new(),
            name: "Ventas".into(),
            timezone: "UTC".into(),
            business_hours: Default::default(),
            holidays: vec![],
            out_of_hours_message: None,
            required_fields: vec![],
            created_at: chrono::Utc::now(),
            routing: Default::default(),
        };
        let channel = ChannelView {
            id: ChannelId::new(),
            name: "API".into(),
            kind: switchboard::channels::ChannelKind::Api,
            department_id: department.id,
            created_at: chrono::Utc::now(),
        };
        let (d, ch) = (department.clone(), channel.clone());
        store
            .write(move |c| {
                insert_department(c, &d)?;
                insert_channel(c, &ch, "{}")
            })
            .await
            .unwrap();
        Self {
            store,
            department,
            channel: channel.id,
        }
    }

    /// A customer's text message on `channel`.
    fn message(
        &self,
        channel: switchboard::domain::ids::ChannelId,
        phone: &str,
        external_id: &str,
    ) -> switchboard::persistence::queries::inbound::Ingest {
        use switchboard::domain::ticket::TicketState;
        use switchboard::persistence::queries::inbound::Ingest;
        use switchboard::views::Content;

        Ingest {
            channel_id: channel,
            channel_name: "API".into(),
            department_id: self.department.id,
            department_name: "Ventas".into(),
            external_id: Some(external_id.into()),
            phone: phone.into(),
            name: None,
            content: Content::Text(format!("hola {external_id}")),
            context: Default::default(),
            sent_at: None,
            sends_out: false,
            opening_state: TicketState::Waiting,
            greeting: None,
            now: chrono::Utc::now().naive_utc(),
        }
    }

    /// Holds the writer busy for 300 ms, so that what is sent meanwhile queues up and is taken
    /// as one group; waits for it. One task polls the sends in the order given, and each is
    /// queued on its first poll, so they reach the writer in that order.
    async fn as_one_group<T, F>(&self, send: impl FnOnce() -> Vec<F>) -> Vec<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = T> + Send + 'static,
    {
        let busy = self.store.clone();
        let holding = tokio::spawn(async move {
            busy.write(|_| {
                std::thread::sleep(Duration::from_millis(300));
                Ok(())
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let sent = tokio::spawn(futures_util::future::join_all(send()));
        holding.await.unwrap().unwrap();
        sent.await.unwrap()
    }

    /// Ingests `m` (queued for the writer when first polled).
    fn send(
        &self,
        m: switchboard::persistence::queries::inbound::Ingest,
    ) -> impl std::future::Future<
        Output = Result<switchboard::persistence::queries::inbound::Ingested, StoreError>,
    > + Send
    + 'static {
        let store = self.store.clone();
        async move {
            let key = switchboard::persistence::conversation_key(m.channel_id, &m.phone);
            store.ingest(key, m).await
        }
    }

    /// Stored customers' phones, tickets and messages.
    async fn stored(&self) -> (Vec<String>, i64, i64) {
        use switchboard::persistence::schema::{contacts, messages, tickets};
        self.store
            .read(|c| {
                Ok((
                    contacts::table
                        .order(contacts::phone)
                        .select(contacts::phone)
                        .load::<String>(c)?,
                    tickets::table.count().get_result::<i64>(c)?,
                    messages::table.count().get_result::<i64>(c)?,
                ))
            })
            .await
            .unwrap()
    }
}

/// A group of customers' messages with one that cannot be stored (its channel does not exist):
/// the others are stored, that one alone fails and leaves no customer, ticket or message behind.
/// On PostgreSQL the group is one statement outside any transaction (`run_inbound_alone`); the
/// writer is held busy first so that the messages queue up and are taken as one group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_message_in_an_inbound_group_takes_no_other_with_it() {
    let db = TestDb::new();
    let stage = InboundStage::new(&db).await;
    let outcomes = stage
        .as_one_group(|| {
            (0..6)
                .map(|i| {
                    // The fourth message names a channel that was never created.
                    let channel = if i == 3 {
                        switchboard::domain::ids::ChannelId::new()
                    } else {
                        stage.channel
                    };
                    stage.send(stage.message(
                        channel,
                        &format!("+5491100{i:06}"),
                        &format!("ext-{i}"),
                    ))
                })
                .collect()
        })
        .await;
    for (i, outcome) in outcomes.iter().enumerate() {
        assert_eq!(outcome.is_ok(), i != 3, "message {i}: {outcome:?}");
    }
    let expected: Vec<String> = [0, 1, 2, 4, 5]
        .iter()
        .map(|i| format!("+5491100{i:06}"))
        .collect();
    assert_eq!(stage.stored().await, (expected, 5, 5));
}

/// A group holding a redelivered message (its external id stored by an earlier group) and one
/// repeated within the group: each is answered as a duplicate with the message first stored,
/// and the rest of the group is stored once. On PostgreSQL such a group is first written
/// without looking its external ids up, the unique index refuses it, and it is planned again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_in_an_inbound_group_is_answered_as_the_first() {
    let db = TestDb::new();
    let stage = InboundStage::new(&db).await;
    let (ana, beto) = ("+549110000001", "+549110000002");
    let first = stage
        .send(stage.message(stage.channel, ana, "wamid.1"))
        .await
        .expect("the first delivery is stored");
    assert!(!first.duplicate);

    let outcomes = stage
        .as_one_group(|| {
            vec![
                stage.send(stage.message(stage.channel, beto, "wamid.2")),
                stage.send(stage.message(stage.channel, ana, "wamid.1")),
                stage.send(stage.message(stage.channel, ana, "wamid.3")),
                stage.send(stage.message(stage.channel, beto, "wamid.2")),
            ]
        })
        .await;
    let outcomes: Vec<_> = outcomes
        .into_iter()
        .map(|o| o.expect("every message is answered"))
        .collect();
    let duplicates: Vec<bool> = outcomes.iter().map(|o| o.duplicate).collect();
    assert_eq!(duplicates, [false, true, false, true]);
    // The redelivery is answered with the message first stored, on its ticket.
    assert_eq!(outcomes[1].messages[0].id, first.messages[0].id);
    assert_eq!(outcomes[1].ticket.id, first.ticket.id);
    // Ana's new message joins her open ticket; the repeat within the group is its first.
    assert_eq!(outcomes[2].ticket.id, first.ticket.id);
    assert_eq!(outcomes[3].messages[0].id, outcomes[0].messages[0].id);
    assert_eq!(
        stage.stored().await,
        (vec![ana.to_owned(), beto.to_owned()], 2, 3)
    );
}

/// Whether a write was refused by a foreign key (both backends say so in their message), not
/// for another reason.
fn names_foreign_key<T>(outcome: &Result<T, StoreError>) -> bool {
    matches!(outcome, Err(e) if e.to_string().to_lowercase().contains("foreign key"))
}

/// What tickets, messages and timeline entries name stays there: a department or channel in
/// use is never deleted nor given another id, and no row may name one that does not exist,
/// whether it is written or moved there (the foreign keys; a change that drops them for speed
/// must keep this).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_and_messages_name_only_departments_and_channels_that_exist() {
    let db = TestDb::new();
    let stage = InboundStage::new(&db).await;
    let opened = stage
        .send(stage.message(stage.channel, "+5491100000001", "ext-1"))
        .await
        .expect("a message on a known channel is stored");

    let mut elsewhere = stage.message(stage.channel, "+5491100000002", "ext-2");
    elsewhere.department_id = switchboard::domain::ids::DepartmentId::new();
    let refused = stage.send(elsewhere).await;
    assert!(
        names_foreign_key(&refused),
        "an unknown department: {refused:?}"
    );

    let (department, channel, ticket) = (
        stage.department.id.to_string(),
        stage.channel.to_string(),
        opened.ticket.id.to_string(),
    );
    let statements = [
        format!("DELETE FROM departments WHERE id = '{department}'"),
        format!("DELETE FROM channels WHERE id = '{channel}'"),
        format!("UPDATE departments SET id = 'moved' WHERE id = '{department}'"),
        format!("UPDATE channels SET id = 'moved' WHERE id = '{channel}'"),
        format!("UPDATE tickets SET department_id = 'nowhere' WHERE id = '{ticket}'"),
        format!("UPDATE tickets SET channel_id = 'nowhere' WHERE id = '{ticket}'"),
        format!("UPDATE messages SET channel_id = 'nowhere' WHERE ticket_id = '{ticket}'"),
        format!("UPDATE ticket_events SET department_id = 'nowhere' WHERE ticket_id = '{ticket}'"),
    ];
    for sql in statements {
        let run = sql.clone();
        let outcome = stage
            .store
            .write(move |c| Ok(diesel::sql_query(&run).execute(c)?))
            .await;
        assert!(names_foreign_key(&outcome), "{sql}: {outcome:?}");
    }
    // A change that keeps what a row names is not refused.
    let renamed = stage
        .store
        .write(move |c| {
            Ok(diesel::sql_query(format!(
                "UPDATE tickets SET department_id = '{department}' WHERE id = '{ticket}'"
            ))
            .execute(c)?)
        })
        .await;
    assert_eq!(renamed.expect("the same department"), 1);
    assert_eq!(
        stage.stored().await,
        (vec!["+5491100000001".to_owned()], 1, 1)
    );
}
