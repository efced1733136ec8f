import { describe, expect, it } from 'vitest';
import { operationsOf } from './openapi-doc.tsx';

describe('OpenAPI rendering reads what a person needs and ignores the rest', () => {
  it('lists operations with parameters, body and responses', () => {
    const ops = operationsOf({
      openapi: '3.1.0',
      paths: {
        '/items/{id}': {
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          get: {
            summary: 'Get one',
            responses: { '200': { description: 'The item' }, '404': { description: 'Missing' } },
          },
          delete: { responses: {} },
        },
        '/items': { post: { requestBody: { content: { 'application/json': {} } } } },
      },
    });
    expect(ops.map((o) => `${o.method} ${o.path}`)).toEqual([
      'GET /items/{id}',
      'DELETE /items/{id}',
      'POST /items',
    ]);
    expect(ops[0]!.parameters).toEqual([
      { name: 'id', in: 'path', required: true, description: undefined, type: 'string' },
    ]);
    expect(ops[0]!.responses.map((r) => r.status)).toEqual(['200', '404']);
    expect(ops[2]!.requestBody).toBe('application/json');
  });

  it('survives documents that are not OpenAPI at all', () => {
    expect(operationsOf(null)).toEqual([]);
    expect(operationsOf({ paths: 'nope' })).toEqual([]);
    expect(operationsOf({ paths: { '/x': { get: 'nope', trace: {} } } })).toEqual([]);
  });
});
