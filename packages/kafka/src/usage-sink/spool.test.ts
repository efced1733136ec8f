import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { makeUsageEvent } from '../testing/usage-events.ts';
import { type SpoolChunk, UsageSpool } from './spool.ts';
import { encodeLine, segmentName } from './spool-format.ts';
import { usageEventJson } from './usage-event-json.ts';

// The spool alone, on a real directory, without Kafka: what the sender relies on.
const dirs: string[] = [];
function spoolDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tg-spool-unit-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Reads and acknowledges everything readable, as the sender does after successful sends. */
async function readAll(spool: UsageSpool, batch = 100): Promise<{ lines: string[]; chunks: SpoolChunk[] }> {
  const lines: string[] = [];
  const chunks: SpoolChunk[] = [];
  while ((await spool.prepare()) !== 'empty') {
    const chunk = await spool.read(batch);
    for (const r of chunk.records) lines.push(r.line.toString());
    chunks.push({ ...chunk, records: [] });
    spool.ack(chunk);
  }
  return { lines, chunks };
}

const events = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => usageEventJson(makeUsageEvent(`c${(from + i) % 7}`, from + i)));

describe('usage spool (no broker)', () => {
  it('hands back every appended event once, in order, as the JSON line that goes to Kafka', async () => {
    const spool = UsageSpool.open({ dir: spoolDir(), writeDelayMs: 0 });
    const json = events(1000);
    for (const j of json) spool.append(j);
    expect(spool.stats().pending).toBe(1000); // nothing written on the request path
    await spool.flush();
    expect(spool.stats()).toMatchObject({ spooled: 1000, spoolDepth: 1000, pending: 0, dropped: 0 });
    expect(spool.unread()).toBe(1000);
    const { lines } = await readAll(spool, 128);
    expect(lines).toEqual(json.map((j) => `${j}\n`));
    expect(spool.stats().spoolDepth).toBe(0);
    expect(spool.unread()).toBe(0);
    expect(spool.reached(spool.end())).toBe(true);
    await spool.close();
  });

  it('a reopened spool hands out only what was not acknowledged, marked inherited, then new events', async () => {
    const dir = spoolDir();
    const json = events(300);
    const first = UsageSpool.open({ dir });
    for (const j of json) first.append(j);
    await first.flush();
    await first.prepare();
    const chunk = await first.read(120);
    first.ack(chunk);
    await first.close();

    const second = UsageSpool.open({ dir });
    expect(second.stats().spoolDepth).toBe(180);
    const later = events(1, 999)[0]!;
    second.append(later);
    await second.flush();
    const { lines, chunks } = await readAll(second);
    expect(lines).toEqual([...json.slice(120), later].map((j) => `${j}\n`));
    expect(chunks.filter((c) => c.inherited).reduce((n, c) => n + c.lines, 0)).toBe(180);
    expect(chunks.at(-1)!.inherited).toBe(false);
    await second.close();
  });

  it('sealed segments are deleted once read to their end; the active one stays', async () => {
    const dir = spoolDir();
    const spool = UsageSpool.open({ dir, segmentBytes: 16 * 1024, writeDelayMs: 0 });
    for (let turn = 0; turn < 20; turn++) {
      for (const j of events(20, turn * 20)) spool.append(j);
      await spool.waitForWrites();
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(5);
    const { lines } = await readAll(spool);
    expect(lines).toHaveLength(400);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBe(1);
    expect(spool.stats().spoolBytes).toBeLessThan(16 * 1024 + 20 * 1024);
    await spool.close();
  });

  it('torn and corrupt lines are skipped and counted; the valid ones come back in order', async () => {
    const dir = spoolDir();
    const json = events(10);
    const lines = json.map(encodeLine);
    const flipped = lines[0]!.replace('"GET"', '"PUT"');
    writeFileSync(
      join(dir, segmentName(1)),
      [...lines.slice(0, 5), flipped, 'not a spool line\n', ...lines.slice(5)].join(''),
    );
    const extra = events(1, 50)[0]!;
    appendFileSync(join(dir, segmentName(2)), encodeLine(extra) + encodeLine(extra).slice(0, 40));
    const spool = UsageSpool.open({ dir });
    expect(spool.stats().spoolDepth).toBe(13); // 12 whole lines + 1 in segment 2 (the torn one has no newline)
    const got = await readAll(spool);
    expect(got.lines).toEqual([...json, extra].map((j) => `${j}\n`));
    expect(spool.stats()).toMatchObject({ corrupt: 3, spoolDepth: 0 });
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg'))).toEqual([segmentName(3)]);
    await spool.close();
  });

  it('a line longer than the read buffer is skipped as one corrupt line; reading resumes after it', async () => {
    const dir = spoolDir();
    const json = events(3);
    const huge = encodeLine(`{"data":{"consumerId":"c1"},"pad":"${'x'.repeat(5000)}"}`);
    writeFileSync(join(dir, segmentName(1)), encodeLine(json[0]!) + huge + encodeLine(json[1]!));
    writeFileSync(join(dir, segmentName(2)), encodeLine(json[2]!));
    const spool = UsageSpool.open({ dir, readBufferBytes: 1024 });
    const got = await readAll(spool);
    expect(got.lines).toEqual(json.map((j) => `${j}\n`));
    expect(spool.stats().corrupt).toBe(1);
    expect(spool.stats().spoolDepth).toBe(0);
    await spool.close();
  });

  it('one spool per directory: a second open of a held directory is refused', async () => {
    const dir = spoolDir();
    const spool = UsageSpool.open({ dir });
    expect(() => UsageSpool.open({ dir })).toThrow(/already open/);
    await spool.close();
    const again = UsageSpool.open({ dir });
    await again.close();
  });

  it('over the disk bound and over the memory bound, events are dropped and counted by reason', async () => {
    const disk = UsageSpool.open({ dir: spoolDir(), segmentBytes: 16 * 1024, maxSpoolBytes: 32 * 1024 });
    for (const j of events(500)) disk.append(j);
    await disk.flush();
    const d = disk.stats();
    expect(d.spoolBytes).toBeLessThanOrEqual(32 * 1024);
    expect(d.spooled + d.droppedByReason.disk).toBe(500);
    expect(d.droppedByReason.disk).toBeGreaterThan(0);
    await disk.close();

    const memory = UsageSpool.open({ dir: spoolDir(), maxPendingEvents: 50 });
    for (const j of events(200)) memory.append(j);
    expect(memory.stats()).toMatchObject({ pending: 50, dropped: 150 });
    expect(memory.stats().droppedByReason.memory).toBe(150);
    await memory.flush();
    for (const j of events(10)) memory.append(j); // the bound is on what waits, not a lifetime cap
    await memory.close();
    expect(memory.stats()).toMatchObject({ spooled: 60, dropped: 150 });
    memory.append(events(1)[0]!);
    expect(memory.stats().droppedByReason.closed).toBe(1);
  });

  it('waitForAck resolves once the reader passed the position, and false at its deadline', async () => {
    const spool = UsageSpool.open({ dir: spoolDir(), writeDelayMs: 0 });
    for (const j of events(10)) spool.append(j);
    await spool.waitForWrites();
    const target = spool.end();
    expect(await spool.waitForAck(target, 20)).toBe(false);
    const waiting = spool.waitForAck(target, 5000);
    expect(spool.hasWaiters()).toBe(true);
    await readAll(spool);
    expect(await waiting).toBe(true);
    expect(spool.hasWaiters()).toBe(false);
    await spool.close();
  });

  it('sync mode writes before append returns', async () => {
    const spool = UsageSpool.open({ dir: spoolDir(), writeMode: 'sync' });
    for (const j of events(5)) spool.append(j);
    expect(spool.stats()).toMatchObject({ spooled: 5, pending: 0 });
    expect((await readAll(spool)).lines).toHaveLength(5);
    await spool.close();
  });

  it('any interleaving of appends, reads, acks and reopenings loses nothing acknowledged-not and repeats nothing acknowledged', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('append' as const), n: fc.integer({ min: 1, max: 30 }) }),
            fc.record({ op: fc.constant('read' as const), n: fc.integer({ min: 1, max: 40 }) }),
            fc.record({ op: fc.constant('reopen' as const) }),
          ),
          { maxLength: 25 },
        ),
        async (ops) => {
          const dir = spoolDir();
          let spool = UsageSpool.open({ dir, segmentBytes: 4 * 1024, writeDelayMs: 0 });
          const appended: string[] = [];
          const delivered: string[] = [];
          for (const step of ops) {
            if (step.op === 'append') {
              for (const j of events(step.n, appended.length)) {
                spool.append(j);
                appended.push(j);
              }
              await spool.waitForWrites();
            } else if (step.op === 'read') {
              if ((await spool.prepare()) === 'empty') continue;
              const chunk = await spool.read(step.n);
              for (const r of chunk.records) delivered.push(r.line.toString().slice(0, -1));
              spool.ack(chunk);
            } else {
              await spool.close();
              spool = UsageSpool.open({ dir, segmentBytes: 4 * 1024, writeDelayMs: 0 });
            }
          }
          const rest = await readAll(spool);
          delivered.push(...rest.lines.map((l) => l.slice(0, -1)));
          await spool.close();
          rmSync(dir, { recursive: true, force: true });
          expect(delivered).toEqual(appended);
        },
      ),
      { numRuns: 40 },
    );
  });
});
