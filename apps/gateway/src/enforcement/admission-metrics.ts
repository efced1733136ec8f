import { Gauge } from 'prom-client';
import type { LookupGate } from '../identity/lookup-gate.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Admission } from './admission.ts';
import type { LoadShedder } from './load-shed.ts';

/** Gauges read from admission control's, load shedding's and the key lookup gate's own counters at scrape time. */
export function registerAdmissionMetrics(
  metrics: GatewayMetrics,
  admission: Admission,
  keyLookups: LookupGate<unknown> | null,
  shedder: LoadShedder,
): void {
  new Gauge({
    name: 'tollgate_gateway_in_flight',
    help: 'Requests in this process between their first byte and their finish (the load-shedding bound GATEWAY_MAX_IN_FLIGHT)',
    registers: [metrics.registry],
    collect() {
      this.set(shedder.inFlight);
    },
  });
  new Gauge({
    name: 'tollgate_gateway_shedding',
    help: '1 while the gateway sheds new requests because its event loop lags (GATEWAY_SHED_LOOP_LAG_MS)',
    registers: [metrics.registry],
    collect() {
      this.set(shedder.isShedding ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tollgate_gateway_admitted_in_flight',
    help: 'Admitted requests in flight by what bounds them: address (anonymous, per client address), consumer',
    labelNames: ['bound'] as const,
    registers: [metrics.registry],
    collect() {
      this.set({ bound: 'address' }, admission.totals.addresses);
      this.set({ bound: 'consumer' }, admission.totals.consumers);
    },
  });
  new Gauge({
    name: 'tollgate_gateway_upstream_in_flight',
    help: 'Requests dispatched to upstream targets and not finished, by holder: anonymous (public routes), consumers',
    labelNames: ['holder'] as const,
    registers: [metrics.registry],
    collect() {
      this.set({ holder: 'anonymous' }, admission.totals.anonymousOnTargets);
      this.set({ holder: 'consumers' }, admission.totals.consumersOnTargets);
    },
  });
  if (keyLookups === null) return;
  new Gauge({
    name: 'tollgate_gateway_key_lookups_in_flight',
    help: 'Postgres key lookups running and waiting for a slot',
    labelNames: ['state'] as const,
    registers: [metrics.registry],
    collect() {
      this.set({ state: 'running' }, keyLookups.inflight);
      this.set({ state: 'waiting' }, keyLookups.queued);
    },
  });
}
