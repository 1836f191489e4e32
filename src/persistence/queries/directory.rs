//! Departments, operators, channels, API keys and login tokens.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{ApiKeyId, ChannelId, DepartmentId, OperatorId};
use crate::domain::visibility::{Role, Viewer};
use crate::persistence::rows::{ChannelRow, DepartmentRow, LoadOne, OperatorRow, parse, utc};
use crate::persistence::schema::*;
use crate::persistence::{DbConn, StoreError};
use crate::views::{ApiKeyView, ChannelView, DepartmentView, Member, OperatorView};

pub fn insert_department(conn: &mut DbConn, d: &DepartmentView) -> Result<(), StoreError> {
    diesel::insert_into(departments::table)
        .values((
            departments::id.eq(d.id.to_string()),
            departments::name.eq(&d.name),
            departments::timezone.eq(&d.timezone),
            departments::business_hours.eq(to_json(&d.business_hours)),
            departments::holidays.eq(to_json(&d.holidays)),
            departments::out_of_hours_message.eq(&d.out_of_hours_message),
            departments::required_fields.eq(to_json(&d.required_fields)),
            departments::created_at.eq(d.created_at.naive_utc()),
            departments::routing.eq(to_json(&d.routing)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn departments(conn: &mut DbConn) -> Result<Vec<DepartmentView>, StoreError> {
    departments::table
        .order(departments::id)
        .select(DepartmentRow::as_select())
        .load(conn)?
        .into_iter()
        .map(DepartmentRow::into_view)
        .collect()
}

/// Rewrites a department's settings (everything but its id and creation time).
pub fn update_department(conn: &mut DbConn, d: &DepartmentView) -> Result<usize, StoreError> {
    Ok(diesel::update(departments::table.find(d.id.to_string()))
        .set((
            departments::name.eq(&d.name),
            departments::timezone.eq(&d.timezone),
            departments::business_hours.eq(to_json(&d.business_hours)),
            departments::holidays.eq(to_json(&d.holidays)),
            departments::out_of_hours_message.eq(&d.out_of_hours_message),
            departments::required_fields.eq(to_json(&d.required_fields)),
            departments::routing.eq(to_json(&d.routing)),
        ))
        .execute(conn)?)
}

/// Every department's members as routing needs them, by department.
pub fn members(conn: &mut DbConn) -> Result<HashMap<DepartmentId, Vec<Member>>, StoreError> {
    let rows: Vec<(String, String, String, Option<i32>)> = operator_departments::table
        .inner_join(operators::table)
        .filter(operators::active.eq(true))
        .order((operator_departments::department_id, operators::id))
        .select((
            operator_departments::department_id,
            operators::id,
            operators::name,
            operators::max_open,
        ))
        .load(conn)?;
    let mut by_department: HashMap<DepartmentId, Vec<Member>> = HashMap::new();
    for (department, id, name, max_open) in rows {
        by_department
            .entry(parse(&department, "department id")?)
            .or_default()
            .push(Member {
                id: parse(&id, "operator id")?,
                name,
                max_open: max_open.map(|m| m.max(0) as u32),
            });
    }
    Ok(by_department)
}

/// Changes an operator's name, personal maximum or whether the account is active; `None`
/// leaves a field as it is. Disabling deletes the operator's tokens in the same transaction.
pub fn update_operator(
    conn: &mut DbConn,
    id: OperatorId,
    name: Option<&str>,
    max_open: Option<Option<u32>>,
    active: Option<bool>,
) -> Result<usize, StoreError> {
    let id = id.to_string();
    let mut n = operators::table.find(&id).count().get_result::<i64>(conn)? as usize;
    if let Some(name) = name {
        n = diesel::update(operators::table.find(&id))
            .set(operators::name.eq(name))
            .execute(conn)?;
    }
    if let Some(max_open) = max_open {
        n = diesel::update(operators::table.find(&id))
            .set(operators::max_open.eq(max_open.map(|m| m.min(i32::MAX as u32) as i32)))
            .execute(conn)?;
    }
    if let Some(active) = active {
        n = diesel::update(operators::table.find(&id))
            .set(operators::active.eq(active))
            .execute(conn)?;
        if !active {
            diesel::delete(auth_tokens::table.filter(auth_tokens::operator_id.eq(&id)))
                .execute(conn)?;
        }
    }
    Ok(n)
}

/// The members of a department (for checking a transfer target).
pub fn is_member(
    conn: &mut DbConn,
    operator: OperatorId,
    department: DepartmentId,
) -> Result<bool, StoreError> {
    let n: i64 = operator_departments::table
        .filter(operator_departments::operator_id.eq(operator.to_string()))
        .filter(operator_departments::department_id.eq(department.to_string()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub struct NewOperator<'a> {
    pub id: OperatorId,
    pub name: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub department_ids: &'a [DepartmentId],
    pub created_at: NaiveDateTime,
}

pub fn insert_operator(conn: &mut DbConn, op: &NewOperator<'_>) -> Result<(), StoreError> {
    diesel::insert_into(operators::table)
        .values((
            operators::id.eq(op.id.to_string()),
            operators::name.eq(op.name),
            operators::email.eq(op.email),
            operators::password_hash.eq(op.password_hash),
            operators::role.eq(op.role.as_str()),
            operators::created_at.eq(op.created_at),
        ))
        .execute(conn)?;
    for d in op.department_ids {
        diesel::insert_into(operator_departments::table)
            .values((
                operator_departments::operator_id.eq(op.id.to_string()),
                operator_departments::department_id.eq(d.to_string()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn operator_count(conn: &mut DbConn) -> Result<i64, StoreError> {
    Ok(operators::table.count().get_result(conn)?)
}

fn operator_departments_of(conn: &mut DbConn, id: &str) -> Result<Vec<DepartmentId>, StoreError> {
    operator_departments::table
        .filter(operator_departments::operator_id.eq(id))
        .order(operator_departments::department_id)
        .select(operator_departments::department_id)
        .load::<String>(conn)?
        .iter()
        .map(|d| parse(d, "department id"))
        .collect()
}

fn operator_view(conn: &mut DbConn, row: OperatorRow) -> Result<OperatorView, StoreError> {
    Ok(OperatorView {
        department_ids: operator_departments_of(conn, &row.id)?,
        id: parse(&row.id, "operator id")?,
        name: row.name,
        email: row.email,
        role: Role::parse(&row.role)
            .ok_or_else(|| StoreError::Corrupt(format!("role: {:?}", row.role)))?,
        max_open: row.max_open.map(|m| m.max(0) as u32),
        active: row.active,
        created_at: utc(row.created_at),
    })
}

pub fn operator(conn: &mut DbConn, id: OperatorId) -> Result<Option<OperatorView>, StoreError> {
    let row = operators::table
        .find(id.to_string())
        .select(OperatorRow::as_select())
        .load_one(conn)?;
    row.map(|r| operator_view(conn, r)).transpose()
}

pub fn operators(conn: &mut DbConn) -> Result<Vec<OperatorView>, StoreError> {
    let rows = operators::table
        .order(operators::id)
        .select(OperatorRow::as_select())
        .load(conn)?;
    rows.into_iter().map(|r| operator_view(conn, r)).collect()
}

/// The operator with this email and their password hash, for login.
pub fn operator_by_email(
    conn: &mut DbConn,
    email: &str,
) -> Result<Option<(OperatorView, String)>, StoreError> {
    let row = operators::table
        .filter(operators::email.eq(email))
        .select(OperatorRow::as_select())
        .load_one(conn)?;
    row.map(|r| {
        let hash = r.password_hash.clone();
        operator_view(conn, r).map(|v| (v, hash))
    })
    .transpose()
}

pub fn insert_token(
    conn: &mut DbConn,
    token_hash: &str,
    operator: OperatorId,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(auth_tokens::table)
        .values((
            auth_tokens::token_hash.eq(token_hash),
            auth_tokens::operator_id.eq(operator.to_string()),
            auth_tokens::created_at.eq(now),
            auth_tokens::expires_at.eq(expires_at),
            auth_tokens::last_used_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records that a token was used (it expires after an idle time).
pub fn touch_token(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(auth_tokens::table.find(token_hash))
        .set(auth_tokens::last_used_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Revokes every token of an operator but `keep` (a password change keeps the caller's own).
pub fn delete_tokens_of(
    conn: &mut DbConn,
    operator: OperatorId,
    keep: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        auth_tokens::table
            .filter(auth_tokens::operator_id.eq(operator.to_string()))
            .filter(auth_tokens::token_hash.ne(keep)),
    )
    .execute(conn)?)
}

/// An operator's password hash (to check the current password before changing it).
pub fn password_hash(conn: &mut DbConn, id: OperatorId) -> Result<Option<String>, StoreError> {
    Ok(operators::table
        .find(id.to_string())
        .select(operators::password_hash)
        .load_one(conn)?)
}

pub fn set_password_hash(
    conn: &mut DbConn,
    id: OperatorId,
    hash: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::update(operators::table.find(id.to_string()))
        .set(operators::password_hash.eq(hash))
        .execute(conn)?)
}

/// Revokes a login token.
pub fn delete_token(conn: &mut DbConn, token_hash: &str) -> Result<(), StoreError> {
    diesel::delete(auth_tokens::table.find(token_hash)).execute(conn)?;
    Ok(())
}

/// A login token as authentication reads it.
pub struct TokenOwner {
    pub viewer: Viewer,
    pub name: String,
    pub last_used_at: NaiveDateTime,
}

/// The active operator a login token belongs to, if it has neither expired (`now`) nor been
/// idle since `idle_since`.
pub fn viewer_by_token(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
    idle_since: NaiveDateTime,
) -> Result<Option<TokenOwner>, StoreError> {
    let row: Option<(String, String, String, Option<NaiveDateTime>)> = auth_tokens::table
        .inner_join(operators::table)
        .filter(auth_tokens::token_hash.eq(token_hash))
        .filter(auth_tokens::expires_at.gt(now))
        .filter(auth_tokens::last_used_at.gt(idle_since))
        .filter(operators::active.eq(true))
        .select((
            operators::id,
            operators::role,
            operators::name,
            auth_tokens::last_used_at,
        ))
        .load_one(conn)?;
    let Some((id, role, name, last_used_at)) = row else {
        return Ok(None);
    };
    let viewer = Viewer {
        departments: operator_departments_of(conn, &id)?,
        id: parse(&id, "operator id")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role: {role:?}")))?,
    };
    Ok(Some(TokenOwner {
        viewer,
        name,
        last_used_at: last_used_at.unwrap_or(now),
    }))
}

pub fn insert_api_key(
    conn: &mut DbConn,
    key: &ApiKeyView,
    key_hash: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(key.id.to_string()),
            api_keys::name.eq(&key.name),
            api_keys::key_hash.eq(key_hash),
            api_keys::created_at.eq(key.created_at.naive_utc()),
            api_keys::channel_ids.eq(key.channel_ids.as_ref().map(to_json)),
        ))
        .execute(conn)?;
    Ok(())
}

type ApiKeyRow = (
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
);

fn api_key_view(row: ApiKeyRow) -> Result<ApiKeyView, StoreError> {
    let (id, name, created_at, revoked_at, channel_ids) = row;
    Ok(ApiKeyView {
        id: parse(&id, "api key id")?,
        name,
        channel_ids: channel_ids
            .map(|json| {
                serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("api key channel ids: {e}")))
            })
            .transpose()?,
        created_at: utc(created_at),
        revoked_at: revoked_at.map(utc),
    })
}

const API_KEY_COLUMNS: (
    api_keys::id,
    api_keys::name,
    api_keys::created_at,
    api_keys::revoked_at,
    api_keys::channel_ids,
) = (
    api_keys::id,
    api_keys::name,
    api_keys::created_at,
    api_keys::revoked_at,
    api_keys::channel_ids,
);

/// The key a secret stands for, unless it was revoked.
pub fn api_key_by_hash(
    conn: &mut DbConn,
    key_hash: &str,
) -> Result<Option<ApiKeyView>, StoreError> {
    let row: Option<ApiKeyRow> = api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(API_KEY_COLUMNS)
        .load_one(conn)?;
    row.map(api_key_view).transpose()
}

/// Every key, revoked ones included, oldest first.
pub fn api_keys(conn: &mut DbConn) -> Result<Vec<ApiKeyView>, StoreError> {
    let rows: Vec<ApiKeyRow> = api_keys::table
        .order(api_keys::id)
        .select(API_KEY_COLUMNS)
        .load(conn)?;
    rows.into_iter().map(api_key_view).collect()
}

/// Revokes a key; `None` if there is no such key, its revocation time if there is.
pub fn revoke_api_key(
    conn: &mut DbConn,
    id: ApiKeyId,
    now: NaiveDateTime,
) -> Result<Option<ApiKeyView>, StoreError> {
    diesel::update(
        api_keys::table
            .find(id.to_string())
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .execute(conn)?;
    let row: Option<ApiKeyRow> = api_keys::table
        .find(id.to_string())
        .select(API_KEY_COLUMNS)
        .load_one(conn)?;
    row.map(api_key_view).transpose()
}

pub fn insert_channel(
    conn: &mut DbConn,
    c: &ChannelView,
    settings: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(channels::table)
        .values((
            channels::id.eq(c.id.to_string()),
            channels::name.eq(&c.name),
            channels::kind.eq(c.kind.as_str()),
            channels::department_id.eq(c.department_id.to_string()),
            channels::settings.eq(settings),
            channels::created_at.eq(c.created_at.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn channels(conn: &mut DbConn) -> Result<Vec<ChannelView>, StoreError> {
    channels::table
        .order(channels::id)
        .select(ChannelRow::as_select())
        .load(conn)?
        .iter()
        .map(ChannelRow::to_view)
        .collect()
}

/// Serialising a value built in memory (maps, lists, strings) cannot fail.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serialising an in-memory value")
}

/// The stored settings of every channel of a kind, by channel id (WhatsApp lines at start-up).
/// A channel and its stored settings (secrets included, for merging a change).
pub fn channel_with_settings(
    conn: &mut DbConn,
    id: ChannelId,
) -> Result<Option<(ChannelView, String)>, StoreError> {
    let row: Option<(ChannelRow, String)> = channels::table
        .find(id.to_string())
        .select((ChannelRow::as_select(), channels::settings))
        .load_one(conn)?;
    row.map(|(r, settings)| Ok((r.to_view()?, settings)))
        .transpose()
}

/// Rewrites a channel's name, department and settings.
pub fn update_channel(
    conn: &mut DbConn,
    c: &ChannelView,
    settings: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::update(channels::table.find(c.id.to_string()))
        .set((
            channels::name.eq(&c.name),
            channels::department_id.eq(c.department_id.to_string()),
            channels::settings.eq(settings),
        ))
        .execute(conn)?)
}

pub fn channel_settings(
    conn: &mut DbConn,
    kind: crate::channels::ChannelKind,
) -> Result<Vec<(ChannelId, String)>, StoreError> {
    channels::table
        .filter(channels::kind.eq(kind.as_str()))
        .order(channels::id)
        .select((channels::id, channels::settings))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(id, settings)| Ok((parse(&id, "channel id")?, settings)))
        .collect()
}
