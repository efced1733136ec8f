import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressKey } from './address-key.ts';

describe('addressKey', () => {
  it('keeps IPv4 addresses and other values as they are', () => {
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('unknown')).toBe('unknown');
  });

  it('counts IPv6 by /64, however the address is abbreviated', () => {
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::7')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff::')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });

  it('two addresses in one /64 share a key, addresses in different /64s do not', () => {
    const group = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
    fc.assert(
      fc.property(
        fc.array(group, { minLength: 8, maxLength: 8 }),
        fc.array(group, { minLength: 4, maxLength: 4 }),
        (a, host) => {
          const one = a.join(':');
          const sibling = [...a.slice(0, 4), ...host].join(':');
          expect(addressKey(one)).toBe(addressKey(sibling));
          const other = [a[0], a[1], a[2], (Number.parseInt(a[3]!, 16) ^ 1).toString(16), ...a.slice(4)].join(
            ':',
          );
          expect(addressKey(other)).not.toBe(addressKey(one));
        },
      ),
    );
  });

  it('counts IPv4-mapped addresses as IPv4 and an IPv6 client as its /64', () => {
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(addressKey('2001:0DB8:0001:0002::')).toBe('2001:db8:1:2::/64');
  });

  it('two addresses of one /64 share a key; of different /64s never (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
        (a, b) => {
          const text = (g: number[]) => g.map((x) => x.toString(16)).join(':');
          const same = a.slice(0, 4).every((x, i) => x === b[i]);
          expect(addressKey(text(a)) === addressKey(text(b))).toBe(same);
        },
      ),
    );
  });
});
