import type { Prisma } from '@tollgate/db/client';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertOwnsConsumer } from '../authorize.ts';

type Tx = Prisma.TransactionClient;

/**
 * Who may rotate or revoke a key: an admin API token (its routes check the key is the
 * consumer's in the path), or a developer of the key's consumer; another developer's key, and
 * any key to a signed-in staff account, is reported as not found as before.
 */
export function assertMayManageKey(actor: Actor, consumerId: string): void {
  if (actor.kind === 'token' && actor.role === 'admin') return;
  assertOwnsConsumer(actor, consumerId, 'Key');
}

/** An admin's change to a key, in the audit log (never the secret or its hash). */
export async function auditKey(
  tx: Tx,
  actor: Actor,
  action: string,
  key: {
    id: string;
    consumerId: string;
    name: string;
    prefix: string;
    lastFour: string;
    expiresAt: Date | null;
  },
  before?: unknown,
): Promise<void> {
  await writeAudit(tx, actor, action, { type: 'consumer', id: key.consumerId }, before, {
    keyId: key.id,
    name: key.name,
    prefix: key.prefix,
    lastFour: key.lastFour,
    expiresAt: key.expiresAt,
  });
}
