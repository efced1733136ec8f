import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickhouse } from './client.ts';
import { sqlDateTime, sqlInt, sqlString } from './sql.ts';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from './testing.ts';

/**
 * The escaping functions are the only way values enter SQL (18.16 has no query parameters), so
 * they are checked against the real server: any string, rendered by sqlString and selected,
 * comes back unchanged — quotes, backslashes, control characters and SQL included.
 */
describe('sql.escaping against ClickHouse', () => {
  let ch: TestClickhouseDatabase;
  let client: ReturnType<typeof createClickhouse>;

  beforeAll(async () => {
    ch = await createTestClickhouseDatabase();
    client = createClickhouse({ url: ch.url, database: ch.database });
  });
  afterAll(async () => {
    await client.close();
    await ch.drop();
  });

  async function select<T>(expr: string): Promise<T> {
    const result = await client.query({ query: `SELECT ${expr} AS v`, format: 'JSONEachRow' });
    const rows = await result.json<{ v: T }>();
    return rows[0]!.v;
  }

  it('sqlString round-trips arbitrary strings through SELECT unchanged', async () => {
    const tricky = fc.constantFrom(
      "'",
      '\\',
      "\\'",
      "'; DROP TABLE usage_events_v1; --",
      '\0',
      '\x1b[31m',
      '$' + '{x}',
      '{name:String}',
      '?',
      '%s',
      '\u2028',
      '🙂',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.string({ unit: 'binary-ascii' }),
          fc.array(tricky).map((a) => a.join('')),
        ),
        async (value) => {
          expect(await select<string>(sqlString(value))).toBe(value);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sqlInt and sqlDateTime render values the server reads back exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), async (n) => {
        expect(Number(await select<string | number>(`toString(${sqlInt(n)})`))).toBe(n);
      }),
      { numRuns: 50 },
    );
    const at = new Date('2026-11-21T23:09:05.999Z');
    expect(await select<string | number>(`toUInt32(${sqlDateTime(at)})`)).toBe(
      Math.floor(at.getTime() / 1000),
    );
    expect(() => sqlInt(1.5)).toThrow(RangeError);
  });
});
