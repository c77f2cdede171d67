import { type Urgency, urgent, WaitingLine } from "./waiting-line.js";

/**
 * Runs async tasks with at most `limit` running at once; the others wait their turn, urgent ones
 * first (lib/waiting-line.ts), each kind first come first served.
 */
export class Limiter {
  private running = 0;
  private readonly waiting = new WaitingLine();
  private readonly started = new Set<Promise<void>>();
  private failed?: { error: unknown };

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`a limiter's limit must be a positive integer, not ${limit}`);
    }
  }

  /**
   * Runs `task` once fewer than `limit` tasks run, before any waiting task less urgent; resolves
   * or rejects as it does.
   */
  async run<T>(task: () => Promise<T>, urgency: Urgency = urgent()): Promise<T> {
    await this.acquire(urgency);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /**
   * Starts `task` once fewer than `limit` tasks run, and returns without waiting for it (so a
   * producer is held back while the limit is reached). A task that fails makes the next
   * {@link start} and {@link drain} throw its error.
   */
  async start(task: () => Promise<void>): Promise<void> {
    await this.acquire(urgent());
    if (this.failed) {
      this.release();
      throw this.failed.error;
    }
    const promise: Promise<void> = task()
      .catch((error: unknown) => {
        this.failed ??= { error };
      })
      .finally(() => {
        this.started.delete(promise);
        this.release();
      });
    this.started.add(promise);
  }

  /** Waits for every task {@link start}ed; throws the first failure. */
  async drain(): Promise<void> {
    while (this.started.size > 0) await Promise.all(this.started);
    if (this.failed) throw this.failed.error;
  }

  private async acquire(urgency: Urgency): Promise<void> {
    if (this.running >= this.limit) {
      await this.waiting.wait(urgency);
    } else {
      this.running++;
    }
  }

  /** Hands the slot to the next waiting task, if any, else frees it. */
  private release(): void {
    if (!this.waiting.wakeNext()) this.running--;
  }
}

/**
 * Calls `task` for each item, in order, with at most `limit` calls running at once; resolves when
 * all are done, rejects with the first failure (the calls already started run on).
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  const limiter = new Limiter(limit);
  await Promise.all(items.map((item, index) => limiter.run(() => task(item, index))));
}
