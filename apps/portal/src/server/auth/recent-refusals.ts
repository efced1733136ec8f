/**
 * Refusals this process already got from Postgres, remembered until they end, so a flood from
 * a blocked address is answered without a database transaction per request. Safe across
 * instances: it only repeats a "wait until T" the database said, and a key's wait never ends
 * earlier than the database said (except for the small shrink of a refund, which this process
 * may apply late). Bounded: the oldest entry goes first when full.
 */
export class RecentRefusals {
  private readonly until = new Map<string, number>();

  constructor(readonly maxEntries = 10_000) {}

  /** When the remembered refusal of `id` ends, or null when there is none at `now`. */
  refusedUntil(id: string, now: number): number | null {
    const end = this.until.get(id);
    if (end === undefined) return null;
    if (end > now) return end;
    this.until.delete(id);
    return null;
  }

  remember(id: string, end: number): void {
    this.until.delete(id);
    if (this.until.size >= this.maxEntries) {
      const oldest = this.until.keys().next();
      if (!oldest.done) this.until.delete(oldest.value);
    }
    this.until.set(id, end);
  }

  get size(): number {
    return this.until.size;
  }
}
