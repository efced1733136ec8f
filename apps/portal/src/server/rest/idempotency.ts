import { createHash } from 'node:crypto';
import type { Actor } from '../actor.ts';
import { deps } from '../deps.ts';
import { invalid, TollgateError } from '../errors.ts';
import { MAX_BODY_BYTES } from './request-body.ts';

/**
 * `Idempotency-Key` on /admin/v1 POSTs, as Stripe honours it: the first answer (a success or a
 * 4xx) is stored in Postgres per admin token and key for a day, and a retry with the same key
 * and the same request gets it back, without running the change again. The same key with
 * another path or body is a 409, as is a retry while the first request is still running. A 5xx
 * is not stored, so a retry after an outage runs the request. A key's secret is never stored.
 */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const KEPT_MS = 24 * 3_600_000;

export async function idempotent(
  actor: Actor,
  request: Request,
  run: () => Promise<Response>,
): Promise<Response> {
  const key = request.headers.get(IDEMPOTENCY_HEADER);
  if (key === null || request.method !== 'POST') return run();
  if (!IDEMPOTENCY_KEY_PATTERN.test(key))
    throw invalid('Idempotency-Key: 1 to 255 printable ASCII characters', { 'Idempotency-Key': 'invalid' });
  const body = new Uint8Array(await request.clone().arrayBuffer());
  // A body over the limit is refused by the handler (413) and never stored.
  if (body.byteLength > MAX_BODY_BYTES) return run();
  const path = new URL(request.url).pathname;
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const prisma = deps().prisma;
  await prisma.adminIdempotencyKey.deleteMany({
    where: { tokenId: actor.id, key, createdAt: { lt: new Date(Date.now() - KEPT_MS) } },
  });
  const claimed = await prisma.$executeRaw`
    INSERT INTO admin_idempotency_keys (token_id, key, method, path, body_hash)
    VALUES (${actor.id}::uuid, ${key}, ${request.method}, ${path}, ${bodyHash})
    ON CONFLICT DO NOTHING`;
  if (claimed === 0) return replay(actor.id, key, path, bodyHash);
  let response: Response;
  try {
    response = await run();
  } catch (err) {
    await release(actor.id, key);
    throw err;
  }
  if (response.status >= 500) {
    await release(actor.id, key);
    return response;
  }
  const text = response.status === 204 ? null : await response.clone().text();
  await prisma.adminIdempotencyKey.update({
    where: { tokenId_key: { tokenId: actor.id, key } },
    data: {
      status: response.status,
      contentType: response.headers.get('content-type'),
      response: text === null ? null : withoutSecret(text),
    },
  });
  return response;
}

/**
 * An API key's secret is shown once and Tollgate keeps only its hash: the stored answer keeps
 * everything but the secret, and a replay says it was withheld (the caller rotates the key it
 * names if the first answer was lost).
 */
function withoutSecret(text: string): string {
  if (!text.includes('"secret"')) return text;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  if (typeof body !== 'object' || body === null || typeof (body as { secret?: unknown }).secret !== 'string')
    return text;
  return JSON.stringify({ ...body, secret: null, secretWithheld: true });
}

async function release(tokenId: string, key: string): Promise<void> {
  await deps().prisma.adminIdempotencyKey.deleteMany({ where: { tokenId, key } });
}

async function replay(tokenId: string, key: string, path: string, bodyHash: string): Promise<Response> {
  const row = await deps().prisma.adminIdempotencyKey.findUnique({
    where: { tokenId_key: { tokenId, key } },
  });
  if (row === null)
    throw new TollgateError(
      'conflict',
      'IDEMPOTENCY_KEY_IN_USE',
      'A request with this Idempotency-Key is running; retry.',
      {
        retryable: true,
      },
    );
  if (row.path !== path || row.bodyHash !== bodyHash)
    throw new TollgateError(
      'conflict',
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was used with another request; use a new key for a new request.',
    );
  if (row.status === null)
    throw new TollgateError(
      'conflict',
      'IDEMPOTENCY_KEY_IN_USE',
      'A request with this Idempotency-Key is running; retry.',
      {
        retryable: true,
      },
    );
  return new Response(row.response, {
    status: row.status,
    headers: {
      ...(row.contentType === null ? {} : { 'content-type': row.contentType }),
      'cache-control': 'no-store',
      'idempotent-replayed': 'true',
    },
  });
}
