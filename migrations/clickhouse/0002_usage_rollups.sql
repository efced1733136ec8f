-- Dashboard rollups of usage_events_v1: hourly and daily counters per consumer, API, route and
-- status, kept by SummingMergeTree and fed by materialized views on every insert.
--
-- APPROXIMATE BY DESIGN. A materialized view sees each inserted block, duplicates included:
-- Kafka delivers at least once, so a redelivered or replayed event is counted again here, and
-- SummingMergeTree cannot tell copies apart. Use these tables for dashboards and trends only.
-- Exact figures (billable units, quotas, invoices, the finance report, the usage API) come from
-- usage_events_v1 deduplicated by event_id (apps/metering/src/usage/usage-sql.ts).
--
-- Read with sum() and GROUP BY: rows with the same key are only summed when parts merge.
-- Monthly partitions like the raw table, so the retention job (apps/metering/src/retention)
-- drops the same months from every table. No TTL: ClickHouse 18.16 has no table TTL.
CREATE TABLE IF NOT EXISTS usage_rollup_hourly_v1 (
  bucket DateTime('UTC'),
  consumer_id String,
  api_id String,
  route_id String,
  status UInt16,
  requests UInt64,
  billable_units UInt64,
  errors UInt64,
  bytes_in UInt64,
  bytes_out UInt64,
  latency_ms_sum Float64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(bucket)
ORDER BY (consumer_id, bucket, api_id, route_id, status);

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_rollup_hourly_mv_v1 TO usage_rollup_hourly_v1 AS
SELECT
  toStartOfHour(time) AS bucket,
  consumer_id,
  api_id,
  route_id,
  status,
  count() AS requests,
  sum(billable * units) AS billable_units,
  countIf(status >= 400) AS errors,
  sum(bytes_in) AS bytes_in,
  sum(bytes_out) AS bytes_out,
  sum(latency_ms) AS latency_ms_sum
FROM usage_events_v1
GROUP BY bucket, consumer_id, api_id, route_id, status;

CREATE TABLE IF NOT EXISTS usage_rollup_daily_v1 (
  bucket DateTime('UTC'),
  consumer_id String,
  api_id String,
  route_id String,
  status UInt16,
  requests UInt64,
  billable_units UInt64,
  errors UInt64,
  bytes_in UInt64,
  bytes_out UInt64,
  latency_ms_sum Float64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(bucket)
ORDER BY (consumer_id, bucket, api_id, route_id, status);

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_rollup_daily_mv_v1 TO usage_rollup_daily_v1 AS
SELECT
  toStartOfDay(time) AS bucket,
  consumer_id,
  api_id,
  route_id,
  status,
  count() AS requests,
  sum(billable * units) AS billable_units,
  countIf(status >= 400) AS errors,
  sum(bytes_in) AS bytes_in,
  sum(bytes_out) AS bytes_out,
  sum(latency_ms) AS latency_ms_sum
FROM usage_events_v1
GROUP BY bucket, consumer_id, api_id, route_id, status;
