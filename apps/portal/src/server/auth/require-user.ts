import { redirect } from 'next/navigation';
import type { Actor, Role } from '../actor.ts';
import { TollgateError } from '../errors.ts';
import { clientIp } from '../request-context.ts';
import { type SessionUser, sessionUser } from './session.ts';

function toActor(user: SessionUser, ip: string): Actor {
  return {
    kind: 'user',
    id: user.id,
    role: user.role,
    email: user.email,
    name: user.name,
    consumerIds: user.consumerIds,
    ip,
  };
}

/**
 * For server actions and route handlers: the signed-in actor, or a TollgateError
 * (unauthenticated / forbidden). Called first thing in every action, never only in middleware.
 */
export async function requireUser(roles?: readonly Role[]): Promise<Actor> {
  const user = await sessionUser();
  if (!user) throw new TollgateError('unauthenticated', 'SIGN_IN_REQUIRED', 'Please sign in first.');
  if (roles && !roles.includes(user.role)) {
    throw new TollgateError('forbidden', 'ROLE_REQUIRED', 'Your account cannot do this.');
  }
  return toActor(user, await clientIp());
}

/** For pages: redirects anonymous visitors to sign in and other roles to /forbidden. */
export async function requirePageUser(roles?: readonly Role[]): Promise<Actor> {
  const user = await sessionUser();
  if (!user) redirect('/signin');
  if (roles && !roles.includes(user.role)) redirect('/forbidden');
  return toActor(user, await clientIp());
}

/** The developer's own consumer (the first they belong to), or a forbidden error. */
export function ownConsumerId(actor: Actor): string {
  const id = actor.consumerIds[0];
  if (actor.role !== 'developer' || id === undefined) {
    throw new TollgateError('forbidden', 'NO_CONSUMER', 'This account has no developer workspace.');
  }
  return id;
}
