import { ApiRowSchema, PlanSchema } from '@tollgate/core';
import type { QuarantineEntry } from './compile-snapshot.ts';
import type { ControlPlaneSource, RawApi, RawPlan } from './types.ts';

/**
 * Last good versions of quarantined rows from the configuration history, for rows the previous
 * snapshot cannot stand in for (a gateway that just started, or a row that was never good while
 * this process ran). Each row is looked up once while it stays quarantined: the newest version
 * of it, among recent configuration versions, that passes core's row schema. So every gateway of
 * a fleet, restarted or not, serves a broken row's last good version alike.
 */
export class LastGoodRows {
  readonly apis = new Map<string, RawApi>();
  readonly plans = new Map<string, RawPlan>();
  private readonly looked = new Set<string>();

  constructor(private readonly load: NonNullable<ControlPlaneSource['loadRowHistory']>) {}

  /** Looks up the rows of `quarantine` served by nothing yet; true when a last good version was found. */
  async lookUp(quarantine: QuarantineEntry[]): Promise<boolean> {
    const current = new Set(quarantine.map((q) => `${q.kind}:${q.id}`));
    for (const key of [...this.looked]) {
      if (current.has(key)) continue;
      this.looked.delete(key);
      const [kind, id] = key.split(':') as [string, string];
      (kind === 'api' ? this.apis : this.plans).delete(id);
    }
    const wanted = quarantine.filter(
      (q) => !q.servingLastGood && q.kind !== 'subscription' && !this.looked.has(`${q.kind}:${q.id}`),
    );
    if (wanted.length === 0) return false;
    const rows = await this.load({
      apis: wanted.filter((q) => q.kind === 'api').map((q) => q.id),
      plans: wanted.filter((q) => q.kind === 'plan').map((q) => q.id),
    });
    for (const q of wanted) this.looked.add(`${q.kind}:${q.id}`);
    let found = false;
    // Newest first: the first good version of each row wins.
    for (const api of rows.apis) {
      if (this.apis.has(api.id) || !ApiRowSchema.safeParse(api).success) continue;
      this.apis.set(api.id, api);
      found = true;
    }
    for (const plan of rows.plans) {
      const { entitlements: _entitlements, ...fields } = plan;
      if (this.plans.has(plan.id) || !PlanSchema.safeParse(fields).success) continue;
      this.plans.set(plan.id, plan);
      found = true;
    }
    return found;
  }
}
