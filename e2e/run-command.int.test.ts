import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The README's run command (`npm start`) must print URLs that answer. `npm test` runs it and
 * keeps what it printed in .tollgate/run-output.txt, then runs this file with
 * TOLLGATE_E2E_PLATFORM=1 while the platform is up.
 */
const ENABLED = process.env.TOLLGATE_E2E_PLATFORM === '1';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const execFileAsync = promisify(execFile);

describe.skipIf(!ENABLED)('the run command', () => {
  const output = ENABLED ? readFileSync(join(ROOT, '.tollgate', 'run-output.txt'), 'utf8') : '';

  it('prints the URL of every app, and each health endpoint answers 200', async () => {
    const expected = {
      portal: 'http://127.0.0.1:3000',
      gateway: 'http://127.0.0.1:8080',
      metering: 'http://127.0.0.1:8081/openapi.json',
      billing: 'http://127.0.0.1:8082/openapi.json',
      gatewayAdmin: 'http://127.0.0.1:9090/metrics',
    };
    for (const url of Object.values(expected)) expect(output).toContain(url);
    const health = [
      'http://127.0.0.1:3000/api/health',
      'http://127.0.0.1:9090/readyz',
      'http://127.0.0.1:8081/healthz',
      'http://127.0.0.1:8082/healthz',
      'http://127.0.0.1:4010/health',
      expected.metering,
      expected.billing,
    ];
    for (const url of health) {
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
    }
  });

  it('prints a copy-paste curl that reaches the demo API through the gateway', async () => {
    const line = output.split('\n').find((l) => l.trim().startsWith('curl '));
    expect(line, 'a curl line').toBeDefined();
    const args = line!.trim().slice('curl '.length);
    const { stdout } = await execFileAsync('bash', ['-c', `curl -s -o /dev/null -w '%{http_code}' ${args}`]);
    expect(stdout).toBe('200');
  });

  it('prints a sign-in for each role', () => {
    for (const who of ['admin@tollgate.local', 'finance@tollgate.local', 'dev@tollgate.local']) {
      expect(output).toContain(who);
    }
  });
});
