export { fastifyClientError } from './fastify-client-error.ts';
export { answerClientError, unknownMethodRequest, writeRawProblem } from './raw-answer.ts';
export { unservedMethods } from './unserved-methods.ts';
