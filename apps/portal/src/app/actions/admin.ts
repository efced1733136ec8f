'use server';

import { revalidatePath } from 'next/cache';
import { runAction } from '../../server/run-action.ts';
import { addUpstreamTarget } from '../../server/use-cases/add-upstream-target.ts';
import { changeConsumerPlan } from '../../server/use-cases/change-consumer-plan.ts';
import { createAdminToken } from '../../server/use-cases/create-admin-token.ts';
import { deleteApi } from '../../server/use-cases/delete-api.ts';
import { deleteRoute } from '../../server/use-cases/delete-route.ts';
import { reinstateConsumer } from '../../server/use-cases/reinstate-consumer.ts';
import { removeUpstreamTarget } from '../../server/use-cases/remove-upstream-target.ts';
import { revokeAdminToken } from '../../server/use-cases/revoke-admin-token.ts';
import { rollbackConfigVersion } from '../../server/use-cases/rollback-config-version.ts';
import { saveApi } from '../../server/use-cases/save-api.ts';
import { savePlan } from '../../server/use-cases/save-plan.ts';
import { saveRoute } from '../../server/use-cases/save-route.ts';
import { suspendConsumer } from '../../server/use-cases/suspend-consumer.ts';

const ADMIN = ['admin'] as const;

export async function saveApiAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    const creating = !(input as { id?: unknown } | null)?.id;
    const { id } = await saveApi(actor, input);
    revalidatePath('/admin/apis');
    return creating ? { message: 'API created.', redirect: `/admin/apis/${id}` } : { message: 'API saved.' };
  });
}

export async function deleteApiAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    await deleteApi(actor, input);
    revalidatePath('/admin/apis');
    return { message: 'API deleted.', redirect: '/admin/apis' };
  });
}

export async function saveRouteAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    await saveRoute(actor, input);
    revalidatePath('/admin/apis');
    return { message: 'Route saved.' };
  });
}

export async function deleteRouteAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    await deleteRoute(actor, input);
    revalidatePath('/admin/apis');
    return { message: 'Route deleted.' };
  });
}

export async function addUpstreamTargetAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    await addUpstreamTarget(actor, input);
    revalidatePath('/admin/apis');
    return { message: 'Upstream added.' };
  });
}

export async function removeUpstreamTargetAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    await removeUpstreamTarget(actor, input);
    revalidatePath('/admin/apis');
    return { message: 'Upstream removed.' };
  });
}

export async function savePlanAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    const creating = !(input as { id?: unknown } | null)?.id;
    const { id } = await savePlan(actor, input);
    revalidatePath('/admin/plans');
    revalidatePath('/pricing');
    return creating
      ? { message: 'Plan created.', redirect: `/admin/plans/${id}` }
      : { message: 'Plan saved.' };
  });
}

export async function suspendConsumerAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    await suspendConsumer(actor, input);
    revalidatePath('/admin/consumers');
    return { message: 'Consumer suspended.' };
  });
}

export async function reinstateConsumerAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    await reinstateConsumer(actor, input);
    revalidatePath('/admin/consumers');
    return { message: 'Consumer reinstated.' };
  });
}

export async function changeConsumerPlanAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    await changeConsumerPlan(actor, input);
    revalidatePath('/admin/consumers');
    return { message: 'Plan changed.' };
  });
}

export async function createAdminTokenAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    const { secret } = await createAdminToken(actor, input);
    revalidatePath('/admin/tokens');
    return { reveal: secret, message: 'Token created. Copy it now: it is not shown again.' };
  });
}

export async function revokeAdminTokenAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    await revokeAdminToken(actor, input);
    revalidatePath('/admin/tokens');
    return { message: 'Token revoked.' };
  });
}

export async function rollbackConfigVersionAction(input: unknown) {
  return runAction(ADMIN, async (actor) => {
    const result = await rollbackConfigVersion(actor, input);
    revalidatePath('/admin', 'layout');
    const kept =
      result.keptPlans.length > 0
        ? ` Plans kept (they have subscribers): ${result.keptPlans.join(', ')}.`
        : '';
    return {
      message: result.changed
        ? `Version ${result.restoredFrom} restored as version ${result.version}.${kept}`
        : `Version ${result.restoredFrom} is already the configuration in use.`,
    };
  });
}
