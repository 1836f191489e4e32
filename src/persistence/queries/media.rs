//! Received files still to fetch from their channel, and those already kept in the media
//! store. A media message is committed first; its file follows (`channels::whatsapp::media`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{ChannelId, MessageId};
use crate::persistence::rows::{LoadOne, parse};
use crate::persistence::schema::media;
use crate::persistence::{DbConn, StoreError};

/// Notes, in the message's own transaction, that its file must be fetched.
pub fn enqueue(
    conn: &mut DbConn,
    message_id: MessageId,
    channel_id: ChannelId,
    media_id: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(media::table)
        .values((
            media::message_id.eq(message_id.to_string()),
            media::channel_id.eq(channel_id.to_string()),
            media::media_id.eq(media_id),
            media::content_type.eq(None::<String>),
            media::size.eq(None::<i64>),
            media::stored_at.eq(None::<NaiveDateTime>),
            media::attempts.eq(0),
            media::next_attempt_at.eq(now),
            media::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ToFetch {
    pub message_id: MessageId,
    pub channel_id: ChannelId,
    pub media_id: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
}

/// Files not fetched yet that have been tried fewer than `max_attempts` times, soonest due
/// first.
pub fn to_fetch(
    conn: &mut DbConn,
    max_attempts: i32,
    limit: i64,
) -> Result<Vec<ToFetch>, StoreError> {
    let rows: Vec<(String, String, String, i32, NaiveDateTime)> = media::table
        .filter(media::stored_at.is_null())
        .filter(media::attempts.lt(max_attempts))
        .order(media::next_attempt_at.asc())
        .limit(limit)
        .select((
            media::message_id,
            media::channel_id,
            media::media_id,
            media::attempts,
            media::next_attempt_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(message, channel, media_id, attempts, next)| {
            Ok(ToFetch {
                message_id: parse(&message, "message id")?,
                channel_id: parse(&channel, "channel id")?,
                media_id,
                attempts,
                next_attempt_at: next,
            })
        })
        .collect()
}

/// The file is in the media store.
pub fn stored(
    conn: &mut DbConn,
    message_id: MessageId,
    content_type: &str,
    size: i64,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(media::table.find(message_id.to_string()))
        .set((
            media::content_type.eq(content_type),
            media::size.eq(size),
            media::stored_at.eq(now),
            media::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// The fetch failed: try again at `next_attempt_at` (unless `attempts` reached the maximum).
pub fn fetch_later(
    conn: &mut DbConn,
    message_id: MessageId,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    error: &str,
) -> Result<(), StoreError> {
    diesel::update(media::table.find(message_id.to_string()))
        .set((
            media::attempts.eq(attempts),
            media::next_attempt_at.eq(next_attempt_at),
            media::last_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// Where a message's file stands.
#[derive(Debug, Clone, PartialEq)]
pub enum FileState {
    /// In the media store, with its content type and size.
    Stored { content_type: String, size: i64 },
    /// Still to fetch (or given up on), with the last error if a fetch failed.
    Pending { last_error: Option<String> },
}

pub fn file(conn: &mut DbConn, message_id: MessageId) -> Result<Option<FileState>, StoreError> {
    #[derive(Queryable)]
    struct Row {
        content_type: Option<String>,
        size: Option<i64>,
        stored_at: Option<NaiveDateTime>,
        last_error: Option<String>,
    }
    let row: Option<Row> = media::table
        .find(message_id.to_string())
        .select((
            media::content_type,
            media::size,
            media::stored_at,
            media::last_error,
        ))
        .load_one(conn)?;
    Ok(row.map(|r| match (r.stored_at, r.content_type, r.size) {
        (Some(_), Some(content_type), Some(size)) => FileState::Stored { content_type, size },
        _ => FileState::Pending {
            last_error: r.last_error,
        },
    }))
}
