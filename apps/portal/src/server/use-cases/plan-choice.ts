import { z } from '@tollgate/config';
import { deps } from '../deps.ts';
import { notFound } from '../errors.ts';
import { uuid } from '../schemas.ts';

export const PlanChoiceSchema = z.object({ planId: uuid });

/** Developers may only pick public plans. */
export async function publicPlan(planId: string) {
  const plan = await deps().prisma.plan.findUnique({ where: { id: planId } });
  if (plan?.visibility !== 'public') throw notFound('Plan');
  return plan;
}
