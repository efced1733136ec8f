import { z } from '@tollgate/config';
import { TollgateError } from '@tollgate/core';
import { describe, expect, it } from 'vitest';
import { parseInput, toActionError } from './errors.ts';

describe('action inputs and errors', () => {
  it('parseInput keeps only the declared fields (no mass assignment)', () => {
    const schema = z.object({ name: z.string() });
    expect(parseInput(schema, { name: 'a', role: 'admin', consumerId: 'x' })).toEqual({ name: 'a' });
  });

  it('parseInput reports the field and message as an invalid TollgateError', () => {
    const schema = z.object({ quota: z.number() });
    try {
      parseInput(schema, { quota: 'many' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TollgateError);
      expect((err as TollgateError).kind).toBe('invalid');
      expect((err as TollgateError).message).toMatch(/^quota: /);
    }
  });

  it('unknown errors become a generic message that leaks nothing', () => {
    const original = console.error;
    console.error = () => {};
    try {
      const out = toActionError(new Error('password for db is hunter2'));
      expect(out).toEqual({ ok: false, error: 'Something went wrong on our side. Please try again.' });
    } finally {
      console.error = original;
    }
  });
});
