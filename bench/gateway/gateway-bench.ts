/**
 * Gateway benchmark: a measurement, not a test. Needs the local stack (`npm run stack up`).
 *
 *   npm run bench:gateway -- [--rounds 3] [--seconds 5] [--connections 50] [--warmup-seconds 2]
 *     [--latency-rounds 3] [--latency-seconds 4] [--latency-rate N] [--loadgen wrk|autocannon]
 *     [--nice=-5] [--no-gateway] [--gateway-log-level info] [--profile-gateway] [--open-loop-spin]
 *     [--write-md]
 *   npm run bench:gateway -- --from-results bench/results/gateway-<time>.json [--write-md]
 *     (renders a results file again, measuring nothing)
 *
 * Targets, each its own process:
 *   direct   the upstream (bench/gateway/servers.ts upstream: node http, small fixed JSON body)
 *   bare     a bare undici proxy (servers.ts bare), no policies
 *   fastify  @fastify/http-proxy with its defaults (servers.ts fastify), no policies
 *   gateway  apps/gateway/src/main.ts: API key auth, the Redis limiter (quota + rate, one Lua
 *            script call per event-loop turn's checks), one usage event per request to Kafka
 *            (unique topic), access log at info
 *
 * Pinning (taskset): the three proxies and the gateway on CPU 0; the upstream, the load
 * generators, this runner and, for the duration of the run, the shared stack (PostgreSQL,
 * Redis, ClickHouse, Kafka, stripe-mock) on CPU 1, so nothing but the process under test runs
 * on the measured core.
 *
 * 1. Throughput: closed loop, the same generator (wrk, 1 thread, or autocannon) with the same
 *    connections and duration for every target, rounds interleaved (direct bare fastify gateway,
 *    direct bare fastify gateway, ...). Medians, min-max spread, ratios of the medians and of
 *    each round's pairs.
 *    Every run also records the CPU seconds of the measured server process and how busy its CPU
 *    was in total: on a shared machine, requests per CPU-second compare better than req/s.
 * 2. Added latency: bench/gateway/open-loop.ts (fixed schedule, latency from the scheduled send
 *    time, ns clock) at half the gateway's median maximum rate, rounds interleaved again.
 * The gateway's /metrics are read at the end: one usage event acked by Kafka per request answered.
 *
 * Writes bench/results/gateway-<time>.json, prints a markdown report, and with --write-md puts
 * the report between the gateway result markers of BENCHMARKS.md (nothing else in it changes).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { createKafka } from '@tollgate/kafka';
import { GATEWAY_NODE_FLAGS } from '../../apps/gateway/src/node-flags.ts';
import { freePorts, REPO_ROOT, sharedStackEnv } from '../../infra/testing/stack.ts';
import { NGINX, nginxConfig, nginxVersion } from './nginx.ts';
import { seedBench } from './seed-bench.ts';
import { summarizeProfile } from './summarize-profile.ts';

const execFileAsync = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    'warmup-seconds': { type: 'string', default: '2' },
    'latency-rounds': { type: 'string' },
    'latency-seconds': { type: 'string', default: '4' },
    'latency-rate': { type: 'string' },
    loadgen: { type: 'string', default: 'wrk' },
    nice: { type: 'string', default: '0' },
    'no-gateway': { type: 'boolean', default: false },
    'open-loop-spin': { type: 'boolean', default: false },
    'profile-gateway': { type: 'boolean', default: false },
    // Replaces the gateway's V8 flags (node-flags.ts) for an experiment, e.g. "" or "--max-semi-space-size=16".
    'gateway-node-flags': { type: 'string' },
    'gateway-log-level': { type: 'string', default: 'info' },
    'write-md': { type: 'boolean', default: false },
    'from-results': { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const WARMUP_SECONDS = Number(args['warmup-seconds']);
const LATENCY_ROUNDS = Number(args['latency-rounds'] ?? args.rounds);
const LATENCY_SECONDS = Number(args['latency-seconds']);
const NICE = Number(args.nice);
const LOADGEN = args.loadgen;
if (LOADGEN !== 'wrk' && LOADGEN !== 'autocannon') throw new Error('--loadgen must be wrk or autocannon');
if (LOADGEN === 'wrk') {
  try {
    execFileSync('which', ['wrk'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'wrk is not installed (bash infra/stack.sh install, or apt-get install wrk); or use --loadgen autocannon',
    );
  }
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
const SERVERS = join(HERE, 'servers.ts');
const OPEN_LOOP = join(HERE, 'open-loop.ts');
const GATEWAY_MAIN = join(REPO_ROOT, 'apps', 'gateway', 'src', 'main.ts');
const AUTOCANNON = join(REPO_ROOT, 'node_modules', 'autocannon', 'autocannon.js');
const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
const SERVER_CPU = 0;
const CLIENT_CPU = 1;

type Target = 'direct' | 'nginx' | 'bare' | 'fastify' | 'gateway';
const ALL_TARGETS: readonly Target[] = ['direct', 'nginx', 'bare', 'fastify', 'gateway'];
interface TargetSpec {
  url: string;
  headers: Record<string, string>;
  /** The server process whose CPU time a request costs (the upstream for `direct`). */
  pid: number;
  /** The gateway's admin listener (its /metrics are read around each round). */
  adminUrl?: string;
}

/** User + system CPU seconds of a process, all threads (utime and stime of /proc/<pid>/stat). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

const children: ChildProcess[] = [];
let unpinStack: () => void = () => {};
let db: TestDatabase | undefined;
let profileDir: string | undefined;
/** Temporary directories removed at the end (the gateway's spool; its log unless it failed). */
const scratch: string[] = [];
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/** The command prefix that pins to `cpu` (and renices when --nice is set). */
function pinnedCommand(cpu: number, cmd: string[]): [string, string[]] {
  const niced = NICE === 0 ? cmd : ['nice', '-n', String(NICE), ...cmd];
  return ['taskset', ['-c', String(cpu), ...niced]];
}

