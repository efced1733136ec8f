import type { z } from '@tollgate/config';
import { ConfigVersionsQuerySchema } from '../queries/config.ts';
import { MAX_WORKING_KEYS } from '../use-cases/api-key-capacity.ts';
import { AuditLogQuerySchema, ConsumerSearchQuerySchema } from './query-schemas.ts';
import { AdminBodies } from './request-bodies.ts';
import { type BodyContract, jsonSchemaOf, MAX_BODY_BYTES, requiredKeys } from './request-body.ts';

/**
 * The Admin REST API's OpenAPI 3.1 document, generated from the zod schemas the route handlers
 * and use cases parse with (z.toJSONSchema emits JSON Schema 2020-12, which OpenAPI 3.1 uses
 * as is): request bodies are the contracts the handlers check (request-bodies.ts), queries the
 * schemas they parse (query-schemas.ts).
 */
type ObjectSchema = z.ZodObject<Record<string, z.ZodType>>;

function body(contract: BodyContract) {
  // A body whose every field is optional may be left out (an empty body is {}), as readBody reads it.
  const anyRequired = (contract.schema.required?.length ?? 0) > 0;
  return {
    required: !contract.partial && anyRequired,
    ...(contract.partial
      ? { description: 'Only the fields to change; the others keep their value.' }
      : anyRequired
        ? {}
        : { description: 'Every field is optional; the body may be left out.' }),
    content: { 'application/json': { schema: contract.schema } },
  };
}

function queryParameters(schema: ObjectSchema) {
  const js = jsonSchemaOf(schema);
  const required = new Set(requiredKeys(schema, Object.keys(schema.shape)));
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: s,
  }));
}

/** Cross-field rules of core's PlanSchema, which JSON Schema cannot state. */
const PLAN_RULES =
  'Beyond the field constraints: rateLimitPerSecond and burst are set together or not at all; ' +
  'capMode "soft" needs a quota and an overageUnitPriceDecimal.';

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const versionParam = {
  name: 'version',
  in: 'path',
  required: true,
  schema: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
};
const CONFIG_RULES =
  'Every change must leave a configuration the gateway can serve (the validator in @tollgate/core, the one the gateway compiles with): a bad field is a 400 naming it (fieldErrors), a route that overlaps another (same host, path, match and a common method) a 409. Paths are canonical: segments of letters, digits and -._~ (matched ignoring letter case); no templates ({id}, :id), wildcards, percent-encoding, ";", empty or dot segments.';
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});
/** What every operation can answer besides its success. */
const errors = {
  '400': problem('Invalid input: the problem names the field (`fieldErrors`)'),
  '401': problem('Missing, invalid or revoked token'),
  '403': problem('The token may not do this'),
  '404': problem('No such object'),
  '409': problem('Conflicts with existing data (a slug or unique value taken)'),
  '503': problem('The database is unavailable; retry'),
};
/** ...and what an operation that takes a body can answer besides. */
const bodyErrors = {
  '413': problem(`The body is over ${MAX_BODY_BYTES} bytes`),
  '415': problem('The body is not application/json'),
};
const object = { type: 'object' };
/** A created or changed object: its id is what the other operations of the resource take. */
const withId = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } };

const keyIdParam = { ...idParam, name: 'keyId' };
/** An issued key: its id and the secret, which no other answer contains. */
const keyWithSecret = {
  type: 'object',
  required: ['id', 'secret', 'prefix', 'lastFour'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    secret: { type: 'string' },
    prefix: { type: 'string' },
    lastFour: { type: 'string' },
  },
};

/** Other operations a created object's id feeds (OpenAPI links: $response.body#/id → path id). */
function links(...operationIds: string[]) {
  return Object.fromEntries(
    operationIds.map((operationId) => [
      operationId,
      { operationId, parameters: { id: '$response.body#/id' } },
    ]),
  );
}

function op(opts: {
  id: string;
  summary: string;
  description?: string;
  body?: BodyContract;
  query?: ObjectSchema;
  status?: '200' | '201' | '204';
  schema?: object;
  links?: string[];
  /** Answers beyond the common ones (or replacing their description). */
  more?: Record<string, unknown>;
}) {
  const status = opts.status ?? '200';
  const success =
    status === '204'
      ? { description: 'Done' }
      : {
          description: 'OK',
          content: { 'application/json': { schema: opts.schema ?? object } },
          ...(opts.links ? { links: links(...opts.links) } : {}),
        };
  return {
    operationId: opts.id,
    summary: opts.summary,
    ...(opts.description ? { description: opts.description } : {}),
    ...(opts.query ? { parameters: queryParameters(opts.query) } : {}),
    ...(opts.body ? { requestBody: body(opts.body) } : {}),
    responses: { [status]: success, ...errors, ...(opts.body ? bodyErrors : {}), ...opts.more },
  };
}

