//! The event store's schema, exactly WORKLOAD.md's (names included, so
//! tuning advice about `idx_events_payload_gin` applies as written).
//! Idempotent: every statement is IF NOT EXISTS.

use super::store::db;
use super::WorkloadError;
use tokio_postgres::Client;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS events (
  sequence_number BIGSERIAL PRIMARY KEY,
  occurred_at     TIMESTAMPTZ NOT NULL,
  event_type      TEXT NOT NULL,
  payload         JSONB NOT NULL,
  metadata        JSONB DEFAULT '{}'::JSONB);
CREATE TABLE IF NOT EXISTS snapshots (
  projection_type TEXT NOT NULL,
  filter_hash     TEXT NOT NULL,
  sequence_number BIGINT NOT NULL,
  snapshot_data   JSONB NOT NULL,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (projection_type, filter_hash));
CREATE INDEX IF NOT EXISTS idx_snapshots_sequence   ON snapshots (sequence_number DESC);
CREATE INDEX IF NOT EXISTS idx_snapshots_created_at ON snapshots (created_at DESC);
";

/// The secondary indexes of `events`: what seeding builds after COPY.
pub const EVENT_INDEXES: [(&str, &str); 4] = [
    ("idx_events_event_type", "events (event_type)"),
    ("idx_events_occurred_at", "events (occurred_at)"),
    (
        "idx_events_payload_gin",
        "events USING gin (payload jsonb_path_ops)",
    ),
    (
        "idx_events_metadata_gin",
        "events USING gin (metadata jsonb_path_ops)",
    ),
];

pub async fn install_schema(client: &Client) -> Result<(), WorkloadError> {
    create_tables(client).await?;
    create_event_indexes(client).await
}

/// What [`install_statement_stats`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementStats {
    /// The server does not load the library: nothing to create.
    NotPreloaded,
    /// Already in the database.
    Present,
    Created,
}

/// Creates `pg_stat_statements` in the connection's database when the
/// server loads its library (the profiles that preload it expect the
/// view to be there). Idempotent. Needs a superuser: the extension is not
/// trusted.
pub async fn install_statement_stats(admin: &Client) -> Result<StatementStats, WorkloadError> {
    let row = admin
        .query_one(
            "SELECT current_setting($1), EXISTS (SELECT 1 FROM pg_extension WHERE extname = $2)",
            &[&"shared_preload_libraries", &"pg_stat_statements"],
        )
        .await
        .map_err(db("reading shared_preload_libraries"))?;
    let (preload, present): (String, bool) = (row.get(0), row.get(1));
    if !crate::bench::statements::preloads(&preload, "pg_stat_statements") {
        return Ok(StatementStats::NotPreloaded);
    }
    if present {
        return Ok(StatementStats::Present);
    }
    admin
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .map_err(db("creating the extension pg_stat_statements"))?;
    Ok(StatementStats::Created)
}

pub(crate) async fn create_tables(client: &Client) -> Result<(), WorkloadError> {
    client
        .batch_execute(TABLES)
        .await
        .map_err(db("creating the event store tables"))
}

pub(crate) async fn create_event_indexes(client: &Client) -> Result<(), WorkloadError> {
    for (name, on) in EVENT_INDEXES {
        client
            .batch_execute(&format!("CREATE INDEX IF NOT EXISTS {name} ON {on}"))
            .await
            .map_err(db(format!("creating index {name}")))?;
    }
    Ok(())
}

/// Storage parameters of the indexes of `events` (`fastupdate=off`, …) as
/// the catalog holds them, by index name: a seed that drops the indexes
/// builds them again with these, so it does not undo a profile's tuning.
pub(crate) type IndexOptions = std::collections::BTreeMap<String, Vec<String>>;

/// DDL cannot take bound parameters, so the options read back from the
/// catalog go into `WITH (…)` only when they are plain `name=value` words.
fn with_clause(name: &str, options: &IndexOptions) -> Result<String, WorkloadError> {
    let Some(opts) = options.get(name).filter(|o| !o.is_empty()) else {
        return Ok(String::new());
    };
    let plain = |o: &String| {
        o.split_once('=').is_some_and(|(k, v)| {
            !k.is_empty()
                && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
    };
    if let Some(bad) = opts.iter().find(|o| !plain(o)) {
        return Err(WorkloadError::Invalid(format!(
            "index {name} has the storage parameter `{bad}`, which seeding cannot carry over; reset it (ALTER INDEX {name} RESET (…)) and seed again"
        )));
    }
    Ok(format!(" WITH ({})", opts.join(", ")))
}

/// Builds the indexes of `events` spread over `builders`, biggest first
/// (the GIN indexes), each connection building its share in turn, with the
/// storage parameters they had before seeding dropped them. GIN builds are
/// much faster with room to sort in memory: each session raises
/// maintenance_work_mem for itself and resets it after.
pub(crate) async fn create_event_indexes_on(
    builders: &[&Client],
    options: &IndexOptions,
) -> Result<(), WorkloadError> {
    // Slowest first, so the GIN builds land on different connections.
    let order = [2usize, 3, 0, 1];
    let jobs = builders.iter().enumerate().map(|(i, c)| async move {
        c.batch_execute("SET maintenance_work_mem = '256MB'")
            .await
            .map_err(db("raising maintenance_work_mem for the index builds"))?;
        for k in order.iter().skip(i).step_by(builders.len()) {
            let (name, on) = EVENT_INDEXES[*k];
            let with = with_clause(name, options)?;
            c.batch_execute(&format!("CREATE INDEX IF NOT EXISTS {name} ON {on}{with}"))
                .await
                .map_err(db(format!("creating index {name}")))?;
        }
        c.batch_execute("RESET maintenance_work_mem")
            .await
            .map_err(db("resetting maintenance_work_mem"))
    });
    futures_util::future::try_join_all(jobs).await.map(|_| ())
}

/// Drops the indexes of `events` and returns their storage parameters.
pub(crate) async fn drop_event_indexes(client: &Client) -> Result<IndexOptions, WorkloadError> {
    let names: Vec<&str> = EVENT_INDEXES.iter().map(|(n, _)| *n).collect();
    let options: IndexOptions = client
        .query(
            // The ones DROP INDEX finds: by name through the search_path.
            "SELECT c.relname::text, c.reloptions FROM pg_class c
              WHERE c.relname = ANY($1) AND c.relkind = 'i' AND pg_table_is_visible(c.oid)",
            &[&names],
        )
        .await
        .map_err(db("reading the storage parameters of the events indexes"))?
        .iter()
        .filter_map(|r| Some((r.get(0), r.get::<_, Option<Vec<String>>>(1)?)))
        .collect();
    for (name, _) in EVENT_INDEXES {
        client
            .batch_execute(&format!("DROP INDEX IF EXISTS {name}"))
            .await
            .map_err(db(format!("dropping index {name}")))?;
    }
    Ok(options)
}
