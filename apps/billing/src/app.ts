import { randomUUID } from 'node:crypto';
import type { z } from '@tollgate/config';
import { serviceTokenMatcher, TollgateError, toProblem } from '@tollgate/core';
import { databaseError } from '@tollgate/db';
import { fastifyClientError, unservedMethods } from '@tollgate/service-kit';
import { classifyStripeError, constructWebhookEvent, isSignatureError, Stripe } from '@tollgate/stripe';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { syncCatalog } from './catalog/sync-catalog.ts';
import { completeLocalCheckout, renderLocalCheckoutPage } from './checkout/complete-local-checkout.ts';
import { createCheckoutSession } from './checkout/create-checkout-session.ts';
import { createPortalSession } from './checkout/create-portal-session.ts';
import { LocalCheckoutStore } from './checkout/local-checkout-store.ts';
import { localCheckoutEnabled } from './config.ts';
import type { BillingDeps } from './deps.ts';
import {
  CancelBodySchema,
  ChangeBodySchema,
  CheckoutBodySchema,
  InvoicesQuerySchema,
  PortalBodySchema,
  ReconciliationQuerySchema,
} from './http/schemas.ts';
import { toJson } from './json.ts';
import { openApiDocument } from './openapi.ts';
import { reconcile } from './reconciliation/reconcile.ts';
import { cancelSubscription } from './subscriptions/cancel-subscription.ts';
import { confirmChange, previewChange } from './subscriptions/change-plan.ts';
import { listInvoices } from './subscriptions/list-invoices.ts';
import { startSubscription } from './subscriptions/start-subscription.ts';
import { handleStripeEvent } from './webhooks/handle-stripe-event.ts';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

export interface BuildAppOptions {
  logger?: FastifyBaseLogger;
  /** Runs the usage job once (POST /v1/usage/report); main.ts passes the scheduler's. */
  runUsageOnce?: () => Promise<void>;
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new TollgateError('invalid', 'INVALID_REQUEST', 'The request is invalid.', {
    details: { errors: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}

/**
 * Stripe failures become 503 STRIPE_ERROR (details logged, not returned); a value Postgres
 * refuses and fastify's own 4xx keep their 4xx.
 */
function mapError(err: Error): unknown {
  if (err instanceof TollgateError) return err;
  const known = databaseError(err) ?? fastifyClientError(err);
  if (known !== undefined) return known;
  if (err instanceof Stripe.errors.StripeError)
    return new TollgateError(
      'unavailable',
      'STRIPE_ERROR',
      'Stripe did not accept the request; try again later.',
      {
        retryable: classifyStripeError(err) === 'retry',
        cause: err,
      },
    );
  return err;
}

export async function buildApp(deps: BillingDeps, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
  const methods = unservedMethods();
  const app = Fastify({
    ...(opts.logger === undefined ? { logger: false } : { loggerInstance: opts.logger }),
    clientErrorHandler: methods.clientErrorHandler,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
  }) as unknown as FastifyInstance;
  methods.install(app);
  const store = new LocalCheckoutStore();
  const localCheckout = localCheckoutEnabled(deps.config);
  const serviceTokenMatches = serviceTokenMatcher(deps.config.BILLING_SERVICE_TOKEN);

  // JSON bodies are kept as the raw Buffer too: the webhook signature is over the exact bytes.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
    req.rawBody = body;
    if (body.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(body.toString('utf8')));
    } catch {
      done(new TollgateError('invalid', 'INVALID_JSON', 'The body is not valid JSON.'), undefined);
    }
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, body: string, done) => done(null, Object.fromEntries(new URLSearchParams(body))),
  );

  app.setErrorHandler((err: Error, req, reply) => {
    const mapped = mapError(err);
    const problem = toProblem(mapped, req.id);
    if (problem.status >= 500) req.log.error({ err }, 'request failed');
    if (mapped instanceof TollgateError && mapped.retryable) void reply.header('retry-after', '5');
    void reply.status(problem.status).type('application/problem+json').send(problem);
  });
  app.setNotFoundHandler((req, reply) => {
    const problem = toProblem(new TollgateError('not_found', 'ROUTE_NOT_FOUND', 'No such route.'), req.id);
    void reply.status(404).type('application/problem+json').send(problem);
  });

  // Decide on the matched route, never on the raw URL: `/%761/...` decodes to a /v1 route
  // while its raw text does not start with `/v1/`.
  app.addHook('onRequest', async (req) => {
    if (!req.routeOptions.url?.startsWith('/v1/')) return;
    if (!serviceTokenMatches(req.headers.authorization))
      throw new TollgateError(
        'unauthenticated',
        'SERVICE_TOKEN_REQUIRED',
        'A valid service token is required.',
      );
  });