/**
 * Every POST honours an Idempotency-Key (idempotency.ts). Said in each POST's description, not
 * declared as a header parameter: a declared header makes the contract fuzz treat the request's
 * headers as a closed set and expect unknown ones refused, which no HTTP API does.
 */
const IDEMPOTENCY =
  'Idempotency-Key (optional header, 1 to 255 printable ASCII characters): sent again with the same body, the stored first answer is returned (header Idempotent-Replayed: true) and nothing runs twice; with another body or path, or while the first is running, a 409. Kept a day per token; a 5xx is not kept.';

function withIdempotencyKeys<D extends { paths: Record<string, Record<string, unknown>> }>(doc: D): D {
  for (const item of Object.values(doc.paths)) {
    const post = item.post as { description?: string } | undefined;
    if (post !== undefined)
      post.description = post.description ? `${post.description} ${IDEMPOTENCY}` : IDEMPOTENCY;
  }
  return doc;
}

export function adminOpenApi(serverUrl: string) {
  return withIdempotencyKeys({
    openapi: '3.1.0',
    info: {
      title: 'Tollgate Admin API',
      version: '1.0.0',
      description:
        'Everything the admin UI does: APIs, routes, upstreams, plans, consumers, audit log and tokens. ' +
        'Authenticate with "Authorization: Bearer <token>"; an admin creates tokens on the portal page ' +
        '/admin/tokens. Every change is recorded in the audit log. Bodies are JSON objects of at most ' +
        `${MAX_BODY_BYTES} bytes; no string may contain NUL (U+0000). A method a path does not serve is ` +
        'answered 405 with `Allow`.',
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            requestId: { type: 'string' },
            fieldErrors: { type: 'object', additionalProperties: { type: 'string' } },
          },
        },
      },
    },
    paths: {
      '/admin/v1/apis': {
        get: op({ id: 'listApis', summary: 'List APIs with routes and upstreams' }),
        post: op({
          id: 'createApi',
          summary: 'Create an API',
          description: CONFIG_RULES,
          body: AdminBodies.createApi,
          status: '201',
          schema: withId,
          links: ['getApi', 'updateApi', 'deleteApi', 'createRoute', 'addTarget'],
        }),
      },
      '/admin/v1/apis/{id}': {
        parameters: [idParam],
        get: op({ id: 'getApi', summary: 'Get an API', schema: withId }),
        patch: op({
          id: 'updateApi',
          summary: 'Update an API (partial)',
          body: AdminBodies.updateApi,
          schema: withId,
        }),
        delete: op({ id: 'deleteApi', summary: 'Delete an API and its routes', status: '204' }),
      },
      '/admin/v1/apis/{id}/routes': {
        parameters: [idParam],
        post: op({
          id: 'createRoute',
          summary: 'Add a route',
          description: `pathMatch: prefix (the path and every path below it) or exact (the path only); when omitted, exact for a public route and prefix otherwise. ${CONFIG_RULES}`,
          body: AdminBodies.createRoute,
          status: '201',
          schema: withId,
          links: ['getRoute', 'updateRoute', 'deleteRoute'],
        }),
      },
      '/admin/v1/apis/{id}/targets': {
        parameters: [idParam],
        post: op({
          id: 'addTarget',
          summary: 'Add an upstream target',
          description: `url: a plain http(s) URL (no credentials, query or fragment), stored as its href. ${CONFIG_RULES}`,
          body: AdminBodies.addTarget,
          status: '201',
          schema: withId,
          links: ['removeTarget'],
        }),
      },
      '/admin/v1/routes/{id}': {
        parameters: [idParam],
        get: op({ id: 'getRoute', summary: 'Get a route', schema: withId }),
        patch: op({
          id: 'updateRoute',
          summary: 'Update a route (partial)',
          description: `Fields not sent keep their value; changing public without pathMatch gives the new value's default match (exact when public). ${CONFIG_RULES}`,
          body: AdminBodies.updateRoute,
          schema: withId,
        }),
        delete: op({ id: 'deleteRoute', summary: 'Delete a route', status: '204' }),
      },
      '/admin/v1/targets/{id}': {
        parameters: [idParam],
        delete: op({ id: 'removeTarget', summary: 'Remove an upstream target', status: '204' }),
      },
      '/admin/v1/plans': {
        get: op({ id: 'listPlans', summary: 'List plans' }),
        post: op({
          id: 'createPlan',
          summary: 'Create a plan',
          description: PLAN_RULES,
          body: AdminBodies.createPlan,
          status: '201',
          schema: withId,
          links: ['getPlan', 'updatePlan'],
        }),
      },
      '/admin/v1/plans/{id}': {
        parameters: [idParam],
        get: op({ id: 'getPlan', summary: 'Get a plan', schema: withId }),
        patch: op({
          id: 'updatePlan',
          summary: 'Update a plan (partial; apiIds, when sent, replaces the included APIs)',
          description: PLAN_RULES,
          body: AdminBodies.updatePlan,
          schema: withId,
        }),
      },
      '/admin/v1/consumers': {
        get: op({
          id: 'searchConsumers',
          summary: 'List or search consumers, newest first (cursor pagination)',
          description: 'Pass the nextCursor of a page as cursor for the next one; null on the last page.',
          query: ConsumerSearchQuerySchema,
          schema: {
            type: 'object',
            required: ['consumers', 'nextCursor'],
            properties: { consumers: { type: 'array' }, nextCursor: { type: ['string', 'null'] } },
          },
        }),
        post: op({
          id: 'createConsumer',
          summary: 'Create a consumer (no members, keys or subscription yet)',
          description:
            'externalId is unique: a taken one is a 409 whose details name the consumer that has it.',
          body: AdminBodies.createConsumer,
          status: '201',
          schema: withId,
          links: ['getConsumer', 'addConsumerMember', 'createConsumerKey', 'listConsumerKeys'],
        }),
      },
      '/admin/v1/consumers/{id}': {
        parameters: [idParam],
        get: op({
          id: 'getConsumer',
          summary: 'Get a consumer with members, subscriptions and keys (no secrets)',
          schema: withId,
        }),
      },
      '/admin/v1/consumers/{id}/members': {
        parameters: [idParam],
        post: op({
          id: 'addConsumerMember',
          summary: 'Add an existing developer account to a consumer (by email)',
          description:
            'The user must exist and be a developer; one who belongs to another consumer is a 409. Adding again with another role changes the role.',
          body: AdminBodies.addConsumerMember,
          schema: withId,
        }),
      },
      '/admin/v1/consumers/{id}/members/{userId}': {
        parameters: [idParam, { ...idParam, name: 'userId' }],
        delete: op({
          id: 'removeConsumerMember',
          summary: 'Remove a member (the account stays)',
          status: '204',
        }),
      },
      '/admin/v1/consumers/{id}/keys': {
        parameters: [idParam],
        get: op({
          id: 'listConsumerKeys',
          summary: "A consumer's API keys, newest first (no secrets)",
          schema: { type: 'object', required: ['keys'], properties: { keys: { type: 'array' } } },
        }),
        post: op({
          id: 'createConsumerKey',
          summary: 'Issue an API key (the secret is returned once)',
          description: `The key works at the gateway like one the developer created in the portal. At most ${MAX_WORKING_KEYS} working keys per consumer (409 TOO_MANY_KEYS); a suspended consumer gets none (403). expiresInDays 0: never expires.`,
          body: AdminBodies.createConsumerKey,
          status: '201',
          schema: keyWithSecret,
        }),
      },
      '/admin/v1/consumers/{id}/keys/{keyId}': {
        parameters: [idParam, keyIdParam],
        get: op({ id: 'getConsumerKey', summary: 'One key (no secret)', schema: withId }),
        delete: op({
          id: 'revokeConsumerKey',
          summary: 'Revoke a key (at once; again changes nothing)',
          status: '204',
        }),
      },
      '/admin/v1/consumers/{id}/keys/{keyId}/rotate': {
        parameters: [idParam, keyIdParam],
        post: op({
          id: 'rotateConsumerKey',
          summary: 'Replace a key (new secret returned once; the old key works overlapHours more)',
          description: `A rotation with an overlap counts against the cap of ${MAX_WORKING_KEYS} working keys like a new key.`,
          body: AdminBodies.rotateConsumerKey,
          status: '201',
          schema: keyWithSecret,
        }),
      },
      '/admin/v1/consumers/{id}/suspend': {
        parameters: [idParam],
        post: op({
          id: 'suspendConsumer',
          summary: 'Suspend a consumer',
          body: AdminBodies.suspendConsumer,
          schema: withId,
        }),
      },
      '/admin/v1/consumers/{id}/reinstate': {
        parameters: [idParam],
        post: op({ id: 'reinstateConsumer', summary: 'Reinstate a consumer', schema: withId }),
      },
      '/admin/v1/consumers/{id}/plan': {
        parameters: [idParam],
        post: op({
          id: 'changeConsumerPlan',
          summary: 'Put a consumer on a plan (through billing), private plans included',
          description:
            'A consumer with a subscription is moved (paid to paid through Stripe, with proration). One with none, such as a consumer the admin API just created, is started on a plan that charges nothing without a checkout; a paid plan then answers 409 CHECKOUT_REQUIRED.',
          body: AdminBodies.changeConsumerPlan,
          schema: withId,
          more: { '503': problem('Billing or the database is unavailable; retry') },
        }),
      },
      '/admin/v1/consumers/{id}/subscription/cancel': {
        parameters: [idParam],
        post: op({
          id: 'cancelConsumerSubscription',
          summary:
            "End the consumer's subscription now (through billing; a Stripe one is cancelled at Stripe)",
          description:
            'No live subscription is a 404. Its keys stop working at the gateway (no live subscription).',
          schema: withId,
          more: { '503': problem('Billing or the database is unavailable; retry') },
        }),
      },
      '/admin/v1/audit-log': {
        get: op({ id: 'listAuditEntries', summary: 'Audit log, newest first', query: AuditLogQuerySchema }),
      },
      '/admin/v1/config-versions': {
        get: op({
          id: 'listConfigVersions',
          summary:
            'Versions of the provider configuration (APIs, routes, upstreams, plans, entitlements), newest first',
          description:
            'A version is recorded for every committed change, by the admin API or straight in Postgres. The gateway reports the version it applied on its /readyz. `before`: the page below that version.',
          query: ConfigVersionsQuerySchema,
          schema: {
            type: 'object',
            required: ['current', 'versions'],
            properties: { current: { type: 'integer' }, versions: { type: 'array' } },
          },
        }),
      },
      '/admin/v1/config-versions/{version}': {
        parameters: [versionParam],
        get: op({ id: 'getConfigVersion', summary: 'A version with its whole content' }),
      },
      '/admin/v1/config-versions/{version}/rollback': {
        parameters: [versionParam],
        post: op({
          id: 'rollbackConfigVersion',
          summary: 'Restore the configuration of this version (one call, audited)',
          description: `Writes the version's APIs, routes, upstream targets, plans and entitlements back (ids kept; a plan with subscriptions is never deleted, it is kept and listed in keptPlans) and records a new version with restoredFrom. ${CONFIG_RULES}`,
          schema: {
            type: 'object',
            required: ['version', 'restoredFrom', 'changed', 'keptPlans'],
            properties: {
              version: { type: 'integer' },
              restoredFrom: { type: 'integer' },
              changed: { type: 'boolean' },
              keptPlans: { type: 'array', items: { type: 'string' } },
            },
          },
        }),
      },
      '/admin/v1/config-quarantine': {
        get: op({
          id: 'getConfigQuarantine',
          summary: 'Configuration rows the gateway quarantines',
          description:
            "Rows written past the admin API that the gateway's validator refuses: the gateway serves each one's last good version (a row never good is not served) while everything else keeps applying. Computed from Postgres with the gateway's validator.",
          schema: {
            type: 'object',
            required: ['version', 'quarantined'],
            properties: { version: { type: 'integer' }, quarantined: { type: 'array' } },
          },
        }),
      },
      '/admin/v1/tokens': {
        get: op({ id: 'listTokens', summary: 'List admin tokens (no secrets)' }),
        post: op({
          id: 'createToken',
          summary: 'Create an admin token (returned once)',
          body: AdminBodies.createToken,
          status: '201',
          schema: {
            ...withId,
            required: ['id', 'token'],
            properties: { ...withId.properties, token: { type: 'string' } },
          },
          links: ['revokeToken'],
        }),
      },
      '/admin/v1/tokens/{id}': {
        parameters: [idParam],
        delete: op({ id: 'revokeToken', summary: 'Revoke an admin token', status: '204' }),
      },
    },
  });
}
