//! Inbound messages: the one transaction that stores a customer's message, joining the
//! contact's open ticket on the channel or opening a new one with the next ticket number.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::tickets::{NewMessage, Sender, event_row, insert_events, insert_messages, message_row};
use crate::domain::ids::{ChannelId, ContactId, DepartmentId, TicketId};
use crate::domain::message::{MessageContext, MessageRef, MessageStatus};
use crate::domain::template::{Variables, expand};
use crate::domain::ticket::{Reason, TicketState};
use crate::persistence::outbox;
use crate::persistence::queries::media;
use crate::persistence::rows::{
    ContactRow, EventRow, LoadOne, MessageRow, NewContactRow, TicketRow, parse, utc,
    with_external_id,
};
use crate::persistence::schema::*;
use crate::persistence::ticket_numbers::TicketNumbers;
use crate::persistence::unnest::insert_group;
use crate::persistence::{DbConn, StoreError, insert_rows};
use crate::views::{ContactRef, Content, MessageView, Named, TicketView};

mod lookups;
use lookups::{known_conversations, seen_before};

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
pub fn ingest(
    conn: &mut DbConn,
    numbers: &TicketNumbers,
    m: &Ingest,
) -> Result<Ingested, StoreError> {
    let mut stored = ingest_all(conn, numbers, &[m])?;
    stored
        .pop()
        .ok_or_else(|| StoreError::Corrupt("an inbound message went missing".into()))
}

/// What became of one message of a group, before its rows are inserted. (Short-lived, one
/// per message of a group: the size of its variants does not matter.)
#[allow(clippy::large_enum_variant)]
enum Outcome {
    /// Its external id was stored before this group: that message.
    Seen(TicketRef, MessageView),
    /// Its external id came earlier in this group: the message at that row.
    SeenInGroup(TicketRef, usize),
    /// Stored as rows `rows` of the group's messages (the message, then any greeting).
    Stored {
        ticket: TicketRef,
        opened: Option<TicketView>,
        rows: std::ops::Range<usize>,
    },
}

/// Stores inbound messages, in order, exactly as one [`ingest`] after another would — each
/// joins the ticket an earlier one opened, a repeated external id stores nothing — but with the
/// statements shared by the group: the lookups of `inbound::lookups` (on PostgreSQL two for
/// all of them, three when a redelivery is found), then the group's rows (on PostgreSQL one
/// statement, `unnest::insert_group`). On PostgreSQL that is a handful of round trips per group
/// instead of two to eight per message; on both, far fewer statements to bind and step.
///
/// On an error the caller's transaction holds part of the group: the writer rolls it back and
/// stores each message on its own (see `persistence::writer`).
pub fn ingest_all(
    conn: &mut DbConn,
    numbers: &TicketNumbers,
    group: &[&Ingest],
) -> Result<Vec<Ingested>, StoreError> {
    let planned = plan(conn, numbers, group, Duplicates::LookedUp)?;
    planned.write(conn)?;
    planned.finish()
}

/// How a group learns which of its external ids are stored already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Duplicates {
    /// Looked up before planning (a statement, and on PostgreSQL a round trip).
    LookedUp,
    /// Left to the unique index `messages_external_once`: the group is planned as if none
    /// were, and a write it refuses names [`DUPLICATE_INDEX`]; the caller then plans the group
    /// again with [`Duplicates::LookedUp`]. Redeliveries are rare, a round trip per group is not.
    CaughtByIndex,
}

/// The unique index on a channel's external ids (see [`Duplicates::CaughtByIndex`]).
pub(crate) const DUPLICATE_INDEX: &str = "messages_external_once";

/// A group's rows as [`plan`] decided them, none written yet.
pub(crate) struct Planned {
    contacts: Vec<NewContactRow>,
    renamed: HashMap<String, (String, NaiveDateTime)>,
    tickets: Vec<TicketRow>,
    events: Vec<EventRow>,
    rows: Vec<MessageRow>,
    /// Outbox entries: (row, channel, recipient, at).
    sends: Vec<(usize, ChannelId, String, NaiveDateTime)>,
    /// Media to fetch: (row, channel, media id, at).
    fetches: Vec<(usize, ChannelId, String, NaiveDateTime)>,
    outcomes: Vec<Outcome>,
}

