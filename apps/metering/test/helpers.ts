import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClickhouse, createSqlRunner, type SqlRunner } from '@tollgate/clickhouse';
import { USAGE_EVENT_TYPE_V1, type UsageEventV1, uuidv7 } from '@tollgate/core';
import {
  type CompressionName,
  CompressionTypes,
  consumerGroupLag,
  createKafka,
  ensureTopics,
  type Kafka,
  type Producer,
} from '@tollgate/kafka';
import { produceUsageRecords, type UsageLine } from '@tollgate/kafka/testing';
import { type Ingest, type IngestOptions, startIngest } from '../src/ingest/start-ingest.ts';
import { silentLog } from '../src/log.ts';

/** Shared helpers of the metering integration tests. Nothing here sleeps to wait: it polls. */
export const randomId = () => randomBytes(5).toString('hex');

export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');

/** A stack variable from the environment, else from .tollgate/stack.env (`bash infra/stack.sh up`). */
export function stackVar(name: string): string {
  const fromEnv = process.env[name];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  for (const line of readFileSync(join(REPO_ROOT, '.tollgate', 'stack.env'), 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && line.slice(0, eq).trim() === name) return line.slice(eq + 1).trim();
  }
  throw new Error(`${name} is not set and not in .tollgate/stack.env (run bash infra/stack.sh up)`);
}

export function kafkaBrokers(): string[] {
  return stackVar('KAFKA_BROKERS').split(',');
}

export function testKafka(brokers: string[] = kafkaBrokers()): Kafka {
  return createKafka({ brokers, clientId: `metering-test-${randomId()}` });
}

export async function createTestTopics(
  kafka: Kafka,
  partitions = 3,
): Promise<{ topic: string; dlq: string }> {
  const topic = `tollgate.usage.v2.test-${randomId()}`;
  const dlq = `${topic}.dlq`;
  await ensureTopics(kafka, [
    { topic, numPartitions: partitions },
    { topic: dlq, numPartitions: 1 },
  ]);
  return { topic, dlq };
}

export function clickhouseRunner(
  url: string,
  database: string,
): { runner: SqlRunner; close(): Promise<void> } {
  const client = createClickhouse({ url, database, requestTimeoutMs: 5000 });
  return { runner: createSqlRunner(client), close: () => client.close() };
}

export interface EventSpec {
  consumerId: string;
  time?: Date;
  apiId?: string;
  routeId?: string;
  keyId?: string | null;
  status?: number;
  units?: number;
  billable?: boolean;
  latencyMs?: number;
}

export function makeEvent(spec: EventSpec): UsageEventV1 {
  const time = spec.time ?? new Date();
  return {
    specversion: '1.0',
    type: USAGE_EVENT_TYPE_V1,
    source: 'gateway/test',
    id: uuidv7(time.getTime()),
    time: time.toISOString(),
    subject: spec.consumerId,
    data: {
      consumerId: spec.consumerId,
      keyId: spec.keyId === undefined ? 'key-1' : spec.keyId,
      planId: null,
      subscriptionId: null,
      apiId: spec.apiId ?? 'api-1',
      routeId: spec.routeId ?? 'route-1',
      method: 'GET',
      status: spec.status ?? 200,
      bytesIn: 100,
      bytesOut: 200,
      latencyMs: spec.latencyMs ?? 12.5,
      units: spec.units ?? 1,
      billable: spec.billable ?? true,
    },
  };
}

/**
 * Produces events as the gateway's sink does (usage topic v2: NDJSON records, the content-type
 * header, the partition of each event's consumer), `eventsPerRecord` events per record. A
 * `{ raw }` line is written as it stands (a malformed event inside a record).
 */
export async function produce(
  kafka: Kafka,
  topic: string,
  lines: readonly UsageLine[],
  opts: { eventsPerRecord?: number; compression?: CompressionName } = {},
): Promise<{ records: number }> {
  return produceUsageRecords(kafka, topic, lines, {
    eventsPerRecord: opts.eventsPerRecord ?? 200,
    compression: opts.compression ?? 'none',
  });
}

/** Produces records exactly as given (values and headers), to test what is not a usage batch. */
export async function produceRawRecords(
  kafka: Kafka,
  topic: string,
  records: readonly { value: string | null; headers?: Record<string, string> }[],
): Promise<void> {
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      compression: CompressionTypes.None,
      messages: records.map((r) => ({ key: null, value: r.value, headers: r.headers })),
    });
  } finally {
    await producer.disconnect();
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
}

/** Resolves once the group has committed every message of the topic. */
export async function waitForCaughtUp(kafka: Kafka, groupId: string, topic: string, timeoutMs = 120_000) {
  await waitFor(
    `group ${groupId} to commit all of ${topic}`,
    async () => {
      const lag = await consumerGroupLag(kafka, groupId, topic);
      return lag.total === 0 && lag.partitions.every((p) => p.committed >= 0 || p.end === 0);
    },
    timeoutMs,
    250,
  );
}

export async function countRows(runner: SqlRunner, sql: string): Promise<number> {
  const rows = await runner.rows<{ n: string | number }>(sql);
  return Number(rows[0]?.n ?? 0);
}

export type TestIngestOptions = Partial<IngestOptions> &
  Pick<IngestOptions, 'kafka' | 'store' | 'topic' | 'deadLetterTopic' | 'groupId'>;

export function startTestIngest(opts: TestIngestOptions): Promise<Ingest> {
  return startIngest({
    log: silentLog,
    batchMaxRows: 5000,
    batchMaxWaitMs: 100,
    fetchMinBytes: 1,
    fetchMaxBytesPerPartition: 4 * 1024 * 1024,
    partitionsConcurrently: 3,
    retryInitialMs: 200,
    retryMaxMs: 2000,
    ...opts,
  });
}

export interface ReadMessage {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Reads a topic from the beginning with a throwaway group until `count` messages arrived. */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({ groupId: `reader-${randomId()}`, allowAutoTopicCreation: false });
  const got: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        got.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers });
      },
    });
    await waitFor(`${count} messages on ${topic}`, async () => got.length >= count, timeoutMs);
    return got;
  } finally {
    await consumer.disconnect();
  }
}
