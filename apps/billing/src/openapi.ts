import { z } from '@tollgate/config';
import {
  CancelBodySchema,
  CancelResponseSchema,
  ChangeBodySchema,
  ChangeResponseSchema,
  CheckoutBodySchema,
  CheckoutResponseSchema,
  InvoicesQuerySchema,
  InvoicesResponseSchema,
  PortalBodySchema,
  PortalResponseSchema,
  PreviewResponseSchema,
  ProblemSchema,
  RECONCILIATION_RANGE,
  ReconciliationQuerySchema,
  ReconciliationResponseSchema,
  StartResponseSchema,
  WebhookResponseSchema,
} from './http/schemas.ts';

/**
 * The billing service's HTTP contract (served at GET /openapi.json), generated from the zod
 * schemas app.ts validates with (http/schemas.ts): z.toJSONSchema emits JSON Schema 2020-12,
 * which OpenAPI 3.1 uses as is.
 */
type JsonSchema = Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[] };

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const problemRef = { $ref: '#/components/schemas/Problem' };
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemRef } },
});
const json = (description: string, schema: z.ZodType) => ({
  description,
  content: { 'application/json': { schema: jsonSchema(schema, 'output') } },
});
const body = (schema: z.ZodType) => ({
  required: true,
  content: { 'application/json': { schema: jsonSchema(schema, 'input') } },
});
function query(schema: z.ZodObject<Record<string, z.ZodType>>) {
  const js = jsonSchema(schema, 'input');
  const required = new Set(js.required ?? []);
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: s,
  }));
}

