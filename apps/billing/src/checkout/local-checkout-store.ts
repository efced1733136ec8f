/**
 * Local test checkout only (stripe-mock keeps no state): what a created Checkout Session was
 * for, so the local page can complete it. In memory, bounded; a restart forgets open sessions.
 */
export interface LocalCheckout {
  sessionId: string;
  consumerId: string;
  planId: string;
  customerId: string;
  priceIds: string[];
  meteredPriceId: string | null;
  /** Trial days granted (0: none). */
  trialDays: number;
  /** The consumer's kept anchor and carry start (continued-period.ts); null for a first subscription. */
  billingAnchor: Date | null;
  carryFrom: Date | null;
  successUrl: string;
  cancelUrl: string;
  createdAt: number;
  completed: boolean;
}

export class LocalCheckoutStore {
  private readonly sessions = new Map<string, LocalCheckout>();
  constructor(private readonly max = 10_000) {}

  put(s: LocalCheckout): void {
    if (this.sessions.size >= this.max) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    this.sessions.set(s.sessionId, s);
  }

  get(id: string): LocalCheckout | undefined {
    return this.sessions.get(id);
  }
}
