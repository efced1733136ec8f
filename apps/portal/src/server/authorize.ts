import type { Actor, Role } from './actor.ts';
import { TollgateError } from './errors.ts';

export function assertRole(actor: Actor, roles: readonly Role[]): void {
  if (!roles.includes(actor.role)) {
    throw new TollgateError('forbidden', 'ROLE_REQUIRED', 'Your account cannot do this.');
  }
}

/**
 * Object-level check: the object belongs to one of the actor's consumers. A miss is reported
 * as not found, so ids of other consumers' objects are not confirmed to exist.
 */
export function assertOwnsConsumer(actor: Actor, consumerId: string, what: string): void {
  if (actor.role !== 'developer' || !actor.consumerIds.includes(consumerId)) {
    throw new TollgateError('not_found', 'NOT_FOUND', `${what} not found`);
  }
}
