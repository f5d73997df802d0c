#!/usr/bin/env bash
# The load engine's own benchmark (issue 4): not a test, it prints figures.
#   1. seed rate: `estune seed` of $EVENTS events (COPY, then index builds
#      and ANALYZE), events/s as estune reports it;
#   2. closed-loop throughput of `estune bench --mix lend=1` against pgbench
#      running the same two statements (scripts/bench/lend.pgbench) with the
#      same client count on the same pair, in the order estune, pgbench,
#      pgbench, estune so a store that grows (and slows) during the
#      benchmark weighs on both equally. Ratio target >= 0.95;
#   3. client CPU seconds per 1,000 operations, estune (its measured window,
#      from getrusage) vs pgbench (the whole process, from /usr/bin/time).
#      Target <= 1.2x;
#   4. estune's resident memory after an open-loop run of $RSS_DURATION at
#      100 ops/s (target < 100 MB).
# Knobs: CLIENTS (8), DURATION (20s), EVENTS (100000), RSS_DURATION (5min),
# ESTUNE_STATE_DIR. Runs on the local backend on 127.0.0.1 and removes the
# pair at the end, however it ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
clients=${CLIENTS:-8}
duration=${DURATION:-20s}
events=${EVENTS:-100000}
rss_duration=${RSS_DURATION:-5min}
export ESTUNE_STATE_DIR=${ESTUNE_STATE_DIR:-/tmp/estune-bench-state}
cluster=bench-vs-pgbench
work=$(mktemp -d /tmp/estune-bench.XXXXXX)
mkdir -p "$ESTUNE_STATE_DIR" && chmod 755 "$ESTUNE_STATE_DIR"

cargo build --release --quiet
estune=$PWD/target/release/estune
pgbench=$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)
cleanup() { $estune cluster down --cluster "$cluster" --purge >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== a tuned pair (eventstore profile, 4 GiB, PostgreSQL 15)"
$estune cluster up --cluster "$cluster" --profile eventstore --pg-version 15 --memory 4GiB >/dev/null
admin=$($estune cluster url primary --cluster "$cluster" --superuser --with-password)
app=$($estune cluster url primary --cluster "$cluster" --with-password)
appdb=${app##*/}
# pgbench builds the UUIDv5 IDs server-side (it has no string variables).
psql "${admin%/*}/$appdb" -qXc 'CREATE EXTENSION IF NOT EXISTS "uuid-ossp"' >/dev/null

echo "== seed"
$estune seed --cluster "$cluster" --events "$events" --books 1000 --readers 100 | tee "$work/seed.txt"

types='{BookCopyAddedToCirculation,BookCopyRemovedFromCirculation,BookCopyLentToReader,BookCopyReturnedByReader,ReaderRegistered,ReaderContractCanceled}'
secs=${duration%s}
run_estune() {
  $estune bench --cluster "$cluster" --closed-loop --workers "$clients" --duration "$duration" \
    --warmup 3s --mix lend=1 --books 1000 --readers 100 --out "$work/estune-$1.json" >/dev/null
  python3 - "$work/estune-$1.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(f'{s["total"]["achieved_rate"]:.1f} {s["client"]["cpu_s"]:.3f} {s["total"]["count"]}')
PY
}
run_pgbench() {
  # A short warm-up of its own, as estune has, then the measured run.
  $pgbench -n -M prepared -c "$clients" -j 2 -T 3 -D books=1000 -D readers=100 -D "types=$types" \
    -f scripts/bench/lend.pgbench "$app" >/dev/null 2>&1
  /usr/bin/time -f '%U %S' -o "$work/pgbench-time" \
    $pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" -D books=1000 -D readers=100 -D "types=$types" \
    -f scripts/bench/lend.pgbench "$app" >"$work/pgbench-$1.txt" 2>&1 || { cat "$work/pgbench-$1.txt" >&2; exit 1; }
  python3 - "$work/pgbench-$1.txt" "$work/pgbench-time" <<'PY'
import re, sys
out = open(sys.argv[1]).read()
tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
n = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
u, s = map(float, open(sys.argv[2]).read().split()[-2:])
print(f"{tps:.1f} {u + s:.3f} {n}")
PY
}

echo "== closed loop, $clients clients, $duration each, order estune pgbench pgbench estune"
e1=$(run_estune 1); echo "estune  $e1"
p1=$(run_pgbench 1); echo "pgbench $p1"
p2=$(run_pgbench 2); echo "pgbench $p2"
e2=$(run_estune 2); echo "estune  $e2"

echo "== estune memory after $rss_duration at 100 ops/s (open loop, worker-pool-2025, 16 workers)"
$estune bench --cluster "$cluster" --rate 100 --duration "$rss_duration" --warmup 5s --workers 16 \
  --out "$work/rss.json" >/dev/null

python3 - "$e1" "$e2" "$p1" "$p2" "$work/rss.json" "$work/seed.txt" "$clients" <<'PY'
import json, re, sys
e = [list(map(float, a.split())) for a in sys.argv[1:3]]
p = [list(map(float, a.split())) for a in sys.argv[3:5]]
rss = json.load(open(sys.argv[5]))["summary"]
seed = open(sys.argv[6]).read()
mean = lambda xs: sum(xs) / len(xs)
e_tps, p_tps = mean([x[0] for x in e]), mean([x[0] for x in p])
e_cpu = sum(x[1] for x in e) / sum(x[2] for x in e) * 1000
p_cpu = sum(x[1] for x in p) / sum(x[2] for x in p) * 1000
m = re.search(r"in ([0-9.]+)s: ([0-9]+) events/s \(COPY ([0-9.]+)s", seed)
n = int(re.search(r"seeded (\d+) events", seed).group(1))
print()
print("| figure | estune | pgbench | ratio | target |")
print("|---|---|---|---|---|")
print(f"| seed, whole (COPY + indexes + ANALYZE) | {int(m.group(2)):,} events/s | | | >= 100,000 |")
print(f"| seed, COPY alone | {n / float(m.group(3)):,.0f} events/s | | | |")
print(f"| closed-loop throughput, {sys.argv[7]} clients | {e_tps:.1f} ops/s | {p_tps:.1f} tps | {e_tps / p_tps:.2f} | >= 0.95 |")
print(f"| client CPU per 1,000 ops | {e_cpu:.3f} s | {p_cpu:.3f} s | {e_cpu / p_cpu:.2f} | <= 1.2 |")
c = rss["client"]
print(f"| RSS after {rss['measured_s']:.0f} s at 100 ops/s | {c['rss_bytes'] / 2**20:.1f} MiB (peak {c['peak_rss_bytes'] / 2**20:.1f}) | | | < 100 MB |")
PY
