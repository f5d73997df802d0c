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

pub(crate) async fn drop_event_indexes(client: &Client) -> Result<(), WorkloadError> {
    for (name, _) in EVENT_INDEXES {
        client
            .batch_execute(&format!("DROP INDEX IF EXISTS {name}"))
            .await
            .map_err(db(format!("dropping index {name}")))?;
    }
    Ok(())
}
