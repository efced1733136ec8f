import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * A private redis-server child for tests that break Redis (stop it, stall it). Never touches the
 * shared stack. No persistence: `--save "" --appendonly no`.
 */
export interface PrivateRedis {
  port: number;
  url: string;
  child(): ChildProcess;
  /** SIGKILL and wait for exit. */
  stop(): Promise<void>;
  /** Start again on the same port (empty data). */
  start(): Promise<void>;
  pause(): void;
  resume(): void;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const { connect } = await import('node:net');
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.write('PING\r\n');
      });
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis on ${port} not ready after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async () => {
    proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--enable-debug-command',
        'yes',
      ],
      { stdio: 'ignore' },
    );
    await waitForPort(port, 10_000);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    child: () => {
      if (proc === null) throw new Error('not running');
      return proc;
    },
    start,
    stop: async () => {
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
