import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AccessLog } from './access-log.ts';

type Row = [
  string,
  string,
  string,
  string | null,
  number,
  number,
  number,
  number,
  string | null,
  string | null,
];

const row = fc.tuple(
  fc.string(),
  fc.constantFrom('GET', 'POST', 'DELETE'),
  fc.string({ unit: 'binary' }),
  fc.option(fc.string(), { nil: null }),
  fc.integer({ min: 100, max: 599 }),
  fc.double({ min: 0, max: 1e6, noNaN: true }),
  fc.nat(),
  fc.nat(),
  fc.option(fc.string(), { nil: null }),
  fc.option(fc.webUrl(), { nil: null }),
);

function capture() {
  const chunks: string[] = [];
  return {
    chunks,
    write: (c: string) => chunks.push(c),
    lines: () => chunks.join('').split('\n').filter(Boolean),
  };
}

describe('access log', () => {
  it('writes the line pino would write for the same fields (any strings, escaped)', () => {
    fc.assert(
      fc.property(row, (r: Row) => {
        const ours = capture();
        const log = new AccessLog(ours, { bindings: { instance: 'gw-1', log: 'access' }, enabled: true });
        log.record(...r);
        log.close();
        const theirs = capture();
        const [reqId, method, path, route, status, ms, bytesIn, bytesOut, consumer, upstream] = r;
        pino({ base: { instance: 'gw-1' } }, theirs)
          .child({ log: 'access' })
          .info({ reqId, method, path, route, status, ms, in: bytesIn, out: bytesOut, consumer, upstream });
        const a = JSON.parse(ours.lines()[0]!);
        const b = JSON.parse(theirs.lines()[0]!);
        expect(typeof a.time).toBe('number');
        expect(Object.keys(a)).toEqual(Object.keys(b));
        expect({ ...a, time: 0 }).toEqual({ ...b, time: 0 });
      }),
      { numRuns: 1000 },
    );
  });

  it('hands lines to the destination in chunks, and everything on close', () => {
    const out = capture();
    const log = new AccessLog(out, {
      bindings: {},
      enabled: true,
      flushBytes: 1000,
      flushIntervalMs: 60_000,
    });
    log.record('r', 'GET', '/x', null, 200, 1, 0, 2, null, null);
    expect(out.chunks).toEqual([]);
    for (let i = 0; i < 20; i++) log.record(`r${i}`, 'GET', '/x', null, 200, 1, 0, 2, null, null);
    expect(out.chunks.length).toBeGreaterThan(0);
    expect(out.chunks.every((c) => c.endsWith('\n'))).toBe(true);
    log.close();
    expect(out.lines()).toHaveLength(21);
  });

  it('writes nothing when disabled', () => {
    const out = capture();
    const log = new AccessLog(out, { bindings: {}, enabled: false });
    log.record('r', 'GET', '/x', null, 200, 1, 0, 2, null, null);
    log.close();
    expect(out.chunks).toEqual([]);
  });
});
