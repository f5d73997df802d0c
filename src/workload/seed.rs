//! Seeding: a consistent library history (readers registered, books added,
//! then lends and returns that obey the rules, never more than ten books per
//! reader) written with binary COPY. Into an empty table the secondary
//! indexes are built after the COPY, which is several times faster than
//! maintaining four indexes (two of them GIN) row by row.

use super::events::{self, book_id, reader_id, timestamp, MAX_BOOKS_PER_READER};
use super::schema;
use super::store::db;
use super::WorkloadError;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use futures_util::{pin_mut, SinkExt, TryStreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::io::Cursor;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

#[derive(Debug, Clone, PartialEq)]
pub struct SeedOptions {
    /// Events to write (registrations and additions come first; a count
    /// smaller than books + readers writes a valid prefix of that).
    pub events: u64,
    pub books: u64,
    pub readers: u64,
    /// Add to a table that already holds events (continuing its state)
    /// instead of refusing.
    pub append: bool,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeedReport {
    pub events: u64,
    pub readers_registered: u64,
    pub books_added: u64,
    pub lends: u64,
    pub returns: u64,
    /// Until the COPY finished (schema checks included).
    pub copy_time: Duration,
    /// The secondary index builds (zero when they were kept).
    pub index_time: Duration,
    pub analyze_time: Duration,
    /// Everything: COPY, index builds and ANALYZE.
    pub total_time: Duration,
    pub indexes_built_after_copy: bool,
}

impl SeedReport {
    /// Events per second over the whole seed, index builds included.
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.total_time.as_secs_f64().max(1e-9)
    }
}

/// Appends `value` to a COPY text row, escaping what the text format
/// treats specially (backslash, tab, newline, carriage return).
fn push_field(row: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => row.extend_from_slice(b"\\\\"),
            b'\t' => row.extend_from_slice(b"\\t"),
            b'\n' => row.extend_from_slice(b"\\n"),
            b'\r' => row.extend_from_slice(b"\\r"),
            _ => row.push(b),
        }
    }
}

/// How much COPY text to hand the connection at a time.
const CHUNK: usize = 256 * 1024;

/// The library's state as the generator tracks it, by book and reader
/// number (index 0 is book-1 / reader-1).
struct State {
    in_circulation: Vec<bool>,
    lent_to: Vec<Option<u32>>,
    registered: Vec<bool>,
    holding: Vec<Vec<u32>>,
}

enum Step {
    Register(u32),
    Add(u32),
    Lend(u32, u32),
    Return(u32, u32),
}

impl State {
    fn new(books: usize, readers: usize) -> State {
        State {
            in_circulation: vec![false; books],
            lent_to: vec![None; books],
            registered: vec![false; readers],
            holding: vec![Vec::new(); readers],
        }
    }

    /// The next event that keeps the history valid: registrations, then
    /// additions, then lends and returns of random copies.
    fn next(&mut self, rng: &mut StdRng, cursor: &mut (usize, usize)) -> Option<Step> {
        while cursor.0 < self.registered.len() {
            cursor.0 += 1;
            if !self.registered[cursor.0 - 1] {
                self.registered[cursor.0 - 1] = true;
                return Some(Step::Register(cursor.0 as u32 - 1));
            }
        }
        while cursor.1 < self.in_circulation.len() {
            cursor.1 += 1;
            if !self.in_circulation[cursor.1 - 1] {
                self.in_circulation[cursor.1 - 1] = true;
                return Some(Step::Add(cursor.1 as u32 - 1));
            }
        }
        for _ in 0..64 {
            let b = rng.random_range(0..self.lent_to.len());
            if let Some(r) = self.lent_to[b] {
                return Some(self.give_back(b as u32, r));
            }
            let r = rng.random_range(0..self.registered.len());
            if !self.registered[r] || !self.in_circulation[b] {
                continue;
            }
            if self.holding[r].len() >= MAX_BOOKS_PER_READER {
                let held = self.holding[r][0];
                return Some(self.give_back(held, r as u32));
            }
            self.lent_to[b] = Some(r as u32);
            self.holding[r].push(b as u32);
            return Some(Step::Lend(b as u32, r as u32));
        }
        None
    }

