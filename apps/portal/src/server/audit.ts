import type { Prisma } from '@tollgate/db/client';
import type { Actor } from './actor.ts';

type Tx = Prisma.TransactionClient;

/** Plain JSON for the audit columns: dates as ISO strings, bigints as strings. */
export function auditJson(value: unknown): Prisma.InputJsonValue | undefined {
  if (value === undefined || value === null) return undefined;
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

/** How an actor is named in audit_log.actor_kind (also sent to billing, which records plan changes). */
export function auditActorKind(actor: Actor): string {
  return actor.kind === 'token' ? 'admin_token' : `user:${actor.email ?? actor.role}`;
}

/** The actor as billing records it in the audit row of a change it makes for the portal. */
export function auditActor(actor: Actor): { kind: string; id: string; ip: string | null } {
  return { kind: auditActorKind(actor), id: actor.id, ip: actor.ip };
}

/** Writes one audit_log row inside the caller's transaction, so the change and its record commit together. */
export async function writeAudit(
  tx: Tx,
  actor: Actor,
  action: string,
  target: { type: string; id: string | null },
  before?: unknown,
  after?: unknown,
): Promise<void> {
  const b = auditJson(before);
  const a = auditJson(after);
  await tx.auditLog.create({
    data: {
      actorId: actor.id,
      actorKind: auditActorKind(actor),
      action,
      targetType: target.type,
      targetId: target.id,
      ...(b === undefined ? {} : { before: b }),
      ...(a === undefined ? {} : { after: a }),
      ip: actor.ip,
    },
  });
}
