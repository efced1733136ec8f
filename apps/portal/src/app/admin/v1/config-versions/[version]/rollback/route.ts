import { notFound } from '../../../../../../server/errors.ts';
import { restHandler, restRoute } from '../../../../../../server/rest/handler.ts';
import { rollbackConfigVersion } from '../../../../../../server/use-cases/rollback-config-version.ts';

/** Restores the configuration of that version in one call (a new version, audited). */
const post = restHandler<{ version: string }>(['admin'], async (actor, _request, { version }) => {
  if (!/^[1-9]\d{0,15}$/.test(version)) throw notFound('Configuration version');
  return { body: await rollbackConfigVersion(actor, { version: Number(version) }) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ POST: post });
