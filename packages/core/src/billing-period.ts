import type { QuotaPeriod } from './plan.ts';

export interface Period {
  start: Date;
  end: Date;
}

function daysInMonthUtc(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/** The anchor's day and time of day in month `(year, month)`, clamped to the month's last day (as Stripe does). */
function anchoredInMonth(anchor: Date, year: number, month: number): Date {
  const y = year + Math.floor(month / 12);
  const m = ((month % 12) + 12) % 12;
  const day = Math.min(anchor.getUTCDate(), daysInMonthUtc(y, m));
  return new Date(
    Date.UTC(
      y,
      m,
      day,
      anchor.getUTCHours(),
      anchor.getUTCMinutes(),
      anchor.getUTCSeconds(),
      anchor.getUTCMilliseconds(),
    ),
  );
}

/**
 * The quota period containing `now`, aligned to the subscription's billing anchor. Monthly
 * periods start on the anchor's day of month (clamped at month end); daily periods at the
 * anchor's time of day. Times are UTC.
 */
export function periodContaining(anchor: Date, period: QuotaPeriod, now: Date): Period {
  if (period === 'day') {
    const dayMs = 86_400_000;
    const offset = anchor.getTime() % dayMs;
    const start = Math.floor((now.getTime() - offset) / dayMs) * dayMs + offset;
    return { start: new Date(start), end: new Date(start + dayMs) };
  }
  const year = now.getUTCFullYear();
  // anchoredInMonth wraps month -1 and 12 into the neighbouring years.
  let month = now.getUTCMonth();
  let start = anchoredInMonth(anchor, year, month);
  if (start.getTime() > now.getTime()) {
    month -= 1;
    start = anchoredInMonth(anchor, year, month);
  }
  return { start, end: anchoredInMonth(anchor, year, month + 1) };
}

/** What a subscription's periods are computed from (a subset of the subscriptions row). */
export interface AnchoredSubscription {
  /** Null on rows from before billing anchors were stored: their period start is the anchor. */
  billingAnchor: Date | null;
  currentPeriodStart: Date;
  currentPeriodEnd: Date;
}

/**
 * The instant whose day of month and time of day a subscription's periods renew on. Not the
 * current period's start: after Jan 31 → Feb 28 the next period starts on Mar 31, which only the
 * anchor knows. A plan change keeps it (see billing's change-plan.ts).
 */
export function billingAnchorOf(
  sub: Pick<AnchoredSubscription, 'billingAnchor' | 'currentPeriodStart'>,
): Date {
  return sub.billingAnchor ?? sub.currentPeriodStart;
}

/** The quota period containing `now`: aligned to the anchor, whatever plan the consumer was on. */
export function quotaPeriodOf(
  sub: Pick<AnchoredSubscription, 'billingAnchor' | 'currentPeriodStart'>,
  period: QuotaPeriod,
  now: Date,
): Period {
  return periodContaining(billingAnchorOf(sub), period, now);
}

/**
 * The billing (invoice) period containing `now`: the stored one while it is current (Stripe's,
 * which may be a shorter first period up to the anchor), else the anchored month containing
 * `now` (a subscription without Stripe has no renewals that would move the stored period on).
 */
export function billingPeriodOf(sub: AnchoredSubscription, now: Date): Period {
  const t = now.getTime();
  if (sub.currentPeriodStart.getTime() <= t && t < sub.currentPeriodEnd.getTime())
    return { start: sub.currentPeriodStart, end: sub.currentPeriodEnd };
  return periodContaining(billingAnchorOf(sub), 'month', now);
}
