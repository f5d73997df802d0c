//! Runs a load: one ticker schedules operations at their intended times
//! into a bounded queue, a fixed pool of workers takes them, one
//! aggregator collects what happened. A full queue drops the operation
//! (counted) rather than slowing the schedule: the server sets the pace of
//! the workers, never of the arrivals.

use super::aggregate::{Aggregator, Event, Kind, OpRecord, Progress};
use super::result::{Host, Metadata, RunResult, Summary, SCHEMA};
use super::sampler::ServerSampler;
use super::schedule::{MixChooser, OpenLoopSchedule};
use super::statements::{self, StatementProbe};
use super::{BenchError, BenchOptions, Outcome, Worker, WorkerFactory};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Mutex};
use tokio::time::{sleep_until, timeout, Instant};

/// Asks a run to stop, like a cancellation token: the first `stop()` ends
/// scheduling; operations in flight finish (up to the timeout) and the run
/// still returns its result, marked interrupted.
#[derive(Clone)]
pub struct StopToken {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for StopToken {
    fn default() -> Self {
        StopToken {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl StopToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stop(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_stopped(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once `stop()` has been called (at once if it already was).
    pub async fn stopped(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in self, so wait_for cannot fail.
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// What a run may be given besides its options.
#[derive(Default)]
pub struct RunHooks {
    pub sampler: Option<ServerSampler>,
    /// Snapshots of the servers' statements when the measured window
    /// opens and when it closes; the result's `statements` is null
    /// without one.
    pub statements: Option<StatementProbe>,
    pub stop: StopToken,
    /// Receives a snapshot once a second (for a progress bar).
    pub progress: Option<mpsc::UnboundedSender<Progress>>,
    /// Copied into `metadata.extra`.
    pub extra: serde_json::Value,
}

struct Item {
    op: usize,
    intended: Duration,
}

#[derive(Default)]
struct Gauges {
    in_flight: AtomicU64,
    queued: AtomicU64,
}

/// Everything a worker task shares with the others.
struct Shared<F> {
    factory: Arc<F>,
    start: Instant,
    timeout: Duration,
    stop: StopToken,
    events: mpsc::UnboundedSender<Event>,
    gauges: Gauges,
}

pub async fn run<F: WorkerFactory + 'static>(
    factory: Arc<F>,
    options: &BenchOptions,
    hooks: RunHooks,
) -> Result<RunResult, BenchError> {
    options.validate()?;
    let mix = factory.mix().to_vec();
    MixChooser::new(&mix, options.seed)?;
    // Open every worker first: an unreachable server fails here, clearly,
    // not as a run full of connection errors.
    let workers = tokio::select! {
        w = open_workers(&*factory, options.workers) => w?,
        _ = hooks.stop.stopped() => return Err(BenchError::StoppedBeforeStart),
    };
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let start = Instant::now();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        factory,
        start,
        timeout: options.timeout,
        stop: hooks.stop.clone(),
        events: ev_tx,
        gauges: Gauges::default(),
    });
    let names: Vec<String> = mix.iter().map(|e| e.op.clone()).collect();
    let aggregator = Aggregator::new(names, options.mode(), options.warmup, options.total());
    let run_over = StopToken::new();
    let agg_task = tokio::spawn(collect(
        aggregator,
        ev_rx,
        shared.clone(),
        run_over.clone(),
        hooks.progress,
    ));
    // The client's CPU clock when the measured window opens.
    let window_cpu = {
        let over = run_over.clone();
        let at = start + options.warmup;
        tokio::spawn(async move {
            tokio::select! {
                _ = sleep_until(at) => super::usage::cpu_time(),
                _ = over.stopped() => None,
            }
        })
    };
    let sampler_task = hooks
        .sampler
        .map(|s| tokio::spawn(s.run_until(start, run_over.clone())));
    // The statements' first snapshot when the window opens; a run stopped
    // before then gives the probe back unopened.
    let window_task = hooks.statements.map(|probe| {
        let over = shared.stop.clone();
        let at = start + options.warmup;
        tokio::spawn(async move {
            tokio::select! {
                biased;
                _ = over.stopped() => Err(probe),
                _ = sleep_until(at) => Ok(probe.open().await),
            }
        })
    });

    let (queue_tx, queue_rx) = mpsc::channel::<Item>(options.queue);
    let queue_rx = Arc::new(Mutex::new(queue_rx));
    let mut handles = Vec::new();
    for (id, w) in workers.into_iter().enumerate() {
        let s = shared.clone();
        let h = if options.closed_loop {
            let chooser = MixChooser::new(&mix, options.seed.wrapping_add(id as u64))?;
            tokio::spawn(closed_loop_worker(s, id, w, chooser, options.total()))
        } else {
            tokio::spawn(open_loop_worker(s, id, w, queue_rx.clone()))
        };
        handles.push(h);
    }
    let ticker = if options.closed_loop {
        drop(queue_tx);
        closed_loop_clock(&shared, options.total()).await
    } else {
        let chooser = MixChooser::new(&mix, options.seed)?;
        tick(&shared, options, chooser, queue_tx).await
    };
    let mut left = Vec::new();
    for h in handles {
        // A panicking worker breaks the Worker contract; its slot is lost
        // but the run still reports what it measured.
        if let Ok(Some(w)) = h.await {
            left.push(w);
        }
    }
    let cancelled = count_cancelled(&queue_rx, options.warmup).await;
    let cpu_at_end = super::usage::cpu_time();
    let statements = match window_task {
        Some(t) => Some(close_window(t).await),
        None => None,
    };
    run_over.stop();
    let window_cpu = window_cpu.await.ok().flatten();
    let interrupted = shared.stop.is_stopped();
    drop(shared);
    let aggregator = agg_task.await.expect("aggregator task panicked");
    let server_samples = match sampler_task {
        Some(t) => t.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let measured = match ticker.stopped_at {
        Some(at) => at.saturating_sub(options.warmup).min(options.duration),
        None => options.duration,
    };
    let (ops, total) = aggregator.summaries(measured.as_secs_f64());
    let client = match (window_cpu, cpu_at_end) {
        (Some(from), Some(to)) => super::usage::window(from, to, total.count),
        _ => None,
    };
    let summary = Summary {
        client,
        mode: options.mode().to_string(),
        interrupted,
        measured_s: measured.as_secs_f64(),
        scheduled: ticker.scheduled,
        cancelled,
        workers_replaced: aggregator.replaced(),
        acknowledged_events: aggregator.acknowledged_events(),
        total,
        ops,
    };
    let statements = match statements {
        // After the end snapshot, so these queries are not in it.
        Some(s) => Some(statements::with_plan_counts(s, left).await),
        None => None,
    };
    Ok(RunResult {
        schema: SCHEMA.to_string(),
        metadata: metadata(options, mix, started_at, hooks.extra),
        summary,
        series: aggregator.into_series(),
        server_samples,
        statements,
        verification: None,
    })
}

/// The window's statements: the second snapshot when the first was
/// taken, else why there are none.
async fn close_window(
    t: tokio::task::JoinHandle<Result<statements::OpenWindow, StatementProbe>>,
) -> statements::Statements {
    match t.await {
        Ok(Ok(open)) => open.close().await,
        Ok(Err(probe)) => probe.not_opened("the run stopped before its measured window began"),
        Err(_) => statements::Statements {
            top_n: statements::TOP_N,
            ..Default::default()
        },
    }
}

/// Connection setup (SCRAM especially) costs CPU and round trips: a few
/// at a time, in pool order, so a pool of hundreds opens in seconds.
const OPEN_AT_ONCE: usize = 8;

async fn open_workers<F: WorkerFactory>(
    factory: &F,
    n: usize,
) -> Result<Vec<F::Worker>, BenchError> {
    use futures_util::{StreamExt, TryStreamExt};
    futures_util::stream::iter(0..n)
        .map(|id| async move {
            factory
                .worker(id)
                .await
                .map_err(|source| BenchError::Worker { id, source })
        })
        .buffered(OPEN_AT_ONCE)
        .try_collect()
        .await
}

fn metadata(
    o: &BenchOptions,
    mix: Vec<super::MixEntry>,
    started_at: String,
    extra: serde_json::Value,
) -> Metadata {
    Metadata {
        estune_version: env!("CARGO_PKG_VERSION").to_string(),
        label: o.label.clone(),
        started_at,
        mode: o.mode().to_string(),
        arrivals: o.arrivals,
        rate: o.rate,
        duration_s: o.duration.as_secs_f64(),
        warmup_s: o.warmup.as_secs_f64(),
        workers: o.workers,
        queue: o.queue,
        timeout_ms: o.timeout.as_secs_f64() * 1000.0,
        late_tolerance_ms: super::LATE_TOLERANCE.as_secs_f64() * 1000.0,
        seed: o.seed,
        mix,
        host: Host::detect(),
        target: None,
        extra,
    }
}

struct TickerEnd {
    /// Operations whose intended start fell in the measured window.
    scheduled: u64,
    /// When a stop request ended the schedule early.
    stopped_at: Option<Duration>,
}

/// The one task that decides when operations start.
async fn tick<F>(
    shared: &Shared<F>,
    o: &BenchOptions,
    mut chooser: MixChooser,
    queue: mpsc::Sender<Item>,
) -> TickerEnd {
    let total = o.total();
    let mut end = TickerEnd {
        scheduled: 0,
        stopped_at: None,
    };
    for intended in OpenLoopSchedule::new(o.rate, o.arrivals) {
        if intended >= total {
            break;
        }
        let at = shared.start + intended;
        if at > Instant::now() {
            tokio::select! {
                biased;
                _ = shared.stop.stopped() => {}
                _ = sleep_until(at) => {}
            }
        }
        if shared.stop.is_stopped() {
            end.stopped_at = Some(shared.start.elapsed());
            break;
        }
        let op = chooser.choose();
        end.scheduled += (intended >= o.warmup) as u64;
        // Count before sending so a worker's decrement never comes first.
        shared.gauges.queued.fetch_add(1, Ordering::Relaxed);
        if queue.try_send(Item { op, intended }).is_err() {
            shared.gauges.queued.fetch_sub(1, Ordering::Relaxed);
            let _ = shared.events.send(Event::Dropped { op, intended });
        }
    }
    end
}

async fn closed_loop_clock<F>(shared: &Shared<F>, total: Duration) -> TickerEnd {
    tokio::select! {
        _ = shared.stop.stopped() => TickerEnd {
            scheduled: 0,
            stopped_at: Some(shared.start.elapsed()),
        },
        _ = sleep_until(shared.start + total) => TickerEnd { scheduled: 0, stopped_at: None },
    }
}

async fn open_loop_worker<F: WorkerFactory>(
    s: Arc<Shared<F>>,
    id: usize,
    worker: F::Worker,
    queue: Arc<Mutex<mpsc::Receiver<Item>>>,
) -> Option<F::Worker> {
    let mut worker = Some(worker);
    loop {
        let item = {
            let mut rx = queue.lock().await;
            tokio::select! {
                biased;
                _ = s.stop.stopped() => None,
                item = rx.recv() => item,
            }
        };
        let Some(item) = item else { break };
        s.gauges.queued.fetch_sub(1, Ordering::Relaxed);
        run_one(&s, id, &mut worker, item.op, item.intended).await;
    }
    worker
}

async fn closed_loop_worker<F: WorkerFactory>(
    s: Arc<Shared<F>>,
    id: usize,
    worker: F::Worker,
    mut chooser: MixChooser,
    total: Duration,
) -> Option<F::Worker> {
    let mut worker = Some(worker);
    while !s.stop.is_stopped() && s.start.elapsed() < total {
        let op = chooser.choose();
        let intended = s.start.elapsed();
        if !run_one(&s, id, &mut worker, op, intended).await {
            // No worker could be opened: do not spin on a dead server.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    worker
}

/// Runs one op and reports it; false when no worker could be opened.
async fn run_one<F: WorkerFactory>(
    s: &Shared<F>,
    id: usize,
    slot: &mut Option<F::Worker>,
    op: usize,
    intended: Duration,
) -> bool {
    if slot.is_none() {
        *slot = reopen(s, id).await;
    }
    s.gauges.in_flight.fetch_add(1, Ordering::Relaxed);
    let start = s.start.elapsed();
    let (kind, appended, opened) = match slot.as_mut() {
        Some(w) => match timeout(s.timeout, w.run(op)).await {
            Ok(outcome) => {
                if outcome.lost_connection() {
                    // A closed connection stays closed: a fresh worker
                    // connects again, through a multi-host URL to
                    // whichever server holds the role now.
                    *slot = None;
                }
                (Kind::from(&outcome), outcome.acknowledged_events(), true)
            }
            Err(_) => {
                // The connection may still be busy with the abandoned
                // statement; a fresh worker is the only known state.
                *slot = None;
                (Kind::from(&Outcome::Timeout), 0, true)
            }
        },
        None => (Kind::Error("connection".into()), 0, false),
    };
    let end = s.start.elapsed();
    s.gauges.in_flight.fetch_sub(1, Ordering::Relaxed);
    let _ = s.events.send(Event::Done(OpRecord {
        op,
        intended,
        start,
        end,
        kind,
        appended,
    }));
    if opened && slot.is_none() {
        *slot = reopen(s, id).await;
    }
    opened
}

async fn reopen<F: WorkerFactory>(s: &Shared<F>, id: usize) -> Option<F::Worker> {
    let limit = s.timeout.max(Duration::from_secs(5));
    match timeout(limit, s.factory.worker(id)).await {
        Ok(Ok(w)) => {
            let _ = s.events.send(Event::Replaced);
            Some(w)
        }
        _ => None,
    }
}

/// Items left in the queue after a stop: scheduled, never started.
async fn count_cancelled(queue: &Mutex<mpsc::Receiver<Item>>, warmup: Duration) -> u64 {
    let mut rx = queue.lock().await;
    let mut n = 0;
    while let Ok(item) = rx.try_recv() {
        n += (item.intended >= warmup) as u64;
    }
    n
}

async fn collect<F>(
    mut agg: Aggregator,
    mut events: mpsc::UnboundedReceiver<Event>,
    shared: Arc<Shared<F>>,
    run_over: StopToken,
    progress: Option<mpsc::UnboundedSender<Progress>>,
) -> Aggregator {
    let start = shared.start;
    // A weak reference only: the channel must close once the workers and
    // the ticker are done, and `shared` holds its sender.
    let gauges = Arc::downgrade(&shared);
    drop(shared);
    let mut second =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => agg.handle(ev),
                None => break,
            },
            _ = second.tick(), if !run_over.is_stopped() => {
                let (in_flight, queued) = match gauges.upgrade() {
                    Some(s) => (
                        s.gauges.in_flight.load(Ordering::Relaxed),
                        s.gauges.queued.load(Ordering::Relaxed),
                    ),
                    None => (0, 0),
                };
                let p = agg.tick(start.elapsed(), in_flight, queued);
                if let Some(tx) = &progress {
                    let _ = tx.send(p);
                }
            }
        }
    }
    agg
}
