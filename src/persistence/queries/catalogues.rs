//! The company's catalogues: classification interests and origins (a new installation has
//! `facebook`, `google` and `instagram`), and canned responses.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{CatalogueId, DepartmentId};
use crate::persistence::rows::{parse, parse_opt};
use crate::persistence::schema::{canned_responses, interests, origins};
use crate::persistence::{DbConn, MultiBackend, StoreError};
use crate::views::{CannedResponseView, CatalogueEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalogue {
    Interests,
    Origins,
}

impl Catalogue {
    /// The field of a classification this catalogue fills.
    pub fn field(self) -> &'static str {
        match self {
            Catalogue::Interests => "interests",
            Catalogue::Origins => "origin",
        }
    }
}

pub fn insert(
    conn: &mut DbConn,
    catalogue: Catalogue,
    entry: &CatalogueEntry,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let id = entry.id.to_string();
    match catalogue {
        Catalogue::Interests => diesel::insert_into(interests::table)
            .values((
                interests::id.eq(id),
                interests::name.eq(&entry.name),
                interests::created_at.eq(now),
            ))
            .execute(conn)?,
        Catalogue::Origins => diesel::insert_into(origins::table)
            .values((
                origins::id.eq(id),
                origins::name.eq(&entry.name),
                origins::created_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Every entry, by name.
pub fn entries(conn: &mut DbConn, catalogue: Catalogue) -> Result<Vec<CatalogueEntry>, StoreError> {
    let rows: Vec<(String, String)> = match catalogue {
        Catalogue::Interests => interests::table
            .order(interests::name.asc())
            .select((interests::id, interests::name))
            .load(conn)?,
        Catalogue::Origins => origins::table
            .order(origins::name.asc())
            .select((origins::id, origins::name))
            .load(conn)?,
    };
    rows.into_iter()
        .map(|(id, name)| {
            Ok(CatalogueEntry {
                id: parse::<CatalogueId>(&id, "catalogue id")?,
                name,
            })
        })
        .collect()
}

pub fn insert_canned(
    conn: &mut DbConn,
    c: &CannedResponseView,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(canned_responses::table)
        .values((
            canned_responses::id.eq(c.id.to_string()),
            canned_responses::shortcut.eq(&c.shortcut),
            canned_responses::text.eq(&c.text),
            canned_responses::department_id.eq(c.department_id.map(|d| d.to_string())),
            canned_responses::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Canned responses for every department plus those of `departments` (`None`: all of them),
/// by shortcut.
pub fn canned(
    conn: &mut DbConn,
    departments: Option<&[DepartmentId]>,
) -> Result<Vec<CannedResponseView>, StoreError> {
    let mut q = canned_responses::table
        .select((
            canned_responses::id,
            canned_responses::shortcut,
            canned_responses::text,
            canned_responses::department_id,
        ))
        .into_boxed::<MultiBackend>();
    if let Some(departments) = departments {
        let ids: Vec<String> = departments.iter().map(|d| d.to_string()).collect();
        q = q.filter(
            canned_responses::department_id
                .is_null()
                .or(canned_responses::department_id
                    .eq_any(ids)
                    .assume_not_null()),
        );
    }
    q.order((canned_responses::shortcut.asc(), canned_responses::id.asc()))
        .load::<(String, String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, shortcut, text, department)| {
            Ok(CannedResponseView {
                id: parse(&id, "canned response id")?,
                shortcut,
                text,
                department_id: parse_opt(department.as_deref(), "department id")?,
            })
        })
        .collect()
}
