import type { Metadata } from 'next';
import Link from 'next/link';
import { ActionForm } from '../../components/action-form.tsx';
import { isFreePlan, PlanFeatures, planPrice } from '../../components/plan-features.tsx';
import { Empty, Notice, PageHeader } from '../../components/ui.tsx';
import { sessionUser } from '../../server/auth/session.ts';
import { currentSubscription, publicPlans } from '../../server/queries/developer.ts';
import { subscribeAction } from '../actions/developer.ts';

export const metadata: Metadata = { title: 'Pricing' };

export default async function PricingPage({
  searchParams,
}: {
  searchParams: Promise<{ checkout?: string }>;
}) {
  const { checkout } = await searchParams;
  const [plans, user] = await Promise.all([publicPlans(), sessionUser()]);
  const consumerId = user?.role === 'developer' ? user.consumerIds[0] : undefined;
  const sub = consumerId ? await currentSubscription(consumerId) : null;
  return (
    <>
      <PageHeader
        title="Pricing"
        description="Simple plans that grow with you. Change plans any time; changes are prorated."
      />
      {checkout === 'canceled' && (
        <Notice tone="warn">Checkout was canceled. You have not been charged.</Notice>
      )}
      {plans.length === 0 ? (
        <Empty title="No plans published yet">Check back soon.</Empty>
      ) : (
        <div className="plans" style={{ marginTop: 16 }}>
          {plans.map((plan) => {
            const current = sub?.planId === plan.id;
            return (
              <article key={plan.id} className={`card plan${current ? ' plan-current' : ''}`}>
                <h2>{plan.name}</h2>
                <div className="plan-price">
                  {planPrice(plan)} {plan.priceCents > 0 && <small>/ month</small>}
                </div>
                {plan.description && <p className="muted">{plan.description}</p>}
                <PlanFeatures plan={plan} />
                {current ? (
                  <span className="badge badge-accent">Your current plan</span>
                ) : !user ? (
                  <Link className="btn btn-primary" href="/signup">
                    Get started
                  </Link>
                ) : consumerId && (!sub || (isFreePlan(sub.plan) && !isFreePlan(plan))) ? (
                  <ActionForm
                    action={subscribeAction}
                    submitLabel={`Choose ${plan.name}`}
                    pendingLabel="Starting checkout…"
                  >
                    <input type="hidden" name="planId" value={plan.id} />
                  </ActionForm>
                ) : consumerId ? (
                  <Link className="btn btn-secondary" href="/billing">
                    Switch in Billing
                  </Link>
                ) : null}
              </article>
            );
          })}
        </div>
      )}
    </>
  );
}
