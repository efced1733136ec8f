import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseError } from './database-error.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

/** What Postgres refuses, through Prisma (pg adapter) and raw pg, becomes the caller's 4xx. */
describe('databaseError', () => {
  let db: TestDatabase;
  let raw: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    raw = new pg.Client({ connectionString: db.url });
    await raw.connect();
  });
  afterAll(async () => {
    await raw?.end();
    await db?.drop();
  });

  const refusal = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      const mapped = databaseError(err);
      return mapped === undefined ? { unmapped: String(err) } : { status: mapped.status, code: mapped.code };
    }
    throw new Error('the database accepted it');
  };

  it('NUL in text and in JSON is a 400 INVALID_CHARACTER', async () => {
    expect(await refusal(() => db.prisma.consumer.create({ data: { name: 'a\u0000b' } }))).toEqual({
      status: 400,
      code: 'INVALID_CHARACTER',
    });
    expect(
      await refusal(() =>
        db.prisma.api.create({
          data: { name: 'x', slug: 'nul-json', basePath: '/x', openapi: { a: '\u0000' } },
        }),
      ),
    ).toEqual({ status: 400, code: 'INVALID_CHARACTER' });
    expect(await refusal(() => raw.query('SELECT $1::text', ['a\u0000b']))).toEqual({
      status: 400,
      code: 'INVALID_CHARACTER',
    });
  });

  it('a number out of the column range is a 400 VALUE_OUT_OF_RANGE', async () => {
    expect(
      await refusal(() =>
        db.prisma.plan.create({ data: { slug: 'too-big', name: 'x', quota: 3_000_000_000 } }),
      ),
    ).toEqual({ status: 400, code: 'VALUE_OUT_OF_RANGE' });
    expect(await refusal(() => raw.query('SELECT $1::int', ['3000000000']))).toEqual({
      status: 400,
      code: 'VALUE_OUT_OF_RANGE',
    });
  });

  it('a malformed uuid is a 400 INVALID_VALUE', async () => {
    expect(await refusal(() => db.prisma.consumer.findUnique({ where: { id: 'not-a-uuid' } }))).toEqual({
      status: 400,
      code: 'INVALID_VALUE',
    });
  });

  it('a duplicate key is a 409 ALREADY_EXISTS; a dangling reference a 409 REFERENCE_CONFLICT', async () => {
    await db.prisma.plan.create({ data: { slug: 'taken', name: 'x' } });
    expect(await refusal(() => db.prisma.plan.create({ data: { slug: 'taken', name: 'y' } }))).toEqual({
      status: 409,
      code: 'ALREADY_EXISTS',
    });
    expect(
      await refusal(() =>
        db.prisma.route.create({
          data: { apiId: '00000000-0000-4000-8000-000000000000', name: 'r', path: '/' },
        }),
      ),
    ).toEqual({ status: 409, code: 'REFERENCE_CONFLICT' });
  });

  it('an update of a missing row is a 404', async () => {
    expect(
      await refusal(() =>
        db.prisma.plan.update({ where: { id: '00000000-0000-4000-8000-000000000000' }, data: { name: 'x' } }),
      ),
    ).toEqual({ status: 404, code: 'NOT_FOUND' });
  });

  it('leaves everything else to the caller', () => {
    expect(databaseError(new Error('boom'))).toBeUndefined();
    expect(databaseError({ code: 'ECONNRESET' })).toBeUndefined();
  });
});
