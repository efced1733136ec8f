import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { uuidv7Time } from '@tollgate/core';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../../infra/testing/stack.ts';
import { createKafka, ensureTopics } from '../client.ts';
import { freePort } from '../testing/free-port.ts';
import { makeUsageEvent, readWholeTopic } from '../testing/usage-events.ts';
import { KafkaUsageSink, type SinkLogger } from './kafka-usage-sink.ts';
import { encodeLine, segmentName } from './spool-format.ts';
import { usageEventJson } from './usage-event-json.ts';

const brokers = sharedStackEnv().KAFKA_BROKERS!.split(',');
const kafka = createKafka({ brokers, clientId: 'usage-sink-test', retries: 2 });
const dirs: string[] = [];

function spoolDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tg-spool-'));
  dirs.push(d);
  return d;
}

async function freshTopic(): Promise<string> {
  const topic = `tollgate.usage.v2.test-${randomUUID()}`;
  await ensureTopics(kafka, [{ topic, numPartitions: 3 }]);
  return topic;
}

/** A broker address where nothing listens: Kafka "down" without touching the shared stack. */
async function deadKafka() {
  const port = await freePort();
  return createKafka({
    brokers: [`127.0.0.1:${port}`],
    clientId: 'usage-sink-dead',
    retries: 0,
    connectionTimeoutMs: 200,
  });
}

const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
const log: SinkLogger = (level, msg, fields) => {
  logs.push({ level, msg, ...(fields === undefined ? {} : { fields }) });
};

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('usage sink: happy path', () => {
  it('N events published → exactly N in the topic (ids compared), in a few records, one consumer per partition', async () => {
    const topic = await freshTopic();
    const sink = KafkaUsageSink.open({ kafka, topic, spoolDir: spoolDir(), log });
    const ids = new Set<string>();
    const consumers = ['c_alpha', 'c_beta', 'c_gamma', 'c_delta', 'c_epsilon'];
    for (let i = 0; i < 3000; i++) {
      const ev = makeUsageEvent(consumers[i % consumers.length]!, i);
      ids.add(ev.id);
      sink.publish(ev);
    }
    expect(await sink.drain(30_000)).toBe(true);
    const stats = sink.stats();
    await sink.close();
    expect(stats).toMatchObject({
      published: 3000,
      spooled: 3000,
      sent: 3000,
      dropped: 0,
      corrupt: 0,
      spoolDepth: 0,
    });
    const got = await readWholeTopic(kafka, topic);
    expect(got).toHaveLength(3000);
    expect(new Set(got.map((m) => m.id))).toEqual(ids);
    // v2 records carry no key: the partition is chosen per consumer by the sink.
    for (const m of got) expect(m.key).toBeNull();
    // One consumer's events all land on one partition.
    for (const c of consumers)
      expect(new Set(got.filter((m) => m.consumerId === c).map((m) => m.partition)).size).toBe(1);
    // Many events per record, at most one record per partition per produce request.
    expect(stats.records).toBeLessThan(3000 / 50);
    expect(stats.records).toBeLessThanOrEqual(stats.produceRequests * 3);
    expect(stats.produceRequests).toBeGreaterThan(0);
  });

  it('acked segments are deleted; the spool stays about one segment in steady state', async () => {
    const topic = await freshTopic();
    const dir = spoolDir();
    // writeDelayMs 0: one write per turn, so each write is one turn's ~20 KB (the bound below).
    const sink = KafkaUsageSink.open({
      kafka,
      topic,
      spoolDir: dir,
      segmentBytes: 64 * 1024,
      writeDelayMs: 0,
      log,
    });
    // 40 event-loop turns of 50 events (one write each, ~20 KB): a segment is sealed at the first
    // write that finds it over segmentBytes, so it exceeds the target by at most one write.
    let maxSpoolBytes = 0;
    for (let turn = 0; turn < 40; turn++) {
      for (let i = 0; i < 50; i++) sink.publish(makeUsageEvent(`c${i % 7}`, turn * 50 + i));
      await new Promise((r) => setTimeout(r, 5));
      maxSpoolBytes = Math.max(maxSpoolBytes, sink.stats().spoolBytes);
    }
    expect(await sink.drain(30_000)).toBe(true);
    const stats = sink.stats();
    await sink.close();
    expect(stats.sent).toBe(2000);
    expect(stats.spoolBytes).toBeLessThanOrEqual(64 * 1024 + 25 * 1024);
    // 2000 events are ~800 KB in 12+ segments: all but the active one were deleted once acked.
    console.info(
      `segment test: peak spool ${maxSpoolBytes} B while sending, ${stats.spoolBytes} B at the end`,
    );
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeLessThanOrEqual(2);
  });
});

