//! A group of inbound messages stored together must end exactly as the same messages stored
//! one after another: the writer groups whatever is queued, so every case a group can hold is
//! checked against the one-by-one result.

use super::*;
use crate::domain::message::Reaction;
use crate::persistence::queries::directory;
use crate::persistence::scratch_store as store;
use crate::views::{ChannelView, DepartmentView};

/// Two channels of one department, stored in `conn`.
fn setup(conn: &mut DbConn, department: DepartmentId, channels: [ChannelId; 2]) {
    let now = crate::persistence::now();
    directory::insert_department(
        conn,
        &DepartmentView {
            id: department,
            name: "Ventas".into(),
            timezone: "UTC".into(),
            business_hours: Default::default(),
            holidays: vec![],
            out_of_hours_message: None,
            required_fields: vec![],
            created_at: now,
            routing: Default::default(),
        },
    )
    .unwrap();
    for (i, id) in channels.into_iter().enumerate() {
        let view = ChannelView {
            id,
            name: format!("C{i}"),
            kind: crate::channels::ChannelKind::Api,
            department_id: department,
            created_at: now,
        };
        directory::insert_channel(conn, &view, "{}").unwrap();
    }
}

fn message(
    channel: ChannelId,
    department: DepartmentId,
    phone: &str,
    external_id: Option<&str>,
    name: Option<&str>,
    content: Content,
) -> Ingest {
    Ingest {
        channel_id: channel,
        channel_name: "C".into(),
        department_id: department,
        department_name: "Ventas".into(),
        external_id: external_id.map(str::to_owned),
        phone: phone.into(),
        name: name.map(str::to_owned),
        content,
        context: Default::default(),
        sent_at: None,
        sends_out: true,
        opening_state: TicketState::Waiting,
        greeting: Some(Greeting {
            author: "Ventas".into(),
            text: "Hola {{contact.name}}, su número es {{ticket.number}}".into(),
            queue: None,
        }),
        now: crate::persistence::now().naive_utc(),
    }
}

/// What an outcome means, without the ids and times that differ between two runs.
fn shape(stored: &Ingested, numbers: &HashMap<TicketId, i64>) -> String {
    let texts: Vec<String> = stored
        .messages
        .iter()
        .map(|m| {
            format!(
                "{}:{}:{}:{}",
                m.author.name,
                m.text.clone().unwrap_or_default(),
                m.reply_to
                    .as_ref()
                    .map_or("-", |r| if r.message_id.is_some() {
                        "resolved"
                    } else {
                        "unresolved"
                    }),
                m.reaction
                    .as_ref()
                    .map_or("-", |r| if r.to.message_id.is_some() {
                        "resolved"
                    } else {
                        "unresolved"
                    }),
            )
        })
        .collect();
    format!(
        "ticket {} opened {} duplicate {} {:?}",
        numbers[&stored.ticket.id],
        stored.opened.is_some(),
        stored.duplicate,
        texts
    )
}

