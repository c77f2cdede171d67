/** How far an {@link OrderedReadAhead} runs ahead of its consumer. */
export interface ReadAheadDepth {
  /** Loads under way at most (started, not finished); asked again at each refill. */
  loading: () => number;
  /**
   * Items held at most behind the one being taken, finished or not (bounds memory); default:
   * `loading()`.
   */
  held?: number;
}

/**
 * Items `from..to-1` loaded in order, with loads under way ahead of the consumer, taken one by
 * one in order: a stream of an image's chunks that hides each load's latency behind the ones
 * before it. A load that finishes makes room for the next at once, so a slow item at the head of
 * the line does not stop the others (up to `held` items). A load that fails rejects when its turn
 * comes; loads already started run on. Runtime-neutral.
 */
export class OrderedReadAhead<T> {
  private readonly pending: Promise<T>[] = [];
  private next: number;
  private loading = 0;

  constructor(
    private readonly load: (index: number) => Promise<T>,
    from: number,
    private readonly to: number,
    private readonly depth: ReadAheadDepth,
  ) {
    this.next = from;
  }

  /** Whether every item has been taken. */
  get done(): boolean {
    return this.pending.length === 0 && this.next >= this.to;
  }

  /** The next item in order, once loaded; starts the loads ahead of it. */
  async take(): Promise<T> {
    this.fill();
    const head = this.pending.shift();
    if (!head) throw new RangeError("OrderedReadAhead: every item was taken");
    const item = await head;
    this.fill();
    return item;
  }

  /** Forgets the loads under way (they run on, their results dropped). */
  cancel(): void {
    this.pending.length = 0;
    this.next = this.to;
  }

  private fill(): void {
    const loading = Math.max(1, this.depth.loading());
    const held = Math.max(1, this.depth.held ?? loading);
    while (this.loading < loading && this.pending.length < held && this.next < this.to) {
      this.loading++;
      const started = this.load(this.next++);
      started
        .catch(() => undefined)
        .finally(() => {
          this.loading--;
          this.fill();
        });
      this.pending.push(started);
    }
  }
}