    fn give_back(&mut self, b: u32, r: u32) -> Step {
        self.lent_to[b as usize] = None;
        self.holding[r as usize].retain(|x| *x != b);
        Step::Return(b, r)
    }

    /// Continues from what is already stored (append mode); IDs outside the
    /// seeded space are not this generator's concern.
    async fn load(
        &mut self,
        client: &Client,
        books: &[String],
        readers: &[String],
    ) -> Result<(), WorkloadError> {
        let book_ix: HashMap<&str, u32> = books
            .iter()
            .enumerate()
            .map(|(i, b)| (b.as_str(), i as u32))
            .collect();
        let reader_ix: HashMap<&str, u32> = readers
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_str(), i as u32))
            .collect();
        let sql = "SELECT event_type, payload->>'BookID', payload->>'ReaderID' FROM events \
                   ORDER BY sequence_number";
        let rows = client
            .query_raw(sql, std::iter::empty::<&str>())
            .await
            .map_err(db("reading the stored history"))?;
        pin_mut!(rows);
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(db("reading the stored history"))?
        {
            let t: &str = row.get(0);
            let b = row
                .get::<_, Option<&str>>(1)
                .and_then(|b| book_ix.get(b))
                .map(|b| *b as usize);
            let r = row
                .get::<_, Option<&str>>(2)
                .and_then(|r| reader_ix.get(r))
                .map(|r| *r as usize);
            match (t, b, r) {
                (events::ADDED, Some(b), _) => self.in_circulation[b] = true,
                (events::REMOVED, Some(b), _) => self.in_circulation[b] = false,
                (events::REGISTERED, _, Some(r)) => self.registered[r] = true,
                (events::CANCELED, _, Some(r)) => self.registered[r] = false,
                (events::LENT, Some(b), Some(r)) => {
                    self.lent_to[b] = Some(r as u32);
                    self.holding[r].push(b as u32);
                }
                (events::RETURNED, Some(b), Some(r)) => {
                    self.lent_to[b] = None;
                    self.holding[r].retain(|x| *x != b as u32);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// One event's columns, rendered. All values are UUIDs, digits and fixed
/// words, so plain formatting yields valid JSON without escaping.
fn render(
    step: &Step,
    at: DateTime<Utc>,
    books: &[String],
    readers: &[String],
) -> (&'static str, String) {
    let ts = timestamp(at);
    let tail = |t: &str| format!(r#""EventType":"{t}","OccurredAt":"{ts}"}}"#);
    match *step {
        Step::Register(r) => (
            events::REGISTERED,
            format!(
                r#"{{"ReaderID":"{}","Name":"Reader {}",{}"#,
                readers[r as usize],
                r + 1,
                tail(events::REGISTERED)
            ),
        ),
        Step::Add(b) => (
            events::ADDED,
            format!(
                r#"{{"BookID":"{}","ISBN":"978-{:09}","Title":"Book {n}","Authors":"Author {}","Edition":"{}","Publisher":"Publisher {}","PublicationYear":{},{}"#,
                books[b as usize],
                b + 1,
                (b + 1) % 997,
                1 + (b + 1) % 5,
                (b + 1) % 31,
                1950 + (b + 1) % 75,
                tail(events::ADDED),
                n = b + 1,
            ),
        ),
        Step::Lend(b, r) => (
            events::LENT,
            format!(
                r#"{{"BookID":"{}","ReaderID":"{}",{}"#,
                books[b as usize],
                readers[r as usize],
                tail(events::LENT)
            ),
        ),
        Step::Return(b, r) => (
            events::RETURNED,
            format!(
                r#"{{"BookID":"{}","ReaderID":"{}",{}"#,
                books[b as usize],
                readers[r as usize],
                tail(events::RETURNED)
            ),
        ),
    }
}

/// Writes the history; refuses a table that already holds events unless
/// `append`.
pub async fn seed(client: &Client, opts: &SeedOptions) -> Result<SeedReport, WorkloadError> {
    seed_with_progress(client, opts, |_| {}).await
}

/// `seed`, calling `progress` with the events written so far after every
/// chunk handed to COPY (for a progress bar).
pub async fn seed_with_progress(
    client: &Client,
    opts: &SeedOptions,
    progress: impl FnMut(u64),
) -> Result<SeedReport, WorkloadError> {
    seed_with(client, &[client], opts, progress).await
}

/// `seed_with_progress`, building the secondary indexes after COPY on
/// `builders` at once (each connection builds its share in turn): the two
/// GIN indexes, the bulk of the time, build side by side on two cores.
pub async fn seed_with(
    client: &Client,
    builders: &[&Client],
    opts: &SeedOptions,
    mut progress: impl FnMut(u64),
) -> Result<SeedReport, WorkloadError> {
    if opts.books == 0
        || opts.readers == 0
        || opts.books > u32::MAX as u64
        || opts.readers > u32::MAX as u64
    {
        return Err(WorkloadError::Invalid(
            "seeding needs 1 to 2^32 books and readers".into(),
        ));
    }
    let started = Instant::now();
    schema::create_tables(client).await?;
    let has_events: bool = client
        .query_one("SELECT EXISTS (SELECT 1 FROM events)", &[])
        .await
        .map_err(db("checking whether events is empty"))?
        .get(0);
    if has_events && !opts.append {
        return Err(WorkloadError::NotEmpty);
    }
    let books: Vec<String> = (1..=opts.books).map(book_id).collect();
    let readers: Vec<String> = (1..=opts.readers).map(reader_id).collect();
    let mut state = State::new(books.len(), readers.len());
    let index_options = if has_events {
        state.load(client, &books, &readers).await?;
        schema::IndexOptions::new()
    } else {
        schema::drop_event_indexes(client).await?
    };
    let mut report = SeedReport {
        events: 0,
        readers_registered: 0,
        books_added: 0,
        lends: 0,
        returns: 0,
        copy_time: Duration::ZERO,
        index_time: Duration::ZERO,
        analyze_time: Duration::ZERO,
        total_time: Duration::ZERO,
        indexes_built_after_copy: !has_events,
    };
    // Into an empty table the rows go in frozen and all-visible (COPY
    // FREEZE needs the table truncated in the same transaction): the first
    // queries after seeding then do not set hint bits page by page, which
    // with data checksums writes a full page image of each page to the WAL,
    // and would make the first measurements after a seed slower than the
    // later ones.
    let freeze = !has_events;
    if freeze {
        client
            .batch_execute("BEGIN; TRUNCATE events")
            .await
            .map_err(db("starting the seeding transaction"))?;
    }
    let copied = copy(
        client,
        opts,
        &mut state,
        (&books, &readers),
        &mut report,
        &mut progress,
        freeze,
    )
    .await;
    if freeze {
        let end = if copied.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = client
            .batch_execute(end)
            .await
            .map_err(db("ending the seeding transaction"));
        copied?;
        ended?;
    } else {
        copied?;
    }
    report.copy_time = started.elapsed();
    let indexing = Instant::now();
    let own = [client];
    schema::create_event_indexes_on(
        if builders.is_empty() { &own } else { builders },
        &index_options,
    )
    .await?;
    report.index_time = indexing.elapsed();
    let analyzing = Instant::now();
    // The COPY's row counts sit in this session's pending statistics until
    // it has been idle a while (PostgreSQL 15+); flushed after ANALYZE they
    // would double n_live_tup. Ask for the flush first, then let the
    // session go idle once.
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(db("reading the server version"))?
        .get(0);
    if version >= 150_000 {
        client
            .batch_execute("SELECT pg_stat_force_next_flush()")
            .await
            .map_err(db("flushing the COPY's statistics"))?;
    }
    client
        .batch_execute("ANALYZE events")
        .await
        .map_err(db("analyzing events"))?;
    report.analyze_time = analyzing.elapsed();
    report.total_time = started.elapsed();
    Ok(report)
}

async fn copy(
    client: &Client,
    opts: &SeedOptions,
    state: &mut State,
    (books, readers): (&[String], &[String]),
    report: &mut SeedReport,
    progress: &mut impl FnMut(u64),
    freeze: bool,
) -> Result<(), WorkloadError> {
    let sql = if freeze {
        "COPY events (occurred_at, event_type, payload, metadata) FROM STDIN WITH (FREEZE)"
    } else {
        "COPY events (occurred_at, event_type, payload, metadata) FROM STDIN"
    };
    let sink = client
        .copy_in::<_, Cursor<Vec<u8>>>(sql)
        .await
        .map_err(db("starting COPY into events"))?;
    pin_mut!(sink);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut cursor = (0, 0);
    // Spread over the past, one millisecond apart, ending now.
    let start = events::now() - TimeDelta::milliseconds(opts.events as i64);
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    for i in 0..opts.events {
        let Some(step) = state.next(&mut rng, &mut cursor) else {
            break;
        };
        match step {
            Step::Register(_) => report.readers_registered += 1,
            Step::Add(_) => report.books_added += 1,
            Step::Lend(..) => report.lends += 1,
            Step::Return(..) => report.returns += 1,
        }
        let at = start + TimeDelta::milliseconds(i as i64);
        let (event_type, payload) = render(&step, at, books, readers);
        let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        let metadata =
            format!(r#"{{"MessageID":"{id}","CausationID":"{id}","CorrelationID":"{id}"}}"#);
        push_field(&mut buf, &timestamp(at));
        buf.push(b'\t');
        push_field(&mut buf, event_type);
        buf.push(b'\t');
        push_field(&mut buf, &payload);
        buf.push(b'\t');
        push_field(&mut buf, &metadata);
        buf.push(b'\n');
        report.events += 1;
        if buf.len() >= CHUNK {
            let chunk = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096));
            sink.send(Cursor::new(chunk))
                .await
                .map_err(db("writing events with COPY"))?;
            progress(report.events);
        }
    }
    if !buf.is_empty() {
        sink.send(Cursor::new(buf))
            .await
            .map_err(db("writing events with COPY"))?;
    }
    sink.as_mut()
        .finish()
        .await
        .map_err(db("finishing COPY into events"))?;
    progress(report.events);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::events::LibraryEvent;
    use crate::workload::verify::Violations;

    #[test]
    fn copy_text_escaping() {
        let cases = [
            ("plain", "plain"),
            ("a\tb", "a\\tb"),
            ("a\\b", "a\\\\b"),
            ("x\ny\r", "x\\ny\\r"),
        ];
        for (input, want) in cases {
            let mut row = Vec::new();
            push_field(&mut row, input);
            assert_eq!(String::from_utf8(row).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn rendered_payloads_are_json_with_the_keys() {
        let books = vec![book_id(1)];
        let readers = vec![reader_id(1)];
        let at = events::now();
        for (step, keys) in [
            (Step::Register(0), vec!["ReaderID", "Name"]),
            (
                Step::Add(0),
                vec![
                    "BookID",
                    "ISBN",
                    "Title",
                    "Authors",
                    "Edition",
                    "Publisher",
                    "PublicationYear",
                ],
            ),
            (Step::Lend(0, 0), vec!["BookID", "ReaderID"]),
            (Step::Return(0, 0), vec!["BookID", "ReaderID"]),
        ] {
            let (t, p) = render(&step, at, &books, &readers);
            let v: serde_json::Value =
                serde_json::from_str(&p).unwrap_or_else(|e| panic!("{t}: {e}: {p}"));
            assert_eq!(v["EventType"], t);
            assert_eq!(v["OccurredAt"], timestamp(at));
            for k in keys {
                assert!(v.get(k).is_some(), "{t} lacks {k}");
            }
        }
    }

    #[test]
    fn generated_histories_obey_the_rules() {
        for (books, readers) in [(5usize, 3usize), (100, 10), (1000, 100)] {
            let mut state = State::new(books, readers);
            let mut rng = StdRng::seed_from_u64(7);
            let mut cursor = (0, 0);
            let mut events = Vec::new();
            for _ in 0..5_000 {
                let step = state.next(&mut rng, &mut cursor).expect("a next step");
                let (b, r) = (|i: u32| format!("b{i}"), |i: u32| format!("r{i}"));
                events.push(match step {
                    Step::Register(x) => LibraryEvent::Registered { reader: r(x) },
                    Step::Add(x) => LibraryEvent::Added { book: b(x) },
                    Step::Lend(x, y) => LibraryEvent::Lent {
                        book: b(x),
                        reader: r(y),
                    },
                    Step::Return(x, y) => LibraryEvent::Returned {
                        book: b(x),
                        reader: r(y),
                    },
                });
            }
            let v: Violations = crate::workload::verify::replay_for_tests(events);
            assert_eq!(v.total(), 0, "{books}/{readers}: {v:?}");
        }
    }
}
