import { TollgateError } from '@tollgate/core';
import type { BillingDeps } from '../deps.ts';

/** The consumer's Stripe Customer, created once (idempotency key per consumer) and stored. */
export async function ensureCustomer(deps: BillingDeps, consumerId: string): Promise<string> {
  const consumer = await deps.prisma.consumer.findUnique({
    where: { id: consumerId },
    include: { members: { include: { user: true }, where: { role: 'owner' }, take: 1 } },
  });
  if (consumer === null) throw new TollgateError('not_found', 'CONSUMER_NOT_FOUND', 'No such consumer.');
  if (consumer.stripeCustomerId !== null) return consumer.stripeCustomerId;
  const email = consumer.members[0]?.user.email;
  const customer = await deps.stripe.customers.create(
    {
      name: consumer.name,
      ...(email === undefined ? {} : { email }),
      metadata: { tollgate_consumer_id: consumer.id },
    },
    { idempotencyKey: `tollgate:customer:${consumer.id}` },
  );
  const updated = await deps.prisma.consumer.updateMany({
    where: { id: consumer.id, stripeCustomerId: null },
    data: { stripeCustomerId: customer.id },
  });
  if (updated.count === 0) {
    const again = await deps.prisma.consumer.findUniqueOrThrow({ where: { id: consumer.id } });
    return again.stripeCustomerId ?? customer.id;
  }
  return customer.id;
}
