import { z } from '@tollgate/config';
import { AddUpstreamTargetSchema } from '../use-cases/add-upstream-target.ts';
import { ChangeConsumerPlanSchema } from '../use-cases/change-consumer-plan.ts';
import { CreateAdminTokenSchema } from '../use-cases/create-admin-token.ts';
import { SaveApiSchema } from '../use-cases/save-api.ts';
import { SavePlanSchema } from '../use-cases/save-plan.ts';
import { SaveRouteSchema } from '../use-cases/save-route.ts';
import { SuspendConsumerSchema } from '../use-cases/suspend-consumer.ts';

/** Request body schemas come from the same zod schemas the use cases parse with. */
function body(schema: z.ZodType, omit: string[] = []) {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  for (const key of omit) {
    delete json.properties?.[key];
    if (json.required) json.required = json.required.filter((k) => k !== key);
  }
  delete (json as Record<string, unknown>).$schema;
  return { required: true, content: { 'application/json': { schema: json } } };
}

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const problem = {
  description: 'Problem details',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};
const errors = { '400': problem, '401': problem, '403': problem, '404': problem, '409': problem };
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});

export function adminOpenApi(serverUrl: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tollgate Admin API',
      version: '1.0.0',
      description:
        'Everything the admin UI does: APIs, routes, upstreams, plans, consumers, audit log and tokens. Authenticate with "Authorization: Bearer <token>"; an admin creates tokens on the portal page /admin/tokens. Every change is recorded in the audit log.',
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            requestId: { type: 'string' },
          },
        },
      },
    },
    paths: {
      '/admin/v1/apis': {
        get: { summary: 'List APIs with routes and upstreams', responses: { '200': ok('APIs'), ...errors } },
        post: {
          summary: 'Create an API',
          requestBody: body(SaveApiSchema, ['id']),
          responses: { '201': ok('Created'), ...errors },
        },
      },
      '/admin/v1/apis/{id}': {
        parameters: [idParam],
        get: { summary: 'Get an API', responses: { '200': ok('API'), ...errors } },
        patch: {
          summary: 'Update an API (partial)',
          requestBody: body(SaveApiSchema, ['id']),
          responses: { '200': ok('Updated'), ...errors },
        },
        delete: {
          summary: 'Delete an API and its routes',
          responses: { '204': { description: 'Deleted' }, ...errors },
        },
      },
      '/admin/v1/apis/{id}/routes': {
        parameters: [idParam],
        post: {
          summary: 'Add a route',
          requestBody: body(SaveRouteSchema, ['id', 'apiId']),
          responses: { '201': ok('Created'), ...errors },
        },
      },
      '/admin/v1/apis/{id}/targets': {
        parameters: [idParam],
        post: {
          summary: 'Add an upstream target',
          requestBody: body(AddUpstreamTargetSchema, ['apiId']),
          responses: { '201': ok('Created'), ...errors },
        },
      },
      '/admin/v1/routes/{id}': {
        parameters: [idParam],
        get: { summary: 'Get a route', responses: { '200': ok('Route'), ...errors } },
        patch: {
          summary: 'Update a route (partial)',
          requestBody: body(SaveRouteSchema, ['id', 'apiId']),
          responses: { '200': ok('Updated'), ...errors },
        },
        delete: { summary: 'Delete a route', responses: { '204': { description: 'Deleted' }, ...errors } },
      },
      '/admin/v1/targets/{id}': {
        parameters: [idParam],
        delete: {
          summary: 'Remove an upstream target',
          responses: { '204': { description: 'Deleted' }, ...errors },
        },
      },
      '/admin/v1/plans': {
        get: { summary: 'List plans', responses: { '200': ok('Plans'), ...errors } },
        post: {
          summary: 'Create a plan',
          requestBody: body(SavePlanSchema, ['id']),
          responses: { '201': ok('Created'), ...errors },
        },
      },
      '/admin/v1/plans/{id}': {
        parameters: [idParam],
        get: { summary: 'Get a plan', responses: { '200': ok('Plan'), ...errors } },
        patch: {
          summary: 'Update a plan (partial)',
          requestBody: body(SavePlanSchema, ['id']),
          responses: { '200': ok('Updated'), ...errors },
        },
      },
      '/admin/v1/consumers': {
        get: {
          summary: 'Search consumers',
          parameters: [
            { name: 'q', in: 'query', schema: { type: 'string' }, description: 'Name, member email or id' },
          ],
          responses: { '200': ok('Consumers'), ...errors },
        },
      },
      '/admin/v1/consumers/{id}': {
        parameters: [idParam],
        get: {
          summary: 'Get a consumer with members, subscriptions and keys (no secrets)',
          responses: { '200': ok('Consumer'), ...errors },
        },
      },
      '/admin/v1/consumers/{id}/suspend': {
        parameters: [idParam],
        post: {
          summary: 'Suspend a consumer',
          requestBody: body(SuspendConsumerSchema, ['id']),
          responses: { '200': ok('Consumer'), ...errors },
        },
      },
      '/admin/v1/consumers/{id}/reinstate': {
        parameters: [idParam],
        post: { summary: 'Reinstate a consumer', responses: { '200': ok('Consumer'), ...errors } },
      },
      '/admin/v1/consumers/{id}/plan': {
        parameters: [idParam],
        post: {
          summary: 'Move a consumer to a plan (through billing)',
          requestBody: body(ChangeConsumerPlanSchema, ['id']),
          responses: { '200': ok('Consumer'), ...errors, '503': problem },
        },
      },
      '/admin/v1/audit-log': {
        get: {
          summary: 'Audit log, newest first',
          parameters: ['action', 'targetType', 'targetId', 'limit'].map((name) => ({
            name,
            in: 'query',
            schema: { type: 'string' },
          })),
          responses: { '200': ok('Entries'), ...errors },
        },
      },
      '/admin/v1/tokens': {
        get: { summary: 'List admin tokens (no secrets)', responses: { '200': ok('Tokens'), ...errors } },
        post: {
          summary: 'Create an admin token (returned once)',
          requestBody: body(CreateAdminTokenSchema),
          responses: { '201': ok('Token'), ...errors },
        },
      },
      '/admin/v1/tokens/{id}': {
        parameters: [idParam],
        delete: {
          summary: 'Revoke an admin token',
          responses: { '204': { description: 'Revoked' }, ...errors },
        },
      },
    },
  };
}
