import { describe, expect, it } from 'vitest';
import { registerLoopDelayMetrics } from './loop-delay-metrics.ts';
import { createMetrics } from './metrics.ts';

const stat = (text: string, name: string) =>
  Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

describe('event-loop delay metrics', () => {
  it('a synchronous stretch shows up as a delay at least that long; p99 ≤ max; the window restarts at each scrape', async () => {
    const metrics = createMetrics();
    const monitor = registerLoopDelayMetrics(metrics);
    try {
      await new Promise((r) => setTimeout(r, 20));
      const until = performance.now() + 30;
      while (performance.now() < until) {}
      await new Promise((r) => setTimeout(r, 20));
      const text = await metrics.registry.metrics();
      const max = stat(text, 'tollgate_gateway_event_loop_delay_seconds\\{stat="max"\\}');
      const p99 = stat(text, 'tollgate_gateway_event_loop_delay_seconds\\{stat="p99"\\}');
      const samples = stat(text, 'tollgate_gateway_event_loop_delay_samples');
      // The sampling timer cannot run during the 30 ms stretch (minus its 1 ms period).
      expect(max).toBeGreaterThanOrEqual(0.028);
      expect(p99).toBeLessThanOrEqual(max);
      expect(samples).toBeGreaterThan(0);
      // Reset by the scrape: the next window has not seen the stretch.
      await new Promise((r) => setTimeout(r, 5));
      const next = await metrics.registry.metrics();
      expect(stat(next, 'tollgate_gateway_event_loop_delay_samples')).toBeLessThan(samples);
    } finally {
      monitor.close();
    }
  });
});
