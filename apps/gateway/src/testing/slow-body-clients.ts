/**
 * Load generator for the slow-body test, run as a child process (its CPU stays out of the test
 * process that measures latencies):
 *   slow-body-clients.ts --port P --clients 200 --path /svc/feedback --first-address 127.0.1.1
 * Each client, from an address of its own (first-address, +1, ...: per-address bounds do not help
 * against this), POSTs to `path` announcing 100 kB and trickles its body at 4 bytes/s. A refused
 * client comes back after the Retry-After it was given, a cut-off one (408) at once; each with a
 * jitter, and trickling at its own phase, as independent clients would.
 * Driven by lines on stdin: `on` starts every client (answered `on` once each sent its first
 * request), `off` closes them all (answered `off`); at the end of stdin it prints one JSON line,
 * { statuses } (the answers the clients got, by status), and exits.
 */
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    clients: { type: 'string' },
    path: { type: 'string' },
    'first-address': { type: 'string' },
  },
});
const port = Number(args.port);
const count = Number(args.clients);
const base = args['first-address']!.split('.').map(Number);
const head = `POST ${args.path} HTTP/1.1\r\nhost: api.example\r\ncontent-length: 100000\r\n\r\n`;
const TRICKLE_MS = 250;
const TICK_MS = 25;

const statuses: Record<number, number> = {};
const sockets: (Socket | null)[] = Array.from({ length: count }, () => null);
const restartAt: number[] = Array.from({ length: count }, () => 0);
const nextByteAt: number[] = Array.from({ length: count }, () => 0);
let timer: NodeJS.Timeout | null = null;

function address(i: number): string {
  const n = (base[2]! << 8) + base[3]! + i;
  return `${base[0]}.${base[1]}.${n >> 8}.${n & 255}`;
}

function open(i: number, now: number): void {
  const socket = connect({ host: '127.0.0.1', port, localAddress: address(i) });
  sockets[i] = socket;
  nextByteAt[i] = now + Math.random() * TRICKLE_MS;
  let answer = '';
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  socket.on('data', (d: string) => {
    answer += d;
    const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
    if (m === null) return;
    const status = Number(m[1]);
    statuses[status] = (statuses[status] ?? 0) + 1;
    const retry = /\r\nretry-after: (\d+)/i.exec(answer);
    restartAt[i] = Date.now() + (retry === null ? 0 : Number(retry[1]) * 1000) + Math.random() * 500;
    socket.destroy();
  });
  socket.on('close', () => {
    if (sockets[i] === socket) sockets[i] = null;
  });
  socket.write(`${head}x`);
}

function tick(): void {
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const s = sockets[i];
    if (s === null || s === undefined) {
      if (now >= restartAt[i]!) open(i, now);
    } else if (!s.destroyed && now >= nextByteAt[i]!) {
      s.write('x');
      nextByteAt[i] = now + TRICKLE_MS;
    }
  }
}

function on(): void {
  if (timer !== null) return;
  restartAt.fill(0);
  tick();
  // One timer for every client, often enough that each keeps its own phase.
  timer = setInterval(tick, TICK_MS);
}

function off(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
  for (let i = 0; i < count; i++) {
    sockets[i]?.destroy();
    sockets[i] = null;
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line === 'on') on();
  else if (line === 'off') off();
  process.stdout.write(`${line}\n`);
});
lines.on('close', () => {
  off();
  process.stdout.write(`${JSON.stringify({ statuses })}\n`);
  process.exit(0);
});
