import { cookies } from 'next/headers';
import { cache } from 'react';
import { getConfig } from '../../config.ts';
import { randomToken, sha256Hex } from '../crypto.ts';
import { deps } from '../deps.ts';
import { clientIp, isHttps, userAgent } from '../request-context.ts';

/**
 * Sessions: the cookie holds 256 random bits; the sessions table stores only their SHA-256,
 * so a database leak does not leak sessions. Sign-out deletes the row.
 */
export const SECURE_COOKIE = '__Host-tollgate_session';
export const PLAIN_COOKIE = 'tollgate_session';

export async function createSession(userId: string): Promise<void> {
  const token = randomToken();
  const ttlMs = getConfig().SESSION_TTL_HOURS * 3_600_000;
  const expiresAt = new Date(Date.now() + ttlMs);
  // Housekeeping: the user's expired sessions go when they sign in again.
  await deps().prisma.session.deleteMany({ where: { userId, expiresAt: { lt: new Date() } } });
  await deps().prisma.session.create({
    data: {
      userId,
      tokenHash: sha256Hex(token),
      expiresAt,
      ip: await clientIp(),
      userAgent: await userAgent(),
    },
  });
  const secure = await isHttps();
  const jar = await cookies();
  jar.set(secure ? SECURE_COOKIE : PLAIN_COOKIE, token, {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
    expires: expiresAt,
  });
}

async function sessionToken(): Promise<string | undefined> {
  const jar = await cookies();
  return jar.get(SECURE_COOKIE)?.value ?? jar.get(PLAIN_COOKIE)?.value;
}

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: 'developer' | 'admin' | 'finance';
  consumerIds: string[];
}

/** The signed-in user, looked up once per request (React cache) however many components ask. */
export const sessionUser = cache(async (): Promise<SessionUser | null> => {
  const token = await sessionToken();
  if (!token || token.length > 100) return null;
  const session = await deps().prisma.session.findUnique({ where: { tokenHash: sha256Hex(token) } });
  if (!session || session.expiresAt.getTime() <= Date.now()) return null;
  const user = await deps().prisma.user.findUnique({
    where: { id: session.userId },
    include: { memberships: { select: { consumerId: true } } },
  });
  if (!user) return null;
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    consumerIds: user.memberships.map((m) => m.consumerId),
  };
});

export async function destroySession(): Promise<void> {
  const token = await sessionToken();
  if (token) await deps().prisma.session.deleteMany({ where: { tokenHash: sha256Hex(token) } });
  const jar = await cookies();
  jar.delete(SECURE_COOKIE);
  jar.delete(PLAIN_COOKIE);
}
