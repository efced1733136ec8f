import { z } from '@tollgate/config';
import { describe, expect, it } from 'vitest';
import { boolField, nullableDecimal, nullableInt, stringList } from './schemas.ts';

describe('form field schemas accept HTML form strings and JSON alike', () => {
  it('blank numbers are null, numeric strings are numbers', () => {
    expect(nullableInt(0).parse('')).toBeNull();
    expect(nullableInt(0).parse(undefined)).toBeNull();
    expect(nullableInt(0).parse('1234')).toBe(1234);
    expect(nullableInt(0).parse(5)).toBe(5);
    expect(() => nullableInt(0).parse('-1')).toThrow();
  });

  it('checkboxes: "on" and true are true, absence is false', () => {
    expect(boolField.parse('on')).toBe(true);
    expect(boolField.parse(true)).toBe(true);
    expect(boolField.parse(undefined)).toBe(false);
    expect(boolField.parse('false')).toBe(false);
  });

  it('lists come from comma/space separated text or arrays, blanks dropped', () => {
    const list = stringList(z.string().min(1));
    expect(list.parse('read:echo, write:echo  x')).toEqual(['read:echo', 'write:echo', 'x']);
    expect(list.parse(['a', '', 'b'])).toEqual(['a', 'b']);
    expect(list.parse(undefined)).toEqual([]);
  });

  it('decimal prices keep their exact text', () => {
    expect(nullableDecimal.parse('0.0005')).toBe('0.0005');
    expect(nullableDecimal.parse('')).toBeNull();
    expect(() => nullableDecimal.parse('1e-3')).toThrow();
  });
});
