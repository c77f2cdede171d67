/**
 * How soon a caller needs what it waits for. A read that a reader (a booting machine, `fetch`)
 * waits on is urgent; prefetch and read-ahead are not, and give way to it. Shared and mutable: a
 * read that joins a load queued for prefetch makes that load urgent where it waits.
 */
export interface Urgency {
  urgent: boolean;
}

/** An urgent caller's urgency. */
export const urgent = (): Urgency => ({ urgent: true });

/** A background caller's urgency (prefetch, read-ahead): raised if a read joins it. */
export const background = (): Urgency => ({ urgent: false });

/**
 * Callers waiting their turn for a slot: urgent ones first, each kind first come first served.
 * An urgency raised while its caller waits moves it ahead of the background callers. Runtime-neutral.
 */
export class WaitingLine {
  private readonly entries: { wake: () => void; urgency: Urgency }[] = [];

  /** How many wait. */
  get length(): number {
    return this.entries.length;
  }

  /** Resolves when {@link wakeNext} picks this caller. */
  wait(urgency: Urgency): Promise<void> {
    return new Promise((wake) => this.entries.push({ wake, urgency }));
  }

  /** Whether an urgent caller waits. */
  hasUrgent(): boolean {
    return this.entries.some((entry) => entry.urgency.urgent);
  }

  /**
   * Wakes the first urgent caller, else (when `backgroundToo`) the first caller; says whether one
   * was woken.
   */
  wakeNext(backgroundToo = true): boolean {
    let index = this.entries.findIndex((entry) => entry.urgency.urgent);
    if (index < 0 && backgroundToo && this.entries.length > 0) index = 0;
    if (index < 0) return false;
    const [entry] = this.entries.splice(index, 1);
    entry?.wake();
    return true;
  }
}
