//! The load engine against a fake workload of known duration: no database,
//! so figures can be predicted and asserted. Tolerances are generous where
//! they depend on this (shared, 2-core) machine's scheduling, exact where
//! the schedule alone decides.

use async_trait::async_trait;
use estune::bench::{
    parse_rates, run, sweep, Arrivals, BenchError, BenchOptions, MixEntry, Outcome, RunHooks,
    RunResult, StopToken, SweepCriteria, Worker, WorkerFactory,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every op sleeps `op_time`; the op numbered `slow_call` (counting all
/// workers' calls from 0) sleeps `slow_time` instead.
struct Fake {
    mix: Vec<MixEntry>,
    op_time: Duration,
    slow_call: Option<usize>,
    slow_time: Duration,
    calls: Arc<AtomicUsize>,
    opened: Arc<AtomicUsize>,
    fail_open: bool,
    open_delay: Duration,
    /// This call loses its worker's connection: it and every later call
    /// on that worker fail as a closed client would.
    lost_call: Option<usize>,
}

impl Fake {
    fn new(op_ms: u64) -> Fake {
        Fake {
            mix: vec![
                MixEntry {
                    op: "lend".into(),
                    weight: 80.0,
                },
                MixEntry {
                    op: "query".into(),
                    weight: 20.0,
                },
            ],
            op_time: Duration::from_millis(op_ms),
            slow_call: None,
            slow_time: Duration::ZERO,
            calls: Arc::default(),
            opened: Arc::default(),
            fail_open: false,
            open_delay: Duration::ZERO,
            lost_call: None,
        }
    }

    fn slow(mut self, call: usize, ms: u64) -> Fake {
        self.slow_call = Some(call);
        self.slow_time = Duration::from_millis(ms);
        self
    }
}

struct FakeWorker {
    op_time: Duration,
    slow_call: Option<usize>,
    slow_time: Duration,
    calls: Arc<AtomicUsize>,
    lost_call: Option<usize>,
    lost: bool,
}

#[async_trait]
impl Worker for FakeWorker {
    async fn run(&mut self, _op: usize) -> Outcome {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.lost || Some(n) == self.lost_call {
            self.lost = true;
            return Outcome::Error {
                class: "connection".into(),
                message: "connection closed".into(),
            };
        }
        let t = if Some(n) == self.slow_call {
            self.slow_time
        } else {
            self.op_time
        };
        tokio::time::sleep(t).await;
        Outcome::Ok {
            events: 1,
            retries: 0,
        }
    }
}

#[async_trait]
impl WorkerFactory for Fake {
    type Worker = FakeWorker;
    fn mix(&self) -> &[MixEntry] {
        &self.mix
    }
    async fn worker(&self, id: usize) -> anyhow::Result<FakeWorker> {
        tokio::time::sleep(self.open_delay).await;
        if self.fail_open {
            anyhow::bail!("connect to 127.0.0.1:1 (worker {id}): connection refused");
        }
        self.opened.fetch_add(1, Ordering::SeqCst);
        Ok(FakeWorker {
            op_time: self.op_time,
            slow_call: self.slow_call,
            slow_time: self.slow_time,
            calls: self.calls.clone(),
            lost_call: self.lost_call,
            lost: false,
        })
    }
}

fn opts(rate: f64, secs: f64, workers: usize, queue: usize) -> BenchOptions {
    BenchOptions {
        rate,
        duration: Duration::from_secs_f64(secs),
        workers,
        queue,
        ..BenchOptions::default()
    }
}

async fn go(f: Fake, o: &BenchOptions) -> RunResult {
    run(Arc::new(f), o, RunHooks::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_achieves_target_rate() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let hooks = RunHooks {
        progress: Some(tx),
        ..RunHooks::default()
    };
    let r = run(Arc::new(Fake::new(2)), &opts(200.0, 5.0, 8, 100), hooks)
        .await
        .unwrap();
    // A snapshot a second for the progress bar, with the live rate.
    let mut snaps = Vec::new();
    while let Ok(p) = rx.try_recv() {
        snaps.push(p);
    }
    assert!((4..=6).contains(&snaps.len()), "{snaps:?}");
    assert!(snaps
        .iter()
        .all(|p| p.mode == "open-loop" && p.total_s == 5));
    assert!((150.0..=250.0).contains(&snaps[1].rate), "{snaps:?}");
    let t = &r.summary.total;
    assert_eq!(r.summary.scheduled, 1000);
    assert_eq!(t.count, 1000);
    assert_eq!(t.dropped, 0);
    assert!(
        (t.achieved_rate - 200.0).abs() <= 2.0,
        "{}",
        t.achieved_rate
    );
    assert!(!r.summary.interrupted);
    assert_eq!(r.metadata.mode, "open-loop");
    // The mix is honoured (80/20, seeded).
    let lend = r.summary.ops[0].count as f64 / 1000.0;
    assert!((0.74..0.86).contains(&lend), "lend share {lend}");
    // One row per second of the run, each about 200 ops.
    assert_eq!(r.series.len(), 5);
    for row in &r.series {
        assert_eq!(row.completed, 200, "second {}", row.t);
        assert_eq!(row.ops.len(), 2);
    }
    assert!(t.latency_us.service.p50 >= 2_000, "{:?}", t.latency_us);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_drops_and_lates_are_counted() {
    // One worker doing 50 ms ops can serve 20/s; 100/s arrive for 2 s into
    // a queue of 5. The worker starts about 2 s / 50 ms = 40 ops while the
    // schedule runs, then drains the 5 still queued: ~45 run, the rest of
    // the 200 scheduled drop, and all but the first start late.
    let r = go(Fake::new(50), &opts(100.0, 2.0, 1, 5)).await;
    let t = &r.summary.total;
    assert_eq!(r.summary.scheduled, 200);
    assert_eq!(t.count + t.dropped, 200, "every op ran or dropped");
    assert!((38..=47).contains(&t.count), "ran {}", t.count);
    assert!((153..=162).contains(&t.dropped), "dropped {}", t.dropped);
    assert!(t.late >= t.count - 2, "late {} of {}", t.late, t.count);
    let series_dropped: u64 = r.series.iter().map(|s| s.dropped).sum();
    let series_late: u64 = r.series.iter().map(|s| s.late).sum();
    assert_eq!(series_dropped, t.dropped);
    assert_eq!(series_late, t.late);
    // The gauges saw the one worker busy and the queue (nearly) full.
    let first = &r.series[0];
    assert_eq!(first.in_flight, 1, "{first:?}");
    assert!(first.queued >= 4, "{first:?}");
    // Queueing shows in intended-start latency, not in service time.
    assert!(t.latency_us.intended.p50 > 100_000, "{:?}", t.latency_us);
    assert!(t.latency_us.service.p99 < 100_000, "{:?}", t.latency_us);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_shows_in_intended_p99_not_service_p99() {
    // 300 ops of 5 ms at 100/s on one worker; op 50 stalls 200 ms, so ~20
    // ops queue behind it (≈7 % of ops, above the 1 % of p99) while only
    // one op (0.3 %) has a long service time.
    let r = go(Fake::new(5).slow(50, 200), &opts(100.0, 3.0, 1, 100)).await;
    let l = &r.summary.total.latency_us;
    assert_eq!(r.summary.total.count, 300);
    assert!(l.intended.p99 > 100_000, "{l:?}");
    assert!(l.service.p99 < 60_000, "{l:?}");
    assert!(l.service.max >= 200_000, "{l:?}");
    assert!(l.intended.max >= 200_000, "{l:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warmup_is_excluded() {
    // The stall happens in the warm-up: it must leave no trace.
    let mut o = opts(100.0, 1.0, 1, 100);
    o.warmup = Duration::from_secs(1);
    let r = go(Fake::new(2).slow(10, 300), &o).await;
    let t = &r.summary.total;
    assert_eq!(r.summary.scheduled, 100);
    assert_eq!(t.count, 100);
    assert!(t.latency_us.intended.max < 150_000, "{:?}", t.latency_us);
    assert!(r.series.iter().all(|row| row.t >= 1), "{:?}", r.series);
    assert_eq!(r.metadata.warmup_s, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_is_counted_and_worker_replaced() {
    let f = Fake::new(2).slow(5, 5_000);
    let opened = f.opened.clone();
    let mut o = opts(50.0, 1.0, 2, 100);
    o.timeout = Duration::from_millis(100);
    let started = Instant::now();
    let r = go(f, &o).await;
    let t = &r.summary.total;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(t.errors.timeout, 1);
    assert_eq!(t.errors.total, 1);
    assert_eq!(t.count, 50);
    assert_eq!(r.summary.workers_replaced, 1);
    assert_eq!(opened.load(Ordering::SeqCst), 3);
    assert_eq!(t.error_pct, 2.0);
}

/// A worker whose connection is lost (a switchover, a restart) is
/// replaced, so the next operation connects again: through a multi-host
/// URL, to whichever server holds the role now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_replaces_the_worker() {
    let mut f = Fake::new(2);
    f.lost_call = Some(5);
    let opened = f.opened.clone();
    let r = go(f, &opts(50.0, 1.0, 2, 100)).await;
    let t = &r.summary.total;
    assert_eq!(t.errors.connection, 1, "{:?}", t.errors);
    assert_eq!(t.errors.total, 1);
    assert_eq!(r.summary.workers_replaced, 1);
    assert_eq!(opened.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_mid_run_returns_interrupted_result() {
    let stop = StopToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        s.stop();
    });
    let hooks = RunHooks {
        stop,
        ..RunHooks::default()
    };
    let started = Instant::now();
    let r = run(Arc::new(Fake::new(2)), &opts(100.0, 10.0, 2, 100), hooks)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(r.summary.interrupted);
    assert!(
        (0.9..1.2).contains(&r.summary.measured_s),
        "{}",
        r.summary.measured_s
    );
    let t = &r.summary.total;
    assert!((90..=110).contains(&t.count), "{}", t.count);
    assert_eq!(
        t.count + t.dropped + r.summary.cancelled,
        r.summary.scheduled
    );
    assert!(
        (t.achieved_rate - 100.0).abs() < 10.0,
        "{}",
        t.achieved_rate
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisson_arrivals_average_the_rate() {
    let mut o = opts(200.0, 3.0, 8, 200);
    o.arrivals = Arrivals::Poisson { seed: 11 };
    let r = go(Fake::new(1), &o).await;
    let t = &r.summary.total;
    assert_eq!(t.count, r.summary.scheduled);
    assert!(
        (t.achieved_rate - 200.0).abs() < 200.0 * 0.06,
        "{}",
        t.achieved_rate
    );
    assert_eq!(
        serde_json::to_value(r.metadata.arrivals).unwrap(),
        serde_json::json!({"kind": "poisson", "seed": 11})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_runs_back_to_back_and_says_so() {
    let mut o = opts(1.0, 1.0, 2, 1);
    o.closed_loop = true;
    let r = go(Fake::new(10), &o).await;
    let t = &r.summary.total;
    // 2 workers × ~100 ops of 10 ms; timers make it a little less.
    assert!((100..=205).contains(&t.count), "{}", t.count);
    assert_eq!(t.dropped, 0);
    assert_eq!(t.late, 0);
    assert_eq!(r.metadata.mode, "closed-loop");
    assert_eq!(r.summary.mode, "closed-loop");
}

#[tokio::test]
async fn unreachable_server_fails_before_the_run() {
    let mut f = Fake::new(1);
    f.fail_open = true;
    let started = Instant::now();
    let e = run(Arc::new(f), &opts(100.0, 5.0, 2, 10), RunHooks::default())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(e, BenchError::Worker { id: 0, .. }), "{e}");
    assert!(e.to_string().contains("connection refused"), "{e}");
}

#[tokio::test]
async fn invalid_options_are_refused_before_the_run() {
    let e = run(
        Arc::new(Fake::new(1)),
        &opts(0.0, 5.0, 2, 10),
        RunHooks::default(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("--rate"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_finds_highest_sustainable_rate() {
    // One worker at ~9 ms an op serves ~110/s: 50 and 100 keep up, 300
    // overflows a queue of 5 and drops.
    let rates = parse_rates("50,100,300").unwrap();
    let base = opts(1.0, 1.0, 1, 5);
    let criteria = SweepCriteria {
        slo_p99: Some(Duration::from_millis(100)),
        ..SweepCriteria::default()
    };
    let mut seen = 0;
    let report = sweep(
        Arc::new(Fake::new(8)),
        &base,
        &rates,
        criteria,
        StopToken::new(),
        |_| seen += 1,
    )
    .await
    .unwrap();
    assert_eq!(seen, 3);
    let verdicts: Vec<bool> = report.rows.iter().map(|r| r.sustainable).collect();
    assert_eq!(verdicts, vec![true, true, false], "{:#?}", report.rows);
    assert_eq!(report.highest_sustainable, Some(100.0));
    let over = &report.rows[2];
    assert!(over.backpressure_pct > 30.0, "{over:?}");
    assert!(
        over.reasons.iter().any(|r| r.contains("dropped")),
        "{over:?}"
    );
    assert_eq!(report.rows[0].achieved, 50.0);
    assert!(!report.interrupted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_name_the_mode_and_the_figures() {
    let mut o = opts(1.0, 1.0, 2, 1);
    o.closed_loop = true;
    o.label = Some("before".into());
    let r = go(Fake::new(5), &o).await;
    let text = estune::bench::summary_table(&r);
    assert!(text.starts_with("closed-loop, 1 s measured"), "{text}");
    assert!(text.contains("label before"), "{text}");
    for col in [
        "lend",
        "query",
        "all",
        "p99 ms",
        "service p99 ms",
        "dropped",
    ] {
        assert!(text.contains(col), "{col}: {text}");
    }
    assert!(
        !text.contains("target"),
        "no target rate in closed loop: {text}"
    );

    let report = sweep(
        Arc::new(Fake::new(1)),
        &opts(1.0, 1.0, 2, 10),
        &[50.0],
        SweepCriteria::default(),
        StopToken::new(),
        |_| {},
    )
    .await
    .unwrap();
    let text = estune::bench::sweep_table(&report);
    assert!(
        text.contains("highest sustainable rate: 50 ops/s"),
        "{text}"
    );
    assert!(text.contains("yes"), "{text}");
}

#[tokio::test]
async fn stop_while_opening_workers_ends_at_once() {
    let mut f = Fake::new(1);
    f.open_delay = Duration::from_secs(30);
    let stop = StopToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.stop();
    });
    let hooks = RunHooks {
        stop,
        ..RunHooks::default()
    };
    let started = Instant::now();
    let e = run(Arc::new(f), &opts(100.0, 5.0, 4, 10), hooks)
        .await
        .unwrap_err();
    assert!(matches!(e, BenchError::StoppedBeforeStart), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
