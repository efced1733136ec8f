import { publicOrigin } from '../../../../server/request-context.ts';
import { adminOpenApi } from '../../../../server/rest/openapi.ts';

/** The Admin REST API's OpenAPI document (public: it describes, it grants nothing). */
export async function GET(): Promise<Response> {
  return Response.json(adminOpenApi(await publicOrigin()), { headers: { 'cache-control': 'no-store' } });
}
