import { notFound } from '../../../../../server/errors.ts';
import { configVersion } from '../../../../../server/queries/config.ts';
import { restHandler, restRoute } from '../../../../../server/rest/handler.ts';

/** A version's whole content. */
const get = restHandler<{ version: string }>(['admin'], async (_actor, _request, { version }) => {
  if (!/^[1-9]\d{0,15}$/.test(version)) throw notFound('Configuration version');
  return { body: await configVersion(Number(version)) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get });
