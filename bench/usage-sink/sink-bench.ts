/**
 * Usage-sink benchmark: CPU per usage event of KafkaUsageSink alone (no HTTP), at a steady
 * publish rate, with the process pinned to one core. A measurement, not a test. Needs the local
 * stack (`npm run stack up`).
 *
 *   taskset -c 0 npx tsx bench/usage-sink/sink-bench.ts [--rate 7000] [--seconds 6] [--linger 50]
 *     [--batch 500] [--compression gzip|none] [--write-delay 5]
 *
 * Publishes `rate` events per second (a burst every millisecond, as requests would), waits until
 * Kafka acked all of them, and prints the process's CPU time (all threads: spool writes, gzip)
 * divided by the events: what one usage event costs the gateway's core, besides the request.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createKafka, ensureTopics, KafkaUsageSink } from '@tollgate/kafka';
import { makeUsageEvent } from '@tollgate/kafka/testing';
import { sharedStackEnv } from '../../infra/testing/stack.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '7000' },
    seconds: { type: 'string', default: '6' },
    linger: { type: 'string', default: '50' },
    batch: { type: 'string', default: '500' },
    compression: { type: 'string', default: 'gzip' },
    'write-delay': { type: 'string', default: '5' },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);

const stack = { ...sharedStackEnv(), ...process.env } as Record<string, string>;
const brokers = stack.KAFKA_BROKERS!.split(',');
const kafka = createKafka({ brokers, clientId: 'sink-bench' });
const topic = `tollgate.usage.v1.sink-bench-${randomUUID()}`;
await ensureTopics(kafka, [{ topic }]);
const dir = mkdtempSync(join(tmpdir(), 'tg-sink-bench-'));
const sink = KafkaUsageSink.open({
  kafka,
  topic,
  spoolDir: dir,
  lingerMs: Number(args.linger),
  batchSize: Number(args.batch),
  compression: args.compression === 'none' ? 'none' : 'gzip',
  writeDelayMs: Number(args['write-delay']),
});
const events = Array.from({ length: 1000 }, (_, i) => makeUsageEvent(`cons_${i % 50}`, i));

// Warm-up (JIT, producer connection), not measured.
for (let i = 0; i < 2000; i++) sink.publish(events[i % 1000]!);
if (!(await sink.drain(30_000))) throw new Error('warm-up events were not acked within 30 s');

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let published = 0;
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
    while (published < due) sink.publish(events[published++ % 1000]!);
    if (performance.now() - t0 >= SECONDS * 1000) {
      clearInterval(tick);
      resolve();
    }
  }, 1);
});
if (!(await sink.drain(60_000))) throw new Error('events were not acked within 60 s');
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - t0;
const stats = sink.stats();
await sink.close();
rmSync(dir, { recursive: true, force: true });
const admin = kafka.admin();
await admin.connect();
await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => {});
await admin.disconnect();
console.log(
  `${published} events at ${((published / wallMs) * 1000).toFixed(0)}/s, all acked (sent ${stats.sent - 2000}, dropped ${stats.dropped}): ` +
    `${((cpu.user + cpu.system) / published).toFixed(1)} µs of CPU per event ` +
    `(user ${(cpu.user / published).toFixed(1)}, system ${(cpu.system / published).toFixed(1)}); ` +
    `linger ${args.linger} ms, batch ${args.batch}, ${args.compression}, spool write every ${args['write-delay']} ms`,
);
process.exit(0);