describe('usage sink: restart', () => {
  it('a new sink on the same directory continues after what the broker acked: nothing sent twice', async () => {
    const topic = await freshTopic();
    const dir = spoolDir();
    const first = KafkaUsageSink.open({ kafka, topic, spoolDir: dir, log });
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const ev = makeUsageEvent(`c${i % 5}`, i);
      ids.push(ev.id);
      first.publish(ev);
    }
    await first.close({ deadlineMs: 30_000 });
    expect(first.stats()).toMatchObject({ sent: 1000, spoolDepth: 0 });
    first.publish(makeUsageEvent('c1', 0)); // after close: dropped and counted, never thrown
    expect(first.stats().droppedByReason.closed).toBe(1);

    const second = KafkaUsageSink.open({ kafka, topic, spoolDir: dir, log });
    for (let i = 0; i < 500; i++) {
      const ev = makeUsageEvent(`c${i % 5}`, i);
      ids.push(ev.id);
      second.publish(ev);
    }
    expect(await second.drain(30_000)).toBe(true);
    const stats = second.stats();
    await second.close();
    expect(stats).toMatchObject({ sent: 500, replayed: 0 });
    const got = await readWholeTopic(kafka, topic);
    expect(got).toHaveLength(1500);
    expect(new Set(got.map((m) => m.id))).toEqual(new Set(ids));
  });

  it('one sink per spool directory: a second open of a held directory is refused', async () => {
    const dir = spoolDir();
    const dead = await deadKafka();
    const sink = KafkaUsageSink.open({ kafka: dead, topic: 't', spoolDir: dir });
    expect(() => KafkaUsageSink.open({ kafka: dead, topic: 't', spoolDir: dir })).toThrow(/already open/);
    await sink.close({ deadlineMs: 100 });
    const again = KafkaUsageSink.open({ kafka: dead, topic: 't', spoolDir: dir });
    await again.close({ deadlineMs: 100 });
  });
});

