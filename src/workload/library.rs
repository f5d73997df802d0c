//! The library's commands and read-side queries over a primary and a
//! replica connection. A command reads its boundary, decides with the pure
//! rules, and appends guarded by the max sequence number it read; a
//! conflict re-reads and re-decides after a jittered, doubling backoff.
//! How the read+append pair is protected, and which guard the append
//! carries, is the append mode, so a run can show what each costs and what
//! it buys.

use super::events::{self, fnv1a, LibraryEvent, NewEvent};
use super::events::{ADDED, CANCELED, LENT, REGISTERED, REMOVED, RETURNED};
use super::filter::{Filter, FilterItem, Match};
use super::rules::{self, Rejection, Verdict};
use super::store::{EventStore, Guard};
use super::WorkloadError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

/// How a command's read and append are kept together, and which guard the
/// append carries (`Guard`): the original's `MAX(sequence_number)` check or
/// the cheaper "none newer than read" check that means the same on an
/// append-only store. The guard changes what an append costs, never which
/// races a mode lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppendMode {
    /// The original: autocommit statements under READ COMMITTED. Two
    /// overlapping commands can both pass the guard (the race to measure).
    #[default]
    AsOriginal,
    /// The original's autocommit READ COMMITTED statements with the cheaper
    /// guard: the same race as `AsOriginal`, a cheaper append.
    NewerThanRead,
    /// Read, decide and append in one SERIALIZABLE transaction; SQLSTATE
    /// 40001 counts as a conflict and is retried.
    Serializable,
    /// `Serializable` with the cheaper guard, which also reads (and
    /// predicate-locks) fewer rows.
    SerializableNewerThanRead,
    /// Transaction-level advisory locks on the boundary's predicate values
    /// (sorted, so commands cannot deadlock), then read and append.
    AdvisoryLock,
    /// `AdvisoryLock` with the cheaper guard.
    AdvisoryLockNewerThanRead,
}

/// What keeps a command's read and append together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protection {
    Autocommit,
    Serializable,
    AdvisoryLock,
}

impl AppendMode {
    pub const ALL: [AppendMode; 6] = [
        AppendMode::AsOriginal,
        AppendMode::NewerThanRead,
        AppendMode::Serializable,
        AppendMode::SerializableNewerThanRead,
        AppendMode::AdvisoryLock,
        AppendMode::AdvisoryLockNewerThanRead,
    ];

    /// The name `--append-mode` takes and run results record.
    pub fn name(self) -> &'static str {
        match self {
            AppendMode::AsOriginal => "as-original",
            AppendMode::NewerThanRead => "newer-than-read",
            AppendMode::Serializable => "serializable",
            AppendMode::SerializableNewerThanRead => "serializable-newer-than-read",
            AppendMode::AdvisoryLock => "advisory-lock",
            AppendMode::AdvisoryLockNewerThanRead => "advisory-lock-newer-than-read",
        }
    }

    /// The check the conditional append carries.
    pub fn guard(self) -> Guard {
        match self {
            AppendMode::AsOriginal | AppendMode::Serializable | AppendMode::AdvisoryLock => {
                Guard::MaxEquals
            }
            AppendMode::NewerThanRead
            | AppendMode::SerializableNewerThanRead
            | AppendMode::AdvisoryLockNewerThanRead => Guard::NoneNewerThan,
        }
    }

    fn protection(self) -> Protection {
        match self {
            AppendMode::AsOriginal | AppendMode::NewerThanRead => Protection::Autocommit,
            AppendMode::Serializable | AppendMode::SerializableNewerThanRead => {
                Protection::Serializable
            }
            AppendMode::AdvisoryLock | AppendMode::AdvisoryLockNewerThanRead => {
                Protection::AdvisoryLock
            }
        }
    }
}

