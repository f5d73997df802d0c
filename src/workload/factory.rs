//! The library as the load engine sees it: named mixes as data, a factory
//! that opens one primary and one replica connection per worker, and a
//! worker that runs one operation and maps the domain's result onto the
//! engine's `Outcome` (rejections and conflicts are outcomes, not errors).

use super::events::{book_id, reader_id, LENT, RETURNED};
use super::library::{
    AppendMode, CommandOutcome, CommandResult, Library, RetryPolicy, Route, Routing,
};
use super::store::EventStore;
use super::WorkloadError;
use crate::bench::{MixEntry, Outcome, SessionPlans, Worker, WorkerFactory};
use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// The operations a mix can weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    AddBookCopy,
    RemoveBookCopy,
    LendBookCopyToReader,
    ReturnBookCopyFromReader,
    RegisterReader,
    CancelReaderContract,
    BooksInCirculation,
    BooksLentByReader,
    BooksLentOut,
    RegisteredReaders,
}

impl Op {
    pub const ALL: [Op; 10] = [
        Op::AddBookCopy,
        Op::RemoveBookCopy,
        Op::LendBookCopyToReader,
        Op::ReturnBookCopyFromReader,
        Op::RegisterReader,
        Op::CancelReaderContract,
        Op::BooksInCirculation,
        Op::BooksLentByReader,
        Op::BooksLentOut,
        Op::RegisteredReaders,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::AddBookCopy => "AddBookCopy",
            Op::RemoveBookCopy => "RemoveBookCopy",
            Op::LendBookCopyToReader => "LendBookCopyToReader",
            Op::ReturnBookCopyFromReader => "ReturnBookCopyFromReader",
            Op::RegisterReader => "RegisterReader",
            Op::CancelReaderContract => "CancelReaderContract",
            Op::BooksInCirculation => "BooksInCirculation",
            Op::BooksLentByReader => "BooksLentByReader",
            Op::BooksLentOut => "BooksLentOut",
            Op::RegisteredReaders => "RegisteredReaders",
        }
    }

    /// The short name accepted in `--mix` weights.
    pub fn short(self) -> &'static str {
        match self {
            Op::AddBookCopy => "add",
            Op::RemoveBookCopy => "remove",
            Op::LendBookCopyToReader => "lend",
            Op::ReturnBookCopyFromReader => "return",
            Op::RegisterReader => "register",
            Op::CancelReaderContract => "cancel",
            Op::BooksInCirculation => "circulation",
            Op::BooksLentByReader => "lent-by-reader",
            Op::BooksLentOut => "lent-out",
            Op::RegisteredReaders => "readers",
        }
    }

    /// By full or short name, any case.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(name) || o.short().eq_ignore_ascii_case(name))
    }
}

/// Operations with weights and the ID space they draw from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    pub name: String,
    pub books: u64,
    pub readers: u64,
    pub ops: Vec<(Op, f64)>,
}

impl Mix {
    /// The named mixes. `worker-pool-2025` is the original's generator
    /// (circulation 20 % as add/remove 50/50, lending 80 % as lend/return
    /// 50/50); `library-scale` its later realistic simulation.
    pub fn named(name: &str) -> Result<Mix, WorkloadError> {
        let (books, readers, ops) = match name {
            "worker-pool-2025" => (
                1_000,
                100,
                vec![
                    (Op::AddBookCopy, 10.0),
                    (Op::RemoveBookCopy, 10.0),
                    (Op::LendBookCopyToReader, 40.0),
                    (Op::ReturnBookCopyFromReader, 40.0),
                ],
            ),
            "library-scale" => (
                60_000,
                14_000,
                vec![
                    (Op::LendBookCopyToReader, 42.0),
                    (Op::ReturnBookCopyFromReader, 42.0),
                    (Op::BooksLentByReader, 10.0),
                    (Op::RegisterReader, 3.0),
                    (Op::AddBookCopy, 3.0),
                ],
            ),
            _ => return Err(WorkloadError::UnknownMix { name: name.into() }),
        };
        Ok(Mix {
            name: name.into(),
            books,
            readers,
            ops,
        })
    }

