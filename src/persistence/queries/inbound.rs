//! Inbound messages: the one transaction that stores a customer's message, joining the
//! contact's open ticket on the channel or opening a new one with the next ticket number.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::tickets::{NewMessage, Sender, insert_event, insert_message};
use crate::domain::ids::{ChannelId, ContactId, DepartmentId, TicketId};
use crate::domain::message::{MessageContext, MessageRef, MessageStatus};
use crate::domain::template::{Variables, expand};
use crate::domain::ticket::{Reason, TicketState};
use crate::persistence::outbox;
use crate::persistence::queries::media;
use crate::persistence::rows::{
    ContactRow, LoadOne, MessageRow, TicketIsOpen, TicketRow, parse, utc,
};
use crate::persistence::schema::*;
use crate::persistence::{DbConn, StoreError};
use crate::views::{Content, MessageView, Named, TicketView};

/// An inbound message as a channel hands it over.
#[derive(Debug, Clone)]
pub struct Ingest {
    pub channel_id: ChannelId,
    pub channel_name: String,
    /// Where a new ticket opens: the channel's department.
    pub department_id: DepartmentId,
    pub department_name: String,
    pub external_id: Option<String>,
    pub phone: String,
    pub name: Option<String>,
    pub content: Content,
    /// What the message quotes and the ad that brought the customer, if the channel says.
    pub context: MessageContext,
    /// When the customer sent it, by the channel's clock.
    pub sent_at: Option<NaiveDateTime>,
    /// The channel sends outbound messages (the auto-reply goes through the outbox).
    pub sends_out: bool,
    /// The state a new ticket opens in, decided by the department's calendar.
    pub opening_state: TicketState,
    /// Sent (as a system message) if the message opens a ticket: the out-of-hours auto-reply
    /// or the queue message, as the department decided.
    pub greeting: Option<Greeting>,
    pub now: NaiveDateTime,
}

/// A system message for the customer whose message opened a ticket.
#[derive(Debug, Clone)]
pub struct Greeting {
    /// The author shown (the department).
    pub author: String,
    pub text: String,
    /// (position, estimated minutes) for a queue message's variables.
    pub queue: Option<(usize, i64)>,
}

/// Where an inbound message landed: enough to answer the integration without joining names.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TicketRef {
    pub id: TicketId,
    pub number: i64,
    pub state: TicketState,
    pub contact_id: ContactId,
    pub department_id: DepartmentId,
}

