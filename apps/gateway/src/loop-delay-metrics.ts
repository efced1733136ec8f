import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge } from 'prom-client';
import type { GatewayMetrics } from './metrics.ts';

/** Sampling period of the delay histogram, ms (libuv's timer granularity). */
const RESOLUTION_MS = 1;

/**
 * Event-loop delay as Node's `perf_hooks.monitorEventLoopDelay` measures it: a timer due every
 * RESOLUTION_MS records when it actually ran; the delay of a sample is how late it ran, so a
 * synchronous stretch of N ms shows up as a sample of about N ms. Exported as gauges over the
 * window since the previous scrape (the histogram is reset after each scrape, as prom-client's
 * default `nodejs_eventloop_lag_*` metrics do): p50, p99 and max in seconds, and the sample count.
 * One scraper per gateway, or the windows split between them.
 */
export function registerLoopDelayMetrics(metrics: GatewayMetrics): { close(): void } {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const excess = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS) / 1000;
  let samples = 0;
  new Gauge({
    name: 'tollgate_gateway_event_loop_delay_seconds',
    help: `Event-loop delay (perf_hooks.monitorEventLoopDelay, ${RESOLUTION_MS} ms sampling: how late a due timer ran) since the previous scrape, by stat: p50, p99, max`,
    labelNames: ['stat'] as const,
    registers: [metrics.registry],
    collect() {
      samples = histogram.count;
      this.set({ stat: 'p50' }, samples === 0 ? 0 : excess(histogram.percentile(50)));
      this.set({ stat: 'p99' }, samples === 0 ? 0 : excess(histogram.percentile(99)));
      this.set({ stat: 'max' }, samples === 0 ? 0 : excess(histogram.max));
      histogram.reset();
    },
  });
  new Gauge({
    name: 'tollgate_gateway_event_loop_delay_samples',
    help: 'Samples behind tollgate_gateway_event_loop_delay_seconds (the window since the previous scrape)',
    registers: [metrics.registry],
    collect() {
      // Registered after the delay gauge: the registry collects in order, so this is its window.
      this.set(samples);
    },
  });
  return { close: () => histogram.disable() };
}