function startPinned(
  cpu: number,
  script: string,
  scriptArgs: string[],
  opts: { env?: Record<string, string>; logFile?: string; nodeFlags?: string[] } = {},
): ChildProcess {
  const [cmd, cmdArgs] = pinnedCommand(cpu, [
    process.execPath,
    ...(opts.nodeFlags ?? []),
    '--import',
    'tsx',
    script,
    ...scriptArgs,
  ]);
  const fd = opts.logFile === undefined ? undefined : openSync(opts.logFile, 'a');
  const child = spawn(cmd, cmdArgs, {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', fd ?? 'ignore', fd ?? 'inherit'],
  });
  if (fd !== undefined) closeSync(fd);
  children.push(child);
  return child;
}

/** Starts a non-node program pinned to `cpu` (nginx). */
function startPinnedBinary(cpu: number, cmd: string[], logFile: string): ChildProcess {
  const [bin, binArgs] = pinnedCommand(cpu, cmd);
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, binArgs, { env: process.env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.push(child);
  return child;
}

/** Polls until `url` answers 200 (deadline 60 s); fails early when `child` exits. */
async function waitReady(url: string, headers: Record<string, string>, child: ChildProcess, what: string) {
  const until = Date.now() + 60_000;
  let last = '';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before answering`);
    try {
      const res = await fetch(url, { headers });
      last = `${res.status} ${(await res.text()).slice(0, 300)}`;
      if (res.status === 200) return;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > until) throw new Error(`${what} not ready after 60 s: last answer ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface ClosedLoopResult extends CpuAccounting {
  /** The gateway's own view of the round (gateway rounds only). */
  gateway?: GatewayRoundStats;
  rps: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
  /** Completed requests per CPU second of the server process. */
  requestsPerCpuSecond: number;
}

/** Runs the generator and accounts the server process's CPU time over the same interval. */
async function closedLoop(t: TargetSpec, seconds: number): Promise<ClosedLoopResult> {
  const run = () => withCpuAccounting(t.pid, () => runClosedLoopGenerator(t, seconds));
  const { result: measured, stats } =
    t.adminUrl === undefined
      ? { result: await run(), stats: undefined }
      : await withGatewayStats(t.adminUrl, run);
  const { result, cpu } = measured;
  return {
    ...result,
    ...cpu,
    requestsPerCpuSecond: Math.round(result.requests / cpu.serverCpuSeconds),
    ...(stats ? { gateway: stats } : {}),
  };
}

/** Busy and total jiffies of one CPU from /proc/stat (busy = user nice system irq softirq steal). */
function cpuTicks(cpu: number): { busy: number; total: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${cpu} `))!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait!, steal: steal! };
}

interface CpuAccounting {
  /** CPU seconds the target's server process used during the run (all its threads). */
  serverCpuSeconds: number;
  /** serverCpuSeconds / wall seconds: the share of one core the server got (1 = the whole core). */
  serverCoreShare: number;
  /** How busy the server CPU was over the run (all processes; 1 = never idle). */
  serverCpuBusy: number;
  /** Of which hypervisor steal. */
  serverCpuSteal: number;
}

/** Runs `fn` and accounts the server process's CPU time and its CPU's load over the same interval. */
async function withCpuAccounting<T>(
  pid: number,
  fn: () => Promise<T>,
): Promise<{ result: T; cpu: CpuAccounting }> {
  const proc0 = cpuSeconds(pid);
  const core0 = cpuTicks(SERVER_CPU);
  const wall0 = process.hrtime.bigint();
  const result = await fn();
  const proc = cpuSeconds(pid) - proc0;
  const core1 = cpuTicks(SERVER_CPU);
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  const total = core1.total - core0.total;
  return {
    result,
    cpu: {
      serverCpuSeconds: round2(proc),
      serverCoreShare: round2(proc / wall),
      serverCpuBusy: round2((core1.busy - core0.busy) / total),
      serverCpuSteal: round2((core1.steal - core0.steal) / total),
    },
  };
}

/** One closed-loop run with the chosen generator, pinned to the client CPU. */
async function runClosedLoopGenerator(
  t: TargetSpec,
  seconds: number,
): Promise<Pick<ClosedLoopResult, 'rps' | 'requests' | 'non2xx' | 'socketErrors'>> {
  if (LOADGEN === 'wrk') {
    const h = Object.entries(t.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const [cmd, cmdArgs] = pinnedCommand(CLIENT_CPU, [
      'wrk',
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      ...h,
      t.url,
    ]);
    const { stdout } = await execFileAsync(cmd, cmdArgs, { maxBuffer: 1024 * 1024 });
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
    const total = /(\d+) requests in/.exec(stdout);
    if (!rps || !total) throw new Error(`cannot parse wrk output:\n${stdout}`);
    const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
    const requests = Number(total[1]);
    const bad = Number(non2xx?.[1] ?? 0);
    return {
      // Only 2xx count: a fast 503 is not throughput.
      rps: (Number(rps[1]) * (requests - bad)) / requests,
      requests,
      non2xx: bad,
      socketErrors: sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0,
    };
  }
  const h = Object.entries(t.headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
  const [cmd, cmdArgs] = pinnedCommand(CLIENT_CPU, [
    process.execPath,
    AUTOCANNON,
    '-c',
    String(CONNECTIONS),
    '-d',
    String(seconds),
    '-j',
    ...h,
    t.url,
  ]);
  const { stdout } = await execFileAsync(cmd, cmdArgs, { maxBuffer: 64 * 1024 * 1024 });
  const r = JSON.parse(stdout) as {
    requests: { total: number };
    duration: number;
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  return {
    rps: (r.requests.total - r.non2xx) / r.duration,
    requests: r.requests.total,
    non2xx: r.non2xx,
    socketErrors: r.errors + r.timeouts,
  };
}

interface OpenLoopResult {
  rate: number;
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  p50us: number;
  p90us: number;
  p99us: number;
  p999us: number;
  maxus: number;
  sendLagP50us: number;
  sendLagP99us: number;
  allOk: number;
}

type OpenLoopRun = OpenLoopResult & CpuAccounting & { gateway?: GatewayRoundStats };

async function openLoop(t: TargetSpec, rate: number): Promise<OpenLoopRun> {
  const h = Object.entries(t.headers).flatMap(([k, v]) => ['--header', `${k}: ${v}`]);
  const [cmd, cmdArgs] = pinnedCommand(CLIENT_CPU, [
    process.execPath,
    '--import',
    'tsx',
    OPEN_LOOP,
    '--url',
    t.url,
    '--rate',
    String(rate),
    '--seconds',
    String(LATENCY_SECONDS),
    ...(args['open-loop-spin'] ? ['--spin'] : []),
    ...h,
  ]);
  const run = () => withCpuAccounting(t.pid, () => execFileAsync(cmd, cmdArgs, { maxBuffer: 1024 * 1024 }));
  const { result: measured, stats } =
    t.adminUrl === undefined
      ? { result: await run(), stats: undefined }
      : await withGatewayStats(t.adminUrl, run);
  const { result, cpu } = measured;
  return {
    ...(JSON.parse(result.stdout.trim().split('\n').at(-1)!) as OpenLoopResult),
    ...cpu,
    ...(stats ? { gateway: stats } : {}),
  };
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
/** Median (mean of the two middle values for an even count). */
function median(xs: number[]): number {
  const s = sorted(xs);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const spread = (xs: number[]) => ({ min: Math.min(...xs), max: Math.max(...xs) });
const round2 = (x: number) => Math.round(x * 100) / 100;

function machineFacts() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  let nproc = String(availableParallelism());
  try {
    nproc = execFileSync('nproc').toString().trim();
  } catch {
    // keep availableParallelism
  }
  let wrkVersion = 'n/a';
  try {
    execFileSync('wrk', ['--version'], { stdio: 'pipe' });
  } catch (err) {
    // wrk --version exits 1 after printing its banner
    const out = String((err as { stdout?: Buffer }).stdout ?? '');
    wrkVersion = /wrk (\S+)/.exec(out)?.[1] ?? 'n/a';
  }
  return { nproc, model, node: process.version, kernel: release(), wrk: wrkVersion, nginx: nginxVersion() };
}

const loadAverage = () => loadavg().map((x) => round2(x)) as [number, number, number];

/** Gateway self-reported counters from its admin /metrics (events sent to Kafka, spool, statuses, errors). */
async function gatewayCounters(adminUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  const wanted = [
    'tollgate_gateway_usage_events_sent',
    'tollgate_gateway_usage_events_dropped',
    'tollgate_gateway_spool_depth',
    'tollgate_gateway_kafka_send_errors',
    'tollgate_gateway_kafka_up',
    'tollgate_gateway_requests_total',
    'tollgate_gateway_limiter_decisions_total',
    'tollgate_gateway_redis_errors_total',
    'tollgate_gateway_upstream_errors_total',
    'tollgate_gateway_key_cache_total',
    'tollgate_gateway_limiter_timeouts_total',
    'tollgate_gateway_shed_total',
    'tollgate_gateway_admission_refused_total',
    'tollgate_gateway_event_loop_delay_seconds',
    'tollgate_gateway_event_loop_delay_samples',
    ...REDIS_CALL_METRICS,
    ...KAFKA_PRODUCE_METRICS,
  ];
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && wanted.includes(m[1]!)) out[`${m[1]}${m[2] ?? ''}`] = Number(m[3]);
  }
  return out;
}

/** Redis calls the limiter made (quota leasing exports one of these; absent before it). */
const REDIS_CALL_METRICS = ['tollgate_gateway_redis_calls', 'tollgate_gateway_redis_calls_total'];
/** Kafka produce requests the usage sink made (topic v2's sender exports one of these). */
const KAFKA_PRODUCE_METRICS = [
  'tollgate_gateway_kafka_produce_requests',
  'tollgate_gateway_kafka_produce_requests_total',
];

/** What the gateway itself reports about one round (its /metrics before and after it). */
interface GatewayRoundStats {
  /** Event-loop delay over the round (perf_hooks.monitorEventLoopDelay, reset by each scrape). */
  loopDelayP99us: number;
  loopDelayMaxUs: number;
  /** Requests the gateway answered during the round (its own counter). */
  requests: number;
  /** Per 1,000 requests answered; null when the gateway does not export the counter. */
  redisCallsPer1000: number | null;
  kafkaProducePer1000: number | null;
  /** 503s answered because a limiter call timed out (target 0). */
  limiterTimeout503: number;
  /** 503 OVERLOADED by load shedding; 429/503 by admission control. */
  shed: number;
  admissionRefused: number;
}

const sumOf = (c: Record<string, number>, names: readonly string[]) => {
  let sum = 0;
  let found = false;
  for (const [k, v] of Object.entries(c)) {
    const name = k.replace(/\{.*$/, '');
    if (names.includes(name)) {
      sum += v;
      found = true;
    }
  }
  return found ? sum : null;
};

/** Runs `fn` between two scrapes of the gateway's /metrics (the first starts the loop-delay window). */
async function withGatewayStats<T>(
  adminUrl: string,
  fn: () => Promise<T>,
): Promise<{ result: T; stats: GatewayRoundStats }> {
  const before = await gatewayCounters(adminUrl);
  const result = await fn();
  const after = await gatewayCounters(adminUrl);
  const delta = (names: readonly string[]) => {
    const a = sumOf(after, names);
    return a === null ? null : a - (sumOf(before, names) ?? 0);
  };
  const requests = delta(['tollgate_gateway_requests_total']) ?? 0;
  const per1000 = (n: number | null) => (n === null || requests === 0 ? null : round2((n * 1000) / requests));
  return {
    result,
    stats: {
      loopDelayP99us: Math.round(
        (after['tollgate_gateway_event_loop_delay_seconds{stat="p99"}'] ?? Number.NaN) * 1e6,
      ),
      loopDelayMaxUs: Math.round(
        (after['tollgate_gateway_event_loop_delay_seconds{stat="max"}'] ?? Number.NaN) * 1e6,
      ),
      requests,
      redisCallsPer1000: per1000(delta(REDIS_CALL_METRICS)),
      kafkaProducePer1000: per1000(delta(KAFKA_PRODUCE_METRICS)),
      limiterTimeout503:
        (after['tollgate_gateway_limiter_timeouts_total{outcome="503"}'] ?? 0) -
        (before['tollgate_gateway_limiter_timeouts_total{outcome="503"}'] ?? 0),
      shed: delta(['tollgate_gateway_shed_total']) ?? 0,
      admissionRefused: delta(['tollgate_gateway_admission_refused_total']) ?? 0,
    },
  };
}

/**
 * The gateway's counters once its usage events have settled: spool empty and the acked count
 * unchanged over 300 ms, so every event of the requests answered so far is counted (bounded wait).
 */
async function settledGatewayCounters(adminUrl: string): Promise<Record<string, number>> {
  const until = Date.now() + 10_000;
  let previous = -1;
  for (;;) {
    const counters = await gatewayCounters(adminUrl);
    const sent = counters.tollgate_gateway_usage_events_sent ?? 0;
    const settled = (counters.tollgate_gateway_spool_depth ?? 0) === 0 && sent === previous;
    if (settled || Date.now() > until) return counters;
    previous = sent;
    await new Promise((r) => setTimeout(r, 300));
  }
}

function renderMarkdown(r: Results): string {
  const names = r.targets;
  const lines: string[] = [];
  lines.push(`Run ${r.startedAt} → ${r.finishedAt}. Command: \`${r.command}\``);
  lines.push('');
  lines.push(
    `Machine: ${r.machine.nproc} cores (\`nproc\`), ${r.machine.model}, Node ${r.machine.node}, nginx ${r.machine.nginx ?? 'n/a'}, Linux ${r.machine.kernel}; ` +
      `load average (1/5/15 min) ${r.load.start.join(' / ')} at the start, ${r.load.afterThroughput.join(' / ')} after the throughput rounds, ${r.load.end.join(' / ')} at the end.`,
  );
  if (r.gatewayError) lines.push('', `**Gateway not measured:** ${r.gatewayError}`);
  lines.push('');
  lines.push(
    `Throughput, closed loop: ${r.options.loadgen} (1 thread), ${r.options.connections} connections, ${r.options.seconds} s per target per round, ${r.options.rounds} interleaved rounds (after a ${r.options.warmupSeconds} s unrecorded warm-up per target); req/s counts 2xx responses only.`,
  );
  lines.push('');
  lines.push(
    `| target | req/s median | min – max | per round | server core share | CPU ${SERVER_CPU} busy (all processes) | server CPU µs/req | non-2xx | socket errors |`,
  );
  lines.push('|---|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const n of names) {
    const runs = r.throughput[n]!;
    const rps = runs.map((x) => x.rps);
    const s = spread(rps);
    const share = median(runs.map((x) => x.serverCoreShare));
    const usPerReq = 1e6 / median(runs.map((x) => x.requestsPerCpuSecond));
    lines.push(
      `| ${n} | ${Math.round(median(rps))} | ${Math.round(s.min)} – ${Math.round(s.max)} | ${rps.map((x) => Math.round(x)).join(', ')} | ${share.toFixed(2)} | ${median(runs.map((x) => x.serverCpuBusy)).toFixed(2)} | ${usPerReq.toFixed(1)} | ${runs.reduce((a, x) => a + x.non2xx, 0)} | ${runs.reduce((a, x) => a + x.socketErrors, 0)} |`,
    );
  }
  lines.push('');
  lines.push(
    `"server" is the process being measured (the upstream for direct, which runs on CPU ${CLIENT_CPU}): its CPU time over the run from /proc/<pid>/stat (all threads); core share = its CPU seconds / wall seconds; CPU ${SERVER_CPU} busy = 1 − idle of that CPU from /proc/stat over the same run (medians over rounds). Busy well above the server's share means other processes took CPU ${SERVER_CPU}.`,
  );
  lines.push('');
  lines.push(
    '| ratio | req/s, of medians | req/s, per round (min – max) | req per server CPU-second, of medians (per round) | target |',
  );
  lines.push('|---|---:|---:|---:|---|');
  for (const ratio of r.ratios) {
    lines.push(
      `| ${ratio.name} | **${ratio.ofMedians.toFixed(2)}** | ${ratio.perRound.min.toFixed(2)} – ${ratio.perRound.max.toFixed(2)} | ${ratio.perCpu.ofMedians.toFixed(2)} (${ratio.perCpu.perRound.min.toFixed(2)} – ${ratio.perCpu.perRound.max.toFixed(2)}) | ${ratio.target ?? ''} |`,
    );
  }
  if (r.latency) {
    const L = r.latency;
    lines.push('');
    lines.push(
      `Latency, open loop at **${L.rate} req/s** (${L.rateBasis}), ${r.options.latencySeconds} s per target per round after 1 s unrecorded, ${r.options.latencyRounds} interleaved rounds; latency from the scheduled send time to the last byte of the response; medians over rounds (min – max).`,
    );
    lines.push('');
    lines.push(
      `| target | p50 µs | p90 µs | p99 µs | p99.9 µs | errors/non-2xx | generator send lag p99 µs | server core share | CPU ${SERVER_CPU} busy (all processes) |`,
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const n of L.targets) {
      const runs = L.runs[n]!;
      const cell = (k: 'p50us' | 'p90us' | 'p99us' | 'p999us') => {
        const xs = runs.map((x) => x[k]);
        const s = spread(xs);
        return `${Math.round(median(xs))} (${s.min} – ${s.max})`;
      };
      lines.push(
        `| ${n} | ${cell('p50us')} | ${cell('p90us')} | ${cell('p99us')} | ${cell('p999us')} | ${runs.reduce((a, x) => a + x.errors + x.non2xx, 0)} | ${Math.round(median(runs.map((x) => x.sendLagP99us)))} | ${median(runs.map((x) => x.serverCoreShare)).toFixed(2)} | ${median(runs.map((x) => x.serverCpuBusy)).toFixed(2)} |`,
      );
    }
    lines.push('');
    lines.push('| added latency | p50 µs | p99 µs | per round p50 | per round p99 |');
    lines.push('|---|---:|---:|---|---|');
    for (const a of L.added) {
      lines.push(
        `| ${a.name} | **${Math.round(a.p50us)}** | **${Math.round(a.p99us)}** | ${a.perRoundP50us.join(', ')} | ${a.perRoundP99us.join(', ')} |`,
      );
    }
  }
  const gwRounds: { kind: string; round: number; stats: GatewayRoundStats }[] = [];
  (r.throughput.gateway ?? []).forEach((x, i) => {
    if (x.gateway)
      gwRounds.push({ kind: 'throughput (closed loop, max rate)', round: i + 1, stats: x.gateway });
  });
  (r.latency?.runs.gateway ?? []).forEach((x, i) => {
    if (x.gateway)
      gwRounds.push({
        kind: `latency (open loop, ${r.latency!.rate} req/s)`,
        round: i + 1,
        stats: x.gateway,
      });
  });
  if (gwRounds.length > 0) {
    const cell = (v: number | null) => (v === null ? 'n/a' : String(v));
    lines.push('');
    lines.push(
      "Gateway, per round, from its own /metrics read just before and after the round: event-loop delay (`perf_hooks.monitorEventLoopDelay`, 1 ms sampling, the round's window; target p99 ≤ 1 ms at half the maximum rate), Redis calls and Kafka produce requests per 1,000 requests answered (n/a: the gateway does not export that counter; targets ≤ 20 and ≤ 5), 503s from limiter timeouts (target 0), requests shed (503 OVERLOADED) and refused by admission control.",
    );
    lines.push('');
    lines.push(
      '| round | requests | loop delay p99 µs | loop delay max µs | Redis calls / 1000 | Kafka produce / 1000 | limiter-timeout 503s | shed | admission refused |',
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const g of gwRounds) {
      const x = g.stats;
      lines.push(
        `| ${g.kind} ${g.round} | ${x.requests} | ${x.loopDelayP99us} | ${x.loopDelayMaxUs} | ${cell(x.redisCallsPer1000)} | ${cell(x.kafkaProducePer1000)} | ${x.limiterTimeout503} | ${x.shed} | ${x.admissionRefused} |`,
      );
    }
  }
  if (r.gatewayCounters) {
    lines.push('');
    lines.push(
      `Gateway self-check (its /metrics, from the end of the warm-up to the end of the run): ${r.gatewayCounters.requestsDuringRun ?? '?'} requests answered ` +
        `(${r.gatewayCounters.requests2xxDuringRun ?? '?'} 2xx; the generators received ${r.gatewayAdmitted} 2xx — wrk abandons the requests in flight when a run ends, the gateway still completes and meters them), ` +
        `${r.gatewayCounters.eventsSentDuringRun ?? '?'} usage events acked by Kafka (topic \`${r.kafkaTopic}\`); ` +
        `at the end spool depth ${r.gatewayCounters.tollgate_gateway_spool_depth ?? '?'}, events dropped ${r.gatewayCounters.tollgate_gateway_usage_events_dropped ?? '?'}, ` +
        `Kafka send errors ${r.gatewayCounters.tollgate_gateway_kafka_send_errors ?? '?'}.`,
    );
    const notOk = Object.entries(r.gatewayCounters).filter(
      ([k, v]) =>
        v > 0 &&
        ((k.startsWith('tollgate_gateway_requests_total') && !/status="2/.test(k)) ||
          k.startsWith('tollgate_gateway_redis_errors_total') ||
          k.startsWith('tollgate_gateway_upstream_errors_total')),
    );
    lines.push('');
    lines.push(
      notOk.length === 0
        ? 'Gateway counters: no non-2xx answers, no Redis or upstream errors.'
        : `Gateway counters over the whole run (warm-up included): ${notOk.map(([k, v]) => `\`${k}\` ${v}`).join(', ')}.`,
    );
  }
  return lines.join('\n');
}

interface Ratio {
  name: string;
  /** Of the closed-loop req/s. */
  ofMedians: number;
  perRound: { min: number; max: number };
  /** The same ratio of requests per CPU second of the server process. */
  perCpu: { ofMedians: number; perRound: { min: number; max: number } };
  target?: string;
}
interface Results {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: ReturnType<typeof machineFacts>;
  load: { start: number[]; afterThroughput: number[]; end: number[] };
  options: {
    rounds: number;
    seconds: number;
    connections: number;
    warmupSeconds: number;
    latencyRounds: number;
    latencySeconds: number;
    loadgen: string;
    nice: number;
    gatewayLogLevel: string;
    pinning: string;
  };
  targets: Target[];
  gatewayError?: string;
  kafkaTopic?: string;
  throughput: Partial<Record<Target, ClosedLoopResult[]>>;
  medians: Partial<Record<Target, number>>;
  ratios: Ratio[];
  latency?: {
    rate: number;
    rateBasis: string;
    targets: Target[];
    runs: Partial<Record<Target, OpenLoopRun[]>>;
    added: { name: string; p50us: number; p99us: number; perRoundP50us: number[]; perRoundP99us: number[] }[];
  };
  gatewayCounters?: Record<string, number>;
  gatewayAdmitted?: number;
}

const MD_START = '<!-- gateway-bench:results:start -->';
const MD_END = '<!-- gateway-bench:results:end -->';

/** Replaces only the text between the gateway result markers (adds a gateway section if absent). */
function writeBenchmarksMd(markdown: string): void {
  const file = join(REPO_ROOT, 'BENCHMARKS.md');
  const block = `${MD_START}\n${markdown}\n${MD_END}`;
  const current = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmarks\n\nHow each figure was measured, the command to reproduce it, and the result. Each benchmark compares its targets in one run, in interleaved rounds, and reports ratios: absolute numbers depend on the machine and on what else runs on it.\n';
  const start = current.indexOf(MD_START);
  const end = current.indexOf(MD_END);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + block + current.slice(end + MD_END.length)
      : `${current.trimEnd()}\n\n## Gateway\n\n${block}\n`;
  writeFileSync(file, next);
}

async function main(): Promise<void> {
  const machine = machineFacts(); // before pinning: nproc counts the CPUs this process may use
  // This runner only waits on children: keep it off the proxies' CPU.
  execFileSync('taskset', ['-a', '-p', '-c', String(CLIENT_CPU), String(process.pid)], { stdio: 'ignore' });
  unpinStack = pinStackToClientCpu();
  const startedAt = new Date().toISOString();
  const loadStart = loadAverage();
  const stack = { ...sharedStackEnv(), ...process.env } as Record<string, string>;
  const [upPort, barePort, fastifyPort, gwPort, adminPort, nginxPort] = await freePorts(6);
  const upstreamUrl = `http://127.0.0.1:${upPort}`;

  const upstream = startPinned(CLIENT_CPU, SERVERS, ['upstream', String(upPort)]);
  await waitReady(`${upstreamUrl}/x`, {}, upstream, 'upstream');
  const bare = startPinned(SERVER_CPU, SERVERS, ['bare', String(barePort), String(upPort)]);
  const fastify = startPinned(SERVER_CPU, SERVERS, ['fastify', String(fastifyPort), String(upPort)]);
  await waitReady(`http://127.0.0.1:${barePort}/x`, {}, bare, 'bare undici proxy');
  await waitReady(`http://127.0.0.1:${fastifyPort}/x`, {}, fastify, '@fastify/http-proxy');

  const specs: Partial<Record<Target, TargetSpec>> = {
    direct: { url: `${upstreamUrl}/x`, headers: {}, pid: upstream.pid! },
    bare: { url: `http://127.0.0.1:${barePort}/x`, headers: {}, pid: bare.pid! },
    fastify: { url: `http://127.0.0.1:${fastifyPort}/x`, headers: {}, pid: fastify.pid! },
  };
  if (existsSync(NGINX)) {
    const dir = mkdtempSync(join(tmpdir(), 'tg-bench-nginx-'));
    scratch.push(dir);
    const nginx = startPinnedBinary(
      SERVER_CPU,
      [NGINX, ...nginxConfig(dir, nginxPort!, upPort!)],
      join(dir, 'nginx.out'),
    );
    await waitReady(`http://127.0.0.1:${nginxPort}/x`, {}, nginx, 'nginx');
    specs.nginx = { url: `http://127.0.0.1:${nginxPort}/x`, headers: {}, pid: nginx.pid! };
  } else {
    log(`${NGINX} missing (bash infra/stack.sh install): no nginx baseline`);
  }

  let gatewayError: string | undefined;
  let kafkaTopic: string | undefined;
  let gatewayLog: string | undefined;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  if (args['no-gateway']) {
    gatewayError = 'skipped (--no-gateway)';
  } else if (!existsSync(GATEWAY_MAIN)) {
    gatewayError = `${GATEWAY_MAIN} does not exist yet`;
  } else {
    db = await createTestDatabase();
    const seed = await seedBench(db.prisma, upstreamUrl);
    kafkaTopic = `tollgate.usage.v2.bench-${randomUUID()}`;
    const spoolDir = mkdtempSync(join(tmpdir(), 'tg-bench-spool-'));
    scratch.push(spoolDir);
    gatewayLog = join(mkdtempSync(join(tmpdir(), 'tg-bench-log-')), 'gateway.log');
    if (args['profile-gateway']) profileDir = mkdtempSync(join(tmpdir(), 'tg-bench-prof-'));
    const gw = startPinned(SERVER_CPU, GATEWAY_MAIN, [], {
      logFile: gatewayLog,
      nodeFlags: [
        ...(args['gateway-node-flags'] === undefined
          ? GATEWAY_NODE_FLAGS
          : args['gateway-node-flags'].split(' ').filter((f) => f !== '')),
        ...(profileDir ? ['--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${profileDir}`] : []),
      ],
      env: {
        DATABASE_URL: db.url,
        REDIS_URL: stack.REDIS_URL!,
        KAFKA_BROKERS: stack.KAFKA_BROKERS!,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(gwPort),
        GATEWAY_ADMIN_PORT: String(adminPort),
        GATEWAY_USAGE_TOPIC: kafkaTopic,
        GATEWAY_REDIS_KEY_PREFIX: `bench:${randomUUID()}:`,
        GATEWAY_SPOOL_DIR: spoolDir,
        // The bench upstream listens on loopback.
        GATEWAY_UPSTREAM_ALLOW: `127.0.0.1:${upPort}`,
        // One consumer sends all the load: the fair share of the upstream pool (default 0.25 of
        // 128 connections) would refuse it past 96 requests in flight on the target, which the
        // open-loop rounds reach during any stall of a few ms (measured: 667 × 429
        // UPSTREAM_SHARE_EXCEEDED in one loaded round). There is no other consumer to protect,
        // and the rule's check runs (and costs) the same with share 1. Every other admission
        // bound and load shedding keep their defaults; the report counts what they refuse.
        GATEWAY_UPSTREAM_FAIR_SHARE: '1',
        LOG_LEVEL: args['gateway-log-level'],
      },
    });
    const spec = {
      url: `http://127.0.0.1:${gwPort}${seed.basePath}/x`,
      headers: { 'x-api-key': seed.key },
      pid: gw.pid!,
      adminUrl,
    };
    try {
      await waitReady(`${adminUrl}/readyz`, {}, gw, 'gateway admin /readyz');
      await waitReady(spec.url, spec.headers, gw, 'gateway proxied request');
      specs.gateway = spec;
    } catch (err) {
      const tail = readFileSync(gatewayLog, 'utf8').slice(-3000);
      gatewayError = `${(err as Error).message}\n\nlast gateway output:\n${tail}`;
      log(gatewayError);
    }
  }
  const targets = ALL_TARGETS.filter((n) => specs[n] !== undefined);

  // Warm-up (JIT, connection pools, key cache), not recorded.
  for (const n of targets) {
    await closedLoop(specs[n]!, WARMUP_SECONDS);
    log(`warm-up ${n} done`);
  }
  const countersBefore = specs.gateway ? await settledGatewayCounters(adminUrl) : {};
  const throughput: Partial<Record<Target, ClosedLoopResult[]>> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    for (const n of targets) {
      const r = await closedLoop(specs[n]!, SECONDS);
      throughput[n] = [...(throughput[n] ?? []), r];
      log(
        `round ${round} ${n}: ${Math.round(r.rps)} req/s (non-2xx ${r.non2xx}, socket errors ${r.socketErrors})`,
      );
    }
  }
  const loadAfterThroughput = loadAverage();
  const medians: Partial<Record<Target, number>> = {};
  for (const n of targets) medians[n] = median(throughput[n]!.map((x) => x.rps));
  const ratios: Ratio[] = [];
  const ratio = (name: string, a: Target, b: Target, target?: string) => {
    const ta = throughput[a];
    const tb = throughput[b];
    if (!ta || !tb) return;
    const of = (metric: (x: ClosedLoopResult) => number) => {
      const per = ta.map((x, i) => metric(x) / metric(tb[i]!));
      return {
        ofMedians: round2(median(ta.map(metric)) / median(tb.map(metric))),
        perRound: { min: round2(Math.min(...per)), max: round2(Math.max(...per)) },
      };
    };
    ratios.push({
      name,
      ...of((x) => x.rps),
      perCpu: of((x) => x.requestsPerCpuSecond),
      ...(target ? { target } : {}),
    });
  };
  ratio('gateway / bare undici', 'gateway', 'bare', '≥ 0.80');
  ratio('gateway / @fastify/http-proxy', 'gateway', 'fastify', '> 1.00');
  ratio('gateway / nginx', 'gateway', 'nginx');
  ratio('bare undici / nginx', 'bare', 'nginx');
  ratio('bare undici / direct', 'bare', 'direct');
  ratio('nginx / direct', 'nginx', 'direct');
  ratio('@fastify/http-proxy / bare undici', 'fastify', 'bare');
  ratio('gateway / direct', 'gateway', 'direct');

  let latency: Results['latency'];
  if (LATENCY_ROUNDS > 0) {
    const basis = medians.gateway !== undefined ? 'gateway' : 'bare';
    const rate = args['latency-rate'] ? Number(args['latency-rate']) : Math.floor(medians[basis]! / 2);
    const rateBasis = args['latency-rate']
      ? 'set with --latency-rate'
      : `half the ${basis === 'gateway' ? "gateway's" : "bare proxy's (gateway not measured)"} median maximum rate`;
    const latTargets = targets;
    const runs: Partial<Record<Target, OpenLoopRun[]>> = {};
    for (let round = 1; round <= LATENCY_ROUNDS; round++) {
      for (const n of latTargets) {
        const r = await openLoop(specs[n]!, rate);
        runs[n] = [...(runs[n] ?? []), r];
        log(
          `latency round ${round} ${n} @${rate}/s: p50 ${r.p50us} µs p99 ${r.p99us} µs (lag p99 ${r.sendLagP99us} µs)`,
        );
      }
    }
    const added: NonNullable<Results['latency']>['added'] = [];
    const addedOver = (name: string, a: Target, b: Target) => {
      if (!runs[a] || !runs[b]) return;
      const m = (n: Target, k: 'p50us' | 'p99us') => median(runs[n]!.map((x) => x[k]));
      added.push({
        name,
        p50us: m(a, 'p50us') - m(b, 'p50us'),
        p99us: m(a, 'p99us') - m(b, 'p99us'),
        perRoundP50us: runs[a]!.map((x, i) => x.p50us - runs[b]![i]!.p50us),
        perRoundP99us: runs[a]!.map((x, i) => x.p99us - runs[b]![i]!.p99us),
      });
    };
    addedOver('gateway − bare undici (target p99 ≤ 1000 µs)', 'gateway', 'bare');
    addedOver('gateway − nginx', 'gateway', 'nginx');
    addedOver('bare undici − direct', 'bare', 'direct');
    addedOver('nginx − direct', 'nginx', 'direct');
    addedOver('@fastify/http-proxy − bare undici', 'fastify', 'bare');
    addedOver('gateway − direct', 'gateway', 'direct');
    latency = { rate, rateBasis, targets: latTargets, runs, added };
  }

  let counters: Record<string, number> | undefined;
  let admitted: number | undefined;
  if (specs.gateway) {
    counters = await settledGatewayCounters(adminUrl);
    // 2xx the generators saw from the gateway after `eventsBefore` was read.
    admitted = 0;
    for (const r of throughput.gateway ?? []) admitted += r.requests - r.non2xx;
    for (const r of latency?.runs.gateway ?? []) admitted += r.allOk;
    const delta = (pick: (k: string) => boolean) =>
      Object.entries(counters!)
        .filter(([k]) => pick(k))
        .reduce((sum, [k, v]) => sum + v - (countersBefore[k] ?? 0), 0);
    counters.eventsSentDuringRun = delta((k) => k === 'tollgate_gateway_usage_events_sent');
    counters.requestsDuringRun = delta((k) => k.startsWith('tollgate_gateway_requests_total'));
    counters.requests2xxDuringRun = delta(
      (k) => k.startsWith('tollgate_gateway_requests_total') && /status="2/.test(k),
    );
  }

  const results: Results = {
    startedAt,
    finishedAt: new Date().toISOString(),
    command: `npm run bench:gateway -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    load: { start: loadStart, afterThroughput: loadAfterThroughput, end: loadAverage() },
    options: {
      rounds: ROUNDS,
      seconds: SECONDS,
      connections: CONNECTIONS,
      warmupSeconds: WARMUP_SECONDS,
      latencyRounds: LATENCY_ROUNDS,
      latencySeconds: LATENCY_SECONDS,
      loadgen: LOADGEN,
      nice: NICE,
      gatewayLogLevel: args['gateway-log-level'],
      pinning: `nginx, the proxies and the gateway on CPU ${SERVER_CPU}; upstream, load generators, runner and (for the run) the shared stack's processes on CPU ${CLIENT_CPU}`,
    },
    targets,
    ...(gatewayError ? { gatewayError } : {}),
    ...(kafkaTopic ? { kafkaTopic } : {}),
    throughput,
    medians,
    ratios,
    ...(latency ? { latency } : {}),
    ...(counters ? { gatewayCounters: counters } : {}),
    ...(admitted !== undefined ? { gatewayAdmitted: admitted } : {}),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `gateway-${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const md = renderMarkdown(results);
  process.stdout.write(`${md}\n`);
  log(`results: ${file}`);
  if (args['write-md'] && gatewayError && !args['no-gateway']) {
    log('BENCHMARKS.md left unchanged: the gateway was not measured');
  } else if (args['write-md']) {
    writeBenchmarksMd(md);
    log('BENCHMARKS.md gateway results updated');
  }

  await stopChildren();
  if (gatewayLog && !gatewayError) scratch.push(join(gatewayLog, '..'));
  else if (gatewayLog) log(`gateway output kept in ${gatewayLog}`);
  if (profileDir) {
    // Written by the gateway when it exits (its SIGTERM handler ends with process.exit).
    const profile = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (profile) {
      const target = join(RESULTS_DIR, `gateway-${startedAt.replace(/[:.]/g, '-')}.cpuprofile`);
      copyFileSync(join(profileDir, profile), target);
      const summary = summarizeProfile(target, 30);
      writeFileSync(`${target}.summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
      log(
        `gateway CPU profile: ${target} (self time by group: ${summary.groups
          .slice(0, 12)
          .map((g) => `${g.group} ${g.share}%`)
          .join(', ')})`,
      );
    } else {
      log('no gateway CPU profile was written');
    }
    scratch.push(profileDir);
  }
  if (kafkaTopic) await deleteTopic(kafkaTopic, stack.KAFKA_BROKERS!);
}

async function deleteTopic(topic: string, brokers: string): Promise<void> {
  const admin = createKafka({ brokers: brokers.split(','), clientId: 'tollgate-bench' }).admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
  } catch (err) {
    log(`could not delete topic ${topic}: ${String(err)}`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * The shared stack's processes (PostgreSQL with its backends, Redis, ClickHouse, the Kafka JVM,
 * stripe-mock), found from `infra/stack.sh status` and their descendants.
 */
function stackPids(): number[] {
  const status = execFileSync('bash', [join(REPO_ROOT, 'infra', 'stack.sh'), 'status'], {
    env: process.env,
  }).toString();
  const roots = [...status.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
  const ps = execFileSync('ps', ['-e', '-o', 'pid=,ppid=']).toString();
  const childrenOf = new Map<number, number[]>();
  for (const line of ps.trim().split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid === undefined || ppid === undefined) continue;
    childrenOf.set(ppid, [...(childrenOf.get(ppid) ?? []), pid]);
  }
  const all: number[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    all.push(pid);
    queue.push(...(childrenOf.get(pid) ?? []));
  }
  return all;
}

/**
 * Keeps the measured core for the process under test: the stack's services (which the gateway
 * calls, and which otherwise run wherever the scheduler puts them, JVM and GC threads included)
 * move to the client CPU for the run, and back to every CPU at the end. Returns the undo.
 */
function pinStackToClientCpu(): () => void {
  const pids = stackPids();
  const set = (cpus: string) => {
    for (const pid of pids) {
      try {
        execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
      } catch {
        // exited meanwhile (a PostgreSQL backend): nothing to pin
      }
    }
  };
  set(String(CLIENT_CPU));
  log(`pinned ${pids.length} stack processes to CPU ${CLIENT_CPU} for the run`);
  // An interrupted run must not leave the stack squeezed onto one CPU.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      set(`0-${cpus().length - 1}`);
      for (const c of children) c.kill('SIGTERM');
      process.exit(130);
    });
  }
  // os.cpus(): every CPU of the machine (availableParallelism() only counts this runner's own).
  return () => set(`0-${cpus().length - 1}`);
}

/** SIGTERM every child and wait for it (SIGKILL after 15 s). */
async function stopChildren(): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

try {
  if (args['from-results']) {
    // Re-render a results file (e.g. to restore BENCHMARKS.md after a failed run); measures nothing.
    const md = renderMarkdown(JSON.parse(readFileSync(args['from-results'], 'utf8')) as Results);
    process.stdout.write(`${md}\n`);
    if (args['write-md']) writeBenchmarksMd(md);
  } else {
    await main();
  }
} catch (err) {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  unpinStack();
  await stopChildren();
  await db?.drop();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
}
