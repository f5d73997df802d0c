#!/usr/bin/env bash
# The main job, end to end on this machine: install what is missing, bring
# up a primary + streaming replica with PostgreSQL's defaults, show the plan
# estune recommends and what it would change, apply it, show the pair, and
# remove it again. Grows with the workload, checks and comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
export ESTUNE_STATE_DIR=${ESTUNE_STATE_DIR:-/tmp/estune-main-job}
cluster=${ESTUNE_CLUSTER:-main-job}
memory=${ESTUNE_MEMORY:-4GiB}
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
step "What applying the recommendation would change" \
  $estune apply --cluster "$cluster" --profile eventstore --memory "$memory" --dry-run
step "Apply it: reload or restart as needed, verify, keep a backup" \
  $estune apply --cluster "$cluster" --profile eventstore --memory "$memory"
step "The pair afterwards" \
  $estune cluster status --cluster "$cluster"
