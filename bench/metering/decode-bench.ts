/**
 * Metering's decoding alone (not a timed test): µs of CPU per usage event for the full path
 * (JSON.parse, the exact schema check, the row text) against the fast path for the gateway's
 * fixed shape, on the same lines, and for `decodeUsageRecord` as the ingest runs it (record
 * split, fast path with its fall-back, dedup by id).
 *
 *   npm run bench:metering-decode -- [--events 100000] [--rounds 5]   (pinned to CPU 1)
 *
 * The lines are what the gateway's sink writes (`usageEventJson`), 500 per v2 record, with
 * varied consumers, routes, statuses and latencies. Rounds alternate the paths; the first round
 * warms the JIT and is left out of the median.
 */
import { parseArgs } from 'node:util';
import { USAGE_EVENT_TYPE_V1, type UsageEventV1, uuidv7 } from '@tollgate/core';
import { USAGE_RECORD_HEADERS, usageEventJson, usageRecordLines, usageRecordValue } from '@tollgate/kafka';
import { decodeUsageLine, fullUsageEventRow } from '../../apps/metering/src/ingest/decode-usage-line.ts';
import { decodeUsageRecord, emptyBatch } from '../../apps/metering/src/ingest/decode-usage-records.ts';

const { values: args } = parseArgs({
  options: { events: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '5' } },
});
const EVENTS = Number(args.events);
const ROUNDS = Number(args.rounds);
const PER_RECORD = 500;
const ingestedAt = '2026-12-03 18:40:00';

function event(i: number, now: number): UsageEventV1 {
  const consumerId = `consumer-${i % 97}`;
  return {
    specversion: '1.0',
    type: USAGE_EVENT_TYPE_V1,
    source: 'gateway/gw-1',
    id: uuidv7(now),
    time: new Date(now).toISOString(),
    subject: consumerId,
    data: {
      consumerId,
      keyId: i % 5 === 0 ? null : `key-${i % 211}`,
      planId: 'plan-pro',
      subscriptionId: i % 5 === 0 ? null : `sub-${i % 97}`,
      apiId: 'api-weather',
      routeId: `route-${i % 7}`,
      method: i % 3 === 0 ? 'POST' : 'GET',
      status: i % 50 === 0 ? 429 : 200,
      bytesIn: i % 3 === 0 ? 512 + (i % 1000) : 0,
      bytesOut: 1024 + (i % 4096),
      latencyMs: Math.round(Math.random() * 50_000) / 1000,
      units: 1 + (i % 3),
      billable: i % 50 !== 0,
    },
  };
}

const start = Date.now() - EVENTS;
const records: Buffer[] = [];
for (let r = 0; r * PER_RECORD < EVENTS; r++) {
  const lines: string[] = [];
  for (let i = r * PER_RECORD; i < Math.min(EVENTS, (r + 1) * PER_RECORD); i++) {
    lines.push(usageEventJson(event(i, start + i)));
  }
  records.push(usageRecordValue(lines));
}

type Path = 'full' | 'fast' | 'record';
let sink = 0;
function run(path: Path): number {
  const cpu = process.cpuUsage();
  if (path === 'record') {
    for (let r = 0; r < records.length; r++) {
      const batch = emptyBatch();
      const message = {
        key: null,
        value: records[r]!,
        offset: String(r),
        headers: { ...USAGE_RECORD_HEADERS },
      };
      decodeUsageRecord('bench', 0, message, ingestedAt, batch);
      sink += batch.rows.length;
    }
  } else {
    const decode = path === 'full' ? fullUsageEventRow : decodeUsageLine;
    for (const value of records) {
      for (const { start, end } of usageRecordLines(value)) {
        const row = decode(value.toString('utf8', start, end), ingestedAt);
        if (row.ok) sink += row.line.length;
      }
    }
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / EVENTS;
}

const results: Record<Path, number[]> = { full: [], fast: [], record: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const path of ['full', 'fast', 'record'] as const) results[path].push(run(path));
}
const median = (xs: number[]) => {
  const s = xs.slice(1).sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const line = Buffer.byteLength(usageEventJson(event(1, start)));
console.log(
  `${EVENTS} events, ${records.length} records, ~${line} bytes per line; µs of CPU per event (median of rounds 2..${ROUNDS}; all rounds)`,
);
for (const path of ['full', 'fast', 'record'] as const) {
  console.log(
    `${path.padEnd(6)} ${median(results[path]).toFixed(2)}  (${results[path].map((x) => x.toFixed(2)).join(', ')})`,
  );
}
if (sink === 0) throw new Error('nothing decoded');
