'use server';

import { revalidatePath } from 'next/cache';
import { publicOrigin } from '../../server/request-context.ts';
import { runAction } from '../../server/run-action.ts';
import { changePlan } from '../../server/use-cases/change-plan.ts';
import { createApiKey } from '../../server/use-cases/create-api-key.ts';
import { openBillingPortal } from '../../server/use-cases/open-billing-portal.ts';
import { previewPlanChange } from '../../server/use-cases/preview-plan-change.ts';
import { revokeApiKey } from '../../server/use-cases/revoke-api-key.ts';
import { rotateApiKey } from '../../server/use-cases/rotate-api-key.ts';
import { subscribeToPlan } from '../../server/use-cases/subscribe-to-plan.ts';
import { updateAlertWebhook } from '../../server/use-cases/update-alert-webhook.ts';

const DEV = ['developer'] as const;

export async function createApiKeyAction(input: unknown) {
  return runAction(DEV, async (actor) => {
    const key = await createApiKey(actor, input);
    revalidatePath('/keys');
    return { reveal: key.secret, message: `Key ${key.prefix}…${key.lastFour} created.` };
  });
}

export async function rotateApiKeyAction(input: unknown) {
  return runAction(DEV, async (actor) => {
    const key = await rotateApiKey(actor, input);
    revalidatePath('/keys');
    return {
      reveal: key.secret,
      message: `New key created. The old key keeps working until ${new Date(key.oldKeyExpiresAt).toUTCString()}.`,
    };
  });
}

export async function revokeApiKeyAction(input: unknown) {
  return runAction(DEV, async (actor) => {
    await revokeApiKey(actor, input);
    revalidatePath('/keys');
    return { message: 'Key revoked.' };
  });
}

export async function updateAlertWebhookAction(input: unknown) {
  return runAction(DEV, async (actor) => {
    const { secret } = await updateAlertWebhook(actor, input);
    revalidatePath('/usage');
    return secret
      ? { reveal: secret, message: 'Webhook saved. Use this secret to verify signatures.' }
      : { message: 'Webhook removed.' };
  });
}

export async function subscribeAction(input: unknown) {
  return runAction(DEV, async (actor) => {
    const res = await subscribeToPlan(actor, input, await publicOrigin());
    revalidatePath('/billing');
    return res.url ? { redirect: res.url } : { message: 'Plan activated.', redirect: '/billing' };
  });
}

export async function previewPlanChangeAction(input: unknown) {
  return runAction(DEV, async (actor) => previewPlanChange(actor, input));
}

export async function changePlanAction(input: unknown) {
  return runAction(DEV, async (actor) => {
    await changePlan(actor, input);
    revalidatePath('/billing');
    return { message: 'Plan changed.' };
  });
}

export async function openBillingPortalAction(_input: unknown) {
  return runAction(DEV, async (actor) => {
    const { url } = await openBillingPortal(actor, await publicOrigin());
    return { redirect: url };
  });
}
