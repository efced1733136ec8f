'use client';

import { useState } from 'react';
import type { ActionOutcome } from './action-form.tsx';

type PreviewOutcome = { ok: true; preview: Record<string, unknown> } | { ok: false; error: string };

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null =>
  typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : null;

function usd(cents: number, currency = 'usd'): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(
    cents / 100,
  );
}

/**
 * Billing's preview: our own rating (`local`: proration lines, the amount due now, the next
 * period) next to Stripe's invoice preview (`stripe`), when the subscription is on Stripe.
 */
function PreviewDetails({ data }: { data: Json }) {
  const local = isObj(data.local) ? data.local : null;
  const stripe = isObj(data.stripe) ? data.stripe : null;
  const currency = typeof local?.currency === 'string' ? local.currency : 'usd';
  const lines = Array.isArray(local?.prorationLines) ? local.prorationLines.filter(isObj) : [];
  const dueNow = num(local?.prorationCents);
  const next = isObj(local?.nextPeriod) ? num(local.nextPeriod.totalCents) : null;
  if (!local)
    return <p>Billing returned a preview the portal cannot show in detail. You can still confirm.</p>;
  return (
    <div className="stack" style={{ marginTop: 8 }}>
      {lines.length > 0 && (
        <table>
          <tbody>
            {lines.map((l, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: preview lines have no id
              <tr key={i}>
                <td>{typeof l.description === 'string' ? l.description : String(l.kind ?? 'line')}</td>
                <td className="num">{usd(num(l.amountCents) ?? 0, currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <dl className="kv">
        {dueNow !== null && (
          <>
            <dt>{dueNow < 0 ? 'Credit now' : 'Due now (prorated)'}</dt>
            <dd data-testid="proration-due">
              <strong>{usd(Math.abs(dueNow), currency)}</strong>
            </dd>
          </>
        )}
        {next !== null && (
          <>
            <dt>Next period</dt>
            <dd>{usd(next, currency)}</dd>
          </>
        )}
        {stripe && num(stripe.amountDue) !== null && (
          <>
            <dt>Stripe's invoice preview</dt>
            <dd>
              {usd(
                num(stripe.amountDue) ?? 0,
                typeof stripe.currency === 'string' ? stripe.currency : currency,
              )}
              {stripe.matchesLocal === false && (
                <span className="muted"> (differs from our rating: Stripe's amount is charged)</span>
              )}
            </dd>
          </>
        )}
      </dl>
    </div>
  );
}

/** Pick a plan, see billing's proration preview, then confirm the change. */
export function PlanChange({
  plans,
  currentPlanId,
  preview,
  change,
}: {
  plans: { id: string; name: string; price: string }[];
  currentPlanId: string;
  preview: (input: unknown) => Promise<PreviewOutcome>;
  change: (input: unknown) => Promise<ActionOutcome>;
}) {
  const others = plans.filter((p) => p.id !== currentPlanId);
  const [planId, setPlanId] = useState(others[0]?.id ?? '');
  const [state, setState] = useState<
    | { step: 'idle' }
    | { step: 'loading' }
    | { step: 'preview'; data: Record<string, unknown> }
    | { step: 'error'; error: string }
    | { step: 'done'; message: string }
  >({ step: 'idle' });

  if (others.length === 0) return <p className="muted">There are no other public plans to switch to.</p>;

  async function onPreview() {
    setState({ step: 'loading' });
    try {
      const res = await preview({ planId });
      setState(res.ok ? { step: 'preview', data: res.preview } : { step: 'error', error: res.error });
    } catch {
      setState({ step: 'error', error: 'The portal could not be reached. Try again.' });
    }
  }
  async function onConfirm() {
    setState({ step: 'loading' });
    try {
      const res = await change({ planId });
      if (res.ok) {
        setState({ step: 'done', message: res.message ?? 'Plan changed.' });
        window.location.reload();
      } else setState({ step: 'error', error: res.error });
    } catch {
      setState({ step: 'error', error: 'The portal could not be reached. Try again.' });
    }
  }

  return (
    <div className="stack">
      <div className="toolbar">
        <div className="field">
          <label htmlFor="change-plan">New plan</label>
          <select
            id="change-plan"
            value={planId}
            onChange={(e) => {
              setPlanId(e.target.value);
              setState({ step: 'idle' });
            }}
          >
            {others.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name} — {p.price}
              </option>
            ))}
          </select>
        </div>
        <button
          type="button"
          className="btn btn-secondary"
          onClick={onPreview}
          disabled={state.step === 'loading'}
        >
          {state.step === 'loading' ? 'Working…' : 'Preview change'}
        </button>
      </div>
      {state.step === 'preview' && (
        <div className="notice notice-info" role="status">
          <strong>Proration preview</strong>
          <PreviewDetails data={state.data} />
          <div style={{ marginTop: 10 }}>
            <button type="button" className="btn btn-primary" onClick={onConfirm}>
              Confirm change
            </button>
          </div>
        </div>
      )}
      {state.step === 'error' && (
        <div className="notice notice-error" role="alert">
          {state.error}
        </div>
      )}
      {state.step === 'done' && (
        <div className="notice notice-success" role="status">
          {state.message}
        </div>
      )}
    </div>
  );
}
