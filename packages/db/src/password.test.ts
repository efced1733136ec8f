import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PASSWORD_HASH_PARAMS, hashPassword, verifyPassword } from './password.ts';

// Cheap parameters for the properties; one test below runs the production cost.
const FAST = { N: 1024, r: 8, p: 1 };

describe('password hashes', () => {
  it('a password verifies against its own hash and no other password does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 64 }),
        fc.string({ maxLength: 64 }),
        async (password, other) => {
          fc.pre(password.normalize('NFC') !== other.normalize('NFC'));
          const stored = await hashPassword(password, FAST);
          expect(await verifyPassword(password, stored)).toBe(true);
          expect(await verifyPassword(other, stored)).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('hashes are salted and self-describing: scrypt$N$r$p$salt$hash', async () => {
    const a = await hashPassword('tollgate-demo');
    const b = await hashPassword('tollgate-demo');
    expect(a).not.toBe(b);
    expect(a).toMatch(
      new RegExp(
        `^scrypt\\$${DEFAULT_PASSWORD_HASH_PARAMS.N}\\$8\\$1\\$[A-Za-z0-9+/]{22}==\\$[A-Za-z0-9+/]{43}=$`,
      ),
    );
    expect(await verifyPassword('tollgate-demo', a)).toBe(true);
  });

  it('a malformed or tampered stored hash is a mismatch, not an exception', async () => {
    const stored = await hashPassword('secret', FAST);
    const parts = stored.split('$');
    const tampered = [...parts.slice(0, 5), Buffer.alloc(32, 1).toString('base64')].join('$');
    for (const bad of [
      '',
      'plain-text',
      stored.replace('scrypt$', 'bcrypt$'),
      stored.replace('$1024$', '$1000$'), // N not a power of two
      stored.replace('$1024$', `$${2 ** 24}$`), // cost beyond the accepted bound
      tampered,
      parts.slice(0, 5).join('$'),
    ]) {
      expect(await verifyPassword('secret', bad), bad).toBe(false);
    }
  });
});
