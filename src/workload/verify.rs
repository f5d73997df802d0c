//! Boundary integrity after the fact: replay the library's events in
//! sequence order and count every event the rules would have refused. Under
//! READ COMMITTED the guarded append can let two overlapping commands both
//! through, and nothing on the server notices; this replay is what does.

use super::events::{self, LibraryEvent, MAX_BOOKS_PER_READER};
use super::store::db;
use super::WorkloadError;
use futures_util::{pin_mut, TryStreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

/// Which streams to replay.
#[derive(Debug, Clone, PartialEq)]
pub enum Streams {
    All,
    /// These books' and readers' histories; rules about a book are checked
    /// only for listed books, rules about a reader only for listed readers
    /// (the others' histories are incomplete in the replay).
    Ids {
        books: Vec<String>,
        readers: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    AddedWhileInCirculation,
    RemovedWhileLent,
    LentWhileLent,
    LentNotInCirculation,
    LentToUnregisteredReader,
    ReaderOverLimit,
    ReturnWithoutLend,
    RegisteredTwice,
    CancelWithBooksOutstanding,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Violations {
    pub events_replayed: u64,
    pub counts: BTreeMap<ViolationKind, u64>,
    /// The first few, as "seq N: kind (book …, reader …)".
    pub examples: Vec<String>,
}

const MAX_EXAMPLES: usize = 20;

impl Violations {
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn count(&self, kind: ViolationKind) -> u64 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    fn add(&mut self, kind: ViolationKind, seq: i64, what: &str) {
        *self.counts.entry(kind).or_default() += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(format!("seq {seq}: {kind:?} ({what})"));
        }
    }
}

#[derive(Default)]
struct Book {
    in_circulation: bool,
    lent_to: Option<String>,
}

#[derive(Default)]
struct Reader {
    registered: bool,
    holding: HashSet<String>,
}

/// The replay's state; `check_book`/`check_reader` say whose rules count.
struct Replay<'a> {
    books: HashMap<String, Book>,
    readers: HashMap<String, Reader>,
    scope: Option<(HashSet<&'a str>, HashSet<&'a str>)>,
    found: Violations,
}

impl Replay<'_> {
    fn book_checked(&self, b: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|(books, _)| books.contains(b))
    }

    fn reader_checked(&self, r: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|(_, readers)| readers.contains(r))
    }

    fn apply(&mut self, seq: i64, e: LibraryEvent) {
        use ViolationKind::*;
        self.found.events_replayed += 1;
        let mut hits = Vec::new();
        match e {
            LibraryEvent::Added { book } => {
                let b = self.books.entry(book.clone()).or_default();
                if b.in_circulation {
                    hits.push((AddedWhileInCirculation, book, None));
                }
                b.in_circulation = true;
            }
            LibraryEvent::Removed { book } => {
                let b = self.books.entry(book.clone()).or_default();
                if b.lent_to.is_some() {
                    hits.push((RemovedWhileLent, book, None));
                }
                b.in_circulation = false;
            }
            LibraryEvent::Lent { book, reader } => {
                let b = self.books.entry(book.clone()).or_default();
                if b.lent_to.is_some() {
                    hits.push((LentWhileLent, book.clone(), None));
                }
                if !b.in_circulation {
                    hits.push((LentNotInCirculation, book.clone(), None));
                }
                b.lent_to = Some(reader.clone());
                let r = self.readers.entry(reader.clone()).or_default();
                if !r.registered {
                    hits.push((LentToUnregisteredReader, book.clone(), Some(reader.clone())));
                }
                r.holding.insert(book.clone());
                if r.holding.len() > MAX_BOOKS_PER_READER {
                    hits.push((ReaderOverLimit, book, Some(reader)));
                }
            }
            LibraryEvent::Returned { book, reader } => {
                let b = self.books.entry(book.clone()).or_default();
                if b.lent_to.as_deref() != Some(reader.as_str()) {
                    hits.push((ReturnWithoutLend, book.clone(), Some(reader.clone())));
                } else {
                    b.lent_to = None;
                }
                self.readers
                    .entry(reader)
                    .or_default()
                    .holding
                    .remove(&book);
            }
            LibraryEvent::Registered { reader } => {
                let r = self.readers.entry(reader.clone()).or_default();
                if r.registered {
                    hits.push((RegisteredTwice, String::new(), Some(reader)));
                }
                r.registered = true;
            }
            LibraryEvent::Canceled { reader } => {
                let r = self.readers.entry(reader.clone()).or_default();
                if !r.holding.is_empty() {
                    hits.push((CancelWithBooksOutstanding, String::new(), Some(reader)));
                }
                r.registered = false;
            }
            LibraryEvent::Other => {}
        }
        for (kind, book, reader) in hits {
            let counted = match kind {
                LentToUnregisteredReader
                | ReaderOverLimit
                | RegisteredTwice
                | CancelWithBooksOutstanding => {
                    reader.as_deref().is_some_and(|r| self.reader_checked(r))
                }
                _ => self.book_checked(&book),
            };
            if counted {
                let what = format!("book {book}, reader {}", reader.unwrap_or_default());
                self.found.add(kind, seq, &what);
            }
        }
    }
}

