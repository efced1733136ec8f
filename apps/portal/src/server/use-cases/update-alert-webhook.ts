import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { ownConsumerId } from '../auth/require-user.ts';
import { randomToken } from '../crypto.ts';
import { deps } from '../deps.ts';
import { parseInput } from '../errors.ts';

export const UpdateAlertWebhookSchema = z.object({
  url: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? null : v),
    z
      .url({ protocol: /^https?$/, message: 'an http(s) URL' })
      .max(500)
      .nullable(),
  ),
});

/** Sets (or clears, with a blank URL) the consumer's alert webhook; a new signing secret is shown once. */
export async function updateAlertWebhook(actor: Actor, input: unknown): Promise<{ secret: string | null }> {
  const consumerId = ownConsumerId(actor);
  const data = parseInput(UpdateAlertWebhookSchema, input);
  const secret = data.url ? `whsec_${randomToken(24)}` : null;
  await deps().prisma.consumer.update({
    where: { id: consumerId },
    data: { alertWebhookUrl: data.url, alertWebhookSecret: secret },
  });
  return { secret };
}
