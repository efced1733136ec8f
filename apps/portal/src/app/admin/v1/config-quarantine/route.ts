import { configQuarantine } from '../../../../server/queries/config.ts';
import { restHandler, restRoute } from '../../../../server/rest/handler.ts';

/** Rows of the current configuration the gateway cannot serve as stored (written past the admin API). */
const get = restHandler(['admin'], async () => ({ body: await configQuarantine() }));

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get });
