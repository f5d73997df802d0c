//! The library domain's events: their type names and payload keys exactly
//! as the original writes them (so a store seeded or loaded by estune reads
//! like the original's), the metadata every event carries, and the IDs.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

pub const ADDED: &str = "BookCopyAddedToCirculation";
pub const REMOVED: &str = "BookCopyRemovedFromCirculation";
pub const LENT: &str = "BookCopyLentToReader";
pub const RETURNED: &str = "BookCopyReturnedByReader";
pub const REGISTERED: &str = "ReaderRegistered";
pub const CANCELED: &str = "ReaderContractCanceled";

pub const REMOVING_FAILED: &str = "RemovingBookFromCirculationFailed";
pub const LENDING_FAILED: &str = "LendingBookToReaderFailed";
pub const RETURNING_FAILED: &str = "ReturningBookFromReaderFailed";
pub const CANCELING_FAILED: &str = "CancelingReaderContractFailed";

/// The most books a reader may hold at once.
pub const MAX_BOOKS_PER_READER: usize = 10;

/// Namespace of the UUIDv5 IDs: the standard URL namespace, so anyone can
/// recompute an ID as `uuidv5(ns:URL, "book-42")`.
pub const ID_NAMESPACE: Uuid = Uuid::NAMESPACE_URL;

pub fn book_id(n: u64) -> String {
    Uuid::new_v5(&ID_NAMESPACE, format!("book-{n}").as_bytes()).to_string()
}

pub fn reader_id(n: u64) -> String {
    Uuid::new_v5(&ID_NAMESPACE, format!("reader-{n}").as_bytes()).to_string()
}

/// UTC at microsecond precision: what TIMESTAMPTZ stores, so an event
/// read back compares equal to the one written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The RFC 3339 form the payloads carry.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An event about to be appended.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: Value,
    pub metadata: Value,
}

/// An event as read back, with its place in the global order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: Value,
    pub metadata: Value,
    pub sequence_number: i64,
}

impl NewEvent {
    /// `fields` plus EventType and OccurredAt; fresh metadata with the
    /// message as its own causation and correlation (a command starts the
    /// chain).
    pub fn new(event_type: &str, fields: Value) -> NewEvent {
        let at = now();
        let mut payload = fields;
        if let Value::Object(m) = &mut payload {
            m.insert("EventType".into(), Value::String(event_type.into()));
            m.insert("OccurredAt".into(), Value::String(timestamp(at)));
        }
        let id = Uuid::new_v4().to_string();
        NewEvent {
            event_type: event_type.to_string(),
            occurred_at: at,
            payload,
            metadata: json!({"MessageID": id, "CausationID": id, "CorrelationID": id}),
        }
    }
}

/// What the decision rules and the replay need of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibraryEvent {
    Added {
        book: String,
    },
    Removed {
        book: String,
    },
    Lent {
        book: String,
        reader: String,
    },
    Returned {
        book: String,
        reader: String,
    },
    Registered {
        reader: String,
    },
    Canceled {
        reader: String,
    },
    /// `…Failed` and foreign events: no effect on state.
    Other,
}

impl LibraryEvent {
    pub fn parse(event_type: &str, payload: &Value) -> LibraryEvent {
        let field = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_string);
        Self::from_parts(event_type, field("BookID"), field("ReaderID"))
    }

    /// From the type and the two IDs (as the replay reads them, without
    /// fetching whole payloads).
    pub fn from_parts(
        event_type: &str,
        book: Option<String>,
        reader: Option<String>,
    ) -> LibraryEvent {
        match (event_type, book, reader) {
            (ADDED, Some(book), _) => LibraryEvent::Added { book },
            (REMOVED, Some(book), _) => LibraryEvent::Removed { book },
            (LENT, Some(book), Some(reader)) => LibraryEvent::Lent { book, reader },
            (RETURNED, Some(book), Some(reader)) => LibraryEvent::Returned { book, reader },
            (REGISTERED, _, Some(reader)) => LibraryEvent::Registered { reader },
            (CANCELED, _, Some(reader)) => LibraryEvent::Canceled { reader },
            _ => LibraryEvent::Other,
        }
    }

    pub fn of(e: &StoredEvent) -> LibraryEvent {
        Self::parse(&e.event_type, &e.payload)
    }
}

