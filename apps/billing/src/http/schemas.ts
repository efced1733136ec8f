import { z } from '@tollgate/config';

/**
 * Request and response schemas of the billing API. Requests are validated with these (app.ts)
 * and the OpenAPI document is generated from them (http/openapi.ts), so the document states
 * what the service enforces.
 */
export const CheckoutBodySchema = z.object({
  consumerId: z.uuid(),
  planId: z.uuid(),
  successUrl: z.url(),
  cancelUrl: z.url(),
});
export const PortalBodySchema = z.object({ consumerId: z.uuid(), returnUrl: z.url() });
export const ChangeBodySchema = z.object({
  consumerId: z.uuid(),
  planId: z.uuid(),
  prorationDate: z.number().int().positive().optional().describe('pass back the preview’s prorationDate'),
  actor: z
    .object({
      kind: z.string().min(1).max(200),
      id: z.string().min(1).max(200),
      ip: z.string().max(100).nullable().optional(),
    })
    .optional()
    .describe("who asked for the change (the portal's user or admin token): the audit row's actor"),
});
export const InvoicesQuerySchema = z.object({ consumerId: z.uuid() });
export const ReconciliationQuerySchema = z
  .object({
    from: z.iso.datetime({ offset: true }).describe('Start, inclusive'),
    to: z.iso.datetime({ offset: true }).describe('End, exclusive; after `from`'),
  })
  .refine((q) => new Date(q.from) < new Date(q.to), { message: 'from must be before to', path: ['to'] });
/** The cross-field rule of ReconciliationQuerySchema, stated in the document as an extension. */
export const RECONCILIATION_RANGE = { from: 'from', to: 'to' };

const uuid = z.uuid();
export const CheckoutResponseSchema = z.union([
  z.object({ id: z.string(), url: z.string() }),
  z.object({ activated: z.literal(true), subscriptionId: uuid.optional() }),
]);
export const PortalResponseSchema = z.object({ url: z.string() });
export const PreviewResponseSchema = z.object({
  mode: z.enum(['stripe', 'local', 'cancel_to_free']),
  subscriptionId: uuid,
  fromPlanId: uuid,
  toPlanId: uuid,
  prorationDate: z.number().int().describe('pass back to /v1/subscriptions/change'),
  usedUnits: z.number().int(),
  local: z.looseObject({}),
  stripe: z.looseObject({}).nullable(),
});
export const ChangeResponseSchema = z.object({ subscriptionId: uuid, planId: uuid, mode: z.string() });
export const CancelBodySchema = ChangeBodySchema.pick({ consumerId: true, actor: true });
export const CancelResponseSchema = z.object({ subscriptionId: uuid, status: z.literal('canceled') });
export const StartResponseSchema = z.object({ subscriptionId: uuid });
export const InvoicesResponseSchema = z.object({
  source: z.enum(['stripe', 'local']),
  invoices: z.array(z.unknown()),
  preview: z.looseObject({}).nullable(),
});
export const ReconciliationResponseSchema = z.object({
  from: z.string(),
  to: z.string(),
  subscriptions: z.array(z.unknown()),
  drift: z.boolean(),
});
export const WebhookResponseSchema = z.object({
  received: z.literal(true),
  outcome: z.enum(['processed', 'replayed', 'ignored', 'stale']),
});
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
