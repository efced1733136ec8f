import { describe, expect, it } from 'vitest';
import { restRoute } from './handler.ts';

const context = { params: Promise.resolve({}) };
const call = (route: ReturnType<typeof restRoute>, method: keyof ReturnType<typeof restRoute>) =>
  route[method](new Request('http://portal.test/admin/v1/things', { method }), context);

const route = restRoute({
  GET: async () => Response.json({ things: [] }, { headers: { 'x-request-id': 'r1' } }),
  POST: async () => Response.json({ id: 'x' }, { status: 201 }),
});
const deleteOnly = restRoute({ DELETE: async () => new Response(null, { status: 204 }) });

describe('restRoute', () => {
  it('admin-method.error: a method the path does not serve is a problem+json 405 with Allow', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
      const res = await call(route, method);
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    }
  });

  it('admin-method.happy: OPTIONS lists the methods; HEAD answers as GET without a body', async () => {
    const options = await call(route, 'OPTIONS');
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
    const head = await call(route, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('x-request-id')).toBe('r1');
    expect(await head.text()).toBe('');
    expect((await call(route, 'POST')).status).toBe(201);
  });

  it('admin-method.error: without GET, HEAD is refused too', async () => {
    const head = await call(deleteOnly, 'HEAD');
    expect(head.status).toBe(405);
    expect(head.headers.get('allow')).toBe('DELETE, OPTIONS');
  });
});
