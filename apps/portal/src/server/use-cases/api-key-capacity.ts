import type { Prisma } from '@tollgate/db/client';
import { TollgateError } from '../errors.ts';

type Tx = Prisma.TransactionClient;

/** Most keys that work at once for one consumer (creation and rotation alike). */
export const MAX_WORKING_KEYS = 50;

/**
 * Refuses when `adding` more working keys would pass the cap. A working key is neither revoked
 * nor expired; a rotated key keeps working through its overlap, so a rotation with an overlap
 * adds one. The consumer's row is locked first, so concurrent creations and rotations of one
 * consumer are counted one after another and cannot pass the cap together.
 */
export async function assertKeyCapacity(
  tx: Tx,
  consumerId: string,
  adding: number,
  now: Date,
  hint = 'Revoke one first.',
): Promise<void> {
  await tx.$queryRaw`SELECT id FROM consumers WHERE id = ${consumerId}::uuid FOR UPDATE`;
  const working = await tx.apiKey.count({
    where: { consumerId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
  });
  if (working + adding > MAX_WORKING_KEYS)
    throw new TollgateError(
      'conflict',
      'TOO_MANY_KEYS',
      `You already have ${MAX_WORKING_KEYS} active keys. ${hint}`,
      { details: { working, max: MAX_WORKING_KEYS } },
    );
}
