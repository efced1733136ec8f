import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Alert webhook signature, Stripe-style: header `Tollgate-Signature: t=<unix seconds>,v1=<hex>`
 * where hex = HMAC-SHA256(secret, `${t}.${body}`). Receivers recompute it over the raw body,
 * compare in constant time and reject old timestamps (replays).
 */
export const SIGNATURE_HEADER = 'Tollgate-Signature';

export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/** For receivers (and tests): true when `header` signs `body` with `secret` within `toleranceS`. */
export function verifyWebhookSignature(
  secret: string,
  body: string,
  header: string,
  nowUnixSeconds: number,
  toleranceS = 300,
): boolean {
  const parts = new Map(
    header.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowUnixSeconds - t) > toleranceS) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const given = Buffer.from(v1);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
