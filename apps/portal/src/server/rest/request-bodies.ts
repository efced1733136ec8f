import { AddConsumerMemberSchema } from '../use-cases/add-consumer-member.ts';
import { AddUpstreamTargetSchema } from '../use-cases/add-upstream-target.ts';
import { ChangeConsumerPlanSchema } from '../use-cases/change-consumer-plan.ts';
import { CreateAdminTokenSchema } from '../use-cases/create-admin-token.ts';
import { CreateApiKeySchema } from '../use-cases/create-api-key.ts';
import { CreateConsumerSchema } from '../use-cases/create-consumer.ts';
import { RotateApiKeySchema } from '../use-cases/rotate-api-key.ts';
import { SaveApiSchema } from '../use-cases/save-api.ts';
import { SavePlanSchema } from '../use-cases/save-plan.ts';
import { SaveRouteSchema } from '../use-cases/save-route.ts';
import { SuspendConsumerSchema } from '../use-cases/suspend-consumer.ts';
import { jsonBody } from './request-body.ts';

/**
 * The request body of every /admin/v1 operation that takes one, from the use case it calls:
 * the route handlers check bodies against these and the OpenAPI document publishes them.
 */
export const AdminBodies = {
  createApi: jsonBody(SaveApiSchema, { omit: ['id'] }),
  updateApi: jsonBody(SaveApiSchema, { omit: ['id'], partial: true }),
  createRoute: jsonBody(SaveRouteSchema, { omit: ['id', 'apiId'] }),
  updateRoute: jsonBody(SaveRouteSchema, { omit: ['id', 'apiId'], partial: true }),
  addTarget: jsonBody(AddUpstreamTargetSchema, { omit: ['apiId'] }),
  createPlan: jsonBody(SavePlanSchema, { omit: ['id'] }),
  updatePlan: jsonBody(SavePlanSchema, { omit: ['id'], partial: true }),
  createConsumer: jsonBody(CreateConsumerSchema),
  addConsumerMember: jsonBody(AddConsumerMemberSchema, { omit: ['id'] }),
  createConsumerKey: jsonBody(CreateApiKeySchema),
  rotateConsumerKey: jsonBody(RotateApiKeySchema, { omit: ['keyId'] }),
  suspendConsumer: jsonBody(SuspendConsumerSchema, { omit: ['id'] }),
  changeConsumerPlan: jsonBody(ChangeConsumerPlanSchema, { omit: ['id'] }),
  createToken: jsonBody(CreateAdminTokenSchema),
};
