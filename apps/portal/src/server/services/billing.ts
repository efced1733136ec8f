import { callService, query } from './call-service.ts';

export type CheckoutResult = { id?: string; url?: string; activated?: boolean };

export const billing = {
  checkout: (body: { consumerId: string; planId: string; successUrl: string; cancelUrl: string }) =>
    callService<CheckoutResult>('billing', '/v1/checkout-sessions', { method: 'POST', body }),
  portalSession: (body: { consumerId: string; returnUrl: string }) =>
    callService<{ url: string }>('billing', '/v1/portal-sessions', { method: 'POST', body }),
  previewChange: (body: { consumerId: string; planId: string }) =>
    callService<Record<string, unknown>>('billing', '/v1/subscriptions/preview-change', {
      method: 'POST',
      body,
    }),
  change: (body: {
    consumerId: string;
    planId: string;
    /** Who asked: billing writes the audit row, with this actor, in the change's transaction. */
    actor: { kind: string; id: string; ip: string | null };
  }) => callService<Record<string, unknown>>('billing', '/v1/subscriptions/change', { method: 'POST', body }),
  /** A consumer with no live subscription onto a plan with nothing to charge (an admin's, no checkout). */
  start: (body: {
    consumerId: string;
    planId: string;
    actor: { kind: string; id: string; ip: string | null };
  }) =>
    callService<{ subscriptionId: string }>('billing', '/v1/subscriptions/start', { method: 'POST', body }),
  cancel: (body: { consumerId: string; actor: { kind: string; id: string; ip: string | null } }) =>
    callService<{ subscriptionId: string }>('billing', '/v1/subscriptions/cancel', { method: 'POST', body }),
  invoices: (consumerId: string) =>
    callService<{ invoices: Record<string, unknown>[] } | Record<string, unknown>[]>(
      'billing',
      `/v1/invoices?${query({ consumerId })}`,
    ),
  reconciliation: (from: Date, to: Date) =>
    callService<Record<string, unknown>>(
      'billing',
      `/v1/reconciliation?${query({ from: from.toISOString(), to: to.toISOString() })}`,
    ),
};