/// The first half of [`ingest_all`]: what a group writes, from reads only (its lookups, and the
/// references and greetings it resolves).
pub(crate) fn plan(
    conn: &mut DbConn,
    numbers: &TicketNumbers,
    group: &[&Ingest],
    duplicates: Duplicates,
) -> Result<Planned, StoreError> {
    let seen = match duplicates {
        Duplicates::LookedUp => seen_before(conn, group)?,
        Duplicates::CaughtByIndex => Default::default(),
    };
    let (mut open, mut contacts) = known_conversations(conn, group)?;

    let mut new_contacts: Vec<String> = Vec::new();
    let mut renamed: HashMap<String, (String, NaiveDateTime)> = HashMap::new();
    let mut new_tickets: Vec<TicketRow> = Vec::new();
    let mut events = Vec::new();
    let mut rows: Vec<MessageRow> = Vec::new();
    let mut sends: Vec<(usize, ChannelId, String, NaiveDateTime)> = Vec::new();
    let mut fetches: Vec<(usize, ChannelId, String, NaiveDateTime)> = Vec::new();
    // External ids stored by this group: (channel, external id) → (ticket, row).
    let mut in_group: HashMap<(ChannelId, &str), (TicketRef, usize)> = HashMap::new();
    let mut outcomes = Vec::with_capacity(group.len());

    for m in group {
        if let Some(ext) = m.external_id.as_deref() {
            if let Some((ticket, message)) = seen.get(&(m.channel_id, ext)) {
                outcomes.push(Outcome::Seen(ticket.clone(), message.clone()));
                continue;
            }
            if let Some((ticket, row)) = in_group.get(&(m.channel_id, ext)) {
                outcomes.push(Outcome::SeenInGroup(ticket.clone(), *row));
                continue;
            }
        }
        let contact = match contacts.get_mut(&m.phone) {
            Some(c) => {
                if let Some(name) = m.name.as_deref().filter(|n| !c.name_edited && *n != c.name) {
                    c.name = name.to_owned();
                    if !new_contacts.contains(&c.phone) {
                        renamed.insert(c.id.clone(), (c.name.clone(), m.now));
                    }
                }
                c.clone()
            }
            None => {
                let c = ContactRow {
                    id: ContactId::new().to_string(),
                    phone: m.phone.clone(),
                    name: m.name.clone().unwrap_or_else(|| m.phone.clone()),
                    name_edited: false,
                };
                new_contacts.push(c.phone.clone());
                contacts.insert(c.phone.clone(), c.clone());
                c
            }
        };
        let conversation = (m.channel_id.to_string(), m.phone.clone());
        let (row, opened) = match open.get_mut(&conversation) {
            Some(t) => {
                // The message's INSERT moves the ticket's `updated_at` (a trigger).
                t.updated_at = m.now;
                (t.clone(), false)
            }
            None => {
                let row = new_ticket(numbers, m, &contact);
                events.push(event_row(
                    parse(&row.id, "ticket id")?,
                    m.opening_state,
                    m.department_id,
                    None,
                    None,
                    Reason::for_opening(m.opening_state == TicketState::Waiting),
                    m.now,
                ));
                new_tickets.push(row.clone());
                open.insert(conversation, row.clone());
                (row, true)
            }
        };
        let ticket = TicketRef::of(&row)?;

        // References to earlier messages get our ids; the common message has none to copy.
        let mut content = Cow::Borrowed(&m.content);
        if matches!(m.content, Content::Reaction(_))
            && let Content::Reaction(r) = content.to_mut()
        {
            resolve(conn, m.channel_id, &mut r.to, &in_group, &rows)?;
        }
        let mut context = Cow::Borrowed(&m.context);
        if m.context.reply_to.is_some()
            && let Some(quoted) = &mut context.to_mut().reply_to
        {
            resolve(conn, m.channel_id, quoted, &in_group, &rows)?;
        }
        let first = rows.len();
        rows.push(message_row(NewMessage {
            ticket_id: ticket.id,
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
        }));
        if let Content::Media(file) = content.as_ref()
            && let Some(media_id) = &file.media_id
        {
            fetches.push((first, m.channel_id, media_id.clone(), m.now));
        }
        if let Some(ext) = m.external_id.as_deref() {
            in_group.insert((m.channel_id, ext), (ticket.clone(), first));
        }
        if opened && let Some(greeting) = &m.greeting {
            let known = !new_contacts.contains(&contact.phone);
            let text = greeting_text(conn, m, &contact, known, row.number, greeting)?;
            if m.sends_out {
                sends.push((rows.len(), m.channel_id, m.phone.clone(), m.now));
            }
            rows.push(message_row(NewMessage {
                ticket_id: ticket.id,
                channel_id: m.channel_id,
                external_id: None,
                sender: Sender::System {
                    name: &greeting.author,
                },
                content: &Content::Text(text),
                context: None,
                sent_at: None,
                status: if m.sends_out {
                    MessageStatus::Queued
                } else {
                    MessageStatus::Sent
                },
                now: m.now,
            }));
        }
        // A new ticket's view is all known here: no need to read it back with its names.
        let opened = opened.then(|| TicketView {
            id: ticket.id,
            number: row.number,
            state: ticket.state,
            contact: ContactRef {
                id: ticket.contact_id,
                name: contact.name.clone(),
                phone: contact.phone.clone(),
            },
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
        });
        outcomes.push(Outcome::Stored {
            ticket,
            opened,
            rows: first..rows.len(),
        });
    }

    let created = match group.first() {
        Some(m) => new_contacts
            .iter()
            .map(|p| NewContactRow::of(&contacts[p], m.now))
            .collect(),
        None => Vec::new(),
    };
    Ok(Planned {
        contacts: created,
        renamed,
        tickets: new_tickets,
        events,
        rows,
        sends,
        fetches,
        outcomes,
    })
}

