/**
 * Items `from..to-1` loaded in order, with up to `depth()` loads under way ahead of the consumer
 * (asked again at each refill, so that an adaptive window can move it), taken one by one in
 * order: a stream of an image's chunks that hides each load's latency behind the ones before it.
 * A load that fails rejects when its turn comes; loads already started run on. Runtime-neutral.
 */
export class OrderedReadAhead<T> {
  private readonly pending: Promise<T>[] = [];
  private next: number;

  constructor(
    private readonly load: (index: number) => Promise<T>,
    from: number,
    private readonly to: number,
    private readonly depth: () => number,
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
    const depth = Math.max(1, this.depth());
    while (this.pending.length < depth && this.next < this.to) {
      const loading = this.load(this.next++);
      loading.catch(() => undefined);
      this.pending.push(loading);
    }
  }
}
