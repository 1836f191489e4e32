//! Contacts and what hangs off them: the profile and its audit trail, tags, annotations, and
//! the facts that decide who may see a contact ([`crate::domain::contact::can_see_contact`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::tickets::Scope;
use crate::domain::contact::{Address, ContactFacts, FieldChange, Profile};
use crate::domain::ids::{ContactId, OperatorId};
use crate::domain::ticket::TicketState;
use crate::domain::visibility::Placement;
use crate::persistence::queries::directory::to_json;
use crate::persistence::rows::{LoadOne, json, parse, parse_opt, utc};
use crate::persistence::schema::*;
use crate::persistence::{DbConn, MultiBackend, StoreError};
use crate::views::{ContactView, Named, NoteView, TagView};

#[derive(Queryable, Selectable)]
#[diesel(table_name = contacts)]
struct ProfileRow {
    id: String,
    phone: String,
    name: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    email: Option<String>,
    sex: Option<String>,
    company: Option<String>,
    position: Option<String>,
    document: Option<String>,
    address: Option<String>,
    avatar_url: Option<String>,
}

impl ProfileRow {
    fn profile(&self) -> Result<Profile, StoreError> {
        Ok(Profile {
            name: self.name.clone(),
            email: self.email.clone(),
            sex: self.sex.clone(),
            company: self.company.clone(),
            position: self.position.clone(),
            document: self.document.clone(),
            address: self
                .address
                .as_deref()
                .map(|a| json::<Address>(a, "contact address"))
                .transpose()?,
        })
    }

