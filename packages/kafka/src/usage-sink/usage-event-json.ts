import type { UsageEventV1 } from '@tollgate/core';

/**
 * UsageEventV1 as JSON, the fields written in the schema's order by a fixed-shape template:
 * for every event the schema accepts, the very string `JSON.stringify` gives for an event built
 * in that order (the gateway's; a property test holds it to that), for about 40 % less CPU
 * (1.05 against 1.75 µs per gateway event, measured in isolation): nothing walks the object's
 * keys, and strings without a character to escape are quoted as they are (the others go through
 * JSON.stringify for its escaping).
 * The event's only serialization on its way to Kafka: the spool stores these bytes and the Kafka
 * record carries them.
 *
 * Anything outside that fixed shape (a field absent or of another JSON type, `data` missing)
 * falls back to JSON.stringify of the whole event, so the output is always what JSON.stringify
 * would say about the schema's fields; unknown extra fields are left out (the schema drops them
 * on parsing too).
 */
const str = JSON.stringify;

/** Set by the field writers when a value is not of the shape's type (synchronous use only). */
let offShape = false;

/** Characters JSON.stringify escapes: controls, quote, backslash, and surrogates (lone ones). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for.
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

function text(v: unknown): string {
  if (typeof v === 'string') return NEEDS_ESCAPE.test(v) ? str(v) : `"${v}"`;
  if (v !== null) offShape = true;
  return 'null';
}

function num(v: unknown): string {
  if (typeof v !== 'number') {
    offShape = true;
    return 'null';
  }
  // JSON.stringify's number format, and its null for NaN and the infinities.
  return Number.isFinite(v) ? String(v) : 'null';
}

function bool(v: unknown): string {
  if (typeof v !== 'boolean') offShape = true;
  return v === true ? 'true' : 'false';
}

export function usageEventJson(event: UsageEventV1): string {
  const d = event.data as UsageEventV1['data'] | undefined;
  if (typeof d !== 'object' || d === null) return JSON.stringify(event);
  offShape = false;
  const json =
    `{"specversion":${text(event.specversion)},"type":${text(event.type)},"source":${text(event.source)}` +
    `,"id":${text(event.id)},"time":${text(event.time)},"subject":${text(event.subject)}` +
    `,"data":{"consumerId":${text(d.consumerId)},"keyId":${text(d.keyId)},"planId":${text(d.planId)}` +
    `,"subscriptionId":${text(d.subscriptionId)},"apiId":${text(d.apiId)},"routeId":${text(d.routeId)}` +
    `,"method":${text(d.method)},"status":${num(d.status)},"bytesIn":${num(d.bytesIn)}` +
    `,"bytesOut":${num(d.bytesOut)},"latencyMs":${num(d.latencyMs)},"units":${num(d.units)}` +
    `,"billable":${bool(d.billable)}}}`;
  return offShape ? JSON.stringify(event) : json;
}