describe('usage sink: torn and corrupt spool lines', () => {
  it('a corrupt line and a torn last line are skipped and counted, the valid events are sent in order', async () => {
    const topic = await freshTopic();
    const dir = spoolDir();
    const valid = Array.from({ length: 10 }, (_, i) => makeUsageEvent(`c${i % 2}`, i));
    const lines = valid.map((e) => encodeLine(usageEventJson(e)));
    // Segment 1: 5 valid, one with a flipped byte (CRC mismatch), one garbage line, 5 valid.
    const flipped = lines[0]!.replace('"GET"', '"PUT"');
    writeFileSync(
      join(dir, segmentName(1)),
      [...lines.slice(0, 5), flipped, 'not a spool line\n', ...lines.slice(5)].join(''),
    );
    // Segment 2: a torn last line, as a crash mid-write leaves it.
    const extra = makeUsageEvent('c9', 99);
    const extraLine = encodeLine(usageEventJson(extra));
    appendFileSync(join(dir, segmentName(2)), extraLine + extraLine.slice(0, 40));
    const sink = KafkaUsageSink.open({ kafka, topic, spoolDir: dir, log });
    expect(await sink.drain(30_000)).toBe(true);
    const stats = sink.stats();
    await sink.close();
    expect(stats).toMatchObject({ sent: 11, replayed: 11, corrupt: 3, spoolDepth: 0 });
    const got = await readWholeTopic(kafka, topic);
    expect(new Set(got.map((m) => m.id))).toEqual(new Set([...valid.map((e) => e.id), extra.id]));
    // Per consumer (= per partition), the order is the spool's order.
    const c0 = got.filter((m) => m.consumerId === 'c0').map((m) => m.id);
    expect(c0).toEqual(valid.filter((e) => e.data.consumerId === 'c0').map((e) => e.id));
    expect(logs.some((l) => l.msg.includes('corrupt'))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg'))).toEqual([segmentName(3)]);
  });
});

describe('usage sink: bounds', () => {
  it('with Kafka down and a tiny disk bound, extra events are dropped, counted and logged; memory stays bounded', async () => {
    const dir = spoolDir();
    const dropLogs: unknown[] = [];
    const sink = KafkaUsageSink.open({
      kafka: await deadKafka(),
      topic: 'tollgate.usage.v2.nowhere',
      spoolDir: dir,
      segmentBytes: 32 * 1024,
      maxSpoolBytes: 64 * 1024,
      log: (_level, msg, fields) => {
        if (msg.includes('dropped')) dropLogs.push(fields);
      },
    });
    // A real GC before each heap reading, so the difference is what the sink retained.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 50_000; i++) sink.publish(makeUsageEvent('c1', i));
    await sink.flush();
    const stats = sink.stats();
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    await sink.close({ deadlineMs: 200 });
    console.info(
      `bound test: spooled ${stats.spooled}, dropped ${stats.dropped}, spool ${stats.spoolBytes} B, inMemory ${stats.inMemory}, heap growth ${(heapGrowth / 1e6).toFixed(1)} MB`,
    );
    expect(stats.published).toBe(50_000);
    expect(stats.spoolBytes).toBeLessThanOrEqual(64 * 1024);
    expect(stats.spooled).toBeGreaterThan(0);
    expect(stats.dropped).toBe(50_000 - stats.spooled);
    expect(stats.droppedByReason.disk).toBe(stats.dropped);
    expect(stats.inMemory).toBeLessThanOrEqual(500);
    expect(dropLogs.length).toBeGreaterThanOrEqual(1);
    expect(dropLogs.length).toBeLessThan(10); // throttled, not one line per drop
    // 50k events of ~450 bytes would be ~22 MB if anything held them.
    expect(heapGrowth).toBeLessThan(2e6);
  });
});

describe('usage sink: memory bound', () => {
  it('a burst beyond maxPendingEvents within one event-loop turn is dropped and counted as memory', async () => {
    const sink = KafkaUsageSink.open({
      kafka: await deadKafka(),
      topic: 'tollgate.usage.v2.nowhere',
      spoolDir: spoolDir(),
      maxPendingEvents: 100,
    });
    for (let i = 0; i < 1000; i++) sink.publish(makeUsageEvent('c1', i));
    const during = sink.stats();
    await sink.flush();
    const after = sink.stats();
    await sink.close({ deadlineMs: 100 });
    expect(during.inMemory).toBeLessThanOrEqual(100);
    expect(during.droppedByReason.memory).toBe(900);
    expect(after).toMatchObject({ published: 1000, spooled: 100, dropped: 900 });
    // The next turn accepts again: the bound is on what waits for a write, not a lifetime cap.
  });
});

describe('usage sink: crash (SIGKILL) while Kafka is down', () => {
  async function crashAndReplay(writeMode: 'async' | 'sync') {
    const dir = spoolDir();
    const reportFile = join(dir, '..', `${randomUUID()}.ids`);
    dirs.push(reportFile);
    const deadPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '..', 'testing', 'publish-worker.ts'),
        `127.0.0.1:${deadPort}`,
        dir,
        reportFile,
        writeMode,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_c, sig) => resolve(sig)),
    );
    // Let it publish for a while (about 10 000 events/s), then kill it without warning.
    const until = Date.now() + 20_000;
    let reported: string[] = [];
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        reported = readFileSync(reportFile, 'utf8').split('\n').filter(Boolean);
      } catch {
        reported = [];
      }
      if (reported.length >= 3000) break;
    }
    expect(reported.length).toBeGreaterThanOrEqual(3000);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // Only whole lines: a torn last line of the report was not a completed report.
    const text = readFileSync(reportFile, 'utf8');
    reported = text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter(Boolean);

    const topic = await freshTopic();
    const sink = KafkaUsageSink.open({ kafka, topic, spoolDir: dir, log });
    expect(await sink.drain(60_000)).toBe(true);
    const stats = sink.stats();
    await sink.close();
    const got = await readWholeTopic(kafka, topic);
    const inKafka = new Set(got.map((m) => m.id));
    const lost = reported.filter((id) => !inKafka.has(id));
    const lastMs = uuidv7Time(reported.at(-1)!);
    const oldestLostAgoMs = lost.length === 0 ? 0 : lastMs - uuidv7Time(lost[0]!);
    console.info(
      `crash test (${writeMode}): child reported ${reported.length} published, replayed ${stats.replayed}, ` +
        `in Kafka ${got.length}, lost ${lost.length} (oldest lost published ${oldestLostAgoMs} ms before the last report), corrupt ${stats.corrupt}`,
    );
    expect(got.length).toBe(inKafka.size); // no duplicates
    expect(stats.replayed).toBe(stats.sent);
    return { reported, lost, oldestLostAgoMs };
  }

  it('sync mode: a new sink on the same spool sends every event the killed process had published', async () => {
    const { lost } = await crashAndReplay('sync');
    expect(lost).toEqual([]);
  });

  it('async mode (default): only the most recent events, within the documented window, can be lost', async () => {
    const { reported, lost, oldestLostAgoMs } = await crashAndReplay('async');
    // Lost events are a suffix of what was published (nothing older is ever missing)...
    expect(lost).toEqual(reported.slice(reported.length - lost.length));
    // ...published within the fsync interval (100 ms) before the kill, and within the memory bound.
    expect(oldestLostAgoMs).toBeLessThanOrEqual(100);
    expect(lost.length).toBeLessThanOrEqual(10_000);
  });
});
