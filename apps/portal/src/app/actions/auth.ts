'use server';

import { createSession, destroySession } from '../../server/auth/session.ts';
import { type ActionResult, toActionError } from '../../server/errors.ts';
import { clientIp } from '../../server/request-context.ts';
import { signIn } from '../../server/use-cases/sign-in.ts';
import { signUp } from '../../server/use-cases/sign-up.ts';

function homeFor(role: string): string {
  return role === 'admin' ? '/admin' : role === 'finance' ? '/finance' : '/dashboard';
}

export async function signUpAction(input: unknown): Promise<ActionResult> {
  try {
    const { userId } = await signUp(input, await clientIp());
    await createSession(userId);
    return { ok: true, redirect: '/dashboard' };
  } catch (err) {
    return toActionError(err);
  }
}

export async function signInAction(input: unknown): Promise<ActionResult> {
  try {
    const { userId, role } = await signIn(input, await clientIp());
    await createSession(userId);
    return { ok: true, redirect: homeFor(role) };
  } catch (err) {
    return toActionError(err);
  }
}

export async function signOutAction(): Promise<ActionResult> {
  try {
    await destroySession();
    return { ok: true, redirect: '/' };
  } catch (err) {
    return toActionError(err);
  }
}
