import { activeSubscription, type Snapshot } from '../control-plane/compile-snapshot.ts';
import { defineProblem, type Problem } from '../problem.ts';
import type { RequestRecord } from '../request-record.ts';

const CONSUMER_UNKNOWN = defineProblem({
  status: 403,
  code: 'CONSUMER_UNKNOWN',
  detail: 'The caller is not a known consumer.',
});
const CONSUMER_SUSPENDED = defineProblem({
  status: 403,
  code: 'CONSUMER_SUSPENDED',
  detail: 'This consumer is suspended.',
});
const NO_ACTIVE_SUBSCRIPTION = defineProblem({
  status: 403,
  code: 'NO_ACTIVE_SUBSCRIPTION',
  detail: 'This consumer has no active subscription.',
});
const NOT_ENTITLED = defineProblem({
  status: 403,
  code: 'NOT_ENTITLED',
  detail: 'The plan does not include this API or route.',
});

/**
 * Subscription and entitlement, from the snapshot the request was matched against: a known,
 * unsuspended consumer with an active subscription (past_due until its grace ends) whose plan
 * includes the route's API or the route. Writes the subscription and plan to the record.
 */
export function authorizePlan(r: RequestRecord, snap: Snapshot): Problem | null {
  const consumer = snap.consumers.get(r.consumerId!);
  if (consumer === undefined) return CONSUMER_UNKNOWN;
  if (consumer.suspended) return CONSUMER_SUSPENDED;
  const sub = activeSubscription(consumer, r.startMs);
  if (sub === null) return NO_ACTIVE_SUBSCRIPTION;
  const plan = snap.plans.get(sub.planId)!;
  r.sub = sub;
  r.plan = plan;
  const route = r.route!;
  if (!plan.apiIds.has(route.api.id) && !plan.routeIds.has(route.id)) return NOT_ENTITLED;
  return null;
}
