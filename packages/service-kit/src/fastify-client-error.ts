import { TollgateError } from '@tollgate/core';

/**
 * Fastify's own refusals of a request (a body it cannot parse, too large, of a media type no
 * parser takes) as our error kinds, so the app's one error handler renders them like any other
 * 4xx. Undefined for anything that is not a fastify 4xx.
 */
export function fastifyClientError(err: unknown): TollgateError | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500 || err instanceof TollgateError)
    return undefined;
  const message = err instanceof Error ? err.message : 'The request is invalid.';
  if (status === 413)
    return new TollgateError('payload_too_large', 'BODY_TOO_LARGE', message, { cause: err });
  if (status === 415)
    return new TollgateError('unsupported_media_type', 'UNSUPPORTED_MEDIA_TYPE', message, { cause: err });
  return new TollgateError('invalid', 'BAD_REQUEST', message, { cause: err });
}
