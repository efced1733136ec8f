import type { TrustedProxies } from '@tollgate/config';
import type { CellCounter, CounterCell } from '../metric-cells.ts';
import { defineProblem, type Problem, RETRY_AFTER_FROM_RECORD } from '../problem.ts';
import { clientAddressOf } from '../proxy/client-address.ts';
import type { RequestRecord } from '../request-record.ts';
import type { ApiKeyResolver, KeyVerdict } from './resolve-api-key.ts';
import type { JwtVerdict, JwtVerifier } from './verify-jwt.ts';

const WWW_AUTHENTICATE = 'Bearer realm="tollgate", error="invalid_token"';
/** No credential at all: no `error` (RFC 6750 §3.1). */
const WWW_AUTHENTICATE_MISSING = 'Bearer realm="tollgate"';

const unauthenticated = (code: string, detail: string, missing = false) =>
  defineProblem({
    status: 401,
    code,
    detail,
    wwwAuthenticate: missing ? WWW_AUTHENTICATE_MISSING : WWW_AUTHENTICATE,
  });

const CREDENTIAL_MISSING = unauthenticated(
  'CREDENTIAL_MISSING',
  'This route needs an API key or a bearer token.',
  true,
);
const JWT_NOT_ACCEPTED = unauthenticated('JWT_NOT_ACCEPTED', 'Bearer tokens are not accepted here.');
const KEY_MALFORMED = unauthenticated('KEY_MALFORMED', 'The credential is malformed.');
const TOKEN_INVALID = unauthenticated('TOKEN_INVALID', 'The bearer token is invalid.');
const KEY_INVALID_DETAIL = 'The API key is invalid, revoked or expired.';
const KEY_REFUSED: Record<string, Problem> = {
  KEY_MALFORMED: unauthenticated('KEY_MALFORMED', KEY_INVALID_DETAIL),
  KEY_UNKNOWN: unauthenticated('KEY_UNKNOWN', KEY_INVALID_DETAIL),
  KEY_REVOKED: unauthenticated('KEY_REVOKED', KEY_INVALID_DETAIL),
  KEY_EXPIRED: unauthenticated('KEY_EXPIRED', KEY_INVALID_DETAIL),
};
const KEY_LOOKUPS_LIMITED = defineProblem({
  status: 429,
  code: 'KEY_LOOKUPS_LIMITED',
  detail: 'Too many unknown API keys from this address; retry later.',
  limit: 'key_lookups',
  retryAfterS: RETRY_AFTER_FROM_RECORD,
});
const KEY_LOOKUP_FAILED = defineProblem({
  status: 503,
  code: 'KEY_LOOKUP_FAILED',
  detail: 'The credential could not be verified right now.',
  retryAfterS: 1,
});

export interface IdentifyDeps {
  keys: ApiKeyResolver;
  jwt: JwtVerifier | null;
  trustedProxies: TrustedProxies;
  /** tollgate_gateway_unauthenticated_total (by reason). */
  unauthenticated: CellCounter;
}

/** Identity's answer: null (identified), a refusal, or a promise of one of the two. */
export type Identified = Problem | null | Promise<Problem | null>;

/**
 * Identity: the credential (X-API-Key, else Authorization: Bearer; a JWT has two dots, an API
 * key none), then the key resolver (synchronous on a cache hit) or the JWT verifier. Writes
 * the consumer (and key) to the record and which credential header to strip upstream.
 */
export class CallerIdentifier {
  private readonly refusals = new Map<string, CounterCell>();

  constructor(private readonly deps: IdentifyDeps) {}

  /** The per-address key of the client (read only when a lookup needs a budget). */
  readonly addressOf = (r: RequestRecord): string => {
    let a = r.clientAddress;
    if (a === null) {
      a = clientAddressOf(r.req, this.deps.trustedProxies);
      r.clientAddress = a;
    }
    return a;
  };

  /**
   * The credential sent, if any; marks its header to be stripped upstream (public routes too:
   * a credential sent to a public route does not reach the upstream either).
   */
  readCredential(r: RequestRecord): string | null {
    const headers = r.req.headers;
    const apiKeyHeader = headers['x-api-key'];
    if (typeof apiKeyHeader === 'string' && apiKeyHeader !== '') {
      r.stripApiKey = true;
      return apiKeyHeader.trim();
    }
    const auth = headers.authorization;
    if (auth !== undefined && auth.length > 7 && /^bearer /i.test(auth)) {
      r.stripAuthorization = true;
      return auth.slice(7).trim();
    }
    return null;
  }

  /** `token`: readCredential's answer. */
  identify(r: RequestRecord, token: string | null): Identified {
    if (token === null || token === '') return this.refuse(CREDENTIAL_MISSING);
    const dots = dotCount(token);
    if (dots === 2 && !r.stripApiKey) {
      const jwt = this.deps.jwt;
      if (jwt === null) return this.refuse(JWT_NOT_ACCEPTED);
      return jwt.verify(token).then((v) => this.afterJwt(r, v));
    }
    if (dots !== 0) return this.refuse(KEY_MALFORMED);
    const verdict = this.deps.keys.resolve(token, r.startMs, r, this.addressOf);
    if (verdict instanceof Promise) return verdict.then((v) => this.afterKey(r, v));
    return this.afterKey(r, verdict);
  }

  private afterJwt(r: RequestRecord, v: JwtVerdict): Problem | null {
    if (!v.ok) return this.refuse(TOKEN_INVALID);
    r.consumerId = v.consumerId;
    return null;
  }

  private afterKey(r: RequestRecord, v: KeyVerdict): Problem | null {
    if (v.ok) {
      r.consumerId = v.key.consumerId;
      r.keyId = v.key.id;
      return null;
    }
    if (v.code === 'KEY_LOOKUPS_LIMITED') {
      // This address sent too many keys nobody knows: no lookup, and no claim that the key is bad.
      r.retryAfterS = this.deps.keys.budgetRetryAfterS;
      return KEY_LOOKUPS_LIMITED;
    }
    if (v.code === 'KEY_LOOKUP_FAILED') return KEY_LOOKUP_FAILED;
    return this.refuse(KEY_REFUSED[v.code]!);
  }

  /** A 401, counted by reason. */
  private refuse(problem: Problem): Problem {
    let cell = this.refusals.get(problem.code);
    if (cell === undefined) {
      cell = this.deps.unauthenticated.labels(problem.code);
      this.refusals.set(problem.code, cell);
    }
    cell.inc();
    return problem;
  }
}

function dotCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 46) n++;
  return n;
}
