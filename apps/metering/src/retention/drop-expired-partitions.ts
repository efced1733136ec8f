import { type SqlRunner, sqlInt, sqlString } from '@tollgate/clickhouse';

/**
 * Retention for ClickHouse 18.16, which has no table TTL (that arrived in 19.6): every metering
 * table is partitioned by toYYYYMM (UTC), and this job drops whole monthly partitions older
 * than the retention window with `ALTER TABLE … DROP PARTITION`. It runs at boot and then every
 * METERING_RETENTION_INTERVAL_MS (apps/metering/src/main.ts); dropping is idempotent, so
 * several replicas running it at once is harmless.
 *
 * Window: the current month plus `retentionMonths` whole months before it are kept. With 13
 * on 2026-11-21, partitions 202510 … 202611 stay and 202509 and older are dropped.
 * Billing must have invoiced a month before it ages out: keep the window above the longest
 * invoice correction period.
 */
export const RETAINED_TABLES = [
  'usage_events_v1',
  'usage_rollup_hourly_v1',
  'usage_rollup_daily_v1',
] as const;

/** The oldest kept partition id (YYYYMM) for a window ending in the month of `now`. */
export function oldestKeptPartition(now: Date, retentionMonths: number): number {
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - retentionMonths, 1));
  return first.getUTCFullYear() * 100 + first.getUTCMonth() + 1;
}

export interface DroppedPartition {
  table: string;
  partition: number;
}

export async function dropExpiredPartitions(
  runner: SqlRunner,
  opts: { database: string; retentionMonths: number; now: Date },
): Promise<DroppedPartition[]> {
  if (!Number.isInteger(opts.retentionMonths) || opts.retentionMonths < 1) {
    throw new RangeError('retentionMonths must be a positive integer');
  }
  const oldest = oldestKeptPartition(opts.now, opts.retentionMonths);
  const tables = RETAINED_TABLES.map((t) => sqlString(t)).join(', ');
  const parts = await runner.rows<{ table: string; partition: string }>(
    'SELECT DISTINCT table, partition FROM system.parts ' +
      `WHERE database = ${sqlString(opts.database)} AND active AND table IN (${tables}) ORDER BY table, partition`,
  );
  const dropped: DroppedPartition[] = [];
  for (const part of parts) {
    // Only tables from the fixed list above and six-digit month ids reach the statement.
    const table = RETAINED_TABLES.find((t) => t === part.table);
    if (table === undefined || !/^\d{6}$/.test(part.partition)) continue;
    const partition = Number(part.partition);
    if (partition >= oldest) continue;
    await runner.command(`ALTER TABLE ${table} DROP PARTITION ${sqlInt(partition)}`);
    dropped.push({ table, partition });
  }
  return dropped;
}
