import { z } from '@tollgate/config';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { randomToken, sha256Hex } from '../crypto.ts';
import { deps } from '../deps.ts';
import { parseInput } from '../errors.ts';
import { trimmed } from '../schemas.ts';

export const CreateAdminTokenSchema = z.object({ name: trimmed(80) });

/** A bearer token for /admin/v1. Shown once; only its SHA-256 is stored. */
export async function createAdminToken(
  actor: Actor,
  input: unknown,
): Promise<{ id: string; secret: string }> {
  assertRole(actor, ['admin']);
  const { name } = parseInput(CreateAdminTokenSchema, input);
  const secret = `tga_${randomToken(32)}`;
  return deps().prisma.$transaction(async (tx) => {
    const row = await tx.adminToken.create({
      data: {
        name,
        role: 'admin',
        tokenHash: sha256Hex(secret),
        prefix: secret.slice(0, 10),
        createdById: actor.kind === 'user' ? actor.id : null,
      },
    });
    await writeAudit(tx, actor, 'admin_token.create', { type: 'admin_token', id: row.id }, undefined, {
      name,
      prefix: row.prefix,
    });
    return { id: row.id, secret };
  });
}
