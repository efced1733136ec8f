import { z } from 'zod';

/**
 * Host names in the configuration. The gateway matches an API's hosts against the request's
 * Host header lowercased and without its port, so an API host is a bare DNS name or IPv4
 * address: no port, no scheme, no brackets (`2:3` and `api.example.com:8080` are refused).
 */
const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
export const API_HOST_PATTERN = `^${LABEL}(\\.${LABEL})*$`;
const API_HOST = new RegExp(API_HOST_PATTERN);

export const ApiHostSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(253, 'a host name has at most 253 characters')
  .regex(API_HOST, 'a host name such as api.example.com (no port, no scheme)');

/** The Host header sent upstream: a host name or IPv4 address with an optional port. */
export const UpstreamHostSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(259)
  .superRefine((value, ctx) => {
    const colon = value.lastIndexOf(':');
    const host = colon < 0 ? value : value.slice(0, colon);
    const port = colon < 0 ? null : value.slice(colon + 1);
    const portOk = port === null || (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535);
    if (!API_HOST.test(host) || host.length > 253 || !portOk)
      ctx.addIssue({
        code: 'custom',
        message: 'a host name with an optional port, such as api.internal:8080',
      });
  });
