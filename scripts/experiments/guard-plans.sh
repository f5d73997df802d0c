#!/usr/bin/env bash
# How the lend command's two statements are planned and what they read:
# the boundary query and the conditional append's MAX(sequence_number)
# guard, PREPAREd as the workers' connections prepare them, over a sample
# of real boundaries (a book and a reader of the store), as a custom plan,
# as a generic plan, and as PostgreSQL picks after five executions (auto).
# Each line: shared buffers per execution (mean, p99, max), milliseconds
# (mean, p99) and the scans used. Settings to try go as arguments, each a
# `name=value` list applied with SET for the session, e.g.
#
#   scripts/experiments/guard-plans.sh "$(estune cluster url primary --superuser --with-password | sed 's#/postgres$#/eventstore#')" \
#       "" "enable_indexscan=off" "random_page_cost=4"
#
# The guard itself is left as the original event store writes it.
set -euo pipefail
url=${1:?give a connection string to the event store database as a superuser}
shift
[ $# -gt 0 ] || set -- ""
samples=${SAMPLES:-150}
for settings in "$@"; do
  sets=""
  IFS=',' read -ra pairs <<< "$settings"
  for kv in "${pairs[@]}"; do [ -n "$kv" ] && sets+="SET ${kv%%=*} = '${kv#*=}';"; done
  echo "== settings: ${settings:-as the server has them}"
  psql "$url" -qAt -v ON_ERROR_STOP=1 -v samples="$samples" <<SQL
$sets
CREATE TEMP TABLE boundary AS
  SELECT b.payload->>'BookID' AS book, r.payload->>'ReaderID' AS reader
    FROM (SELECT payload, row_number() OVER () n FROM (SELECT payload FROM events
           WHERE event_type = 'BookCopyAddedToCirculation' ORDER BY random() LIMIT :samples) s) b
    JOIN (SELECT payload, row_number() OVER () n FROM (SELECT payload FROM events
           WHERE event_type = 'ReaderRegistered' ORDER BY random() LIMIT :samples) s) r USING (n);
CREATE TEMP TABLE measured (statement text, mode text, buffers bigint, ms float8, scans text);
PREPARE guard(text[], jsonb, jsonb) AS SELECT MAX(sequence_number) FROM events
  WHERE (event_type = ANY(\$1) AND (payload @> \$2 OR payload @> \$3));
PREPARE query(text[], jsonb, jsonb) AS SELECT event_type, occurred_at, payload, metadata, sequence_number FROM events
  WHERE (event_type = ANY(\$1) AND (payload @> \$2 OR payload @> \$3)) ORDER BY sequence_number;
DO \$\$
DECLARE
  types text := '{BookCopyAddedToCirculation,BookCopyRemovedFromCirculation,BookCopyLentToReader,BookCopyReturnedByReader,ReaderRegistered,ReaderContractCanceled}';
  mode text; stmt text; b record; plan json; i int;
BEGIN
  FOREACH mode IN ARRAY ARRAY['force_custom_plan', 'force_generic_plan', 'auto'] LOOP
    PERFORM set_config('plan_cache_mode', mode, true);
    FOREACH stmt IN ARRAY ARRAY['guard', 'query'] LOOP
      FOR b IN SELECT * FROM boundary LOOP
        EXECUTE format('EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE %I(%L, %L, %L)', stmt, types,
          json_build_object('BookID', b.book), json_build_object('ReaderID', b.reader)) INTO plan;
        INSERT INTO measured SELECT stmt, mode,
          (plan->0->'Plan'->>'Shared Hit Blocks')::bigint + (plan->0->'Plan'->>'Shared Read Blocks')::bigint,
          (plan->0->>'Execution Time')::float8,
          (SELECT string_agg(DISTINCT m[1], '+') FROM regexp_matches(plan::text, '"Node Type": "([A-Za-z ]*Scan)"', 'g') m);
      END LOOP;
    END LOOP;
  END LOOP;
END \$\$;
SELECT format('%-6s %-19s buffers mean %8s p99 %7s max %7s   ms mean %6s p99 %6s   %s',
              statement, mode, round(avg(buffers)), percentile_disc(0.99) WITHIN GROUP (ORDER BY buffers),
              max(buffers), round(avg(ms)::numeric, 2),
              round((percentile_disc(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 2),
              string_agg(DISTINCT scans, ', '))
  FROM measured GROUP BY statement, mode ORDER BY statement, mode;
SQL
done
