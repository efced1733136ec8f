import { z } from '@tollgate/config';
import {
  applyConfigContent,
  currentConfigVersion,
  getConfigVersion,
  recordConfigVersionNow,
} from '@tollgate/db/client';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { changeConfig } from '../config-change.ts';
import { notFound, parseInput } from '../errors.ts';
import { formNumber } from '../schemas.ts';

export const RollbackConfigVersionSchema = z.object({
  version: formNumber(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)),
});

export interface RollbackResult {
  /** The version now current: a new one holding the restored content, or the current one when nothing changed. */
  version: number;
  restoredFrom: number;
  changed: boolean;
  /** Plans the restored version does not have, kept because subscriptions refer to them. */
  keptPlans: string[];
}

/**
 * Restores the whole provider configuration (APIs, routes, upstream targets, plans,
 * entitlements) of an earlier version in one transaction: ids are kept, rows already equal are
 * not written, plans with subscribers are never deleted. Like every admin change it must pass the
 * gateway's validator (a version holding rows the gateway would quarantine is refused) and is
 * audited in the same transaction; the trigger records the new version with `restoredFrom`.
 */
export async function rollbackConfigVersion(actor: Actor, input: unknown): Promise<RollbackResult> {
  assertRole(actor, ['admin']);
  const { version } = parseInput(RollbackConfigVersionSchema, input);
  return changeConfig(
    actor,
    async (tx) => {
      const source = await getConfigVersion(tx, version);
      if (source === null) throw notFound('Configuration version');
      const before = await currentConfigVersion(tx);
      const applied = await applyConfigContent(tx, source.content, { all: true });
      await writeAudit(
        tx,
        actor,
        'config.rollback',
        { type: 'config_version', id: String(version) },
        { version: before },
        { restoredFrom: version, keptPlans: applied.keptPlans },
      );
      // Last configuration write of the transaction: the version number is known before commit.
      const now = await recordConfigVersionNow(tx);
      return { version: now, restoredFrom: version, changed: now !== before, keptPlans: applied.keptPlans };
    },
    { restoredFrom: version },
  );
}