    /// A mix from the command line: a name (`library-scale`), or weights
    /// (`lend=40,return=40,add=10,remove=10`) over the ID space of
    /// `worker-pool-2025` unless `books`/`readers` say otherwise. Weights
    /// are relative; operation names are the commands and queries of
    /// WORKLOAD.md or their short forms (see [`Op::short`]).
    pub fn parse(
        spec: &str,
        books: Option<u64>,
        readers: Option<u64>,
    ) -> Result<Mix, WorkloadError> {
        let spec = spec.trim();
        let mut mix = if spec.contains('=') {
            let mut ops: Vec<(Op, f64)> = Vec::new();
            for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (name, weight) = part.split_once('=').ok_or_else(|| {
                    WorkloadError::Invalid(format!("mix entry `{part}`: write OPERATION=WEIGHT"))
                })?;
                let op = Op::from_name(name.trim()).ok_or_else(|| {
                    WorkloadError::Invalid(format!(
                        "mix entry `{part}`: no operation `{}`; the operations are {}",
                        name.trim(),
                        Op::ALL
                            .map(|o| format!("{} ({})", o.short(), o.name()))
                            .join(", ")
                    ))
                })?;
                let w: f64 = weight.trim().parse().map_err(|_| {
                    WorkloadError::Invalid(format!(
                        "mix entry `{part}`: `{}` is not a number",
                        weight.trim()
                    ))
                })?;
                if !w.is_finite() || w < 0.0 {
                    return Err(WorkloadError::Invalid(format!(
                        "mix entry `{part}`: a weight is a number of 0 or more"
                    )));
                }
                if ops.iter().any(|(o, _)| *o == op) {
                    return Err(WorkloadError::Invalid(format!(
                        "mix entry `{part}`: {} is weighted twice",
                        op.name()
                    )));
                }
                ops.push((op, w));
            }
            if ops.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
                return Err(WorkloadError::Invalid(format!(
                    "mix `{spec}`: the weights add up to 0; give at least one operation a weight above 0"
                )));
            }
            let base = Mix::named("worker-pool-2025")?;
            Mix {
                name: spec.to_string(),
                books: base.books,
                readers: base.readers,
                ops,
            }
        } else {
            Mix::named(spec)?
        };
        if let Some(b) = books {
            mix.books = b;
        }
        if let Some(r) = readers {
            mix.readers = r;
        }
        if mix.books == 0 || mix.readers == 0 {
            return Err(WorkloadError::Invalid(
                "a mix needs at least one book and one reader (--books, --readers)".into(),
            ));
        }
        Ok(mix)
    }

    pub fn entries(&self) -> Vec<MixEntry> {
        self.ops
            .iter()
            .map(|(op, w)| MixEntry {
                op: op.name().to_string(),
                weight: *w,
            })
            .collect()
    }
}

/// Everything a worker needs besides its connections.
#[derive(Debug, Clone)]
pub struct LibraryFactory {
    pub primary_url: String,
    pub replica_url: String,
    pub mix: Mix,
    pub routing: Routing,
    pub retry: RetryPolicy,
    pub mode: AppendMode,
    pub connect_timeout: Duration,
    /// Worker `i` draws IDs from `seed + i`: a run can be repeated.
    pub seed: u64,
    /// Type-only queries (BooksInCirculation, BooksLentOut,
    /// RegisteredReaders) read every event of their types, which grows with
    /// the store; with a window they read only the last `window` sequence
    /// numbers (changes, not the full projection), as WORKLOAD.md suggests.
    pub type_query_window: Option<i64>,
    entries: Vec<MixEntry>,
    /// Copies lent by any worker and not yet returned, oldest first: a
    /// return picks one of these, as a real reader returns a book they
    /// hold. Shared by the pool, so one worker's lend can be another's
    /// return; drawn at random instead, a return in a large ID space is
    /// nearly always a rejection (the reader does not hold that copy).
    loans: Loans,
}

type Loans = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<(String, String)>>>;

