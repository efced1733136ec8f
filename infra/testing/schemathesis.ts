import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './stack.ts';

/**
 * The contract fuzz of the test suite: schemathesis (infra/schemathesis.sh, pinned, from PyPI)
 * driven by a service's OpenAPI document against a running instance, with a fixed seed and one
 * worker so a run is the same run every time. The answer counts what it sent from its NDJSON
 * report (every request and the status it got), so a test can assert the volume and the statuses
 * itself, besides schemathesis's own verdict.
 */
export interface FuzzOptions {
  /** URL of the OpenAPI document; requests go to the server the document names (or `baseUrl`). */
  schemaUrl: string;
  baseUrl?: string;
  /** Sent with every request (`Authorization: Bearer ...`). */
  headers: Record<string, string>;
  /** schemathesis checks to run (see `schemathesis run --help`). */
  checks: string[];
  /**
   * Known values for parameters and body fields of these names (ids of seeded rows), drawn half
   * the time, so generated requests also reach rows that exist instead of stopping at 404.
   */
  knownValues?: Record<string, (string | number)[]>;
  /** A check that cannot hold for one operation, with the reason (kept in the test's source). */
  exceptions?: { operationId: string; check: string; reason: string }[];
  /** Test cases per operation and phase (`--max-examples`). */
  maxExamples: number;
  seed: number;
  phases?: string[];
  /** Only these operations (by operationId); all by default. */
  operations?: string[];
  /** Every operation but these (by operationId). */
  excludeOperations?: string[];
  /** Per-request timeout, seconds. */
  requestTimeout?: number;
  /** Whole-run bound, milliseconds: the run is killed past it. */
  timeoutMs?: number;
}

export interface FuzzResult {
  exitCode: number;
  /** schemathesis's console output (its failures with a curl to reproduce each). */
  output: string;
  /** Requests sent, and how many got each status. */
  requests: number;
  statuses: Record<string, number>;
  /** Requests per operation ("GET /v1/usage/totals"; stateful sequences under their own label). */
  operations: Record<string, number>;
  /** Requests answered 5xx, as "METHOD URL -> status". */
  serverErrors: string[];
}

const SCRIPT = join(REPO_ROOT, 'infra', 'schemathesis.sh');
/** Constraints of our documents JSON Schema cannot state (x-tollgate-range), for the generator. */
const HOOKS = join(REPO_ROOT, 'infra', 'schemathesis', 'hooks.py');

/** Installs schemathesis if it is missing (first run needs PyPI; later runs are offline). */
export async function installSchemathesis(): Promise<void> {
  await run(['--install'], 600_000);
}

export async function fuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const reportDir = await mkdtemp(join(tmpdir(), 'tollgate-fuzz-'));
  try {
    // Checks go in the config file: there, unlike on the command line, an operation can opt out.
    const config = join(reportDir, 'schemathesis.toml');
    await writeFile(config, configToml(opts));
    const args = [
      '--config-file',
      config,
      'run',
      opts.schemaUrl,
      ...(opts.baseUrl ? ['--url', opts.baseUrl] : []),
      ...(opts.operations ?? []).flatMap((id) => ['--include-operation-id', id]),
      ...(opts.excludeOperations ?? []).flatMap((id) => ['--exclude-operation-id', id]),
      ...Object.entries(opts.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
      '--phases',
      (opts.phases ?? ['examples', 'coverage', 'fuzzing', 'stateful']).join(','),
      '--max-examples',
      String(opts.maxExamples),
      '--seed',
      String(opts.seed),
      '--workers',
      '1',
      '--generation-database',
      'none',
      '--request-timeout',
      String(opts.requestTimeout ?? 10),
      '--continue-on-failure',
      '--no-color',
      '--report',
      'ndjson',
      '--report-dir',
      reportDir,
    ];
    const { code, output } = await run(args, opts.timeoutMs ?? 300_000, reportDir);
    const counted = await countRequests(reportDir);
    return { exitCode: code, output, ...counted };
  } finally {
    await rm(reportDir, { recursive: true, force: true });
  }
}

function configToml(opts: FuzzOptions): string {
  // No state carried between runs (schemathesis replays earlier crashes from its cache first).
  const lines = ['[cache]', 'enabled = false', '', '[checks]', 'enabled = false'];
  lines.push(...opts.checks.map((check) => `${check}.enabled = true`));
  const known = Object.entries(opts.knownValues ?? {});
  for (const [name, values] of known)
    lines.push('', `[dictionaries.${name}]`, `values = ${JSON.stringify(values)}`);
  if (known.length > 0) {
    lines.push('', '[parameters]');
    for (const [name] of known)
      lines.push(`${name} = { dictionary = ${JSON.stringify(name)}, probability = 0.5 }`);
  }
  for (const { operationId, check } of opts.exceptions ?? [])
    lines.push(
      '',
      '[[operations]]',
      `include-operation-id = ${JSON.stringify(operationId)}`,
      `checks.${check}.enabled = false`,
    );
  return `${lines.join('\n')}\n`;
}

interface Interaction {
  request?: { method?: string; uri?: string };
  response?: { status_code?: number } | null;
}

async function countRequests(reportDir: string): Promise<Omit<FuzzResult, 'exitCode' | 'output'>> {
  const statuses: Record<string, number> = {};
  const operations: Record<string, number> = {};
  const serverErrors: string[] = [];
  let requests = 0;
  for (const file of (await readdir(reportDir)).filter((f) => f.endsWith('.ndjson'))) {
    for (const line of (await readFile(join(reportDir, file), 'utf8')).split('\n')) {
      if (!line.startsWith('{"ScenarioFinished"')) continue;
      const recorder = (
        JSON.parse(line) as {
          ScenarioFinished: { recorder: { label: string; interactions?: Record<string, Interaction> } };
        }
      ).ScenarioFinished.recorder;
      for (const interaction of Object.values(recorder.interactions ?? {})) {
        requests++;
        const status = String(interaction.response?.status_code ?? 'no response');
        statuses[status] = (statuses[status] ?? 0) + 1;
        // A unit scenario is labelled "GET /path" (its requests may use other methods: the
        // coverage phase's undeclared-method cases); a stateful scenario has one label for all.
        const path = /^[A-Z]+ (\/\S*)$/.exec(recorder.label)?.[1];
        const label = path === undefined ? recorder.label : `${interaction.request?.method ?? '?'} ${path}`;
        operations[label] = (operations[label] ?? 0) + 1;
        if (status.startsWith('5'))
          serverErrors.push(`${interaction.request?.method} ${interaction.request?.uri} -> ${status}`);
      }
    }
  }
  return { requests, statuses, operations, serverErrors };
}

function run(args: string[], timeoutMs: number, cwd = tmpdir()): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [SCRIPT, ...args],
      {
        cwd,
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_HOOKS: HOOKS },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

/** The end of schemathesis's report (failures and summary), for assertion messages. */
export function fuzzReport(result: FuzzResult, chars = 12_000): string {
  const start = result.output.indexOf('FAILURES');
  const text = start >= 0 ? result.output.slice(start) : result.output;
  return text.length > chars ? `${text.slice(0, chars)}\n... (truncated)` : text;
}