impl TicketRef {
    fn of(row: &TicketRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&row.id, "ticket id")?,
            number: row.number,
            state: TicketState::parse(&row.state)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket state: {:?}", row.state)))?,
            contact_id: parse(&row.contact_id, "contact id")?,
            department_id: parse(&row.department_id, "department id")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Ingested {
    pub ticket: TicketRef,
    /// The whole ticket when this message opened it (its actor announces it).
    pub opened: Option<TicketView>,
    /// The stored message, then the out-of-hours auto-reply if one was sent.
    pub messages: Vec<MessageView>,
    /// The external id was seen before: nothing was written.
    pub duplicate: bool,
}

/// Stores an inbound message: joins the contact's open ticket on the channel or opens one.
pub fn ingest(conn: &mut DbConn, m: &Ingest) -> Result<Ingested, StoreError> {
    if let Some(ext) = &m.external_id {
        let seen = messages::table
            .filter(messages::channel_id.eq(m.channel_id.to_string()))
            .filter(messages::external_id.eq(ext))
            .select(MessageRow::as_select())
            .load_one(conn)?;
        if let Some(row) = seen {
            let ticket: TicketRow = tickets::table
                .find(&row.ticket_id)
                .select(TicketRow::as_select())
                .load_one(conn)?
                .ok_or_else(|| StoreError::Corrupt("a message without its ticket".into()))?;
            return Ok(Ingested {
                ticket: TicketRef::of(&ticket)?,
                opened: None,
                messages: vec![row.into_view()?],
                duplicate: true,
            });
        }
    }

    // The common case in one query: the contact exists and has an open ticket on the channel.
    let known: Option<(TicketRow, ContactRow)> = tickets::table
        .inner_join(contacts::table)
        .filter(contacts::phone.eq(&m.phone))
        .filter(tickets::channel_id.eq(m.channel_id.to_string()))
        .filter(TicketIsOpen)
        .select((TicketRow::as_select(), ContactRow::as_select()))
        .load_one(conn)?;
    let (contact, row, opened) = match known {
        Some((mut t, mut contact)) => {
            refresh_name(conn, &mut contact, m.name.as_deref(), m.now)?;
            // The message's INSERT below moves the ticket's `updated_at` (a trigger).
            t.updated_at = m.now;
            (contact, t, false)
        }
        None => {
            let contact = upsert_contact(conn, &m.phone, m.name.as_deref(), m.now)?;
            let row = open_ticket(conn, m, &contact)?;
            (contact, row, true)
        }
    };
    let ticket_ref = TicketRef::of(&row)?;
    let ticket_id = ticket_ref.id;

    // References to earlier messages get our ids; the common message has none to copy.
    let mut content = Cow::Borrowed(&m.content);
    if matches!(m.content, Content::Reaction(_))
        && let Content::Reaction(r) = content.to_mut()
    {
        resolve(conn, m.channel_id, &mut r.to)?;
    }
    let mut context = Cow::Borrowed(&m.context);
    if m.context.reply_to.is_some()
        && let Some(quoted) = &mut context.to_mut().reply_to
    {
        resolve(conn, m.channel_id, quoted)?;
    }
    let message = insert_message(
        conn,
        NewMessage {
            ticket_id,
            channel_id: m.channel_id,
            external_id: m.external_id.clone(),
            sender: Sender::Contact {
                id: &contact.id,
                name: &contact.name,
            },
            content: &content,
            context: Some(&context),
            sent_at: m.sent_at,
            status: MessageStatus::Received,
            now: m.now,
        },
    )?;
    if let Content::Media(file) = content.as_ref()
        && let Some(media_id) = &file.media_id
    {
        media::enqueue(conn, message.id, m.channel_id, media_id, m.now)?;
    }
    let mut stored = vec![message];
    if opened && let Some(greeting) = &m.greeting {
        let author = &greeting.author;
        let text = greeting_text(conn, m, &contact, row.number, greeting)?;
        let reply = insert_message(
            conn,
            NewMessage {
                ticket_id,
                channel_id: m.channel_id,
                external_id: None,
                sender: Sender::System { name: author },
                content: &Content::Text(text),
                context: None,
                sent_at: None,
                status: if m.sends_out {
                    MessageStatus::Queued
                } else {
                    MessageStatus::Sent
                },
                now: m.now,
            },
        )?;
        if m.sends_out {
            outbox::enqueue(conn, reply.id, m.channel_id, &m.phone, m.now)?;
        }
        stored.push(reply);
    }
    // A new ticket's view is all known here: no need to read it back with its names.
    let opened = if opened {
        Some(TicketView {
            id: ticket_id,
            number: row.number,
            state: ticket_ref.state,
            contact: contact.to_ref()?,
            channel: Named {
                id: m.channel_id,
                name: m.channel_name.clone(),
            },
            department: Named {
                id: m.department_id,
                name: m.department_name.clone(),
            },
            operator: None,
            classification: None,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            waiting_since: row.waiting_since.map(utc),
            first_response_at: None,
            closed_at: None,
            // This very message waits for an answer.
            unanswered_since: Some(utc(m.now)),
        })
    } else {
        None
    };
    Ok(Ingested {
        ticket: ticket_ref,
        opened,
        messages: stored,
        duplicate: false,
    })
}

/// The greeting with its variables filled in for this contact and ticket (the department's
/// text was checked when it was saved; a variable that slipped through is left as written
/// rather than losing the reply).
fn greeting_text(
    conn: &mut DbConn,
    m: &Ingest,
    contact: &ContactRow,
    number: i64,
    greeting: &Greeting,
) -> Result<String, StoreError> {
    let text = &greeting.text;
    let (email, company): (Option<String>, Option<String>) = contacts::table
        .find(&contact.id)
        .select((contacts::email, contacts::company))
        .load_one(conn)?
        .unwrap_or_default();
    let vars = Variables {
        contact_name: &contact.name,
        contact_phone: &contact.phone,
        contact_email: email.as_deref(),
        contact_company: company.as_deref(),
        operator_name: "",
        department_name: &m.department_name,
        ticket_number: number,
        channel_name: &m.channel_name,
        queue: greeting.queue,
    };
    Ok(expand(text, &vars).unwrap_or_else(|_| text.to_owned()))
}

/// Fills in our id of a message the channel refers to by its own, when we have it.
fn resolve(conn: &mut DbConn, channel: ChannelId, to: &mut MessageRef) -> Result<(), StoreError> {
    to.message_id = messages::table
        .filter(messages::channel_id.eq(channel.to_string()))
        .filter(messages::external_id.eq(&to.external_id))
        .select(messages::id)
        .load_one(conn)?;
    Ok(())
}

fn upsert_contact(
    conn: &mut DbConn,
    phone: &str,
    name: Option<&str>,
    now: NaiveDateTime,
) -> Result<ContactRow, StoreError> {
    let existing = contacts::table
        .filter(contacts::phone.eq(phone))
        .select(ContactRow::as_select())
        .load_one(conn)?;
    match existing {
        Some(mut c) => {
            refresh_name(conn, &mut c, name, now)?;
            Ok(c)
        }
        None => {
            let c = ContactRow {
                id: ContactId::new().to_string(),
                phone: phone.to_owned(),
                name: name.unwrap_or(phone).to_owned(),
                name_edited: false,
            };
            diesel::insert_into(contacts::table)
                .values((
                    contacts::id.eq(&c.id),
                    contacts::phone.eq(&c.phone),
                    contacts::name.eq(&c.name),
                    contacts::name_edited.eq(false),
                    contacts::created_at.eq(now),
                    contacts::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(c)
        }
    }
}

/// Channels keep the contact's profile name current until an operator edits it.
fn refresh_name(
    conn: &mut DbConn,
    contact: &mut ContactRow,
    name: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    if let Some(name) = name.filter(|n| !contact.name_edited && *n != contact.name) {
        diesel::update(contacts::table.find(&contact.id))
            .set((contacts::name.eq(name), contacts::updated_at.eq(now)))
            .execute(conn)?;
        contact.name = name.to_owned();
    }
    Ok(())
}

/// A new ticket for a contact with none open on the channel, with its first timeline entry.
fn open_ticket(
    conn: &mut DbConn,
    m: &Ingest,
    contact: &ContactRow,
) -> Result<TicketRow, StoreError> {
    // The number first: its counter row stays locked until commit on PostgreSQL, so ids
    // (UUIDv7, ordered by time) taken after it sort in the same order as the numbers even
    // when several writers open tickets at once.
    let number = next_ticket_number(conn)?;
    let id = TicketId::new();
    let row = TicketRow {
        id: id.to_string(),
        number,
        state: m.opening_state.as_str().into(),
        contact_id: contact.id.clone(),
        channel_id: m.channel_id.to_string(),
        department_id: m.department_id.to_string(),
        operator_id: None,
        classification: None,
        created_at: m.now,
        updated_at: m.now,
        closed_at: None,
        waiting_since: Some(m.now),
        first_response_at: None,
        unanswered_since: None,
    };
    diesel::insert_into(tickets::table)
        .values((
            tickets::id.eq(&row.id),
            tickets::number.eq(row.number),
            tickets::state.eq(&row.state),
            tickets::contact_id.eq(&row.contact_id),
            tickets::channel_id.eq(&row.channel_id),
            tickets::department_id.eq(&row.department_id),
            tickets::operator_id.eq(&row.operator_id),
            tickets::classification.eq(&row.classification),
            tickets::created_at.eq(row.created_at),
            tickets::updated_at.eq(row.updated_at),
            tickets::closed_at.eq(row.closed_at),
            tickets::waiting_since.eq(row.waiting_since),
        ))
        .execute(conn)?;
    insert_event(
        conn,
        id,
        m.opening_state,
        m.department_id,
        None,
        None,
        Reason::for_opening(m.opening_state == TicketState::Waiting),
        m.now,
    )?;
    Ok(row)
}

/// Unique, increasing, never reused: the counter row is updated inside the caller's
/// transaction, so a rolled-back ticket gives its number back and a committed one keeps it.
fn next_ticket_number(conn: &mut DbConn) -> Result<i64, StoreError> {
    Ok(diesel::update(counters::table.find("ticket_number"))
        .set(counters::value.eq(counters::value + 1))
        .returning(counters::value)
        .get_result(conn)?)
}
