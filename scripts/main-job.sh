#!/usr/bin/env bash
# The main job, end to end on this machine: install what is missing, bring
# up a primary + streaming replica with PostgreSQL's defaults, seed the event
# store, measure the workload at the original's target of 300 ops/s with its
# pool of 50 workers and 100 queue slots (before), look at the pair's health,
# apply estune's recommendation, measure again (after), check the result
# against the original's success criteria with the first run as baseline,
# show the pair, and remove it. The results are kept in $ESTUNE_OUT (default
# ./main-job-results).
set -euo pipefail
cd "$(dirname "$0")/.."
export ESTUNE_STATE_DIR=${ESTUNE_STATE_DIR:-/tmp/estune-main-job}
cluster=${ESTUNE_CLUSTER:-main-job}
memory=${ESTUNE_MEMORY:-4GiB}
rate=${ESTUNE_RATE:-300}
duration=${ESTUNE_DURATION:-30s}
events=${ESTUNE_EVENTS:-1000000}
out=${ESTUNE_OUT:-$PWD/main-job-results}
mkdir -p "$out"
mkdir -p "$ESTUNE_STATE_DIR" && chmod 755 "$ESTUNE_STATE_DIR"

bash scripts/install-deps.sh
cargo build --release --quiet
estune=./target/release/estune
trap '$estune cluster down --cluster "$cluster" --purge' EXIT

step() { printf '\n### %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }
step "The recommended settings for both roles, each with its reason" \
  $estune render --profile eventstore --memory "$memory" --cpus 2 --pg-version 15 --explain
step "A primary + streaming replica with PostgreSQL's defaults" \
  $estune cluster up --cluster "$cluster" --profile stock --pg-version 15 --memory "$memory"
step "A consistent history: $events events of 60,000 books and 14,000 readers" \
  $estune seed --cluster "$cluster" --events "$events" --books 60000 --readers 14000
step "Before: the library-scale mix at $rate ops/s, open loop" \
  $estune bench --cluster "$cluster" --mix library-scale --rate "$rate" --duration "$duration" --warmup 5s --workers 50 --queue 100 --label before --out "$out/before.json"
# Exit codes follow Nagios (1 warning, 2 critical): findings, not failures.
step "The pair's health after that load" \
  $estune health --cluster "$cluster" \
  || echo "(exit $?: the findings above need a look)"
step "What applying the recommendation would change" \
  $estune apply --cluster "$cluster" --profile eventstore --memory "$memory" --dry-run
step "Apply it: reload or restart as needed, verify, keep a backup" \
  $estune apply --cluster "$cluster" --profile eventstore --memory "$memory"
step "After: the same run on the tuned pair" \
  $estune bench --cluster "$cluster" --mix library-scale --rate "$rate" --duration "$duration" --warmup 5s --workers 50 --queue 100 --label after --out "$out/after.json"
# A criterion that fails is a finding of the job, not an error of it.
step "The original's success criteria, with the first run as the baseline" \
  $estune check --criteria checks/des-targets.toml "$out/after.json" --baseline "$out/before.json" \
  || echo "(exit $?: not every criterion is met; the table says which and by how much)"
step "The pair afterwards" \
  $estune cluster status --cluster "$cluster"