/// The catalogue fields of an added copy, derived from its ID so a re-run
/// writes the same books.
pub fn added_payload(book: &str) -> Value {
    let n = fnv1a(book.as_bytes());
    json!({
        "BookID": book,
        "ISBN": format!("978-{:09}", n % 1_000_000_000),
        "Title": format!("Book {n}"),
        "Authors": format!("Author {}", n % 997),
        "Edition": format!("{}", 1 + n % 5),
        "Publisher": format!("Publisher {}", n % 31),
        "PublicationYear": 1950 + (n % 75) as i64,
    })
}

/// A stable 64-bit hash (FNV-1a): the same on every run and platform,
/// unlike std's randomly keyed hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_uuidv5() {
        assert_eq!(book_id(1), book_id(1));
        assert_ne!(book_id(1), reader_id(1));
        let u = Uuid::parse_str(&book_id(7)).unwrap();
        assert_eq!(u.get_version_num(), 5);
    }

    #[test]
    fn payload_carries_type_and_time() {
        let e = NewEvent::new(REGISTERED, json!({"ReaderID": "r", "Name": "n"}));
        assert_eq!(e.payload["EventType"], REGISTERED);
        assert_eq!(e.payload["OccurredAt"], timestamp(e.occurred_at));
        for k in ["MessageID", "CausationID", "CorrelationID"] {
            assert!(Uuid::parse_str(e.metadata[k].as_str().unwrap()).is_ok());
        }
    }

    #[test]
    fn parsing_knows_each_type() {
        let cases = [
            (
                ADDED,
                json!({"BookID": "b"}),
                LibraryEvent::Added { book: "b".into() },
            ),
            (
                REMOVED,
                json!({"BookID": "b"}),
                LibraryEvent::Removed { book: "b".into() },
            ),
            (
                LENT,
                json!({"BookID": "b", "ReaderID": "r"}),
                LibraryEvent::Lent {
                    book: "b".into(),
                    reader: "r".into(),
                },
            ),
            (
                RETURNED,
                json!({"BookID": "b", "ReaderID": "r"}),
                LibraryEvent::Returned {
                    book: "b".into(),
                    reader: "r".into(),
                },
            ),
            (
                REGISTERED,
                json!({"ReaderID": "r"}),
                LibraryEvent::Registered { reader: "r".into() },
            ),
            (
                CANCELED,
                json!({"ReaderID": "r"}),
                LibraryEvent::Canceled { reader: "r".into() },
            ),
            (LENDING_FAILED, json!({"BookID": "b"}), LibraryEvent::Other),
            (LENT, json!({"BookID": "b"}), LibraryEvent::Other),
        ];
        for (t, p, want) in cases {
            assert_eq!(LibraryEvent::parse(t, &p), want, "{t}");
        }
    }
}

/// Short constructors for unit tests of the rules and the replay.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::LibraryEvent;

    pub(crate) fn added(b: &str) -> LibraryEvent {
        LibraryEvent::Added { book: b.into() }
    }
    pub(crate) fn removed(b: &str) -> LibraryEvent {
        LibraryEvent::Removed { book: b.into() }
    }
    pub(crate) fn lent(b: &str, r: &str) -> LibraryEvent {
        LibraryEvent::Lent {
            book: b.into(),
            reader: r.into(),
        }
    }
    pub(crate) fn returned(b: &str, r: &str) -> LibraryEvent {
        LibraryEvent::Returned {
            book: b.into(),
            reader: r.into(),
        }
    }
    pub(crate) fn registered(r: &str) -> LibraryEvent {
        LibraryEvent::Registered { reader: r.into() }
    }
    pub(crate) fn canceled(r: &str) -> LibraryEvent {
        LibraryEvent::Canceled { reader: r.into() }
    }
}
