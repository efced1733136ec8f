import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCommitted, encodeCommitted, encodeLine, parseChunk } from './spool-format.ts';

const eventJson = fc
  .record({ id: fc.uuid(), subject: fc.string({ minLength: 1, maxLength: 20 }), n: fc.integer() })
  .map((e) => JSON.stringify({ ...e, data: { consumerId: e.subject } }));

describe('spool format', () => {
  it('whole lines round-trip in order, keyed by consumer id', () => {
    fc.assert(
      fc.property(fc.array(eventJson, { maxLength: 50 }), (events) => {
        const buf = Buffer.from(events.map(encodeLine).join(''));
        const parsed = parseChunk(buf, buf.length, 1000, true);
        expect(parsed.corrupt).toBe(0);
        expect(parsed.consumed).toBe(buf.length);
        expect(parsed.records.map((r) => r.line.toString())).toEqual(events.map((e) => `${e}\n`));
        expect(parsed.records.map((r) => r.key)).toEqual(events.map((e) => JSON.parse(e).data.consumerId));
      }),
    );
  });

  it('a torn tail at the end of a sealed segment is skipped and counted once; the lines before survive', () => {
    fc.assert(
      fc.property(fc.array(eventJson, { minLength: 1, maxLength: 30 }), fc.nat(), (events, cutSeed) => {
        const text = Buffer.from(events.map(encodeLine).join(''));
        const lastStart = text.length - Buffer.byteLength(encodeLine(events.at(-1)!));
        const cut = lastStart + 1 + (cutSeed % (text.length - lastStart - 1)); // inside the last line
        const parsed = parseChunk(text, cut, 1000, true);
        expect(parsed.records.map((r) => r.line.toString())).toEqual(
          events.slice(0, -1).map((e) => `${e}\n`),
        );
        expect(parsed.corrupt).toBe(1);
        expect(parsed.consumed).toBe(cut);
      }),
    );
  });

  it('any corruption of one byte loses at most the lines it touches, never throws', () => {
    fc.assert(
      fc.property(
        fc.array(eventJson, { minLength: 1, maxLength: 20 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (events, at, byte) => {
          const buf = Buffer.from(events.map(encodeLine).join(''));
          const pos = at % buf.length;
          const changed = buf[pos] !== byte;
          buf[pos] = byte;
          const parsed = parseChunk(buf, buf.length, 1000, true);
          expect(parsed.records.length).toBeGreaterThanOrEqual(events.length - 2);
          if (changed) expect(parsed.records.length).toBeLessThanOrEqual(events.length);
          for (const r of parsed.records) expect(events).toContain(r.line.toString().slice(0, -1));
        },
      ),
    );
  });

  it('without the end of the segment, a partial line is left for later, not counted', () => {
    const line = encodeLine('{"data":{"consumerId":"c"}}');
    const buf = Buffer.from(line + line.slice(0, 10));
    const parsed = parseChunk(buf, buf.length, 10, false);
    expect(parsed).toMatchObject({ consumed: line.length, corrupt: 0 });
    expect(parsed.records).toHaveLength(1);
  });

  it('the committed record round-trips and a damaged one is rejected', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (seq, offset) => {
        const rec = encodeCommitted(seq, offset);
        expect(rec.length).toBe(64);
        expect(decodeCommitted(rec.toString('latin1'))).toEqual({ seq, offset });
        expect(
          decodeCommitted(rec.toString('latin1').replace(/^\d/, (d) => String((Number(d) + 1) % 10))),
        ).toBeNull();
      }),
    );
  });
});
