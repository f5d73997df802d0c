#!/usr/bin/env bash
# What the two append guards cost, from PostgreSQL's own plans (issue 10):
# runs tests/workload_guard_plans.rs on a larger store under each profile
# and prints its figures, one line per profile × boundary × guard × plan:
#   boundary  recent: the lend boundary of the store's last lend;
#             old: the AddBookCopy boundary of the first copy added;
#   guard     MaxEquals (the original's, as-original) or NoneNewerThan
#             (newer-than-read);
#   plan      custom: planned with the values (how estune sends the
#             newer-than-read append, and how the original's SQL with its
#             values written in is planned); generic: a prepared statement's
#             plan once PostgreSQL stops re-planning it (how estune's
#             prepared as-original append runs after five executions when
#             the generic plan looks no dearer);
# then the guard's shared buffers (hit + read), execution and planning time
# of one EXPLAIN ANALYZE, and the indexes it scanned. docs/workload.md
# quotes them. Each profile gets its own pair on the local backend,
# PostgreSQL 15, removed at the end however the test ends.
# Knobs: PROFILES ("stock eventstore des-benchmark"), EVENTS (300000).
set -euo pipefail
cd "$(dirname "$0")/../.."
export ESTUNE_GUARD_PLAN_PROFILES=${PROFILES:-stock eventstore des-benchmark}
export ESTUNE_GUARD_PLAN_EVENTS=${EVENTS:-300000}
cargo test --release --quiet --test workload_guard_plans -- --nocapture 2>&1 |
  grep -E ' events  |test result|panicked'
