import { z } from '@tollgate/config';
import { TollgateError } from '@tollgate/core';
import { describe, expect, it } from 'vitest';
import { boolField, intField, trimmed } from '../schemas.ts';
import { AdminBodies } from './request-bodies.ts';
import { jsonBody, MAX_BODY_BYTES, readBody, readJsonObject } from './request-body.ts';

const post = (
  body: BodyInit | null,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) => new Request('http://portal.test/admin/v1/x', { method: 'POST', body, headers });

async function fieldErrors(promise: Promise<unknown>): Promise<Record<string, string>> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TollgateError)
      return (err.details as { fieldErrors: Record<string, string> }).fieldErrors;
    throw err;
  }
  throw new Error('accepted');
}

async function refusal(promise: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TollgateError) return { status: err.status, code: err.code };
    throw err;
  }
  throw new Error('accepted');
}

describe('admin request bodies', () => {
  it('admin-body.error: not JSON, not an object, NUL, too large, another media type', async () => {
    expect(await refusal(readJsonObject(post('{"a":')))).toEqual({ status: 400, code: 'INVALID_JSON' });
    expect(await refusal(readJsonObject(post(new Uint8Array([0x7b, 0xff, 0x7d]))))).toEqual({
      status: 400,
      code: 'INVALID_JSON',
    });
    for (const body of ['null', '[]', '"text"', '7'])
      expect(await refusal(readJsonObject(post(body)))).toEqual({ status: 400, code: 'BODY_NOT_OBJECT' });
    expect(await refusal(readJsonObject(post('{"name":"a\\u0000b"}')))).toEqual({
      status: 400,
      code: 'INVALID_CHARACTER',
    });
    expect(await refusal(readJsonObject(post('{"a\\u0000":1}')))).toEqual({
      status: 400,
      code: 'INVALID_CHARACTER',
    });
    expect(await refusal(readJsonObject(post('{"deep":[{"x":["\\u0000"]}]}')))).toEqual({
      status: 400,
      code: 'INVALID_CHARACTER',
    });
    expect(await refusal(readJsonObject(post(`{"a":"${'x'.repeat(MAX_BODY_BYTES)}"}`)))).toEqual({
      status: 413,
      code: 'BODY_TOO_LARGE',
    });
    expect(await refusal(readJsonObject(post('{}', { 'content-type': 'text/plain' })))).toEqual({
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
  });

  it('admin-body.error: a body larger than announced is cut off while reading, not buffered whole', async () => {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 65_536;
        controller.enqueue(new Uint8Array(65_536).fill(0x20));
      },
    });
    const request = new Request('http://portal.test/x', {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    expect(await refusal(readJsonObject(request))).toEqual({ status: 413, code: 'BODY_TOO_LARGE' });
    expect(pulled).toBeLessThan(MAX_BODY_BYTES + 4 * 65_536);
  });

  it('admin-body.happy: an empty body is {}; application/*+json is JSON', async () => {
    expect(await readJsonObject(post(null, {}))).toEqual({});
    expect(await readJsonObject(post('{"a":1}', { 'content-type': 'application/merge-patch+json' }))).toEqual(
      {
        a: 1,
      },
    );
  });

  it('admin-body.error: the contract is the strict JSON of the use case input (no form coercion)', async () => {
    const schema = z.object({ name: trimmed(10), public: boolField, cost: intField(0, 5), id: z.string() });
    const create = jsonBody(schema, { omit: ['id'] });
    expect(create.schema.required).toEqual(['name', 'cost']);
    // A form would send "on" and "3"; JSON clients send true and 3.
    expect(await refusal(readBody(post('{"name":"a","public":"on","cost":3}'), create))).toEqual({
      status: 400,
      code: 'INVALID_INPUT',
    });
    expect(await refusal(readBody(post('{"name":"a","cost":"3"}'), create))).toEqual({
      status: 400,
      code: 'INVALID_INPUT',
    });
    expect(await refusal(readBody(post('{"name":"a","public":{},"cost":3}'), create))).toEqual({
      status: 400,
      code: 'INVALID_INPUT',
    });
    expect(await refusal(readBody(post('{"public":true,"cost":3}'), create))).toEqual({
      status: 400,
      code: 'INVALID_INPUT',
    });
  });

  it('admin-body.happy: the body reaches the use case as sent (defaults are the use case’s to apply)', async () => {
    const schema = z.object({ name: trimmed(10), cost: intField(0, 5).default(1) });
    expect(await readBody(post('{"name":"a"}'), jsonBody(schema))).toEqual({ name: 'a' });
    // PATCH: every field optional, and still type-checked.
    const patch = jsonBody(schema, { partial: true });
    expect(patch.schema.required).toBeUndefined();
    expect(await readBody(post('{}'), patch)).toEqual({});
    expect(await refusal(readBody(post('{"cost":9}'), patch))).toEqual({
      status: 400,
      code: 'INVALID_INPUT',
    });
  });

  it('admin-body.error: a field the use case refuses too is explained in its words (core’s), others in the contract’s', async () => {
    const api = { name: 'Bad', slug: 'bad', basePath: '/bad' };
    const hosts = await fieldErrors(
      readBody(post(JSON.stringify({ ...api, hosts: ['2:3'] })), AdminBodies.createApi),
    );
    expect(hosts['hosts.0']).toMatch(/no port/);
    const path = await fieldErrors(
      readBody(post(JSON.stringify({ ...api, basePath: '/bad/{v}' })), AdminBodies.createApi),
    );
    expect(path.basePath).toMatch(/templates/);
    // "3" is what a form sends: the use case would coerce it, the JSON contract refuses it.
    const cost = await fieldErrors(
      readBody(post(JSON.stringify({ name: 'r', path: '/x', cost: '3' })), AdminBodies.createRoute),
    );
    expect(Object.keys(cost)).toEqual(['cost']);
    expect(cost.cost).toMatch(/number/);
  });
});
