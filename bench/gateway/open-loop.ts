/**
 * Open-loop load at a fixed rate, timed with process.hrtime.bigint (ns clock, reported in µs).
 *
 *   tsx bench/gateway/open-loop.ts --url http://127.0.0.1:8080/x --rate 2000 --seconds 5 \
 *     [--warmup-seconds 1] [--connections 256] [--header 'x-api-key: tg_live_…']
 *
 * The send times are a precomputed schedule (request i at start + i / rate). Latency is measured
 * from each request's SCHEDULED send time to the end of its response body, so a stalled server
 * cannot hide its stall by slowing the generator down (no coordinated omission). The generator
 * sleeps with a timer when the next send is more than 2 ms away and otherwise polls with
 * setImmediate (which still serves I/O); how late it actually sent is reported as send lag.
 *
 * Prints one JSON line: { rate, sent, ok, non2xx, errors, p50us, p90us, p99us, p999us, maxus,
 * sendLagP50us, sendLagP99us, allOk } (allOk: 2xx of every request sent, warm-up included).
 */
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    'warmup-seconds': { type: 'string', default: '1' },
    connections: { type: 'string', default: '256' },
    header: { type: 'string', multiple: true, default: [] },
    spin: { type: 'boolean', default: false },
  },
});
if (args.url === undefined || args.rate === undefined) {
  process.stderr.write('usage: open-loop.ts --url URL --rate N [--seconds S] [--header "name: value"]\n');
  process.exit(2);
}
const target = new URL(args.url);
const rate = Number(args.rate);
const headers: Record<string, string> = {};
for (const h of args.header) {
  const i = h.indexOf(':');
  headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
}
const path = target.pathname + target.search;
const pool = new Pool(target.origin, { connections: Number(args.connections), pipelining: 1 });

interface Phase {
  total: number;
  record: boolean;
}
const warmup: Phase = { total: Math.floor(rate * Number(args['warmup-seconds'])), record: false };
const measured: Phase = { total: Math.floor(rate * Number(args.seconds)), record: true };
const intervalNs = 1e9 / rate;
const SPIN = args.spin;

const latencyUs = new Float64Array(measured.total);
const sendLagUs = new Float64Array(measured.total);
let ok = 0;
/** 2xx responses of every request sent, the connection-opening and warm-up ones included. */
let allOk = 0;
let non2xx = 0;
let errors = 0;

/** Sends `phase.total` requests on the schedule; resolves when every response has ended. */
function runPhase(phase: Phase): Promise<void> {
  return new Promise((resolve) => {
    let next = 0;
    let done = 0;
    const start = process.hrtime.bigint() + 1_000_000n;
    const scheduledAt = (i: number) => start + BigInt(Math.round(i * intervalNs));
    const complete = () => {
      done++;
      if (done === phase.total) resolve();
    };
    const fire = (i: number, scheduled: bigint) => {
      if (phase.record) sendLagUs[i] = Number(process.hrtime.bigint() - scheduled) / 1000;
      pool.request({ path, method: 'GET', headers }).then(
        async (res) => {
          await res.body.dump();
          if (res.statusCode >= 200 && res.statusCode < 300) allOk++;
          if (phase.record) {
            latencyUs[i] = Number(process.hrtime.bigint() - scheduled) / 1000;
            if (res.statusCode >= 200 && res.statusCode < 300) ok++;
            else non2xx++;
          }
          complete();
        },
        () => {
          if (phase.record) {
            latencyUs[i] = Number.NaN;
            errors++;
          }
          complete();
        },
      );
    };
    const tick = () => {
      const now = process.hrtime.bigint();
      while (next < phase.total && scheduledAt(next) <= now) {
        fire(next, scheduledAt(next));
        next++;
      }
      if (next >= phase.total) return;
      const aheadMs = Number(scheduledAt(next) - process.hrtime.bigint()) / 1e6;
      if (SPIN && aheadMs <= 2) setImmediate(tick);
      else setTimeout(tick, Math.max(0, Math.floor(aheadMs - (SPIN ? 1 : 0))));
    };
    if (phase.total === 0) resolve();
    else setImmediate(tick);
  });
}

function quantile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return Math.round(sorted[rank]!);
}

// Open the connections first (not measured), then a warm-up phase at the same rate.
await Promise.all(
  Array.from({ length: 64 }, async () => {
    const res = await pool.request({ path, method: 'GET', headers });
    await res.body.dump();
    if (res.statusCode >= 200 && res.statusCode < 300) allOk++;
  }),
);
await runPhase(warmup);
await runPhase(measured);
const lat = latencyUs.filter((x) => !Number.isNaN(x)).sort();
const lag = sendLagUs.sort();
process.stdout.write(
  `${JSON.stringify({
    rate,
    sent: measured.total,
    ok,
    non2xx,
    errors,
    p50us: quantile(lat, 0.5),
    p90us: quantile(lat, 0.9),
    p99us: quantile(lat, 0.99),
    p999us: quantile(lat, 0.999),
    maxus: quantile(lat, 1),
    sendLagP50us: quantile(lag, 0.5),
    sendLagP99us: quantile(lag, 0.99),
    allOk,
  })}\n`,
);
await pool.close();
