import type { Plan } from '@tollgate/db/client';
import { savePlanAction } from '../app/actions/admin.ts';
import { ActionForm } from './action-form.tsx';

function NumberField({
  id,
  name,
  label,
  value,
  hint,
  step,
  min,
}: {
  id: string;
  name: string;
  label: string;
  value: number | null | undefined;
  hint?: string;
  step?: string;
  min?: number;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type="number"
        step={step ?? '1'}
        min={min ?? 0}
        defaultValue={value ?? ''}
        aria-describedby={hint ? `${id}-hint` : undefined}
      />
      {hint && (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
    </div>
  );
}

/** Create or edit a plan: every field the gateway and billing read. */
export function PlanForm({
  plan,
  apis,
  entitledApiIds,
}: {
  plan?: Plan;
  apis: { id: string; name: string }[];
  entitledApiIds: string[];
}) {
  return (
    <ActionForm
      action={savePlanAction}
      submitLabel={plan ? 'Save plan' : 'Create plan'}
      pendingLabel="Saving…"
      className="form"
      testId="plan-form"
    >
      {plan && <input type="hidden" name="id" value={plan.id} />}
      <fieldset className="form-row" style={{ border: 0, padding: 0, margin: 0 }}>
        <legend className="sr-only">Identity</legend>
        <div className="field">
          <label htmlFor="p-name">Name</label>
          <input id="p-name" name="name" type="text" required defaultValue={plan?.name} />
        </div>
        <div className="field">
          <label htmlFor="p-slug">Slug</label>
          <input
            id="p-slug"
            name="slug"
            type="text"
            required
            pattern="[a-z0-9][a-z0-9\-]*"
            defaultValue={plan?.slug}
          />
        </div>
        <div className="field">
          <label htmlFor="p-visibility">Visibility</label>
          <select id="p-visibility" name="visibility" defaultValue={plan?.visibility ?? 'public'}>
            <option value="public">public (on the pricing page)</option>
            <option value="private">private (assigned by admins)</option>
            <option value="archived">archived (no new subscriptions)</option>
          </select>
        </div>
      </fieldset>
      <div className="field">
        <label htmlFor="p-description">Description</label>
        <input id="p-description" name="description" type="text" defaultValue={plan?.description} />
      </div>
      <h2 className="form-section">Quota and limits</h2>
      <div className="form-row">
        <NumberField
          id="p-quota"
          name="quota"
          label="Quota (units per period)"
          value={plan?.quota}
          hint="Blank: unlimited"
        />
        <div className="field">
          <label htmlFor="p-period">Quota period</label>
          <select id="p-period" name="quotaPeriod" defaultValue={plan?.quotaPeriod ?? 'month'}>
            <option value="month">month</option>
            <option value="day">day</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="p-cap">Cap mode</label>
          <select id="p-cap" name="capMode" defaultValue={plan?.capMode ?? 'hard'}>
            <option value="hard">hard cap</option>
            <option value="soft">soft cap, bill overage</option>
          </select>
        </div>
        <NumberField
          id="p-rate"
          name="rateLimitPerSecond"
          label="Rate limit (requests/second)"
          value={plan?.rateLimitPerSecond}
          step="any"
          hint="Blank: no rate limit"
        />
        <NumberField
          id="p-burst"
          name="burst"
          label="Burst"
          value={plan?.burst}
          min={1}
          hint="Set together with the rate"
        />
        <div className="field">
          <label htmlFor="p-scope">Limits apply per</label>
          <select id="p-scope" name="limitScope" defaultValue={plan?.limitScope ?? 'consumer'}>
            <option value="consumer">consumer</option>
            <option value="key">API key</option>
          </select>
        </div>
      </div>
      <h2 className="form-section">Price</h2>
      <div className="form-row">
        <NumberField
          id="p-price"
          name="priceCents"
          label="Flat price per period (cents)"
          value={plan?.priceCents ?? 0}
          hint="4900 = $49.00"
        />
        <div className="field">
          <label htmlFor="p-currency">Currency</label>
          <input
            id="p-currency"
            name="currency"
            type="text"
            maxLength={3}
            defaultValue={plan?.currency ?? 'usd'}
          />
        </div>
        <div className="field">
          <label htmlFor="p-overage">Overage price per unit (cents, decimal)</label>
          <input
            id="p-overage"
            name="overageUnitPriceDecimal"
            type="text"
            inputMode="decimal"
            defaultValue={plan?.overageUnitPriceDecimal ?? ''}
            placeholder="0.05"
          />
        </div>
        <NumberField
          id="p-ceiling"
          name="overageCeiling"
          label="Overage ceiling (units)"
          value={plan?.overageCeiling}
          hint="Blank: uncapped overage"
        />
        <NumberField id="p-trial" name="trialDays" label="Trial days" value={plan?.trialDays ?? 0} />
        <div className="field">
          <label htmlFor="p-redis">If the rate limiter is down</label>
          <select
            id="p-redis"
            name="redisFailurePolicy"
            defaultValue={plan?.redisFailurePolicy ?? 'fail_closed'}
          >
            <option value="fail_closed">fail closed</option>
            <option value="fail_open">fail open</option>
          </select>
        </div>
      </div>
      <label className="check">
        <input
          type="checkbox"
          name="countUpstreamErrors"
          defaultChecked={plan?.countUpstreamErrors ?? false}
        />{' '}
        Count upstream errors (5xx, timeouts) against the quota and the bill
      </label>
      <fieldset style={{ border: '1px solid var(--border)', borderRadius: 8, padding: 12 }}>
        <legend className="label">Included APIs</legend>
        {apis.length === 0 && <p className="muted">No APIs yet.</p>}
        {apis.map((api) => (
          <label key={api.id} className="check">
            <input
              type="checkbox"
              name="apiIds"
              data-list="true"
              value={api.id}
              defaultChecked={entitledApiIds.includes(api.id)}
            />{' '}
            {api.name}
          </label>
        ))}
      </fieldset>
    </ActionForm>
  );
}
