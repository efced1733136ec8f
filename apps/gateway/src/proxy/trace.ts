import { randomFillSync } from 'node:crypto';

// Random bytes drawn in blocks: trace and span ids are minted per request.
const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let offset = POOL_SIZE;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  let s = '';
  for (let i = 0; i < bytes; i++) s += HEX[pool[offset + i]!]!;
  offset += bytes;
  return s;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/**
 * W3C Trace Context: the traceparent to send upstream. A valid incoming one keeps its trace id
 * and flags with the gateway as the new parent span; anything else starts a new sampled trace.
 * Returns [traceparent, propagated] (tracestate is forwarded only when propagated).
 */
export function nextTraceparent(incoming: string | undefined): [string, boolean] {
  if (incoming !== undefined && incoming.length === 55) {
    const m = TRACEPARENT.exec(incoming);
    if (m !== null && m[1] !== ZERO_TRACE && m[2] !== ZERO_SPAN) {
      return [`00-${m[1]}-${randomHex(8)}-${m[3]}`, true];
    }
  }
  return [`00-${randomHex(16)}-${randomHex(8)}-01`, false];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A client-supplied request id is kept when it is short and plain; otherwise null (mint one). */
export function acceptableRequestId(value: unknown): string | null {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : null;
}
