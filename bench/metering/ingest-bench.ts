/**
 * Metering ingest benchmark (not a timed test): run it against the local stack,
 *
 *   npm run bench:metering -- [--events 100000] [--rate 10000] [--seconds 15] [--write]
 *     [--clickhouse-client /usr/bin/clickhouse-client] [--clickhouse-port 59000] [--min-bytes N] [--max-wait MS]
 *
 * 1. Throughput: `--events` usage events are produced to a fresh 3-partition topic first, as
 *    usage topic v2 records (NDJSON, 500 events per record, zstd, as the gateway's sink sends
 *    them); then the real ingest (apps/metering/src/ingest, production batching defaults) starts
 *    with a new group, and we time from its first stored batch until the group has committed the
 *    whole topic. events/s = events / that time. (Group join time is reported separately.)
 *    Baseline, same run: the same rows (the JSONEachRow lines metering builds for these events)
 *    inserted raw by `clickhouse-client` (the Debian binary infra/stack.sh installs, native
 *    protocol) into a second fresh database with the same migrations, timed around the whole
 *    client process, once before and once after the metering run; the ratio is metering's
 *    rate over the faster of the two raw rates.
 * 2. Event-to-queryable latency at a steady load: `--rate` events/s are produced in 50 ms ticks
 *    for `--seconds` (each tick one v2 record per partition, as the sink sends); each tick
 *    carries one probe event of a dedicated consumer. A poller
 *    queries ClickHouse every 25 ms for probe ids it has not seen yet; a probe's latency is
 *    first-seen time minus the time its send started. p50/p99 over all probes (the poll
 *    interval bounds the error at +25 ms).
 *
 * Uses the shared stack (Kafka, ClickHouse 18.16) with its own topic and database, dropped at
 * the end. With --write the result is appended to BENCHMARKS.md at the repository root.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, createReadStream, existsSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type SqlRunner, sqlString } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import { USAGE_EVENT_TYPE_V1, type UsageEventV1, uuidv7 } from '@tollgate/core';
import {
  CompressionTypes,
  consumerGroupLag,
  createKafka,
  ensureTopics,
  KeyPartitions,
  type Producer,
  USAGE_RECORD_HEADERS,
  usageEventJson,
  usageRecordValue,
} from '@tollgate/kafka';
import { produceUsageRecords } from '@tollgate/kafka/testing';
import { toUsageEventRow } from '../../apps/metering/src/ingest/event-row.ts';
import { startIngest } from '../../apps/metering/src/ingest/start-ingest.ts';
import { silentLog } from '../../apps/metering/src/log.ts';
import { clickhouseRunner, randomId, stackVar } from '../../apps/metering/test/helpers.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '15' },
    'clickhouse-client': { type: 'string', default: '/usr/bin/clickhouse-client' },
    'clickhouse-port': { type: 'string', default: '59000' }, // infra/stack.sh's native port
    write: { type: 'boolean', default: false },
    'min-bytes': { type: 'string', default: String(256 * 1024) },
    'max-wait': { type: 'string', default: '100' },
  },
});
const TOTAL = Number(args.events);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const REPO_ROOT = join(import.meta.dirname, '..', '..');

function event(consumerId: string, now = Date.now()): UsageEventV1 {
  return {
    specversion: '1.0',
    type: USAGE_EVENT_TYPE_V1,
    source: 'gateway/bench',
    id: uuidv7(now),
    time: new Date(now).toISOString(),
    subject: consumerId,
    data: {
      consumerId,
      keyId: 'key-bench',
      planId: 'plan-bench',
      subscriptionId: 'sub-bench',
      apiId: 'api-bench',
      routeId: `route-${now % 7}`,
      method: 'GET',
      status: 200,
      bytesIn: 120,
      bytesOut: 2048,
      latencyMs: 12.5,
      units: 1,
      billable: true,
    },
  };
}

const keys = new KeyPartitions();

/** One send as the gateway's sink makes it: one v2 record per partition, zstd. */
async function send(producer: Producer, topic: string, events: UsageEventV1[]): Promise<void> {
  const lines: string[][] = [[], [], []];
  for (const e of events) lines[keys.partitionOf(e.data.consumerId, 3)]!.push(usageEventJson(e));
  await producer.send({
    topic,
    acks: -1,
    compression: CompressionTypes.ZSTD,
    messages: lines.flatMap((l, partition) =>
      l.length === 0
        ? []
        : [{ partition, key: null, value: usageRecordValue(l), headers: { ...USAGE_RECORD_HEADERS } }],
    ),
  });
}

