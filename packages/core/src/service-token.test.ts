import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serviceTokenMatcher } from './service-token.ts';

describe('service token check', () => {
  const token = 'a-service-token-0123456789abcdef';
  const matches = serviceTokenMatcher(token);

  it('accepts exactly `Bearer <token>`', () => {
    expect(matches(`Bearer ${token}`)).toBe(true);
    expect(matches(`bearer ${token}`)).toBe(true);
  });

  it('refuses a missing header, another scheme, a prefix, an extension and an empty token', () => {
    for (const header of [
      undefined,
      '',
      'Bearer ',
      'Bearer',
      token,
      `Basic ${token}`,
      `Bearer ${token.slice(0, -1)}`,
      `Bearer ${token}x`,
      `Bearer  ${token}`,
    ])
      expect(matches(header), String(header)).toBe(false);
    expect(() => serviceTokenMatcher('')).toThrow(RangeError);
  });

  it('any other token is refused, whatever its length', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), (other) => {
        fc.pre(other !== token);
        expect(matches(`Bearer ${other}`)).toBe(false);
      }),
    );
  });
});
