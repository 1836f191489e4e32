//! `?limit=N` (default 100, at most 1000) and a GitHub-style `Link: <…>; rel="next"` header
//! whose URL carries an `after` cursor for the next page.

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use serde::Serialize;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

pub fn limit(requested: Option<i64>) -> Result<i64, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!(
            "limit: {n} is not between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// A `200` with `items`; when the page is full, a `Link` to the page after `next_cursor`.
pub fn page<T: Serialize>(
    req: &HttpRequest,
    items: &[T],
    limit: i64,
    next_cursor: impl FnOnce(&T) -> String,
) -> HttpResponse {
    page_with(req, items, limit, "after", next_cursor)
}

/// [`page`] with the cursor in the query parameter `cursor` (`before` for newest-first lists).
pub fn page_with<T: Serialize>(
    req: &HttpRequest,
    items: &[T],
    limit: i64,
    cursor: &str,
    next_cursor: impl FnOnce(&T) -> String,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if items.len() as i64 == limit
        && let Some(last) = items.last()
    {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(req.query_string().as_bytes()) {
            if k != cursor {
                query.append_pair(&k, &v);
            }
        }
        query.append_pair(cursor, &next_cursor(last));
        let info = req.connection_info();
        let url = format!(
            "{}://{}{}?{}",
            info.scheme(),
            info.host(),
            req.path(),
            query.finish()
        );
        response.insert_header(("Link", format!("<{url}>; rel=\"next\"")));
    }
    response.json(items)
}
