import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { deps } from '../deps.ts';
import { notFound, parseInput } from '../errors.ts';
import { uuid } from '../schemas.ts';

export const RevokeAdminTokenSchema = z.object({ id: uuid });

export async function revokeAdminToken(actor: Actor, input: unknown): Promise<void> {
  assertRole(actor, ['admin']);
  const { id } = parseInput(RevokeAdminTokenSchema, input);
  await deps().prisma.$transaction(async (tx) => {
    const before = await tx.adminToken.findUnique({ where: { id } });
    if (!before) throw notFound('Token');
    if (before.revokedAt) return;
    await tx.adminToken.update({ where: { id }, data: { revokedAt: new Date() } });
    await writeAudit(
      tx,
      actor,
      'admin_token.revoke',
      { type: 'admin_token', id },
      { name: before.name },
      {
        revoked: true,
      },
    );
  });
}