impl Planned {
    /// Writing it is a single statement on PostgreSQL (see `unnest::insert_group`): it renames
    /// no customer and queues nothing to send or fetch. Such a statement needs no transaction
    /// around it to be all or nothing.
    pub(crate) fn is_one_statement(&self) -> bool {
        self.renamed.is_empty() && self.sends.is_empty() && self.fetches.is_empty()
    }

    /// The second half of [`ingest_all`]: writes the rows, in the caller's transaction.
    pub(crate) fn write(&self, conn: &mut DbConn) -> Result<(), StoreError> {
        for (id, (name, at)) in &self.renamed {
            diesel::update(contacts::table.find(id))
                .set((contacts::name.eq(name), contacts::updated_at.eq(at)))
                .execute(conn)?;
        }
        match conn {
            // One round trip for all of it (see `unnest::insert_group`).
            DbConn::Pg(c) => {
                insert_group(c, &self.contacts, &self.tickets, &self.events, &self.rows)?
            }
            DbConn::Sqlite(_) => {
                insert_rows!(conn, contacts::table, self.contacts.as_slice());
                insert_rows!(conn, tickets::table, self.tickets.as_slice());
                insert_events(conn, &self.events)?;
                insert_messages(conn, &self.rows)?;
            }
        }
        for (row, channel, recipient, at) in &self.sends {
            outbox::enqueue(
                conn,
                parse(&self.rows[*row].id, "message id")?,
                *channel,
                recipient,
                *at,
            )?;
        }
        for (row, channel, media_id, at) in &self.fetches {
            media::enqueue(
                conn,
                parse(&self.rows[*row].id, "message id")?,
                *channel,
                media_id,
                *at,
            )?;
        }
        Ok(())
    }

    /// The views of the rows to write, for a group whose statement commits by itself: made
    /// before writing, so that a row that cannot be shown fails the group before anything is
    /// stored.
    pub(crate) fn views(&self) -> Result<Vec<MessageView>, StoreError> {
        self.rows
            .iter()
            .cloned()
            .map(MessageRow::into_view)
            .collect()
    }

    /// What each message of the group became, once its rows are written in a transaction (which
    /// a failure here rolls back).
    pub(crate) fn finish(self) -> Result<Vec<Ingested>, StoreError> {
        let views = self
            .rows
            .into_iter()
            .map(MessageRow::into_view)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(answers(self.outcomes, views))
    }

    /// [`Self::finish`] with the [`Self::views`] made before writing.
    pub(crate) fn finish_with(self, views: Vec<MessageView>) -> Vec<Ingested> {
        answers(self.outcomes, views)
    }
}

fn answers(outcomes: Vec<Outcome>, views: Vec<MessageView>) -> Vec<Ingested> {
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Seen(ticket, message) => Ingested {
                ticket,
                opened: None,
                messages: vec![message],
                duplicate: true,
            },
            Outcome::SeenInGroup(ticket, row) => Ingested {
                ticket,
                opened: None,
                messages: vec![views[row].clone()],
                duplicate: true,
            },
            Outcome::Stored {
                ticket,
                opened,
                rows,
            } => Ingested {
                ticket,
                opened,
                messages: views[rows].to_vec(),
                duplicate: false,
            },
        })
        .collect()
}

/// The greeting with its variables filled in for this contact and ticket (the department's
/// text was checked when it was saved; a variable that slipped through is left as written
/// rather than losing the reply).
fn greeting_text(
    conn: &mut DbConn,
    m: &Ingest,
    contact: &ContactRow,
    stored: bool,
    number: i64,
    greeting: &Greeting,
) -> Result<String, StoreError> {
    let text = &greeting.text;
    // A customer stored by this very group has no e-mail or company yet.
    let (email, company): (Option<String>, Option<String>) = if stored {
        contacts::table
            .find(&contact.id)
            .select((contacts::email, contacts::company))
            .load_one(conn)?
            .unwrap_or_default()
    } else {
        Default::default()
    };
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

/// Fills in our id of a message the channel refers to by its own, when we have it: stored
/// earlier in this group (`in_group`, rows in `rows`) or before.
fn resolve(
    conn: &mut DbConn,
    channel: ChannelId,
    to: &mut MessageRef,
    in_group: &HashMap<(ChannelId, &str), (TicketRef, usize)>,
    rows: &[MessageRow],
) -> Result<(), StoreError> {
    if let Some((_, row)) = in_group.get(&(channel, to.external_id.as_str())) {
        to.message_id = Some(rows[*row].id.clone());
        return Ok(());
    }
    to.message_id = messages::table
        .filter(with_external_id(&channel.to_string(), &to.external_id))
        .select(messages::id)
        .load_one(conn)?;
    Ok(())
}

/// A new ticket for a contact with none open on the channel (its timeline entry is the
/// caller's), numbered by `numbers`.
fn new_ticket(numbers: &TicketNumbers, m: &Ingest, contact: &ContactRow) -> TicketRow {
    let (number, id) = numbers.next();
    TicketRow {
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
        // The message that opens it waits for an answer (its trigger then changes nothing).
        unanswered_since: Some(m.now),
    }
}

#[cfg(test)]
mod tests;
