import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { API_KEY_LENGTH, generateApiKey, hashApiKey, parseApiKey } from './api-key.ts';

const randomFrom = (bytes: Uint8Array) => (n: number) => bytes.slice(0, n);
const secretBytes = fc.uint8Array({ minLength: 20, maxLength: 20 });
const env = fc.constantFrom('live' as const, 'test' as const);

describe('api key format', () => {
  it('every generated key parses, with its env and display prefix', () => {
    fc.assert(
      fc.property(secretBytes, env, (bytes, e) => {
        const k = generateApiKey(e, randomFrom(bytes));
        expect(k.key).toHaveLength(API_KEY_LENGTH);
        expect(k.key.startsWith(`tg_${e}_`)).toBe(true);
        const parsed = parseApiKey(k.key);
        expect(parsed).toEqual({ ok: true, env: e, prefix: k.prefix });
        expect(k.lastFour).toBe(k.key.slice(-4));
        expect(k.hash).toBe(hashApiKey(k.key));
        expect(k.hash).toMatch(/^[0-9a-f]{64}$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('distinct secrets give distinct keys (the encoding loses no entropy)', () => {
    fc.assert(
      fc.property(secretBytes, secretBytes, (a, b) => {
        fc.pre(Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0);
        expect(generateApiKey('live', randomFrom(a)).key).not.toBe(generateApiKey('live', randomFrom(b)).key);
      }),
    );
  });

  it('a single changed character is rejected without a lookup', () => {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    fc.assert(
      fc.property(secretBytes, fc.nat(), fc.nat(), (bytes, pos, pick) => {
        const { key } = generateApiKey('live', randomFrom(bytes));
        const start = 'tg_live_'.length;
        const i = start + (pos % (key.length - start));
        const replacement = alphabet[pick % alphabet.length]!;
        fc.pre(replacement !== key[i]);
        const mutated = key.slice(0, i) + replacement + key.slice(i + 1);
        expect(parseApiKey(mutated).ok).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });

  it('arbitrary strings never parse unless they carry a valid checksum, and never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const r = parseApiKey(s);
        if (r.ok) expect(s).toMatch(/^tg_(live|test)_[0-9A-Za-z]+$/);
      }),
      { numRuns: 5000 },
    );
    expect(parseApiKey('')).toEqual({ ok: false, reason: 'format' });
    expect(parseApiKey(`tg_prod_${'a'.repeat(34)}`)).toEqual({ ok: false, reason: 'format' });
  });

  it('the secret carries at least 128 random bits', () => {
    // 28 base62 chars hold 166 bits; 20 random bytes fill 160 of them.
    expect(28 * Math.log2(62)).toBeGreaterThanOrEqual(160);
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey().key));
    expect(keys.size).toBe(1000);
  });
});
