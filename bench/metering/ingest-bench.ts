/**
 * Metering ingest benchmark (not a timed test): run it against the local stack,
 *
 *   npx tsx bench/metering/ingest-bench.ts [--events 200000] [--rate 2000] [--seconds 30] [--write]
 *
 * 1. Throughput: `--events` usage events are produced to a fresh 3-partition topic first; then
 *    the real ingest (apps/metering/src/ingest, production batching defaults) starts with a
 *    new group, and we time from its first stored batch until the group has committed the
 *    whole topic. events/s = events / that time. (Group join time is reported separately.)
 * 2. Event-to-queryable latency at a steady load: `--rate` events/s are produced in 50 ms ticks
 *    for `--seconds`; each tick carries one probe event of a dedicated consumer. A poller
 *    queries ClickHouse every 25 ms for probe ids it has not seen yet; a probe's latency is
 *    first-seen time minus the time its send started. p50/p99 over all probes (the poll
 *    interval bounds the error at +25 ms).
 *
 * Uses the shared stack (Kafka, ClickHouse 18.16) with its own topic and database, dropped at
 * the end. With --write the result is appended to BENCHMARKS.md at the repository root.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sqlString } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import { USAGE_EVENT_TYPE_V1, type UsageEventV1, uuidv7 } from '@tollgate/core';
import { consumerGroupLag, createKafka, ensureTopics, type Producer } from '@tollgate/kafka';
import { startIngest } from '../../apps/metering/src/ingest/start-ingest.ts';
import { silentLog } from '../../apps/metering/src/log.ts';
import { clickhouseRunner, randomId, stackVar } from '../../apps/metering/test/helpers.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '30' },
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

async function send(producer: Producer, topic: string, events: UsageEventV1[]): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({ key: e.data.consumerId, value: JSON.stringify(e) })),
  });
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

const ingestDefaults = {
  batchMaxRows: 10_000,
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
const kafka = createKafka({ brokers: stackVar('KAFKA_BROKERS').split(','), clientId: 'metering-bench' });
const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();

try {
  // ---- 1. throughput
  const topic = `tollgate.usage.v1.bench-${randomId()}`;
  await ensureTopics(kafka, [
    { topic, numPartitions: 3 },
    { topic: `${topic}.dlq`, numPartitions: 1 },
  ]);
  const consumers = Array.from({ length: 50 }, (_, i) => `bench-c${i}`);
  const produceStart = performance.now();
  for (let i = 0; i < TOTAL; i += 1000) {
    const now = Date.now();
    await send(
      producer,
      topic,
      Array.from({ length: Math.min(1000, TOTAL - i) }, (_, j) =>
        event(consumers[(i + j) % consumers.length]!, now),
      ),
    );
  }
  const produceS = (performance.now() - produceStart) / 1000;

  const groupId = `metering-bench-${randomId()}`;
  const started = performance.now();
  let firstStored = 0;
  let firstRows = 0;
  let lastStored = 0;
  const ingest = await startIngest({
    kafka,
    store: store.runner,
    log: silentLog,
    topic,
    deadLetterTopic: `${topic}.dlq`,
    groupId,
    ...ingestDefaults,
    onStored: (batch) => {
      lastStored = performance.now();
      if (firstStored === 0) {
        firstStored = lastStored;
        firstRows = batch.rows;
      }
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
  // Steady-state rate: rows stored after the first batch over the time between first and last
  // stored batch; and the whole run including the group join, for a conservative figure.
  const ingestS = (lastStored - firstStored) / 1000;
  const throughput = Math.round((TOTAL - firstRows) / ingestS);
  const wholeS = (done - started) / 1000;
  const wholeRate = Math.round(TOTAL / wholeS);

  // ---- 2. event-to-queryable latency at a steady load
  const steadyTopic = `tollgate.usage.v1.bench-steady-${randomId()}`;
  await ensureTopics(kafka, [
    { topic: steadyTopic, numPartitions: 3 },
    { topic: `${steadyTopic}.dlq`, numPartitions: 1 },
  ]);
  const steadyGroup = `metering-bench-steady-${randomId()}`;
  const steady = await startIngest({
    kafka,
    store: store.runner,
    log: silentLog,
    topic: steadyTopic,
    deadLetterTopic: `${steadyTopic}.dlq`,
    groupId: steadyGroup,
    ...ingestDefaults,
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
Ingest settings: 10,000 rows per insert, fetch min ${ingestDefaults.fetchMinBytes} bytes / max wait ${ingestDefaults.batchMaxWaitMs} ms,
4 MiB per partition, 3 partitions in parallel.

Command: \`npx tsx bench/metering/ingest-bench.ts --events ${TOTAL} --rate ${RATE} --seconds ${SECONDS} --min-bytes ${ingestDefaults.fetchMinBytes} --max-wait ${ingestDefaults.batchMaxWaitMs}\`

| measure | result |
|---|---|
| ingest throughput, steady state (${TOTAL.toLocaleString('en-US')} events backlog, 3 partitions; rows after the first batch / time from first to last stored batch) | **${throughput.toLocaleString('en-US')} events/s** (${ingestS.toFixed(2)} s) |
| ingest throughput, whole run (start, group join, all stored and committed) | ${wholeRate.toLocaleString('en-US')} events/s (${wholeS.toFixed(2)} s) |
| producing the backlog (kafkajs, 1,000 per send, acks=all; for reference) | ${Math.round(TOTAL / produceS).toLocaleString('en-US')} events/s |
| event-to-queryable latency at ${achievedRate.toLocaleString('en-US')} events/s steady for ${SECONDS} s (${sorted.length} probes) | **p50 ${p50} ms, p99 ${p99} ms** (max ${max} ms; target p99 ≤ 2000 ms) |

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
  // Dropping a database with hundreds of fresh parts can outlast the client's timeout on a busy
  // 18.16; the drop still completes server-side, so a timeout here is only reported.
  await ch.drop().catch((err: unknown) => process.stderr.write(`dropping ${ch.database}: ${String(err)}\n`));
}
