import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateStack, startPrivateStack } from '../../../../infra/testing/stack.ts';
import { createKafka, ensureTopics } from '../client.ts';
import { makeUsageEvent, readWholeTopic } from '../testing/usage-events.ts';
import { KafkaUsageSink } from './kafka-usage-sink.ts';
import { usageEventJson } from './usage-event-json.ts';

// Stops Kafka on purpose, so it runs a PRIVATE Kafka (never the shared stack's).
let stack: PrivateStack;
let spool: string;

beforeAll(async () => {
  stack = await startPrivateStack({ services: ['kafka'] });
  spool = mkdtempSync(join(tmpdir(), 'tg-spool-outage-'));
}, 240_000);

afterAll(async () => {
  await stack?.destroy();
  if (spool !== undefined) rmSync(spool, { recursive: true, force: true });
}, 120_000);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
}

describe('usage sink: Kafka stopped for 10+ s under load', () => {
  it('publish never waits on the outage, and afterwards every event is in the topic exactly once', async () => {
    const kafka = createKafka({
      brokers: stack.env.KAFKA_BROKERS!.split(','),
      clientId: 'usage-sink-outage-test',
      retries: 2,
      connectionTimeoutMs: 1000,
    });
    const topic = 'tollgate.usage.v2.test-outage';
    await ensureTopics(kafka, [{ topic, numPartitions: 3 }]);
    const logs: string[] = [];
    const sink = KafkaUsageSink.open({
      kafka,
      topic,
      spoolDir: spool,
      log: (level, msg) => logs.push(`${level} ${msg}`),
    });

    // 200 events/s, paced by wall time from a 5 ms timer, as requests finishing would publish.
    const ids: string[] = [];
    const durations: number[] = [];
    // Control: the same CPU work without the spool (serialize + CRC), measured interleaved, to
    // tell scheduler noise on this shared machine from time spent in publish().
    const control: number[] = [];
    let sink2 = 0;
    const loadStart = Date.now();
    let i = 0;
    const load = setInterval(() => {
      const due = Math.floor(((Date.now() - loadStart) / 1000) * 200);
      while (i < due) {
        const ev = makeUsageEvent(`c${i % 11}`, i);
        i += 1;
        const c0 = performance.now();
        const json = usageEventJson(ev);
        sink2 += crc32(json) & 1;
        control.push(performance.now() - c0);
        const t0 = performance.now();
        sink.publish(ev);
        durations.push(performance.now() - t0);
        ids.push(ev.id);
      }
    }, 5);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const pollUntil = async (what: string, cond: () => boolean, deadlineMs: number) => {
      const until = Date.now() + deadlineMs;
      while (!cond()) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
      }
    };
    try {
      await pollUntil('first events acked', () => sink.stats().sent >= 200, 30_000);
      await stack.stop('kafka');
      // From here until the restart Kafka is down (the stop waits for the process to exit).
      const downAt = Date.now();
      const publishedAtStop = ids.length;
      await pollUntil('the sink to notice the outage', () => !sink.stats().kafkaUp, 30_000);
      const depthBefore = sink.stats().spoolDepth;
      await sleep(Math.max(0, 10_500 - (Date.now() - downAt)));
      const down = sink.stats();
      const downSeconds = (Date.now() - downAt) / 1000;
      expect(downSeconds).toBeGreaterThanOrEqual(10);
      expect(down.kafkaUp).toBe(false);
      expect(down.spoolDepth).toBeGreaterThan(depthBefore);
      // The load kept flowing while Kafka was down.
      expect(ids.length - publishedAtStop).toBeGreaterThan(downSeconds * 200 * 0.9);
      await stack.start('kafka');
      await pollUntil('the sink to reach Kafka again', () => sink.stats().kafkaUp, 60_000);
      await sleep(2000); // some load after the recovery too
    } finally {
      clearInterval(load);
    }
    expect(await sink.drain(60_000)).toBe(true);
    const stats = sink.stats();
    await sink.close();

    const got = await readWholeTopic(kafka, topic);
    const inKafka = new Set(got.map((m) => m.id));
    const missing = ids.filter((id) => !inKafka.has(id));
    durations.sort((a, b) => a - b);
    control.sort((a, b) => a - b);
    const p50 = quantile(durations, 0.5);
    const p99 = quantile(durations, 0.99);
    const p999 = quantile(durations, 0.999);
    const max = durations.at(-1) ?? 0;
    const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;
    console.info(
      `outage test: published ${ids.length}, in Kafka ${got.length} (unique ${inKafka.size}), missing ${missing.length}, ` +
        `replayed ${stats.replayed}, sendErrors ${stats.sendErrors}; publish() p50 ${us(p50)}, p99 ${us(p99)}, ` +
        `p99.9 ${us(p999)}, max ${us(max)}; control without I/O p50 ${us(quantile(control, 0.5))}, ` +
        `p99 ${us(quantile(control, 0.99))}, p99.9 ${us(quantile(control, 0.999))}, max ${us(control.at(-1) ?? 0)} (${sink2 >= 0 ? 'ok' : ''})`,
    );
    expect(stats).toMatchObject({ published: ids.length, spooled: ids.length, sent: ids.length, dropped: 0 });
    expect(stats.replayed).toBeGreaterThan(1500);
    expect(missing).toEqual([]);
    expect(got.length).toBe(ids.length); // exactly once: no duplicates
    expect(inKafka.size).toBe(ids.length);
    // publish() is a local append: it never waited on the outage (a wait on Kafka would take a
    // connection timeout, >= 1 s, or a retry backoff, >= 100 ms). 99% of calls stay under 1 ms.
    // Rare single calls above 1 ms on this shared, loaded 2-core machine are scheduler preemption:
    // the control without any I/O shows the same tail (printed above), hence the looser max bound.
    expect(p99).toBeLessThan(1);
    expect(max).toBeLessThan(50);
    expect(logs.some((l) => l.includes('kafka send failed'))).toBe(true);
  }, 240_000);
});