#[test]
fn a_group_stores_what_one_message_after_another_would() {
    let dir = tempfile::tempdir().unwrap();
    let department = DepartmentId::new();
    let channels = [ChannelId::new(), ChannelId::new()];
    let [c1, c2] = channels;
    let text = |t: &str| Content::Text(t.into());
    let mut quoting = message(c1, department, "+5491100000002", None, None, text("¿y?"));
    quoting.context.reply_to = Some(MessageRef {
        external_id: "e2".into(),
        message_id: None,
    });
    let reacting = message(
        c1,
        department,
        "+5491100000002",
        Some("e5"),
        None,
        Content::Reaction(Reaction {
            to: MessageRef {
                external_id: "e1".into(),
                message_id: None,
            },
            emoji: Some("👍".into()),
        }),
    );
    let group = [
        // A new customer opens a ticket; their next message joins it and renames them.
        message(
            c1,
            department,
            "+5491100000001",
            Some("e1"),
            Some("Ana"),
            text("hola"),
        ),
        message(
            c1,
            department,
            "+5491100000001",
            Some("e2"),
            Some("Ana María"),
            text("¿hay?"),
        ),
        // A retry of the first message, within the same group: stored once.
        message(
            c1,
            department,
            "+5491100000001",
            Some("e1"),
            Some("Ana"),
            text("hola"),
        ),
        // The same customer on the other channel: a ticket of its own.
        message(
            c2,
            department,
            "+5491100000001",
            None,
            None,
            text("otro canal"),
        ),
        // Another new customer quoting and reacting to messages of this very group.
        quoting,
        reacting,
        // A retry of a message stored before the group.
        message(
            c1,
            department,
            "+5491100000003",
            Some("old"),
            None,
            text("antes"),
        ),
        // A customer known before the group, with no ticket open.
        message(
            c1,
            department,
            "+5491100000004",
            None,
            Some("Beto"),
            text("vuelvo"),
        ),
    ];
    let before = [
        message(
            c1,
            department,
            "+5491100000003",
            Some("old"),
            None,
            text("antes"),
        ),
        message(
            c2,
            department,
            "+5491100000004",
            None,
            None,
            text("primero"),
        ),
    ];

    let mut results = Vec::new();
    for (name, together) in [("one.sqlite3", false), ("group.sqlite3", true)] {
        let store = store(&dir, name);
        let outcome = store
            .read_blocking(|c| {
                setup(c, department, channels);
                let numbers = TicketNumbers::load(c)?;
                for m in &before {
                    ingest(c, &numbers, m)?;
                }
                let stored: Vec<Ingested> = if together {
                    ingest_all(c, &numbers, &group.iter().collect::<Vec<_>>())?
                } else {
                    group
                        .iter()
                        .map(|m| ingest(c, &numbers, m))
                        .collect::<Result<_, _>>()?
                };
                let numbered: HashMap<TicketId, i64> = tickets::table
                    .select((tickets::id, tickets::number))
                    .load::<(String, i64)>(c)?
                    .into_iter()
                    .map(|(id, n)| (id.parse().unwrap(), n))
                    .collect();
                let names: Vec<(String, String)> = contacts::table
                    .order(contacts::phone)
                    .select((contacts::phone, contacts::name))
                    .load(c)?;
                let rows: i64 = messages::table.count().get_result(c)?;
                let queued: i64 = crate::persistence::schema::outbox::table
                    .count()
                    .get_result(c)?;
                let events: i64 = ticket_events::table.count().get_result(c)?;
                Ok((
                    stored
                        .iter()
                        .map(|s| shape(s, &numbered))
                        .collect::<Vec<_>>(),
                    names,
                    rows,
                    queued,
                    events,
                    stored,
                ))
            })
            .unwrap();
        results.push(outcome);
    }
    let (one, group) = (&results[0], &results[1]);
    assert_eq!(one.0, group.0, "each message's outcome");
    assert_eq!(one.1, group.1, "the customers and their names");
    assert_eq!((one.2, one.3, one.4), (group.2, group.3, group.4), "rows");

    // And what that is, spelled out.
    let stored = &group.5;
    assert!(stored[0].opened.is_some() && !stored[1].duplicate);
    assert_eq!(
        stored[1].ticket.id, stored[0].ticket.id,
        "joins the ticket just opened"
    );
    assert_eq!(stored[1].messages[0].author.name, "Ana María");
    assert!(stored[2].duplicate);
    assert_eq!(stored[2].messages[0].id, stored[0].messages[0].id);
    assert_ne!(stored[3].ticket.id, stored[0].ticket.id);
    assert_eq!(
        stored[4].messages[0].reply_to.as_ref().unwrap().message_id,
        Some(stored[1].messages[0].id.to_string()),
        "a quote of a message earlier in the group gets its id"
    );
    assert_eq!(
        stored[5].messages[0]
            .reaction
            .as_ref()
            .unwrap()
            .to
            .message_id,
        Some(stored[0].messages[0].id.to_string())
    );
    assert!(stored[6].duplicate && stored[6].opened.is_none());
    assert!(
        stored[7].opened.is_some(),
        "a known customer opens a ticket here"
    );
    assert_eq!(
        stored[7].messages[1].text.as_deref(),
        Some(format!("Hola Beto, su número es {}", stored[7].ticket.number).as_str()),
        "the greeting names the customer and the ticket"
    );
    let mut numbers: Vec<i64> = stored
        .iter()
        .filter_map(|s| s.opened.as_ref())
        .map(|t| t.number)
        .collect();
    let opened = numbers.clone();
    numbers.sort();
    assert_eq!(numbers, opened, "numbers follow the order of the messages");
    assert_eq!(opened, [3, 4, 5, 6]);
}

/// A group larger than the largest insert statement is split into statements of fixed sizes
/// (`insert_rows`): 100 new customers are 64 + 32 + 4 rows of contacts and tickets and 200
/// message rows (each with its greeting). Every row lands, with the values it was given.
#[test]
fn a_large_group_lands_whole_across_statement_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let department = DepartmentId::new();
    let channels = [ChannelId::new(), ChannelId::new()];
    let group: Vec<Ingest> = (0..100)
        .map(|i| {
            message(
                channels[i % 2],
                department,
                &format!("+54911{i:08}"),
                Some(&format!("ext-{i}")),
                Some(&format!("Cliente {i}")),
                Content::Text(format!("mensaje {i}")),
            )
        })
        .collect();
    let store = store(&dir, "large.sqlite3");
    let (stored, tickets, texts) = store
        .read_blocking(|c| {
            setup(c, department, channels);
            let numbers = TicketNumbers::load(c)?;
            let stored = ingest_all(c, &numbers, &group.iter().collect::<Vec<_>>())?;
            let tickets: Vec<(i64, String, Option<NaiveDateTime>)> = tickets::table
                .inner_join(contacts::table)
                .order(tickets::number)
                .select((tickets::number, contacts::name, tickets::unanswered_since))
                .load(c)?;
            let texts: Vec<(String, Option<String>)> = messages::table
                .filter(messages::direction.eq("in"))
                .select((messages::author_name, messages::body))
                .load(c)?;
            Ok((stored, tickets, texts))
        })
        .unwrap();
    assert_eq!(stored.len(), 100);
    assert!(stored.iter().all(|s| s.opened.is_some() && !s.duplicate));
    assert_eq!(tickets.len(), 100, "one ticket per customer");
    for (i, (number, name, unanswered)) in tickets.iter().enumerate() {
        assert_eq!(*number, i as i64 + 1);
        assert_eq!(name, &format!("Cliente {i}"));
        assert!(
            unanswered.is_some(),
            "the message's trigger ran for each row"
        );
    }
    let mut texts = texts;
    texts.sort();
    let mut expected: Vec<(String, Option<String>)> = (0..100)
        .map(|i| (format!("Cliente {i}"), Some(format!("mensaje {i}"))))
        .collect();
    expected.sort();
    assert_eq!(texts, expected, "one customer message per ticket, as sent");
    let all: i64 = store
        .read_blocking(|c| Ok(messages::table.count().get_result(c)?))
        .unwrap();
    assert_eq!(all, 200, "and each its greeting");
}
