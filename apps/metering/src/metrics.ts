import type { SqlRunner } from '@tollgate/clickhouse';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { IngestStatus, StoredBatch } from './ingest/start-ingest.ts';

/**
 * Prometheus metrics of metering, served at GET /metrics. Aggregates only: no consumer ids or
 * other per-tenant labels, so the endpoint reveals no customer's usage.
 */
export interface MeteringMetrics {
  registry: Registry;
  stored(batch: StoredBatch): void;
  insertFailed(): void;
  alertsRaised(n: number): void;
  alertsDelivered(result: { delivered: number; failed: number }): void;
  /** Wraps the store so every insert's duration is observed. */
  timedStore(store: SqlRunner): SqlRunner;
}

export function createMeteringMetrics(ingestStatus: () => IngestStatus | undefined): MeteringMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_metering_' });
  const events = new Counter({
    name: 'tollgate_metering_events_stored_total',
    help: 'Usage events inserted into ClickHouse and committed (redeliveries included)',
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'tollgate_metering_dead_letters_total',
    help: 'Malformed or unknown-version events sent to the dead-letter topic',
    registers: [registry],
  });
  const duplicates = new Counter({
    name: 'tollgate_metering_duplicate_events_total',
    help: 'Events left out of an insert that already held their event id',
    registers: [registry],
  });
  const insertFailures = new Counter({
    name: 'tollgate_metering_insert_failures_total',
    help: 'Batches whose insert (or dead-letter send) failed and whose partition was paused',
    registers: [registry],
  });
  const insertSeconds = new Histogram({
    name: 'tollgate_metering_insert_duration_seconds',
    help: 'Duration of one ClickHouse insert',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'tollgate_metering_paused_partitions',
    help: 'Partitions waiting out a backoff after a failed insert',
    registers: [registry],
    collect() {
      this.set(ingestStatus()?.pausedPartitions.length ?? 0);
    },
  });
  const raised = new Counter({
    name: 'tollgate_metering_alerts_raised_total',
    help: 'Quota alerts written to the outbox',
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'tollgate_metering_alert_deliveries_total',
    help: 'Alert webhook attempts by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return {
    registry,
    stored(batch) {
      events.inc(batch.rows);
      deadLetters.inc(batch.deadLetters);
      duplicates.inc(batch.duplicates);
    },
    insertFailed: () => insertFailures.inc(),
    alertsRaised: (n) => raised.inc(n),
    alertsDelivered({ delivered, failed }) {
      deliveries.inc({ result: 'delivered' }, delivered);
      deliveries.inc({ result: 'failed' }, failed);
    },
    timedStore(store) {
      return {
        ...store,
        async insert(table, rows) {
          const end = insertSeconds.startTimer();
          try {
            await store.insert(table, rows);
          } finally {
            end();
          }
        },
        async insertTabSeparated(table, columns, lines) {
          const end = insertSeconds.startTimer();
          try {
            await store.insertTabSeparated(table, columns, lines);
          } finally {
            end();
          }
        },
      };
    },
  };
}
