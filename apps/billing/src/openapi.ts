/** The billing service's HTTP contract (served at GET /openapi.json). */
const problem = { $ref: '#/components/schemas/Problem' };
const errors = {
  '400': { description: 'Invalid request', content: { 'application/problem+json': { schema: problem } } },
  '401': {
    description: 'Missing or wrong service token',
    content: { 'application/problem+json': { schema: problem } },
  },
  '404': { description: 'Not found', content: { 'application/problem+json': { schema: problem } } },
  '409': { description: 'Conflict', content: { 'application/problem+json': { schema: problem } } },
};
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const uuid = { type: 'string', format: 'uuid' };

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Tollgate billing',
    version: '0.1.0',
    description:
      'Stripe catalog sync, subscriptions, usage to Stripe meter events, webhooks and reconciliation. ' +
      '/v1/* needs `Authorization: Bearer <BILLING_SERVICE_TOKEN>`.',
  },
  components: {
    securitySchemes: { serviceToken: { type: 'http', scheme: 'bearer' } },
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
        },
      },
      InvoiceLine: {
        type: 'object',
        properties: {
          kind: { enum: ['flat', 'usage', 'proration_credit', 'proration_charge'] },
          description: { type: 'string' },
          quantity: { type: 'integer' },
          amountCents: { type: 'integer' },
        },
      },
    },
  },
  security: [{ serviceToken: [] }],
  paths: {
    '/healthz': {
      get: {
        security: [],
        summary: 'Liveness and Postgres reachability',
        responses: { '200': { description: 'ok' } },
      },
    },
    '/metrics': {
      get: { security: [], summary: 'Prometheus counters', responses: { '200': { description: 'text' } } },
    },
    '/webhooks/stripe': {
      post: {
        security: [],
        summary: 'Stripe webhook endpoint (Stripe-Signature checked over the raw body)',
        responses: {
          '200': json({
            type: 'object',
            properties: {
              received: { type: 'boolean' },
              outcome: { enum: ['processed', 'replayed', 'ignored'] },
            },
          }),
          '400': errors['400'],
        },
      },
    },
    '/v1/catalog/sync': {
      post: {
        summary: 'Sync every plan to Stripe (idempotent)',
        responses: { '200': { description: 'counts of what was created' }, '401': errors['401'] },
      },
    },
    '/v1/checkout-sessions': {
      post: {
        summary: 'Subscribe: a Checkout Session for a paid plan, or immediate activation of a free plan',
        requestBody: json({
          type: 'object',
          required: ['consumerId', 'planId', 'successUrl', 'cancelUrl'],
          properties: {
            consumerId: uuid,
            planId: uuid,
            successUrl: { type: 'string', format: 'uri' },
            cancelUrl: { type: 'string', format: 'uri' },
          },
        }),
        responses: {
          '200': json({
            oneOf: [
              {
                type: 'object',
                required: ['id', 'url'],
                properties: { id: { type: 'string' }, url: { type: 'string' } },
              },
              {
                type: 'object',
                required: ['activated'],
                properties: { activated: { const: true }, subscriptionId: uuid },
              },
            ],
          }),
          ...errors,
        },
      },
    },
    '/v1/portal-sessions': {
      post: {
        summary: 'A Stripe Customer Portal link',
        requestBody: json({
          type: 'object',
          required: ['consumerId', 'returnUrl'],
          properties: { consumerId: uuid, returnUrl: { type: 'string', format: 'uri' } },
        }),
        responses: { '200': json({ type: 'object', properties: { url: { type: 'string' } } }), ...errors },
      },
    },
    '/v1/subscriptions/preview-change': {
      post: {
        summary: "Proration preview of a plan change: Stripe's invoice preview and our rating",
        requestBody: json({
          type: 'object',
          required: ['consumerId', 'planId'],
          properties: { consumerId: uuid, planId: uuid },
        }),
        responses: {
          '200': json({
            type: 'object',
            properties: {
              mode: { enum: ['stripe', 'local', 'cancel_to_free'] },
              subscriptionId: uuid,
              fromPlanId: uuid,
              toPlanId: uuid,
              prorationDate: { type: 'integer', description: 'pass back to /v1/subscriptions/change' },
              usedUnits: { type: 'integer' },
              local: { type: 'object' },
              stripe: { type: ['object', 'null'] },
            },
          }),
          ...errors,
        },
      },
    },
    '/v1/subscriptions/change': {
      post: {
        summary: 'Confirm a plan change (with the prorationDate of the preview)',
        requestBody: json({
          type: 'object',
          required: ['consumerId', 'planId'],
          properties: { consumerId: uuid, planId: uuid, prorationDate: { type: 'integer' } },
        }),
        responses: {
          '200': json({
            type: 'object',
            properties: { subscriptionId: uuid, planId: uuid, mode: { type: 'string' } },
          }),
          ...errors,
        },
      },
    },
    '/v1/invoices': {
      get: {
        summary:
          "Invoices: Stripe's when the consumer is a customer, plus the local preview of the current period",
        parameters: [{ name: 'consumerId', in: 'query', required: true, schema: uuid }],
        responses: {
          '200': json({
            type: 'object',
            properties: {
              source: { enum: ['stripe', 'local'] },
              invoices: { type: 'array' },
              preview: { type: ['object', 'null'] },
            },
          }),
          ...errors,
        },
      },
    },
    '/v1/reconciliation': {
      get: {
        summary:
          'Per subscription: gateway-admitted vs ClickHouse exact vs reported to Stripe, drift flagged',
        parameters: [
          { name: 'from', in: 'query', required: true, schema: { type: 'string', format: 'date-time' } },
          { name: 'to', in: 'query', required: true, schema: { type: 'string', format: 'date-time' } },
        ],
        responses: {
          '200': json({
            type: 'object',
            properties: { subscriptions: { type: 'array' }, drift: { type: 'boolean' } },
          }),
          ...errors,
        },
      },
    },
    '/v1/usage/report': {
      post: {
        summary: 'Run the usage reporter once now',
        responses: { '200': { description: 'done' }, '401': errors['401'] },
      },
    },
    '/checkout/local/{sessionId}': {
      get: {
        security: [],
        summary: 'LOCAL ONLY (stripe-mock): test checkout page with a Pay button',
        parameters: [{ name: 'sessionId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'HTML' }, '404': errors['404'] },
      },
    },
    '/checkout/local/{sessionId}/pay': {
      post: {
        security: [],
        summary: 'LOCAL ONLY: completes the checkout by sending our webhook signed events; 303 to successUrl',
        parameters: [{ name: 'sessionId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '303': { description: 'redirect to successUrl' }, '404': errors['404'] },
      },
    },
  },
} as const;