const unauthorized = problem('Missing or wrong service token');
const invalid = problem('Invalid request: every problem is listed in `errors`');
const stripeDown = problem('Stripe or the database is unavailable; retry (Retry-After)');
/** What an operation that takes a JSON body answers besides. */
const bodyErrors = {
  '400': invalid,
  '413': problem('The body is over 1 MiB'),
  '415': problem('The body is not JSON'),
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Tollgate billing',
    version: '0.1.0',
    description:
      'Stripe catalog sync, subscriptions, usage to Stripe meter events, webhooks and reconciliation. ' +
      '/v1/* needs `Authorization: Bearer <BILLING_SERVICE_TOKEN>`. A method a path does not serve is ' +
      'answered 405 with `Allow`.',
  },
  components: {
    securitySchemes: { serviceToken: { type: 'http', scheme: 'bearer' } },
    schemas: { Problem: jsonSchema(ProblemSchema, 'output') },
  },
  security: [{ serviceToken: [] }],
  paths: {
    '/healthz': {
      get: {
        operationId: 'healthz',
        security: [],
        summary: 'Liveness and Postgres reachability',
        responses: { '200': { description: 'ok' }, '503': problem('Postgres does not answer') },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        security: [],
        summary: 'Prometheus counters',
        responses: {
          '200': { description: 'text', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    },
    '/webhooks/stripe': {
      post: {
        operationId: 'stripeWebhook',
        security: [],
        summary: 'Stripe webhook endpoint (Stripe-Signature checked over the raw body)',
        parameters: [
          {
            name: 'stripe-signature',
            in: 'header',
            required: true,
            schema: { type: 'string', minLength: 1 },
          },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: {} } } },
        responses: {
          '200': json(
            'Applied, replayed, ignored, or stale (older than an event already applied)',
            WebhookResponseSchema,
          ),
          ...bodyErrors,
          '400': problem('Unsigned, badly signed, or signed longer ago than the tolerance'),
          '503': stripeDown,
        },
      },
    },
    '/v1/catalog/sync': {
      post: {
        operationId: 'syncCatalog',
        summary: 'Sync every plan to Stripe (idempotent)',
        responses: {
          '200': {
            description: 'counts of what was created',
            content: { 'application/json': { schema: {} } },
          },
          '401': unauthorized,
          '503': stripeDown,
        },
      },
    },
    '/v1/checkout-sessions': {
      post: {
        operationId: 'createCheckoutSession',
        summary: 'Subscribe: a Checkout Session for a paid plan, or immediate activation of a free plan',
        requestBody: body(CheckoutBodySchema),
        responses: {
          '200': json('A checkout to redirect to, or the activated subscription', CheckoutResponseSchema),
          ...bodyErrors,
          '401': unauthorized,
          '404': problem('No such consumer or plan'),
          '409': problem('The plan cannot be subscribed to this way'),
          '503': stripeDown,
        },
      },
    },
    '/v1/portal-sessions': {
      post: {
        operationId: 'createPortalSession',
        summary: 'A Stripe Customer Portal link',
        requestBody: body(PortalBodySchema),
        responses: {
          '200': json('The link', PortalResponseSchema),
          ...bodyErrors,
          '401': unauthorized,
          '404': problem('No such consumer'),
          '503': stripeDown,
        },
      },
    },
    '/v1/subscriptions/preview-change': {
      post: {
        operationId: 'previewPlanChange',
        summary: "Proration preview of a plan change: Stripe's invoice preview and our rating",
        requestBody: body(ChangeBodySchema.omit({ prorationDate: true })),
        responses: {
          '200': json('The preview', PreviewResponseSchema),
          ...bodyErrors,
          '401': unauthorized,
          '404': problem('No live subscription, or no such plan'),
          '409': problem('Already on this plan, or the change is not allowed'),
          '503': stripeDown,
        },
      },
    },
    '/v1/subscriptions/change': {
      post: {
        operationId: 'changePlan',
        summary: 'Confirm a plan change (with the prorationDate of the preview)',
        requestBody: body(ChangeBodySchema),
        responses: {
          '200': json('The changed subscription', ChangeResponseSchema),
          ...bodyErrors,
          '401': unauthorized,
          '404': problem('No live subscription, or no such plan'),
          '409': problem('Already on this plan, or the change is not allowed'),
          '503': stripeDown,
        },
      },
    },
    '/v1/subscriptions/start': {
      post: {
        operationId: 'startSubscription',
        summary: 'Put a consumer with no live subscription on a plan with nothing to charge (no checkout)',
        requestBody: body(ChangeBodySchema),
        responses: {
          '201': json('The new subscription', StartResponseSchema),
          ...bodyErrors,
          '401': unauthorized,
          '404': problem('No such consumer or plan'),
          '409': problem('The consumer has a subscription, or the plan is paid (checkout required)'),
        },
      },
    },
    '/v1/subscriptions/cancel': {
      post: {
        operationId: 'cancelSubscription',
        summary: "End a consumer's live subscription now (a Stripe one is cancelled at Stripe, prorated)",
        requestBody: body(CancelBodySchema),
        responses: {
          '200': json('The cancelled subscription', CancelResponseSchema),
          ...bodyErrors,
          '401': unauthorized,
          '404': problem('No live subscription'),
          '503': stripeDown,
        },
      },
    },
    '/v1/invoices': {
      get: {
        operationId: 'listInvoices',
        summary:
          "Invoices: Stripe's when the consumer is a customer, plus the local preview of the current period",
        parameters: query(InvoicesQuerySchema),
        responses: {
          '200': json('Invoices', InvoicesResponseSchema),
          '400': invalid,
          '401': unauthorized,
          '404': problem('No such consumer'),
          '503': stripeDown,
        },
      },
    },
    '/v1/reconciliation': {
      get: {
        operationId: 'reconcile',
        summary:
          'Per subscription: gateway-admitted vs ClickHouse exact vs reported to Stripe, drift flagged',
        parameters: query(ReconciliationQuerySchema as unknown as z.ZodObject<Record<string, z.ZodType>>),
        // `to` after `from`, which JSON Schema cannot state (read by infra/schemathesis/hooks.py).
        'x-tollgate-range': RECONCILIATION_RANGE,
        responses: {
          '200': json('Reconciliation rows', ReconciliationResponseSchema),
          '400': invalid,
          '401': unauthorized,
          '503': stripeDown,
        },
      },
    },
    '/v1/usage/report': {
      post: {
        operationId: 'reportUsage',
        summary: 'Run the usage reporter once now',
        responses: {
          '200': { description: 'done', content: { 'application/json': { schema: {} } } },
          '401': unauthorized,
          '503': stripeDown,
        },
      },
    },
    '/checkout/local/{sessionId}': {
      get: {
        operationId: 'localCheckoutPage',
        security: [],
        summary: 'LOCAL ONLY (stripe-mock): test checkout page with a Pay button',
        parameters: [{ name: 'sessionId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } },
          '404': problem('No such local checkout session'),
        },
      },
    },
    '/checkout/local/{sessionId}/pay': {
      post: {
        operationId: 'localCheckoutPay',
        security: [],
        summary: 'LOCAL ONLY: completes the checkout by sending our webhook signed events; 303 to successUrl',
        parameters: [{ name: 'sessionId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '303': { description: 'redirect to successUrl' },
          '404': problem('No such local checkout session'),
          '503': stripeDown,
        },
      },
    },
  },
} as const;
