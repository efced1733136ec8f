import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePorts } from '../../../../infra/testing/stack.ts';
import { waitFor } from './seed.ts';

/** A private redis-server child (never the shared one) for tests that stop or stall Redis. */
export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const [port] = await freePorts(1);
  let proc: ChildProcess | null = null;
  const start = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    await waitFor(() => ping(port!), 10_000, 'private redis');
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port: port!,
    start,
    async stop() {
      const p = proc;
      if (p === null || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGCONT');
      p.kill('SIGKILL');
      await exited;
      proc = null;
    },
    pause: () => {
      proc?.kill('SIGSTOP');
    },
    resume: () => {
      proc?.kill('SIGCONT');
    },
  };
}
