/**
 * At most `concurrency` tasks at once and at most `queueLimit` waiting (first come, first
 * served); a task beyond both is refused at once rather than queued without bound.
 */
export class BoundedSemaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly queueLimit: number,
  ) {}

  /** Tasks running now and tasks waiting for a slot. */
  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  /** Runs `task` in a slot; null (without running it) when every slot and queue place is taken. */
  async tryRun<T>(task: () => Promise<T>): Promise<{ value: T } | null> {
    if (this.active < this.concurrency) this.active++;
    else if (this.waiting.length < this.queueLimit) {
      // release() hands its slot straight to us: `active` already counts this task
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else return null;
    try {
      return { value: await task() };
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
