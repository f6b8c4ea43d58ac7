//! Keyset pagination: `?limit=&cursor=` in, `{items, next_cursor, total?}` out.
//!
//! A cursor is opaque to clients: the URL-safe base64 of the JSON sort key of the last
//! item of the previous page. The server decodes it into the key type of the list it
//! serves, so a cursor from one list cannot be replayed against another's shape.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::FieldError;

/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page any list serves.
pub const MAX_LIMIT: u32 = 200;
/// Cursors longer than this are refused before decoding.
const MAX_CURSOR_LEN: usize = 1024;

/// Query parameters of every list endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200; 50 when omitted.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page; omit for the first page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The validated page size.
    pub fn limit(&self) -> Result<u32, FieldError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    /// The decoded cursor, if any, as the sort key `K` of the list being served.
    pub fn cursor<K: DeserializeOwned>(&self) -> Result<Option<K>, FieldError> {
        match &self.cursor {
            None => Ok(None),
            Some(raw) if raw.is_empty() => Ok(None),
            Some(raw) => Cursor::decode(raw)
                .map(Some)
                .map_err(|e| FieldError::new("cursor", e.to_string())),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Total number of matching items, where the list can count it cheaply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in sort order: the extra row,
    /// when present, proves there is a next page and is dropped; the cursor is the key
    /// of the last row kept.
    pub fn from_rows<K: Serialize>(mut rows: Vec<T>, limit: u32, key_of: impl Fn(&T) -> K) -> Self {
        let limit = limit as usize;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if has_more {
            rows.last().map(|last| Cursor::encode(&key_of(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
            total: None,
        }
    }
}

/// Encoding and decoding of opaque cursors.
#[derive(Debug)]
pub struct Cursor;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("is too long")]
    TooLong,
    #[error("is not a cursor returned by this list")]
    Malformed,
}

impl Cursor {
    pub fn encode<K: Serialize>(key: &K) -> String {
        let json = serde_json::to_vec(key).expect("BUG: cursor keys are plain data");
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode<K: DeserializeOwned>(raw: &str) -> Result<K, CursorError> {
        if raw.len() > MAX_CURSOR_LEN {
            return Err(CursorError::TooLong);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| CursorError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_to_fifty_and_is_bounded() {
        assert_eq!(PageQuery::default().limit(), Ok(DEFAULT_LIMIT));
        let q = |n| PageQuery {
            limit: Some(n),
            cursor: None,
        };
        assert_eq!(q(1).limit(), Ok(1));
        assert_eq!(q(200).limit(), Ok(200));
        assert_eq!(q(0).limit().expect_err("zero").field, "limit");
        assert_eq!(q(201).limit().expect_err("too many").field, "limit");
    }

    #[test]
    fn a_cursor_round_trips_its_key() {
        let key = (42_i64, "2026-11-25T10:00:00Z".to_string());
        let raw = Cursor::encode(&key);
        assert!(!raw.contains('='), "no padding in URLs");
        let q = PageQuery {
            limit: None,
            cursor: Some(raw),
        };
        assert_eq!(q.cursor::<(i64, String)>(), Ok(Some(key)));
    }

    #[test]
    fn garbage_and_foreign_cursors_are_field_errors() {
        let garbage = PageQuery {
            limit: None,
            cursor: Some("!!not base64!!".into()),
        };
        assert_eq!(
            garbage.cursor::<i64>().expect_err("garbage").field,
            "cursor"
        );
        let foreign = PageQuery {
            limit: None,
            cursor: Some(Cursor::encode(&"a string key")),
        };
        assert!(foreign.cursor::<i64>().is_err());
        let huge = PageQuery {
            limit: None,
            cursor: Some("A".repeat(2000)),
        };
        assert_eq!(
            huge.cursor::<i64>().expect_err("huge").message,
            "is too long"
        );
    }

    #[test]
    fn a_page_keeps_limit_rows_and_points_past_the_last() {
        let page = Page::from_rows(vec![1, 2, 3, 4], 3, |n| *n);
        assert_eq!(page.items, vec![1, 2, 3]);
        assert_eq!(
            Cursor::decode::<i32>(&page.next_cursor.expect("more")),
            Ok(3)
        );

        let last = Page::from_rows(vec![1, 2], 3, |n| *n);
        assert_eq!(last.items, vec![1, 2]);
        assert_eq!(last.next_cursor, None);
    }
}
