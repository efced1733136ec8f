/**
 * Finds the event loop's long synchronous stretches in a V8 .cpuprofile (node --cpu-prof): runs of
 * consecutive samples that are not "(idle)" and last longer than a threshold, and what their
 * samples were spent in (the innermost frame of our own code or of a dependency, by module).
 * A stretch here is time the main thread was busy without a break; the event-loop delay the
 * gateway reports also counts time the OS did not schedule it, which a profile cannot see.
 *
 *   tsx bench/gateway/long-tasks.ts <file.cpuprofile> [threshold-ms=2] [top=15]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, thresholdArg = '2', topArg = '15'] = process.argv.slice(2);
if (!file) throw new Error('usage: long-tasks.ts <file.cpuprofile> [threshold-ms] [top]');
const thresholdUs = Number(thresholdArg) * 1000;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function moduleOf(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const at = url.indexOf('/work/');
  return at >= 0 ? url.split('/').slice(-2).join('/') : url === '' ? '(native)' : url;
}

/** The frame a sample is charged to: its own frame, named with its module. */
function label(id: number): string {
  const n = byId.get(id)!;
  const name = n.callFrame.functionName || '(anonymous)';
  if (name.startsWith('(')) {
    // (garbage collector), (program): name the caller chain's first real frame too.
    let p = parent.get(id);
    while (p !== undefined && (byId.get(p)!.callFrame.functionName || '').startsWith('(')) p = parent.get(p);
    const caller =
      p === undefined
        ? ''
        : ` in ${byId.get(p)!.callFrame.functionName} ${moduleOf(byId.get(p)!.callFrame.url)}`;
    return `${name}${caller}`;
  }
  return `${name} ${moduleOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
}

const stretches: { us: number; samples: number[] }[] = [];
let current: { us: number; samples: number[] } | null = null;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  const dt = profile.timeDeltas[i + 1] ?? 0; // the time until the next sample belongs to this one
  const idle = byId.get(id)!.callFrame.functionName === '(idle)';
  if (idle) {
    if (current && current.us >= thresholdUs) stretches.push(current);
    current = null;
    continue;
  }
  current ??= { us: 0, samples: [] };
  current.us += dt;
  current.samples.push(id);
}
if (current && current.us >= thresholdUs) stretches.push(current);

const totalUs = profile.timeDeltas.reduce((a, b) => a + b, 0);
const longUs = stretches.reduce((a, s) => a + s.us, 0);
const sizes = stretches.map((s) => s.us).sort((a, b) => a - b);
const q = (p: number) =>
  sizes.length ? Math.round(sizes[Math.min(sizes.length - 1, Math.floor(p * sizes.length))]! / 100) / 10 : 0;
console.log(
  `${stretches.length} busy stretches ≥ ${thresholdArg} ms over ${(totalUs / 1e6).toFixed(1)} s ` +
    `(${((longUs / totalUs) * 100).toFixed(1)} % of the time); length p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1 - 1e-9)} ms`,
);
const charged = new Map<string, number>();
for (const s of stretches)
  for (const id of s.samples) charged.set(label(id), (charged.get(label(id)) ?? 0) + 1);
const samples = stretches.reduce((a, s) => a + s.samples.length, 0);
console.log('where the samples of those stretches went:');
for (const [name, n] of [...charged].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg)))
  console.log(`  ${((n / samples) * 100).toFixed(1).padStart(5)} %  ${name}`);
