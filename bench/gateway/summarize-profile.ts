/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self time by module group and the hottest
 * functions. Used by gateway-bench.ts --profile-gateway; also runnable on its own:
 *
 *   tsx bench/gateway/summarize-profile.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface ProfileSummary {
  totalSamples: number;
  /** Share of all samples the process was idle; every other share is of the busy samples. */
  idleShare: number;
  /** Self-time share by group: an npm package, `node:` internals, gateway code, GC, idle, ... */
  groups: { group: string; share: number }[];
  functions: { fn: string; share: number }[];
}

function groupOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(program)') return '(program: native, not attributed)';
    return `(native) ${functionName}`;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/([^/]+).*/, 'node:internal/$1');
  const local = /\/(apps\/[^/]+|packages\/[^/]+)\//.exec(url);
  if (local) return local[1]!;
  return url;
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const parent = new Map<number, number>();
  const byId = new Map<number, CpuProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const c of node.children ?? []) parent.set(c, node.id);
  }
  /** A native frame (a write, a hash) is charged to the group of its nearest JavaScript caller outside node: internals. */
  const callerGroup = (id: number): string | undefined => {
    for (let p = parent.get(id); p !== undefined; p = parent.get(p)) {
      const url = byId.get(p)!.callFrame.url;
      if (url !== '' && !url.startsWith('node:')) return groupOf(url, '');
    }
    return undefined;
  };
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const n = hits.get(node.id) ?? node.hitCount ?? 0;
    if (n === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (url === '' && functionName === '(idle)') {
      idle += n;
      continue;
    }
    total += n;
    let g = groupOf(url, functionName);
    if (g.startsWith('(native)') || g.startsWith('node:')) {
      const caller = callerGroup(node.id);
      if (caller) g = `${g} ← ${caller}`;
    }
    groups.set(g, (groups.get(g) ?? 0) + n);
    const where =
      url === ''
        ? ''
        : ` ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(apps|packages)\//, '$1/')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    fns.set(key, (fns.get(key) ?? 0) + n);
  }
  const ranked = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => ({ k, share: Math.round((v / total) * 1000) / 10 }));
  return {
    totalSamples: total + idle,
    idleShare: Math.round((idle / (total + idle)) * 1000) / 10,
    groups: ranked(groups).map(({ k, share }) => ({ group: k, share })),
    functions: ranked(fns)
      .slice(0, top)
      .map(({ k, share }) => ({ fn: k, share })),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: summarize-profile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const s = summarizeProfile(file, Number(top ?? 25));
  process.stdout.write(
    `self time, ${s.totalSamples} samples, ${s.idleShare}% idle; shares below are of the busy samples\n\nby group (%):\n`,
  );
  for (const g of s.groups.slice(0, 30))
    process.stdout.write(`  ${String(g.share).padStart(5)}  ${g.group}\n`);
  process.stdout.write('\nhottest functions (%):\n');
  for (const f of s.functions) process.stdout.write(`  ${String(f.share).padStart(5)}  ${f.fn}\n`);
}
