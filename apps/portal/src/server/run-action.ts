import type { Actor, Role } from './actor.ts';
import { requireUser } from './auth/require-user.ts';
import { type ActionResult, toActionError } from './errors.ts';

/**
 * The shape of every server action: authenticate and check the role on the server first, then
 * run the use case (which repeats its own role and object checks), and turn errors into a
 * safe result. Next.js already rejects cross-origin server action calls (Origin vs Host).
 */
export async function runAction<T extends object>(
  roles: readonly Role[],
  body: (actor: Actor) => Promise<T>,
): Promise<ActionResult<T>> {
  try {
    const actor = await requireUser(roles);
    const result = await body(actor);
    return { ok: true, ...result };
  } catch (err) {
    return toActionError(err);
  }
}
