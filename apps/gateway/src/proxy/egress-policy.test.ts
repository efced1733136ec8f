import { describe, expect, it } from 'vitest';
import { EgressPolicy, parseEgressAllowEntry } from './egress-policy.ts';

describe('egress policy', () => {
  it('refuses internal addresses by default and allows public ones', () => {
    const policy = new EgressPolicy([]);
    for (const address of [
      '127.0.0.1',
      '127.1.2.3',
      '0.0.0.0',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fd00:ec2::254',
      'fc00::1',
      'fe80::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '64:ff9b::a00:1',
      '2002:a00:1::1',
    ]) {
      expect(policy.check(address, 80, 'h'), address).toBe('internal');
    }
    for (const address of ['93.184.216.34', '172.32.0.1', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) {
      expect(policy.check(address, 80, 'h'), address).toBe('allowed');
    }
    expect(policy.check('not an address', 80, 'h')).toBe('internal');
  });

  it('allows what GATEWAY_UPSTREAM_ALLOW names: subnets, addresses, address:port, hostname:port', () => {
    const policy = new EgressPolicy([
      '10.0.0.0/8',
      '::1',
      '127.0.0.1:4010',
      '[fd00::5]:8123',
      'ch.internal:8123',
    ]);
    expect(policy.check('10.9.9.9', 5432, 'db')).toBe('allowed');
    expect(policy.check('::1', 1, 'x')).toBe('allowed');
    expect(policy.check('127.0.0.1', 4010, 'x')).toBe('allowed');
    expect(policy.check('127.0.0.1', 4011, 'x')).toBe('internal');
    expect(policy.check('fd00::5', 8123, 'x')).toBe('allowed');
    expect(policy.check('fd00::5', 8124, 'x')).toBe('internal');
    expect(policy.check('192.168.0.7', 8123, 'ch.internal')).toBe('allowed');
    expect(policy.check('192.168.0.7', 8123, 'other.internal')).toBe('internal');
    expect(policy.check('169.254.169.254', 80, 'x')).toBe('internal');
  });

  it("refuses the gateway's own ports on local addresses even when allowed", () => {
    const policy = new EgressPolicy(['127.0.0.0/8', '0.0.0.0/8']);
    policy.denySelfPort(9090);
    expect(policy.check('127.0.0.1', 9090, 'localhost')).toBe('self');
    expect(policy.check('0.0.0.0', 9090, 'x')).toBe('self');
    expect(policy.check('::1', 9090, 'x')).toBe('self');
    expect(policy.check('127.0.0.1', 9091, 'localhost')).toBe('allowed');
    // Another machine's port 9090 is not this gateway.
    expect(policy.check('93.184.216.34', 9090, 'x')).toBe('allowed');
  });

  it('parses allow entries and refuses malformed ones', () => {
    expect(parseEgressAllowEntry('10.0.0.0/8')).toEqual({
      kind: 'subnet',
      address: '10.0.0.0',
      prefix: 8,
      family: 'ipv4',
    });
    expect(parseEgressAllowEntry('[::1]:4010')).toEqual({
      kind: 'address-port',
      address: '::1',
      family: 'ipv6',
      port: 4010,
    });
    expect(parseEgressAllowEntry('Api.Internal:80')).toEqual({
      kind: 'host-port',
      hostname: 'api.internal',
      port: 80,
    });
    for (const bad of [
      '',
      '10.0.0.0/33',
      '10.0.0.0/x',
      'host',
      'host:0',
      'host:70000',
      '[::1]',
      '::1:80x',
      'a_b:80',
      '*',
    ]) {
      expect(parseEgressAllowEntry(bad), bad).toBeNull();
    }
  });
});