/** Seconds `clickhouse-client` takes to insert the file's JSONEachRow lines (whole process). */
async function rawInsertSeconds(database: string, file: string): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      args['clickhouse-client']!,
      [
        '--host=127.0.0.1',
        `--port=${args['clickhouse-port']}`,
        `--database=${database}`,
        '--query=INSERT INTO usage_events_v1 FORMAT JSONEachRow',
      ],
      { stdio: ['pipe', 'ignore', 'inherit'] },
    );
    createReadStream(file).pipe(child.stdin);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`clickhouse-client exited ${code}`)),
    );
  });
  return (performance.now() - started) / 1000;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

interface InsertLog {
  ms: number[];
  rows: number;
}

/** The store with every usage insert's duration and size recorded: where the time goes. */
function timedInserts(runner: SqlRunner, log: InsertLog): SqlRunner {
  return {
    ...runner,
    async insertTabSeparated(table, columns, lines) {
      const t = performance.now();
      await runner.insertTabSeparated(table, columns, lines);
      log.ms.push(performance.now() - t);
      log.rows += lines.length;
    },
  };
}

function insertSummary(log: InsertLog): string {
  const sorted = [...log.ms].sort((a, b) => a - b);
  const total = sorted.reduce((s, v) => s + v, 0);
  return `${sorted.length} inserts of ${Math.round(log.rows / Math.max(1, sorted.length)).toLocaleString('en-US')} rows on average, p50 ${Math.round(percentile(sorted, 0.5))} ms, p99 ${Math.round(percentile(sorted, 0.99))} ms, ${(total / 1000).toFixed(2)} s in all`;
}
const backlogInserts: InsertLog = { ms: [], rows: 0 };
const steadyInserts: InsertLog = { ms: [], rows: 0 };

const ingestDefaults = {
  batchMaxRows: 30_000,
  batchMaxWaitMs: Number(args['max-wait']),
  fetchMinBytes: Number(args['min-bytes']),
  fetchMaxBytesPerPartition: 4 * 1024 * 1024,
  partitionsConcurrently: 3,
  retryInitialMs: 500,
  retryMaxMs: 30_000,
};

const loadAtStart = loadavg()[0]!.toFixed(1);
const ch = await createTestClickhouseDatabase();
const store = clickhouseRunner(ch.url, ch.database);
const rawCh = await createTestClickhouseDatabase();
const rawStore = clickhouseRunner(rawCh.url, rawCh.database);
const rowsFile = join(tmpdir(), `metering-bench-rows-${randomId()}.ndjson`);
const kafka = createKafka({ brokers: stackVar('KAFKA_BROKERS').split(','), clientId: 'metering-bench' });
const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();