impl LibraryFactory {
    pub fn new(
        primary_url: &str,
        replica_url: &str,
        mix: Mix,
    ) -> Result<LibraryFactory, WorkloadError> {
        if mix.books == 0 || mix.readers == 0 {
            return Err(WorkloadError::Invalid(
                "a mix needs at least one book and one reader".into(),
            ));
        }
        if mix.ops.is_empty() || mix.ops.iter().any(|(_, w)| !w.is_finite() || *w < 0.0) {
            return Err(WorkloadError::Invalid(
                "mix weights must be finite and not negative".into(),
            ));
        }
        Ok(LibraryFactory {
            primary_url: primary_url.into(),
            replica_url: replica_url.into(),
            entries: mix.entries(),
            mix,
            routing: Routing::default(),
            retry: RetryPolicy::default(),
            mode: AppendMode::default(),
            connect_timeout: Duration::from_secs(5),
            seed: 0x5eed,
            type_query_window: None,
            loans: Loans::default(),
        })
    }

    /// Fills the pool's loans with copies the store shows lent and not
    /// returned (up to the pool's memory, in random order), so returns in
    /// the first seconds give back books that seeding lent instead of
    /// falling back to random copies. Reads every lend and return once:
    /// call it before the run. Returns how many loans it found.
    pub async fn prime_loans(
        &self,
        primary: &tokio_postgres::Client,
    ) -> Result<usize, WorkloadError> {
        if !self
            .mix
            .ops
            .iter()
            .any(|(op, w)| *op == Op::ReturnBookCopyFromReader && *w > 0.0)
        {
            return Ok(0);
        }
        let rows = primary
            .query(
                "SELECT payload->>'BookID', payload->>'ReaderID' FROM (
                   SELECT DISTINCT ON (payload->>'BookID') event_type, payload FROM events
                   WHERE event_type = ANY($1)
                   ORDER BY payload->>'BookID', sequence_number DESC) last
                 WHERE event_type = $2 AND payload ? 'ReaderID'
                 ORDER BY random() LIMIT $3",
                &[&vec![LENT, RETURNED], &LENT, &(MAX_LOANS as i64)],
            )
            .await
            .map_err(super::store::db("reading the open loans"))?;
        let mut loans = self.loans.lock().unwrap_or_else(|p| p.into_inner());
        loans.clear();
        loans.extend(
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))),
        );
        Ok(loans.len())
    }

    async fn open(&self, id: usize) -> Result<LibraryWorker, WorkloadError> {
        let connect = |url: String, role: &'static str| async move {
            crate::db::connect(&url, self.connect_timeout)
                .await
                .map_err(|source| WorkloadError::Connect { role, source })
        };
        let primary = connect(self.primary_url.clone(), "primary").await?;
        let replica = connect(self.replica_url.clone(), "replica").await?;
        let seed = self.seed.wrapping_add(id as u64);
        let mut library = Library::new(EventStore::new(primary), EventStore::new(replica), seed);
        library.routing = self.routing;
        library.retry = self.retry;
        library.mode = self.mode;
        Ok(LibraryWorker {
            library,
            ops: self.mix.ops.iter().map(|(op, _)| *op).collect(),
            books: self.mix.books,
            readers: self.mix.readers,
            rng: StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15),
            window: self.type_query_window,
            last_seen: 0,
            windowed: 0,
            loans: self.loans.clone(),
        })
    }
}

#[async_trait]
impl WorkerFactory for LibraryFactory {
    type Worker = LibraryWorker;

    fn mix(&self) -> &[MixEntry] {
        &self.entries
    }

    async fn worker(&self, id: usize) -> anyhow::Result<LibraryWorker> {
        Ok(self.open(id).await?)
    }
}

pub struct LibraryWorker {
    pub library: Library,
    ops: Vec<Op>,
    books: u64,
    readers: u64,
    rng: StdRng,
    window: Option<i64>,
    /// The highest sequence number this worker has seen a query return.
    last_seen: i64,
    windowed: u64,
    /// The pool's open loans (see `LibraryFactory`).
    loans: Loans,
}

/// Loans the pool remembers; older ones are forgotten (and may be returned
/// by nobody, as in life).
const MAX_LOANS: usize = 10_000;

impl LibraryWorker {
    fn book(&mut self) -> String {
        book_id(self.rng.random_range(1..=self.books))
    }

    fn reader(&mut self) -> (u64, String) {
        let n = self.rng.random_range(1..=self.readers);
        (n, reader_id(n))
    }

