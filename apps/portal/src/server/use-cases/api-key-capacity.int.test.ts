import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../actor.ts';
import { deps } from '../deps.ts';
import { isTollgateError } from '../errors.ts';
import { MAX_WORKING_KEYS } from './api-key-capacity.ts';
import { createApiKey } from './create-api-key.ts';
import { rotateApiKey } from './rotate-api-key.ts';

/** The cap of 50 working keys per consumer, for new keys and rotations alike, on real Postgres. */
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  // The portal builds its Prisma client from its config on first use: point it at this database.
  process.env.DATABASE_URL = db.url;
});

afterAll(async () => {
  await deps().prisma.$disconnect();
  await db?.drop();
});

async function developer(name: string): Promise<Actor> {
  const consumer = await db.prisma.consumer.create({ data: { name } });
  return { kind: 'user', id: `user-${name}`, role: 'developer', consumerIds: [consumer.id], ip: null };
}

const working = (consumerId: string) =>
  db.prisma.apiKey.count({
    where: { consumerId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
  });

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: unknown) => (isTollgateError(err) ? `${err.status} ${err.code}` : `unexpected ${String(err)}`),
  );

describe('api keys: at most 50 working keys per consumer', () => {
  it('a rotation with an overlap counts as a new key; one without replaces the old key at once', async () => {
    const actor = await developer('cap co');
    const consumerId = actor.consumerIds[0]!;
    const keys = [];
    for (let i = 0; i < MAX_WORKING_KEYS; i++)
      keys.push(await createApiKey(actor, { name: `k${i}`, scopes: '' }));
    expect(await code(createApiKey(actor, { name: 'one too many', scopes: '' }))).toBe('409 TOO_MANY_KEYS');
    // both keys would work through the overlap: 51
    expect(await code(rotateApiKey(actor, { keyId: keys[0]!.id, overlapHours: 24 }))).toBe(
      '409 TOO_MANY_KEYS',
    );
    expect(await working(consumerId)).toBe(MAX_WORKING_KEYS);
    // no overlap: the old key stops now, still 50
    expect(await code(rotateApiKey(actor, { keyId: keys[0]!.id, overlapHours: 0 }))).toBe('ok');
    expect(await working(consumerId)).toBe(MAX_WORKING_KEYS);
    // a revoked key frees a place, which one rotation with an overlap takes
    await db.prisma.apiKey.update({ where: { id: keys[1]!.id }, data: { revokedAt: new Date() } });
    expect(await code(rotateApiKey(actor, { keyId: keys[2]!.id, overlapHours: 24 }))).toBe('ok');
    expect(await working(consumerId)).toBe(MAX_WORKING_KEYS);
    expect(await code(rotateApiKey(actor, { keyId: keys[3]!.id, overlapHours: 24 }))).toBe(
      '409 TOO_MANY_KEYS',
    );
    // an expired key does not work, so it does not count
    await db.prisma.apiKey.update({
      where: { id: keys[4]!.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect(await code(createApiKey(actor, { name: 'in its place', scopes: '' }))).toBe('ok');
    expect(await working(consumerId)).toBe(MAX_WORKING_KEYS);
  });

  it('concurrent creations cannot pass the cap together', async () => {
    const actor = await developer('race co');
    const consumerId = actor.consumerIds[0]!;
    for (let i = 0; i < MAX_WORKING_KEYS - 2; i++) await createApiKey(actor, { name: `k${i}`, scopes: '' });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => code(createApiKey(actor, { name: `racer ${i}`, scopes: '' }))),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(2);
    expect(results.filter((r) => r === '409 TOO_MANY_KEYS')).toHaveLength(4);
    expect(await working(consumerId)).toBe(MAX_WORKING_KEYS);
  });
});