try {
  // ---- 1. throughput
  const topic = `tollgate.usage.v2.bench-${randomId()}`;
  await ensureTopics(kafka, [
    { topic, numPartitions: 3 },
    { topic: `${topic}.dlq`, numPartitions: 1 },
  ]);
  const consumers = Array.from({ length: 50 }, (_, i) => `bench-c${i}`);
  const backlogStart = Date.now();
  const backlog = Array.from({ length: TOTAL }, (_, i) =>
    event(consumers[i % consumers.length]!, backlogStart + Math.floor(i / 100)),
  );
  const produceStart = performance.now();
  const { records } = await produceUsageRecords(kafka, topic, backlog, {
    eventsPerRecord: 500,
    compression: 'zstd',
  });
  const produceS = (performance.now() - produceStart) / 1000;

  // The same rows metering inserts, as JSONEachRow, for the raw baseline.
  const ingestedAt = new Date();
  writeFileSync(
    rowsFile,
    `${backlog.map((e) => JSON.stringify((toUsageEventRow(e, ingestedAt) as { row: object }).row)).join('\n')}\n`,
  );
  const rawBefore = await rawInsertSeconds(rawCh.database, rowsFile);
  await rawStore.runner.command('TRUNCATE TABLE usage_events_v1');

  const groupId = `metering-bench-${randomId()}`;
  const started = performance.now();
  let firstFetched = 0;
  let lastStored = 0;
  const ingest = await startIngest({
    kafka,
    log: silentLog,
    topic,
    deadLetterTopic: `${topic}.dlq`,
    groupId,
    ...ingestDefaults,
    store: timedInserts(store.runner, backlogInserts),
    onFetched: () => {
      if (firstFetched === 0) firstFetched = performance.now();
    },
    onStored: () => {
      lastStored = performance.now();
    },
  });
  for (;;) {
    const lag = await consumerGroupLag(kafka, groupId, topic);
    if (lag.total === 0 && lag.partitions.every((p) => p.committed >= 0)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const done = performance.now();
  await ingest.stop();
  const [stored] = await store.runner.rows<{ n: string }>(
    'SELECT uniqExact(event_id) AS n FROM usage_events_v1',
  );
  if (Number(stored!.n) !== TOTAL) throw new Error(`stored ${stored!.n} of ${TOTAL}`);
  // Ingest rate: every event over the time from the first fetched batch (the group has joined)
  // to the last stored and committed one; and the whole run including the group join.
  const ingestS = (lastStored - firstFetched) / 1000;
  const throughput = Math.round(TOTAL / ingestS);
  const wholeS = (done - started) / 1000;
  const wholeRate = Math.round(TOTAL / wholeS);
  const rawAfter = await rawInsertSeconds(rawCh.database, rowsFile);
  const [rawStored] = await rawStore.runner.rows<{ n: string }>('SELECT count() AS n FROM usage_events_v1');
  if (Number(rawStored!.n) !== TOTAL) throw new Error(`raw insert stored ${rawStored!.n} of ${TOTAL}`);
  const rawRates = [rawBefore, rawAfter].map((sec) => Math.round(TOTAL / sec));
  // The faster raw run is the baseline: a cold first insert must not flatter metering.
  const rawRate = Math.max(rawRates[0]!, rawRates[1]!);
  const ratio = (throughput / rawRate).toFixed(2);
  const wholeRatio = (wholeRate / rawRate).toFixed(2);

  // ---- 2. event-to-queryable latency at a steady load
  const steadyTopic = `tollgate.usage.v2.bench-steady-${randomId()}`;
  await ensureTopics(kafka, [
    { topic: steadyTopic, numPartitions: 3 },
    { topic: `${steadyTopic}.dlq`, numPartitions: 1 },
  ]);
  const steadyGroup = `metering-bench-steady-${randomId()}`;
  const steady = await startIngest({
    kafka,
    log: silentLog,
    topic: steadyTopic,
    deadLetterTopic: `${steadyTopic}.dlq`,
    groupId: steadyGroup,
    ...ingestDefaults,
    store: timedInserts(store.runner, steadyInserts),
  });
  // Let the group join before the clock starts: latency is about the running pipeline.
  await send(producer, steadyTopic, [event('bench-warmup')]);
  for (;;) {
    const lag = await consumerGroupLag(kafka, steadyGroup, steadyTopic);
    if (lag.total === 0 && lag.partitions.some((p) => p.committed >= 0)) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  const probeConsumer = `bench-probe-${randomId()}`;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let polling = true;
  let lastSeen = '';
  let loadEnd = 0;
  const poller = (async () => {
    while (polling || latencies.length < sentAt.size) {
      const rows = await store.runner.rows<{ event_id: string }>(
        `SELECT event_id FROM usage_events_v1 WHERE consumer_id = ${sqlString(probeConsumer)} AND event_id > ${sqlString(lastSeen)} ORDER BY event_id`,
      );
      const seenAt = performance.now();
      for (const { event_id } of rows) {
        const t = sentAt.get(event_id);
        if (t !== undefined) latencies.push(seenAt - t);
        if (event_id > lastSeen) lastSeen = event_id;
      }
      if (!polling && performance.now() - loadEnd > 30_000) break;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  const perTick = Math.max(1, Math.round(RATE / 20));
  const loadStart = performance.now();
  let ticks = 0;
  let produced = 0;
  while (performance.now() - loadStart < SECONDS * 1000) {
    const now = Date.now();
    const probe = event(probeConsumer, now);
    const batch = [
      probe,
      ...Array.from({ length: perTick - 1 }, (_, j) => event(consumers[j % consumers.length]!, now)),
    ];
    sentAt.set(probe.id, performance.now());
    await send(producer, steadyTopic, batch);
    produced += batch.length;
    ticks += 1;
    const next = loadStart + ticks * 50;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  loadEnd = performance.now();
  const achievedRate = Math.round(produced / ((loadEnd - loadStart) / 1000));
  polling = false;
  await poller;
  await steady.stop();
  const sorted = [...latencies].sort((a, b) => a - b);
  const p50 = Math.round(percentile(sorted, 0.5));
  const p99 = Math.round(percentile(sorted, 0.99));
  const max = Math.round(sorted[sorted.length - 1]!);

  const [version] = await store.runner.rows<{ v: string }>('SELECT version() AS v');
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const section = `
## Metering ingest (Kafka -> ClickHouse), ${date} UTC

Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), shared with other work while measured (1-minute load
average ${loadAtStart} at the start, ${loadavg()[0]!.toFixed(1)} at the end); Kafka 3.9
(single broker, KRaft) and ClickHouse ${version!.v} from \`infra/stack.sh\`; Node ${process.version}, kafkajs 2.2.4.
Ingest settings: ${ingestDefaults.batchMaxRows.toLocaleString('en-US')} rows per insert, fetch min ${ingestDefaults.fetchMinBytes} bytes / max wait ${ingestDefaults.batchMaxWaitMs} ms,
4 MiB per partition, 3 partitions in parallel.

Command: \`npm run bench:metering -- --events ${TOTAL} --rate ${RATE} --seconds ${SECONDS} --min-bytes ${ingestDefaults.fetchMinBytes} --max-wait ${ingestDefaults.batchMaxWaitMs}\`

| measure | result |
|---|---|
| ingest throughput (${TOTAL.toLocaleString('en-US')} events backlog in ${records} v2 records of ≤ 500 events, zstd, 3 partitions; events / time from the first fetched batch to the last stored and committed one) | **${throughput.toLocaleString('en-US')} events/s** (${ingestS.toFixed(2)} s) |
| raw \`clickhouse-client\` JSONEachRow insert of the same rows (whole process; before / after the metering run) | ${rawRates[0]!.toLocaleString('en-US')} / ${rawRates[1]!.toLocaleString('en-US')} rows/s (${rawBefore.toFixed(2)} s / ${rawAfter.toFixed(2)} s) |
| **metering / raw** (first fetch to last commit, over the faster raw run; target ≥ 0.5) | **${ratio}×** (whole run with the group join: ${wholeRatio}×) |
| metering's inserts during the backlog | ${insertSummary(backlogInserts)} |
| ingest throughput, whole run (start, group join, all stored and committed) | ${wholeRate.toLocaleString('en-US')} events/s (${wholeS.toFixed(2)} s) |
| producing the backlog (kafkajs, 20 records per send, acks=all; for reference) | ${Math.round(TOTAL / produceS).toLocaleString('en-US')} events/s |
| event-to-queryable latency at ${achievedRate.toLocaleString('en-US')} events/s steady for ${SECONDS} s (${sorted.length} probes) | **p50 ${p50} ms, p99 ${p99} ms** (max ${max} ms; target p99 ≤ 250 ms) |
| metering's inserts during the steady load | ${insertSummary(steadyInserts)} |

How: throughput as described in the rows above; the run ends when the consumer group's committed offsets reach the
end of the topic (every event verified stored: uniqExact(event_id) = ${TOTAL.toLocaleString('en-US')}). Latency: one
probe event per 50 ms tick; latency = first time a 25 ms poller sees the probe in usage_events_v1 minus the start of
its send (so it includes the Kafka produce, the fetch wait, the insert and the commit).
`;
  process.stdout.write(section);
  if (args.write) {
    const file = join(REPO_ROOT, 'BENCHMARKS.md');
    if (!existsSync(file))
      writeFileSync(
        file,
        '# Benchmarks\n\nHow each figure was measured, the command to reproduce it, the result.\n',
      );
    appendFileSync(file, section);
  }
} finally {
  await producer.disconnect();
  await store.close();
  await rawStore.close();
  rmSync(rowsFile, { force: true });
  await rawCh
    .drop()
    .catch((err: unknown) => process.stderr.write(`dropping ${rawCh.database}: ${String(err)}\n`));
  // Dropping a database with hundreds of fresh parts can outlast the client's timeout on a busy
  // 18.16; the drop still completes server-side, so a timeout here is only reported.
  await ch.drop().catch((err: unknown) => process.stderr.write(`dropping ${ch.database}: ${String(err)}\n`));
}