/// Replays the streams and counts violations of the library's rules.
pub async fn verify_streams(
    client: &Client,
    streams: &Streams,
) -> Result<Violations, WorkloadError> {
    let types: Vec<&str> = vec![
        events::ADDED,
        events::REMOVED,
        events::LENT,
        events::RETURNED,
        events::REGISTERED,
        events::CANCELED,
    ];
    let base = "SELECT sequence_number, event_type, payload->>'BookID', payload->>'ReaderID' \
                FROM events WHERE event_type = ANY($1)";
    let (sql, books, readers) = match streams {
        Streams::All => (format!("{base} ORDER BY sequence_number"), vec![], vec![]),
        Streams::Ids { books, readers } => (
            format!(
                "{base} AND (payload->>'BookID' = ANY($2) OR payload->>'ReaderID' = ANY($3)) \
                 ORDER BY sequence_number"
            ),
            books.clone(),
            readers.clone(),
        ),
    };
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&types];
    if matches!(streams, Streams::Ids { .. }) {
        params.push(&books);
        params.push(&readers);
    }
    let mut replay = Replay {
        books: HashMap::new(),
        readers: HashMap::new(),
        scope: match streams {
            Streams::All => None,
            Streams::Ids { books, readers } => Some((
                books.iter().map(String::as_str).collect(),
                readers.iter().map(String::as_str).collect(),
            )),
        },
        found: Violations::default(),
    };
    // Streamed: a whole store replays in constant client memory per row.
    let rows = client
        .query_raw(sql.as_str(), params)
        .await
        .map_err(db("reading the events to verify"))?;
    pin_mut!(rows);
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(db("reading the events to verify"))?
    {
        let seq: i64 = row.get(0);
        let t: String = row.get(1);
        let e = LibraryEvent::from_parts(&t, row.get(2), row.get(3));
        replay.apply(seq, e);
    }
    Ok(replay.found)
}

/// The replay over in-memory events, for the generators' tests.
#[cfg(test)]
pub(crate) fn replay_for_tests(events: Vec<LibraryEvent>) -> Violations {
    let mut r = Replay {
        books: HashMap::new(),
        readers: HashMap::new(),
        scope: None,
        found: Violations::default(),
    };
    for (i, e) in events.into_iter().enumerate() {
        r.apply(i as i64 + 1, e);
    }
    r.found
}

#[cfg(test)]
mod tests {
    use super::super::events::fixtures::*;
    use super::*;
    use ViolationKind::*;

    fn replay(events: Vec<LibraryEvent>) -> Violations {
        replay_for_tests(events)
    }

    #[test]
    fn each_kind_is_counted() {
        let mut over: Vec<LibraryEvent> = vec![registered("r")];
        for i in 0..11 {
            over.push(added(&format!("b{i}")));
            over.push(lent(&format!("b{i}"), "r"));
        }
        let cases: Vec<(&str, Vec<LibraryEvent>, Option<ViolationKind>)> = vec![
            (
                "clean",
                vec![
                    registered("r"),
                    added("b"),
                    lent("b", "r"),
                    returned("b", "r"),
                ],
                None,
            ),
            (
                "lent twice",
                vec![
                    registered("r"),
                    registered("s"),
                    added("b"),
                    lent("b", "r"),
                    lent("b", "s"),
                ],
                Some(LentWhileLent),
            ),
            (
                "not in circulation",
                vec![registered("r"), lent("b", "r")],
                Some(LentNotInCirculation),
            ),
            (
                "unregistered",
                vec![added("b"), lent("b", "r")],
                Some(LentToUnregisteredReader),
            ),
            ("eleven books", over, Some(ReaderOverLimit)),
            (
                "return without lend",
                vec![registered("r"), added("b"), returned("b", "r")],
                Some(ReturnWithoutLend),
            ),
            (
                "added twice",
                vec![added("b"), added("b")],
                Some(AddedWhileInCirculation),
            ),
            (
                "removed while lent",
                vec![
                    registered("r"),
                    added("b"),
                    lent("b", "r"),
                    LibraryEvent::Removed { book: "b".into() },
                ],
                Some(RemovedWhileLent),
            ),
            (
                "registered twice",
                vec![registered("r"), registered("r")],
                Some(RegisteredTwice),
            ),
            (
                "cancel holding",
                vec![
                    registered("r"),
                    added("b"),
                    lent("b", "r"),
                    LibraryEvent::Canceled { reader: "r".into() },
                ],
                Some(CancelWithBooksOutstanding),
            ),
        ];
        for (name, events, want) in cases {
            let v = replay(events);
            match want {
                None => assert_eq!(v.total(), 0, "{name}: {v:?}"),
                Some(kind) => {
                    assert_eq!(v.count(kind), 1, "{name}: {v:?}");
                    assert_eq!(v.total(), 1, "{name}: {v:?}");
                    assert_eq!(v.examples.len(), 1);
                }
            }
        }
    }
}