impl std::fmt::Display for AppendMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AppendMode {
    type Err = WorkloadError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AppendMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = AppendMode::ALL.iter().map(|m| m.name()).collect();
                WorkloadError::Invalid(format!(
                    "append mode `{s}`: expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Retry on conflict: `max_tries` attempts in all, the n-th retry waiting
/// `base · 2^(n-1)` ± `jitter` (a fraction) so retries of colliding
/// commands spread apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_tries: u32,
    pub base: Duration,
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_tries: 6,
            base: Duration::from_millis(10),
            jitter: 0.3,
        }
    }
}

impl RetryPolicy {
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let factor = 2f64.powi(retry.saturating_sub(1).min(20) as i32);
        let jitter = if self.jitter > 0.0 {
            rng.random_range(-self.jitter..=self.jitter)
        } else {
            0.0
        };
        self.base.mul_f64((factor * (1.0 + jitter)).max(0.0))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Primary,
    Replica,
}

/// Where commands and queries go; commands need the primary's strong
/// consistency, queries are the replica's job unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routing {
    pub commands: Route,
    pub queries: Route,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            commands: Route::Primary,
            queries: Route::Replica,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandOutcome {
    Appended(u32),
    NoOp,
    /// The domain refused; its `…Failed` event was appended.
    Rejected(Rejection),
    /// Still conflicting after every try.
    Conflict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandResult {
    pub outcome: CommandOutcome,
    pub retries: u32,
}

enum Attempt {
    Done(CommandOutcome),
    Conflict,
}

/// A command's rule, bound to its IDs.
type Rule = Box<dyn Fn(&[LibraryEvent]) -> Verdict + Send + Sync>;

/// One command: its boundary, its rule, and the events it would append.
struct Command {
    filter: Filter,
    decide: Rule,
    success: NewEvent,
    failed_type: &'static str,
    failed_fields: serde_json::Value,
}

pub struct Library {
    primary: EventStore,
    replica: EventStore,
    pub routing: Routing,
    pub retry: RetryPolicy,
    pub mode: AppendMode,
    rng: StdRng,
    /// A transaction was begun and not yet ended: true after the engine's
    /// timeout dropped a command mid-transaction. The next command rolls
    /// it back first, or it would run inside it (holding its locks).
    open_transaction: bool,
}

/// A one-item boundary: these types, any of these predicates.
/// LendBookCopyToReader's boundary: the copy's and the reader's history.
pub fn lend_filter(book: &str, reader: &str) -> Filter {
    item(
        &[ADDED, REMOVED, LENT, RETURNED, REGISTERED, CANCELED],
        &[("BookID", book), ("ReaderID", reader)],
    )
}

fn item(types: &[&str], preds: &[(&str, &str)]) -> Filter {
    Filter::of(vec![FilterItem::new(types, preds, Match::AnyOf)])
}

impl Library {
    pub fn new(primary: EventStore, replica: EventStore, seed: u64) -> Library {
        Library {
            primary,
            replica,
            routing: Routing::default(),
            retry: RetryPolicy::default(),
            mode: AppendMode::default(),
            rng: StdRng::seed_from_u64(seed),
            open_transaction: false,
        }
    }

    pub fn store(&mut self, route: Route) -> &mut EventStore {
        match route {
            Route::Primary => &mut self.primary,
            Route::Replica => &mut self.replica,
        }
    }

    pub async fn add_book_copy(&mut self, book: &str) -> Result<CommandResult, WorkloadError> {
        let b = book.to_string();
        self.run(Command {
            filter: item(&[ADDED, REMOVED], &[("BookID", book)]),
            decide: Box::new(move |e| rules::add_book_copy(e, &b)),
            success: NewEvent::new(ADDED, events::added_payload(book)),
            failed_type: "AddingBookCopyFailed",
            failed_fields: json!({"BookID": book}),
        })
        .await
    }

    pub async fn remove_book_copy(&mut self, book: &str) -> Result<CommandResult, WorkloadError> {
        let b = book.to_string();
        self.run(Command {
            filter: item(&[ADDED, REMOVED, LENT, RETURNED], &[("BookID", book)]),
            decide: Box::new(move |e| rules::remove_book_copy(e, &b)),
            success: NewEvent::new(REMOVED, json!({"BookID": book})),
            failed_type: events::REMOVING_FAILED,
            failed_fields: json!({"BookID": book}),
        })
        .await
    }

    pub async fn lend(&mut self, book: &str, reader: &str) -> Result<CommandResult, WorkloadError> {
        let (b, r) = (book.to_string(), reader.to_string());
        let ids = json!({"BookID": book, "ReaderID": reader});
        self.run(Command {
            filter: lend_filter(book, reader),
            decide: Box::new(move |e| rules::lend(e, &b, &r)),
            success: NewEvent::new(LENT, ids.clone()),
            failed_type: events::LENDING_FAILED,
            failed_fields: ids,
        })
        .await
    }

    pub async fn return_copy(
        &mut self,
        book: &str,
        reader: &str,
    ) -> Result<CommandResult, WorkloadError> {
        let (b, r) = (book.to_string(), reader.to_string());
        let ids = json!({"BookID": book, "ReaderID": reader});
        self.run(Command {
            filter: item(
                &[ADDED, LENT, RETURNED, REGISTERED],
                &[("BookID", book), ("ReaderID", reader)],
            ),
            decide: Box::new(move |e| rules::return_copy(e, &b, &r)),
            success: NewEvent::new(RETURNED, ids.clone()),
            failed_type: events::RETURNING_FAILED,
            failed_fields: ids,
        })
        .await
    }

    pub async fn register_reader(
        &mut self,
        reader: &str,
        name: &str,
    ) -> Result<CommandResult, WorkloadError> {
        let r = reader.to_string();
        self.run(Command {
            filter: item(&[REGISTERED, CANCELED], &[("ReaderID", reader)]),
            decide: Box::new(move |e| rules::register_reader(e, &r)),
            success: NewEvent::new(REGISTERED, json!({"ReaderID": reader, "Name": name})),
            failed_type: "RegisteringReaderFailed",
            failed_fields: json!({"ReaderID": reader}),
        })
        .await
    }

    pub async fn cancel_reader_contract(
        &mut self,
        reader: &str,
    ) -> Result<CommandResult, WorkloadError> {
        let r = reader.to_string();
        self.run(Command {
            filter: item(
                &[REGISTERED, CANCELED, LENT, RETURNED],
                &[("ReaderID", reader)],
            ),
            decide: Box::new(move |e| rules::cancel_reader_contract(e, &r)),
            success: NewEvent::new(CANCELED, json!({"ReaderID": reader})),
            failed_type: events::CANCELING_FAILED,
            failed_fields: json!({"ReaderID": reader}),
        })
        .await
    }

    async fn run(&mut self, cmd: Command) -> Result<CommandResult, WorkloadError> {
        let tries = self.retry.max_tries.max(1);
        for attempt in 0..tries {
            if attempt > 0 {
                let wait = self.retry.backoff(attempt, &mut self.rng);
                tokio::time::sleep(wait).await;
            }
            if let Attempt::Done(outcome) = self.attempt(&cmd).await? {
                return Ok(CommandResult {
                    outcome,
                    retries: attempt,
                });
            }
        }
        Ok(CommandResult {
            outcome: CommandOutcome::Conflict,
            retries: tries - 1,
        })
    }

    async fn attempt(&mut self, cmd: &Command) -> Result<Attempt, WorkloadError> {
        let mode = self.mode;
        let abandoned = std::mem::take(&mut self.open_transaction);
        let store = self.store(self.routing.commands);
        if abandoned {
            store.control("ROLLBACK").await?;
        }
        let guard = mode.guard();
        let begin = match mode.protection() {
            Protection::Autocommit => return read_decide_append(store, cmd, guard).await,
            Protection::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
            Protection::AdvisoryLock => "BEGIN",
        };
        self.open_transaction = true;
        let store = self.store(self.routing.commands);
        store.control(begin).await?;
        let result: Result<Attempt, WorkloadError> = async {
            if mode.protection() == Protection::AdvisoryLock {
                store.lock(&lock_keys(&cmd.filter)).await?;
            }
            let attempt = read_decide_append(store, cmd, guard).await?;
            store.control("COMMIT").await?;
            Ok(attempt)
        }
        .await;
        let outcome = match result {
            Ok(a) => Ok(a),
            Err(e) => {
                // The transaction is dead either way; a failed ROLLBACK
                // means a lost connection, which `e` already reports.
                let _ = store.control("ROLLBACK").await;
                if e.is_serialization_failure() {
                    Ok(Attempt::Conflict)
                } else {
                    Err(e)
                }
            }
        };
        self.open_transaction = false;
        outcome
    }

    /// The boundary's events and max sequence number on the query route.
    async fn read(&mut self, filter: &Filter) -> Result<(Vec<LibraryEvent>, i64), WorkloadError> {
        let route = self.routing.queries;
        self.store(route).query_domain(filter).await
    }

    /// The store's last sequence number as the query route sees it.
    pub async fn last_sequence(&mut self) -> Result<i64, WorkloadError> {
        let route = self.routing.queries;
        self.store(route)
            .client()
            .query_one("SELECT COALESCE(MAX(sequence_number), 0) FROM events", &[])
            .await
            .map(|r| r.get(0))
            .map_err(super::store::db("reading the last sequence number"))
    }

    /// Copies in circulation (optionally only from events after
    /// `since_sequence`: a bounded read that sees recent changes only).
    pub async fn books_in_circulation(
        &mut self,
        since_sequence: Option<i64>,
    ) -> Result<(Vec<String>, i64), WorkloadError> {
        let f = item(&[ADDED, REMOVED, LENT, RETURNED], &[]).after(since_sequence);
        let (evs, max) = self.read(&f).await?;
        let mut books = BTreeSet::new();
        for e in evs {
            match e {
                LibraryEvent::Added { book } => {
                    books.insert(book);
                }
                LibraryEvent::Removed { book } => {
                    books.remove(&book);
                }
                _ => {}
            }
        }
        Ok((books.into_iter().collect(), max))
    }

    pub async fn books_lent_by_reader(
        &mut self,
        reader: &str,
    ) -> Result<(Vec<String>, i64), WorkloadError> {
        let f = item(&[LENT, RETURNED], &[("ReaderID", reader)]);
        let (evs, max) = self.read(&f).await?;
        let lent = lent_out(evs);
        Ok((lent.into_keys().collect(), max))
    }

    /// Copies currently lent, with their reader.
    pub async fn books_lent_out(
        &mut self,
        since_sequence: Option<i64>,
    ) -> Result<(Vec<(String, String)>, i64), WorkloadError> {
        let f = item(&[LENT, RETURNED], &[]).after(since_sequence);
        let (evs, max) = self.read(&f).await?;
        Ok((lent_out(evs).into_iter().collect(), max))
    }

    pub async fn registered_readers(
        &mut self,
        since_sequence: Option<i64>,
    ) -> Result<(Vec<String>, i64), WorkloadError> {
        let f = item(&[REGISTERED, CANCELED], &[]).after(since_sequence);
        let (evs, max) = self.read(&f).await?;
        let mut readers = BTreeSet::new();
        for e in evs {
            match e {
                LibraryEvent::Registered { reader } => {
                    readers.insert(reader);
                }
                LibraryEvent::Canceled { reader } => {
                    readers.remove(&reader);
                }
                _ => {}
            }
        }
        Ok((readers.into_iter().collect(), max))
    }
}

fn lent_out(evs: Vec<LibraryEvent>) -> BTreeMap<String, String> {
    let mut lent = BTreeMap::new();
    for e in evs {
        match e {
            LibraryEvent::Lent { book, reader } => {
                lent.insert(book, reader);
            }
            LibraryEvent::Returned { book, .. } => {
                lent.remove(&book);
            }
            _ => {}
        }
    }
    lent
}

/// Advisory lock keys of a boundary: stable hashes of its predicate values,
/// sorted so every command takes its locks in the same global order.
pub(crate) fn lock_keys(filter: &Filter) -> Vec<i64> {
    let mut keys: Vec<i64> = filter
        .lock_keys()
        .iter()
        .map(|k| fnv1a(k.as_bytes()) as i64)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

async fn read_decide_append(
    store: &mut EventStore,
    cmd: &Command,
    guard: Guard,
) -> Result<Attempt, WorkloadError> {
    let (domain, max) = store.query_domain(&cmd.filter).await?;
    let (event, outcome) = match (cmd.decide)(&domain) {
        Verdict::NoOp => return Ok(Attempt::Done(CommandOutcome::NoOp)),
        Verdict::Append => (cmd.success.clone(), CommandOutcome::Appended(1)),
        Verdict::Reject(why) => {
            let mut fields = cmd.failed_fields.clone();
            fields["FailureInfo"] = json!(why.reason());
            (
                NewEvent::new(cmd.failed_type, fields),
                CommandOutcome::Rejected(why),
            )
        }
    };
    // The failure is recorded under the same guard: a decision taken on a
    // stale boundary is re-taken, whichever way it went.
    let n = store
        .append_with(guard, &cmd.filter, max, std::slice::from_ref(&event))
        .await?;
    Ok(if n == 1 {
        Attempt::Done(outcome)
    } else {
        Attempt::Conflict
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        for (retry, base_ms) in [(1u32, 10.0), (2, 20.0), (3, 40.0), (5, 160.0)] {
            for _ in 0..50 {
                let ms = p.backoff(retry, &mut rng).as_secs_f64() * 1000.0;
                assert!(
                    ms >= base_ms * 0.7 - 1e-9 && ms <= base_ms * 1.3 + 1e-9,
                    "{retry}: {ms}"
                );
            }
        }
        let exact = RetryPolicy { jitter: 0.0, ..p };
        assert_eq!(exact.backoff(3, &mut rng), Duration::from_millis(40));
    }

    #[test]
    fn append_modes_parse() {
        use Guard::*;
        use Protection::*;
        let cases = [
            ("as-original", AppendMode::AsOriginal, Autocommit, MaxEquals),
            (
                "newer-than-read",
                AppendMode::NewerThanRead,
                Autocommit,
                NoneNewerThan,
            ),
            (
                "serializable",
                AppendMode::Serializable,
                Serializable,
                MaxEquals,
            ),
            (
                "serializable-newer-than-read",
                AppendMode::SerializableNewerThanRead,
                Serializable,
                NoneNewerThan,
            ),
            (
                "advisory-lock",
                AppendMode::AdvisoryLock,
                AdvisoryLock,
                MaxEquals,
            ),
            (
                "advisory-lock-newer-than-read",
                AppendMode::AdvisoryLockNewerThanRead,
                AdvisoryLock,
                NoneNewerThan,
            ),
        ];
        assert_eq!(cases.len(), AppendMode::ALL.len());
        for (s, m, protection, guard) in cases {
            assert_eq!(s.parse::<AppendMode>().unwrap(), m);
            assert_eq!(m.to_string(), s);
            assert_eq!((m.protection(), m.guard()), (protection, guard), "{s}");
        }
        let err = "locked".parse::<AppendMode>().unwrap_err().to_string();
        assert!(
            err.contains("`locked`") && err.contains("newer-than-read"),
            "{err}"
        );
        assert_eq!(AppendMode::default(), AppendMode::AsOriginal);
    }

    #[test]
    fn lock_keys_do_not_depend_on_predicate_order() {
        let a = item(&[LENT], &[("BookID", "b"), ("ReaderID", "r")]);
        let b = item(&[LENT], &[("ReaderID", "r"), ("BookID", "b")]);
        assert_eq!(lock_keys(&a), lock_keys(&b));
        assert_eq!(lock_keys(&a).len(), 2);
    }
}
