import { z } from '@tollgate/config';
import { formatIssue } from '@tollgate/core';
import {
  currentConfigVersion,
  getConfigVersion,
  listConfigVersions,
  loadProviderConfig,
} from '@tollgate/db/client';
import { configProblems } from '../config-change.ts';
import { deps } from '../deps.ts';
import { notFound } from '../errors.ts';
import { formNumber } from '../schemas.ts';

/** Query of GET /admin/v1/config-versions. */
export const ConfigVersionsQuerySchema = z.object({
  limit: z.preprocess((v) => v ?? undefined, formNumber(z.number().int().min(1).max(200)).optional()),
  before: z.preprocess(
    (v) => v ?? undefined,
    formNumber(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)).optional(),
  ),
});

/**
 * The admin's view of the configuration: its versions, and the rows a gateway quarantines. The
 * quarantine is computed here from Postgres with the gateway's own validator (core's
 * validateProviderConfig), so it needs no call to any gateway: it is what a gateway started
 * now would quarantine. A running gateway may serve a quarantined row's last good version
 * meanwhile (its /readyz says which).
 */
export async function configQuarantine() {
  const prisma = deps().prisma;
  const [config, version] = await prisma.$transaction(
    async (tx) => Promise.all([loadProviderConfig(tx), currentConfigVersion(tx)]),
    { isolationLevel: 'RepeatableRead' },
  );
  return {
    version,
    quarantined: configProblems(config).map((p) => ({
      kind: p.kind,
      id: p.id,
      name: p.name,
      problems: p.issues.map(formatIssue),
    })),
  };
}

export async function configVersions(opts: { limit: number; before?: number }) {
  const prisma = deps().prisma;
  const [current, versions] = await Promise.all([
    currentConfigVersion(prisma),
    listConfigVersions(prisma, opts),
  ]);
  return { current, versions };
}

export async function configVersion(version: number) {
  const found = await getConfigVersion(deps().prisma, version);
  if (found === null) throw notFound('Configuration version');
  return found;
}
