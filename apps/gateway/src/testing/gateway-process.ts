import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../../../infra/testing/stack.ts';
import { GATEWAY_NODE_FLAGS } from '../node-flags.ts';
import { waitFor } from './seed.ts';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

export interface GatewayProcess {
  port: number;
  adminPort: number;
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `src/main.ts` as a child process (tsx) with the given env on free ports; resolves when /readyz is 200. */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const [port, adminPort] = await freePorts(2);
  const spool = mkdtempSync(join(tmpdir(), 'tg-gw-spool-'));
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, '--import', 'tsx', MAIN], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      GATEWAY_ADMIN_PORT: String(adminPort),
      GATEWAY_SPOOL_DIR: spool,
      // The echo upstreams of the tests listen on loopback.
      GATEWAY_UPSTREAM_ALLOW: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`gateway exited with ${child.exitCode}: ${out.slice(-2000)}`);
        try {
          const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
          return res.status === 200;
        } catch {
          return false;
        }
      },
      30_000,
      'gateway readiness',
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    port: port!,
    adminPort: adminPort!,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