    /// The lower bound of a type-only query under the window; the first
    /// one asks the store where it ends.
    async fn since(&mut self) -> Result<Option<i64>, WorkloadError> {
        let Some(window) = self.window else {
            return Ok(None);
        };
        // The store grows under other workers' commands; looking up its
        // end now and then keeps the window near the head.
        if self.last_seen == 0 || self.windowed % 100 == 0 {
            let end = self.library.last_sequence().await?;
            self.saw(end);
        }
        self.windowed += 1;
        Ok(Some(self.last_seen.saturating_sub(window).max(0)))
    }

    fn saw(&mut self, max: i64) {
        self.last_seen = self.last_seen.max(max);
    }

    pub async fn run_op(&mut self, op: Op) -> Result<Outcome, WorkloadError> {
        let query = Outcome::Ok {
            events: 0,
            retries: 0,
        };
        Ok(match op {
            Op::AddBookCopy => {
                let b = self.book();
                command_outcome(self.library.add_book_copy(&b).await?)
            }
            Op::RemoveBookCopy => {
                let b = self.book();
                command_outcome(self.library.remove_book_copy(&b).await?)
            }
            Op::LendBookCopyToReader => {
                let (b, (_, r)) = (self.book(), self.reader());
                let result = self.library.lend(&b, &r).await?;
                if matches!(result.outcome, CommandOutcome::Appended(n) if n > 0) {
                    // A poisoned lock only means another worker panicked
                    // mid-push; the queue itself is still whole.
                    let mut loans = self.loans.lock().unwrap_or_else(|p| p.into_inner());
                    if loans.len() == MAX_LOANS {
                        loans.pop_front();
                    }
                    loans.push_back((b, r));
                }
                command_outcome(result)
            }
            Op::ReturnBookCopyFromReader => {
                let held = self
                    .loans
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .pop_front();
                let (b, r) = match held {
                    Some(loan) => loan,
                    None => (self.book(), self.reader().1),
                };
                command_outcome(self.library.return_copy(&b, &r).await?)
            }
            Op::RegisterReader => {
                let (n, r) = self.reader();
                command_outcome(
                    self.library
                        .register_reader(&r, &format!("Reader {n}"))
                        .await?,
                )
            }
            Op::CancelReaderContract => {
                let (_, r) = self.reader();
                command_outcome(self.library.cancel_reader_contract(&r).await?)
            }
            Op::BooksInCirculation => {
                let since = self.since().await?;
                let (_, max) = self.library.books_in_circulation(since).await?;
                self.saw(max);
                query
            }
            Op::BooksLentByReader => {
                let (_, r) = self.reader();
                self.library.books_lent_by_reader(&r).await?;
                query
            }
            Op::BooksLentOut => {
                let since = self.since().await?;
                let (_, max) = self.library.books_lent_out(since).await?;
                self.saw(max);
                query
            }
            Op::RegisteredReaders => {
                let since = self.since().await?;
                let (_, max) = self.library.registered_readers(since).await?;
                self.saw(max);
                query
            }
        })
    }
}

/// How a command's result reads to the engine.
pub fn command_outcome(r: CommandResult) -> Outcome {
    match r.outcome {
        CommandOutcome::Appended(n) => Outcome::Ok {
            events: n,
            retries: r.retries,
        },
        CommandOutcome::NoOp => Outcome::Ok {
            events: 0,
            retries: r.retries,
        },
        CommandOutcome::Rejected(why) => Outcome::Rejected {
            reason: why.reason().to_string(),
            retries: r.retries,
        },
        CommandOutcome::Conflict => Outcome::Conflict { retries: r.retries },
    }
}

#[async_trait]
impl Worker for LibraryWorker {
    async fn run(&mut self, op: usize) -> Outcome {
        let Some(op) = self.ops.get(op).copied() else {
            return Outcome::Error {
                class: "other".into(),
                message: format!("no operation {op} in this mix"),
            };
        };
        match self.run_op(op).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Error {
                class: e.class(),
                message: error_chain(&e),
            },
        }
    }

    async fn plan_counts(&mut self) -> Option<Result<Vec<SessionPlans>, String>> {
        let mut out = Vec::new();
        for (route, server) in [(Route::Primary, "primary"), (Route::Replica, "replica")] {
            let counts = match self.library.store(route).plan_counts().await {
                Ok(c) => c,
                Err(e) => return Some(Err(error_chain(&e))),
            };
            out.extend(
                counts
                    .into_iter()
                    .map(|(statement, generic, custom)| SessionPlans {
                        server: server.to_string(),
                        statement,
                        generic_plans: generic,
                        custom_plans: custom,
                    }),
            );
        }
        Some(Ok(out))
    }
}

