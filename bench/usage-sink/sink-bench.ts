/**
 * Usage-sink benchmark: CPU per usage event of KafkaUsageSink alone (no HTTP), at a steady
 * publish rate, with the process pinned to one core. A measurement, not a test. Needs the local
 * stack (`npm run stack up`).
 *
 *   taskset -c 0 npx tsx bench/usage-sink/sink-bench.ts [--rate 7000] [--seconds 6] [--linger 50]
 *     [--batch 2000] [--compression zstd|gzip|none] [--write-delay 5]
 *
 * Publishes `rate` events per second (a burst every millisecond, as requests would), waits until
 * Kafka acked all of them, and prints the process's CPU time (all threads: spool writes,
 * compression) divided by the events: what one usage event costs the gateway's core, besides the
 * request. Also: Kafka produce requests per 1,000 events and bytes on the wire per event (the
 * produce requests' sizes, from kafkajs's request instrumentation), and the codec's ratio.
 * Every event is distinct (ids, times, sizes), made before the clock starts, so compression
 * sees what a gateway's traffic would give it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  COMPRESSION_NAMES,
  type CompressionName,
  codecCounters,
  createKafka,
  ensureTopics,
  KafkaUsageSink,
} from '@tollgate/kafka';
import { makeUsageEvent } from '@tollgate/kafka/testing';
import { sharedStackEnv } from '../../infra/testing/stack.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '7000' },
    seconds: { type: 'string', default: '6' },
    linger: { type: 'string', default: '50' },
    batch: { type: 'string', default: '2000' },
    compression: { type: 'string', default: 'zstd' },
    'write-delay': { type: 'string', default: '5' },
    // The spool alone: the sink's producer points at a closed port, so nothing is sent and the
    // CPU is serialization and spool writes only (the share of the sender is the difference).
    'spool-only': { type: 'boolean', default: false },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const compression = args.compression as CompressionName;
if (!COMPRESSION_NAMES.includes(compression))
  throw new Error(`--compression: one of ${COMPRESSION_NAMES.join(', ')}`);

const stack = { ...sharedStackEnv(), ...process.env } as Record<string, string>;
const brokers = stack.KAFKA_BROKERS!.split(',');
const kafka = createKafka({ brokers, clientId: 'sink-bench' });
const SPOOL_ONLY = args['spool-only'];
const sinkKafka = SPOOL_ONLY
  ? createKafka({
      brokers: ['127.0.0.1:1'],
      clientId: 'sink-bench-nowhere',
      retries: 0,
      connectionTimeoutMs: 100,
    })
  : kafka;
const topic = `tollgate.usage.v2.sink-bench-${randomUUID()}`;
await ensureTopics(kafka, [{ topic }]);
const dir = mkdtempSync(join(tmpdir(), 'tg-sink-bench-'));
const sink = KafkaUsageSink.open({
  kafka: sinkKafka,
  retryInitialMs: SPOOL_ONLY ? 5000 : 100,
  retryMaxMs: SPOOL_ONLY ? 5000 : 2000,
  topic,
  spoolDir: dir,
  lingerMs: Number(args.linger),
  batchSize: Number(args.batch),
  compression,
  writeDelayMs: Number(args['write-delay']),
});
const WARMUP = 2000;
const total = WARMUP + Math.ceil(RATE * SECONDS) + 1000;
const events = Array.from({ length: total }, (_, i) => {
  const e = makeUsageEvent(`cons_${i % 50}`, i);
  e.data.latencyMs = Math.round(((i * 7919) % 50_000) / 10) / 100;
  return e;
});

// Warm-up (JIT, producer connection), not measured.
for (let i = 0; i < WARMUP; i++) sink.publish(events[i]!);
if (SPOOL_ONLY) await sink.flush();
else if (!(await sink.drain(30_000))) throw new Error('warm-up events were not acked within 30 s');
const before = sink.stats();
const codecBefore = codecCounters();

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let published = 0;
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
    while (published < due) sink.publish(events[WARMUP + published++]!);
    if (performance.now() - t0 >= SECONDS * 1000) {
      clearInterval(tick);
      resolve();
    }
  }, 1);
});
if (SPOOL_ONLY) await sink.flush();
else if (!(await sink.drain(60_000))) throw new Error('events were not acked within 60 s');
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - t0;
const stats = sink.stats();
await sink.close({ deadlineMs: SPOOL_ONLY ? 10 : 5000 });
rmSync(dir, { recursive: true, force: true });
const admin = kafka.admin();
await admin.connect();
await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => {});
await admin.disconnect();
const requests = stats.produceRequests - before.produceRequests;
const recordBytes = stats.recordBytes - before.recordBytes;
const records = stats.records - before.records;
// Bytes on the wire: the codec's output (the records' compressed batches), or the values themselves.
const codecName = compression === 'none' ? null : compression;
const codecIn =
  codecName === null ? recordBytes : codecCounters()[codecName].bytesIn - codecBefore[codecName].bytesIn;
const codecOut =
  codecName === null ? recordBytes : codecCounters()[codecName].bytesOut - codecBefore[codecName].bytesOut;
console.log(
  `${published} events at ${((published / wallMs) * 1000).toFixed(0)}/s, ${SPOOL_ONLY ? 'spool only' : 'all acked'} (sent ${stats.sent - before.sent}, dropped ${stats.dropped}): ` +
    `${((cpu.user + cpu.system) / published).toFixed(1)} µs of CPU per event ` +
    `(user ${(cpu.user / published).toFixed(1)}, system ${(cpu.system / published).toFixed(1)}); ` +
    `${((requests / published) * 1000).toFixed(2)} produce requests and ${((records / published) * 1000).toFixed(2)} records per 1,000 events; ` +
    `${(recordBytes / published).toFixed(0)} B of record value per event, ${(codecOut / published).toFixed(1)} B on the wire (${((codecOut / Math.max(1, codecIn)) * 100).toFixed(1)} %); ` +
    `linger ${args.linger} ms, batch ${args.batch}, ${compression}, spool write every ${args['write-delay']} ms`,
);
process.exit(0);
