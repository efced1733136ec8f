import { type ClickHouseClient, createClient } from '@clickhouse/client';

/** The only module family that imports @clickhouse/client. */
export interface ClickhouseOptions {
  url: string;
  database: string;
  username?: string;
  password?: string;
  requestTimeoutMs?: number;
}

export function createClickhouse(opts: ClickhouseOptions): ClickHouseClient {
  return createClient({
    url: opts.url,
    database: opts.database,
    username: opts.username ?? 'default',
    password: opts.password ?? '',
    request_timeout: opts.requestTimeoutMs ?? 30_000,
    // 18.16 rejects settings it does not know; send none by default.
    clickhouse_settings: {},
  });
}

export type { ClickHouseClient } from '@clickhouse/client';