    fn into_view(self, tags: Vec<TagView>) -> Result<ContactView, StoreError> {
        let profile = self.profile()?;
        Ok(ContactView {
            id: parse(&self.id, "contact id")?,
            name: profile.name,
            phone: self.phone,
            avatar_url: self.avatar_url,
            first_contact_at: utc(self.created_at),
            email: profile.email,
            sex: profile.sex,
            company: profile.company,
            position: profile.position,
            document: profile.document,
            address: profile.address,
            tags,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

fn tags_of(conn: &mut DbConn, contact: &str) -> Result<Vec<TagView>, StoreError> {
    contact_tags::table
        .inner_join(tags::table)
        .filter(contact_tags::contact_id.eq(contact))
        .order(tags::name.asc())
        .select((tags::id, tags::name, tags::color))
        .load::<(String, String, Option<String>)>(conn)?
        .into_iter()
        .map(tag_view)
        .collect()
}

fn tag_view((id, name, color): (String, String, Option<String>)) -> Result<TagView, StoreError> {
    Ok(TagView {
        id: parse(&id, "tag id")?,
        name,
        color,
    })
}

pub fn contact(conn: &mut DbConn, id: ContactId) -> Result<Option<ContactView>, StoreError> {
    let row = contacts::table
        .find(id.to_string())
        .select(ProfileRow::as_select())
        .load_one(conn)?;
    let Some(row) = row else { return Ok(None) };
    let tags = tags_of(conn, &row.id)?;
    row.into_view(tags).map(Some)
}

/// Where the contact's tickets stand and who ever owned one of them.
pub fn facts(conn: &mut DbConn, id: ContactId) -> Result<ContactFacts, StoreError> {
    let id = id.to_string();
    let tickets: Vec<(String, String, Option<String>)> = tickets::table
        .filter(tickets::contact_id.eq(&id))
        .select((tickets::state, tickets::department_id, tickets::operator_id))
        .load(conn)?;
    let served: Vec<Option<String>> = ticket_events::table
        .inner_join(tickets::table)
        .filter(tickets::contact_id.eq(&id))
        .filter(ticket_events::owner_id.is_not_null())
        .select(ticket_events::owner_id)
        .distinct()
        .load(conn)?;
    Ok(ContactFacts {
        tickets: tickets
            .into_iter()
            .map(|(state, department, operator)| {
                Ok(Placement {
                    state: TicketState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("ticket state: {state:?}")))?,
                    department_id: parse(&department, "department id")?,
                    operator_id: parse_opt(operator.as_deref(), "operator id")?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        served_by: served
            .into_iter()
            .flatten()
            .map(|o| parse(&o, "operator id"))
            .collect::<Result<_, _>>()?,
    })
}

/// Where the contact's open tickets stand: whose screens a change of the contact reaches.
pub fn open_placements(conn: &mut DbConn, id: ContactId) -> Result<Vec<Placement>, StoreError> {
    Ok(facts(conn, id)?
        .tickets
        .into_iter()
        .filter(|t| t.state != TicketState::Closed)
        .collect())
}

/// Saves an edited profile and its audit trail. Once an operator has set the name, channels
/// no longer replace it with the customer's profile name.
pub fn save_profile(
    conn: &mut DbConn,
    id: ContactId,
    profile: &Profile,
    changes: &[FieldChange],
    by: OperatorId,
    now: NaiveDateTime,
) -> Result<Option<ContactView>, StoreError> {
    if !changes.is_empty() {
        let renamed = changes.iter().any(|c| c.field == "name");
        let target = contacts::table.find(id.to_string());
        diesel::update(target)
            .set((
                contacts::name.eq(&profile.name),
                contacts::email.eq(&profile.email),
                contacts::sex.eq(&profile.sex),
                contacts::company.eq(&profile.company),
                contacts::position.eq(&profile.position),
                contacts::document.eq(&profile.document),
                contacts::address.eq(profile.address.as_ref().map(to_json)),
                contacts::updated_at.eq(now),
            ))
            .execute(conn)?;
        if renamed {
            diesel::update(contacts::table.find(id.to_string()))
                .set(contacts::name_edited.eq(true))
                .execute(conn)?;
        }
        for change in changes {
            diesel::insert_into(contact_changes::table)
                .values((
                    contact_changes::id.eq(uuid::Uuid::now_v7().to_string()),
                    contact_changes::contact_id.eq(id.to_string()),
                    contact_changes::operator_id.eq(Some(by.to_string())),
                    contact_changes::field.eq(change.field),
                    contact_changes::old_value.eq(to_json(&change.old)),
                    contact_changes::new_value.eq(to_json(&change.new)),
                    contact_changes::at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    contact(conn, id)
}

/// The stored profile of a contact, to edit.
pub fn profile(conn: &mut DbConn, id: ContactId) -> Result<Option<Profile>, StoreError> {
    contacts::table
        .find(id.to_string())
        .select(ProfileRow::as_select())
        .load_one(conn)?
        .map(|r| r.profile())
        .transpose()
}

/// One entry of a contact's audit trail.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChangeEntry {
    pub field: String,
    pub old: serde_json::Value,
    pub new: serde_json::Value,
    pub operator_id: Option<OperatorId>,
    pub at: chrono::DateTime<chrono::Utc>,
}

pub fn changes(conn: &mut DbConn, id: ContactId) -> Result<Vec<ChangeEntry>, StoreError> {
    contact_changes::table
        .filter(contact_changes::contact_id.eq(id.to_string()))
        .order(contact_changes::id.asc())
        .select((
            contact_changes::field,
            contact_changes::old_value,
            contact_changes::new_value,
            contact_changes::operator_id,
            contact_changes::at,
        ))
        .load::<(
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            NaiveDateTime,
        )>(conn)?
        .into_iter()
        .map(|(field, old, new, operator, at)| {
            let value = |v: Option<String>| -> Result<serde_json::Value, StoreError> {
                v.as_deref()
                    .map_or(Ok(serde_json::Value::Null), |v| json(v, "change"))
            };
            Ok(ChangeEntry {
                field,
                old: value(old)?,
                new: value(new)?,
                operator_id: parse_opt(operator.as_deref(), "operator id")?,
                at: utc(at),
            })
        })
        .collect()
}

/// Which contacts a list asks for.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Part of the name, phone or e-mail.
    pub q: Option<String>,
    pub tag_id: Option<String>,
    /// Restrict to what a non-admin may see; `None` for admins.
    pub visible_to: Option<Scope>,
    /// Keyset pagination: contacts with ids after this one.
    pub after: Option<ContactId>,
    pub limit: i64,
}

/// Contacts by id (oldest first), filtered. Visibility is the SQL form of
/// [`crate::domain::contact::can_see_contact`]: a ticket of the contact the caller may see,
/// or one the caller owned at some point.
pub fn contacts(conn: &mut DbConn, f: &ContactFilter) -> Result<Vec<ContactView>, StoreError> {
    let mut q = contacts::table
        .select(ProfileRow::as_select())
        .into_boxed::<MultiBackend>();
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", text.to_lowercase().replace(['%', '_'], ""));
        q = q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(LOWER(contacts.name) LIKE ")
                .bind::<diesel::sql_types::Text, _>(pattern.clone())
                .sql(" OR contacts.phone LIKE ")
                .bind::<diesel::sql_types::Text, _>(pattern.clone())
                .sql(" OR LOWER(COALESCE(contacts.email, '')) LIKE ")
                .bind::<diesel::sql_types::Text, _>(pattern)
                .sql(")"),
        );
    }
    if let Some(tag) = &f.tag_id {
        q = q.filter(
            contacts::id.eq_any(
                contact_tags::table
                    .filter(contact_tags::tag_id.eq(tag.clone()))
                    .select(contact_tags::contact_id),
            ),
        );
    }
    if let Some(scope) = &f.visible_to {
        q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&visible_sql(
            scope,
        )));
    }
    if let Some(after) = f.after {
        q = q.filter(contacts::id.gt(after.to_string()));
    }
    let rows = q.order(contacts::id.asc()).limit(f.limit).load(conn)?;
    rows.into_iter()
        .map(|r| {
            let tags = tags_of(conn, &r.id)?;
            r.into_view(tags)
        })
        .collect()
}

/// The condition "the scope may see this contact" in SQL. Its only values are ids the daemon
/// made (typed UUIDs, printed as hex and dashes), so they are written into the text: the lists
/// vary in length, which bound parameters in a boxed diesel query cannot.
fn visible_sql(scope: &Scope) -> String {
    let list = |ids: &[crate::domain::ids::DepartmentId]| {
        if ids.is_empty() {
            "NULL".to_owned()
        } else {
            ids.iter()
                .map(|d| format!("'{d}'"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let me = scope.operator_id;
    format!(
        "(contacts.id IN (SELECT t.contact_id FROM tickets t WHERE t.department_id IN ({supervises}) \
         OR t.operator_id = '{me}' \
         OR (t.department_id IN ({member_of}) AND t.state IN ('waiting', 'out_of_hours'))) \
         OR contacts.id IN (SELECT t.contact_id FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id \
         WHERE e.owner_id = '{me}'))",
        supervises = list(&scope.supervises),
        member_of = list(&scope.member_of),
    )
}

pub fn insert_tag(conn: &mut DbConn, tag: &TagView, now: NaiveDateTime) -> Result<(), StoreError> {
    diesel::insert_into(tags::table)
        .values((
            tags::id.eq(tag.id.to_string()),
            tags::name.eq(&tag.name),
            tags::color.eq(&tag.color),
            tags::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn tags(conn: &mut DbConn) -> Result<Vec<TagView>, StoreError> {
    tags::table
        .order(tags::name.asc())
        .select((tags::id, tags::name, tags::color))
        .load::<(String, String, Option<String>)>(conn)?
        .into_iter()
        .map(tag_view)
        .collect()
}

pub fn tag_exists(conn: &mut DbConn, id: &str) -> Result<bool, StoreError> {
    let found: Option<String> = tags::table.find(id).select(tags::id).load_one(conn)?;
    Ok(found.is_some())
}

/// Attaches a tag (again: nothing changes); `false` if it was already attached.
pub fn attach(
    conn: &mut DbConn,
    contact: ContactId,
    tag: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let row = (
        contact_tags::contact_id.eq(contact.to_string()),
        contact_tags::tag_id.eq(tag),
        contact_tags::created_at.eq(now),
    );
    let n = match conn {
        DbConn::Sqlite(c) => diesel::insert_or_ignore_into(contact_tags::table)
            .values(row)
            .execute(c)?,
        DbConn::Pg(c) => diesel::insert_into(contact_tags::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(n > 0)
}

/// Detaches a tag; `false` if it was not attached.
pub fn detach(conn: &mut DbConn, contact: ContactId, tag: &str) -> Result<bool, StoreError> {
    let n = diesel::delete(contact_tags::table.find((contact.to_string(), tag))).execute(conn)?;
    Ok(n > 0)
}

pub fn insert_note(conn: &mut DbConn, note: &NoteView) -> Result<(), StoreError> {
    diesel::insert_into(notes::table)
        .values((
            notes::id.eq(note.id.to_string()),
            notes::contact_id.eq(note.contact_id.to_string()),
            notes::author_id.eq(note.author.id.to_string()),
            notes::author_name.eq(&note.author.name),
            notes::text.eq(&note.text),
            notes::created_at.eq(note.created_at.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A contact's annotations, newest first.
pub fn notes(conn: &mut DbConn, contact: ContactId) -> Result<Vec<NoteView>, StoreError> {
    notes::table
        .filter(notes::contact_id.eq(contact.to_string()))
        .order(notes::id.desc())
        .select((
            notes::id,
            notes::contact_id,
            notes::author_id,
            notes::author_name,
            notes::text,
            notes::created_at,
        ))
        .load::<(String, String, String, String, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, contact_id, author_id, author_name, text, at)| {
            Ok(NoteView {
                id: parse(&id, "note id")?,
                contact_id: parse(&contact_id, "contact id")?,
                text,
                author: Named {
                    id: parse(&author_id, "operator id")?,
                    name: author_name,
                },
                created_at: utc(at),
            })
        })
        .collect()
}
