/**
 * Who is acting: a signed-in user (with the consumers they belong to) or an admin REST API
 * token. Every use case takes an Actor and checks it itself.
 */
export type Role = 'developer' | 'admin' | 'finance';

export interface Actor {
  kind: 'user' | 'token';
  id: string;
  role: Role;
  email?: string;
  name?: string;
  /** Consumers this actor belongs to (developers); empty for tokens and staff. */
  consumerIds: string[];
  ip: string | null;
}