  app.get('/healthz', async () => {
    try {
      await deps.prisma.$queryRaw`SELECT 1`;
    } catch (err) {
      throw new TollgateError('unavailable', 'DATABASE_UNAVAILABLE', 'Postgres does not answer.', {
        cause: err,
      });
    }
    return { status: 'ok' };
  });
  app.get('/openapi.json', async () => openApiDocument);
  app.get('/metrics', async (_req, reply) =>
    reply.type('text/plain; version=0.0.4').send(deps.metrics.render()),
  );

  app.post('/webhooks/stripe', async (req, reply) => {
    const signature = req.headers['stripe-signature'];
    if (req.rawBody === undefined || typeof signature !== 'string') {
      deps.metrics.inc('tollgate_billing_webhooks_total', { outcome: 'rejected' });
      throw new TollgateError('invalid', 'WEBHOOK_SIGNATURE_MISSING', 'A signed JSON body is required.');
    }
    let event: ReturnType<typeof constructWebhookEvent>;
    try {
      event = constructWebhookEvent(
        req.rawBody,
        signature,
        deps.config.STRIPE_WEBHOOK_SECRET,
        deps.config.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
      );
    } catch (err) {
      if (!isSignatureError(err)) throw err;
      deps.metrics.inc('tollgate_billing_webhooks_total', { outcome: 'rejected' });
      req.log.warn({ reason: (err as Error).message }, 'webhook signature rejected');
      throw new TollgateError(
        'invalid',
        'WEBHOOK_SIGNATURE_INVALID',
        'The webhook signature or timestamp is invalid.',
      );
    }
    const outcome = await handleStripeEvent(deps, event);
    deps.metrics.inc('tollgate_billing_webhooks_total', { outcome, type: event.type });
    return reply.send({ received: true, outcome });
  });

  app.post('/v1/catalog/sync', async () => syncCatalog(deps));

  app.post('/v1/checkout-sessions', async (req) =>
    createCheckoutSession(deps, store, parse(CheckoutBodySchema, req.body)),
  );
  app.post('/v1/portal-sessions', async (req) =>
    createPortalSession(deps, parse(PortalBodySchema, req.body)),
  );
  app.post('/v1/subscriptions/preview-change', async (req) => {
    const body = parse(ChangeBodySchema, req.body);
    return toJson(await previewChange(deps, body.consumerId, body.planId));
  });
  app.post('/v1/subscriptions/change', async (req) => confirmChange(deps, parse(ChangeBodySchema, req.body)));
  app.post('/v1/subscriptions/start', async (req, reply) => {
    const body = parse(ChangeBodySchema, req.body);
    return reply.code(201).send(await startSubscription(deps, body));
  });
  app.post('/v1/subscriptions/cancel', async (req) =>
    cancelSubscription(deps, parse(CancelBodySchema, req.body)),
  );
  app.get('/v1/invoices', async (req) =>
    toJson(await listInvoices(deps, parse(InvoicesQuerySchema, req.query).consumerId)),
  );
  app.get('/v1/reconciliation', async (req) => {
    const q = parse(ReconciliationQuerySchema, req.query);
    const rows = await reconcile(deps, new Date(q.from), new Date(q.to));
    return { from: q.from, to: q.to, subscriptions: rows, drift: rows.some((r) => r.drift.flagged) };
  });
  if (opts.runUsageOnce !== undefined) {
    const run = opts.runUsageOnce;
    app.post('/v1/usage/report', async () => {
      await run();
      return { ok: true };
    });
  }

  if (localCheckout) {
    app.get<{ Params: { sessionId: string } }>('/checkout/local/:sessionId', async (req, reply) => {
      const s = store.get(req.params.sessionId);
      if (s === undefined)
        throw new TollgateError('not_found', 'CHECKOUT_NOT_FOUND', 'No such local checkout session.');
      const plan = await deps.prisma.plan.findUniqueOrThrow({ where: { id: s.planId } });
      const amount = `${(plan.priceCents / 100).toFixed(2)} ${plan.currency.toUpperCase()}`;
      return reply
        .type('text/html; charset=utf-8')
        .header(
          'content-security-policy',
          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
        )
        .send(
          renderLocalCheckoutPage({
            sessionId: s.sessionId,
            planName: plan.name,
            amount,
            cancelUrl: s.cancelUrl,
          }),
        );
    });
    app.post<{ Params: { sessionId: string } }>('/checkout/local/:sessionId/pay', async (req, reply) => {
      const { redirect } = await completeLocalCheckout(
        deps,
        store,
        req.params.sessionId,
        async (payload, signature) => {
          const res = await app.inject({
            method: 'POST',
            url: '/webhooks/stripe',
            headers: { 'content-type': 'application/json', 'stripe-signature': signature },
            payload,
          });
          return { statusCode: res.statusCode, body: res.body };
        },
      );
      return reply.redirect(redirect, 303);
    });
  }
  return app;
}
