import { describe, expect, it } from 'vitest';
import { isPrivateAddress, webhookUrlProblem } from './webhook-dispatcher.ts';

describe('webhook SSRF guard', () => {
  it('classifies private, loopback, link-local and reserved addresses', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.31.255.255',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ]) {
      expect(isPrivateAddress(ip), ip).toBe(true);
    }
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(isPrivateAddress(ip), ip).toBe(false);
    }
    expect(isPrivateAddress('not-an-ip')).toBe(true);
  });

  it('accepts only http(s) URLs without credentials and with a public IP literal', () => {
    expect(webhookUrlProblem('https://hooks.example.com/x', false)).toBeNull();
    expect(webhookUrlProblem('http://8.8.8.8/x', false)).toBeNull();
    expect(webhookUrlProblem('http://[::1]:8080/x', false)).toBe('webhook URL points to a private address');
    expect(webhookUrlProblem('http://127.0.0.1:8080/x', true)).toBeNull();
    expect(webhookUrlProblem('ftp://example.com', false)).toBe('webhook URL must be http(s)');
    expect(webhookUrlProblem('https://user:pw@example.com', false)).toBe(
      'webhook URL must not carry credentials',
    );
    expect(webhookUrlProblem('nope', false)).toBe('webhook URL is not a URL');
  });
});
