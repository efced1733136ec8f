import type { Log } from '../log.ts';

/**
 * Runs alert evaluation after stored batches without slowing the ingest: consumers touched by
 * batches are collected, and one evaluation at a time works through them (a consumer touched
 * by ten batches meanwhile is evaluated once, from its latest exact total).
 */
export interface AlertEvaluator {
  touched(consumerIds: Iterable<string>): void;
  /** Resolves when every consumer touched so far has been evaluated. */
  idle(): Promise<void>;
}

export function createAlertEvaluator(
  evaluate: (consumerIds: string[]) => Promise<unknown>,
  log: Log,
  retryMs = 1000,
): AlertEvaluator {
  let dirty = new Set<string>();
  let running: Promise<void> | null = null;

  async function loop(): Promise<void> {
    while (dirty.size > 0) {
      const batch = [...dirty];
      dirty = new Set();
      try {
        await evaluate(batch);
      } catch (err) {
        log.warn({ err }, 'alert evaluation failed: retrying');
        for (const id of batch) dirty.add(id);
        await new Promise((r) => setTimeout(r, retryMs));
      }
    }
  }

  function kick(): void {
    if (running !== null) return;
    running = loop().finally(() => {
      running = null;
      if (dirty.size > 0) kick();
    });
  }

  return {
    touched(consumerIds) {
      for (const id of consumerIds) dirty.add(id);
      kick();
    },
    async idle() {
      while (running !== null) await running;
    },
  };
}