/// The error and its causes on one line: the engine keeps one message.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_mixes() {
        let cases = [
            ("worker-pool-2025", 1_000, 100, vec![10.0, 10.0, 40.0, 40.0]),
            (
                "library-scale",
                60_000,
                14_000,
                vec![42.0, 42.0, 10.0, 3.0, 3.0],
            ),
        ];
        for (name, books, readers, weights) in cases {
            let m = Mix::named(name).unwrap();
            assert_eq!((m.books, m.readers), (books, readers), "{name}");
            let w: Vec<f64> = m.ops.iter().map(|(_, w)| *w).collect();
            assert_eq!(w, weights, "{name}");
            assert_eq!(w.iter().sum::<f64>(), 100.0);
        }
        assert!(Mix::named("nope").is_err());
    }

    #[test]
    fn worker_pool_mix_is_circulation_20_lending_80() {
        let m = Mix::named("worker-pool-2025").unwrap();
        let share = |ops: &[Op]| -> f64 {
            m.ops
                .iter()
                .filter(|(o, _)| ops.contains(o))
                .map(|(_, w)| w)
                .sum()
        };
        assert_eq!(share(&[Op::AddBookCopy, Op::RemoveBookCopy]), 20.0);
        assert_eq!(
            share(&[Op::LendBookCopyToReader, Op::ReturnBookCopyFromReader]),
            80.0
        );
    }

    #[test]
    fn mixes_from_the_command_line() {
        let m = Mix::parse("lend=3, return=1", None, None).unwrap();
        assert_eq!(
            m.ops,
            vec![
                (Op::LendBookCopyToReader, 3.0),
                (Op::ReturnBookCopyFromReader, 1.0)
            ]
        );
        assert_eq!((m.books, m.readers), (1_000, 100));
        let m = Mix::parse("BooksLentByReader=1,add=0.5", Some(7), Some(3)).unwrap();
        assert_eq!(
            m.ops,
            vec![(Op::BooksLentByReader, 1.0), (Op::AddBookCopy, 0.5)]
        );
        assert_eq!((m.books, m.readers), (7, 3));
        let m = Mix::parse("library-scale", None, Some(50)).unwrap();
        assert_eq!((m.books, m.readers), (60_000, 50));
        let bad = [
            ("lend", "unknown mix"),
            ("lend=x", "not a number"),
            ("lend=-1", "0 or more"),
            ("lend=inf", "0 or more"),
            ("borrow=1", "no operation `borrow`"),
            ("lend=1,lend=2", "weighted twice"),
            ("lend=0", "add up to 0"),
            ("lend=1,oops", "OPERATION=WEIGHT"),
        ];
        for (spec, want) in bad {
            let e = Mix::parse(spec, None, None).unwrap_err().to_string();
            assert!(e.contains(want), "{spec}: {e}");
        }
        let e = Mix::parse("lend=1", Some(0), None).unwrap_err().to_string();
        assert!(e.contains("--books"), "{e}");
    }

    #[test]
    fn op_names_round_trip() {
        for op in Op::ALL {
            assert_eq!(Op::from_name(op.name()), Some(op));
            assert_eq!(Op::from_name(op.short()), Some(op));
        }
    }

    #[test]
    fn command_results_map_to_outcomes() {
        use super::super::rules::Rejection;
        let r = |outcome, retries| CommandResult { outcome, retries };
        let cases = [
            (
                r(CommandOutcome::Appended(1), 2),
                Outcome::Ok {
                    events: 1,
                    retries: 2,
                },
            ),
            (
                r(CommandOutcome::NoOp, 0),
                Outcome::Ok {
                    events: 0,
                    retries: 0,
                },
            ),
            (
                r(CommandOutcome::Rejected(Rejection::ReaderAtLimit), 1),
                Outcome::Rejected {
                    reason: Rejection::ReaderAtLimit.reason().into(),
                    retries: 1,
                },
            ),
            (
                r(CommandOutcome::Conflict, 5),
                Outcome::Conflict { retries: 5 },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(command_outcome(input), want);
        }
    }
}
