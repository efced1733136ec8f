import { ConfigVersionsQuerySchema, configVersions } from '../../../../server/queries/config.ts';
import { parseQuery, restHandler, restRoute } from '../../../../server/rest/handler.ts';

/** Versions of the provider configuration, newest first (`before`: the page below that version). */
const get = restHandler(['admin'], async (_actor, request) => {
  const query = parseQuery(ConfigVersionsQuerySchema, request);
  return { body: await configVersions({ limit: query.limit ?? 50, before: query.before }) };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get });
