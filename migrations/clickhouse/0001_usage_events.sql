-- Raw usage events: one row per request the gateway answered (packages/core/src/usage-event.ts,
-- topic tollgate.usage.v2). Written by metering from Kafka, which delivers at least once.
--
-- Dedup by event id: ReplacingMergeTree keeps one row per sorting key, and the sorting key ends
-- in event_id (a UUIDv7, so within a consumer the sort is also time order, which keeps
-- per-consumer range scans cheap). A redelivered event collapses into the first on merge;
-- until then read with FINAL (or count distinct event_id) for exact totals. The version column
-- ingested_at keeps the last write. Duplicates always share `time`, hence the same partition.
--
-- Monthly partitions (UTC) match billing periods; retention is ALTER TABLE ... DROP PARTITION,
-- since table TTL needs ClickHouse 19.6 and the local server is 18.16. Plain String instead of
-- LowCardinality for the same reason. key_id, plan_id and subscription_id are '' for none.
CREATE TABLE IF NOT EXISTS usage_events_v1 (
  event_id String,
  time DateTime('UTC'),
  time_ms UInt16,
  source String,
  consumer_id String,
  key_id String,
  plan_id String,
  subscription_id String,
  api_id String,
  route_id String,
  method String,
  status UInt16,
  bytes_in UInt64,
  bytes_out UInt64,
  latency_ms Float64,
  units UInt32,
  billable UInt8,
  ingested_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(time)
ORDER BY (consumer_id, event_id);
