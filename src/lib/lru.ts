/** The bounds of an {@link LruMap}; either or both may be given. */
export interface LruBounds<V> {
  /** Entries held at most. */
  maxEntries?: number;
  /** Total weight held at most, each value weighing `weigh(value)`. */
  maxWeight?: number;
  weigh?: (value: V) => number;
}

/**
 * A map that holds its most recently used entries within its bounds: setting an entry drops the
 * least recently used ones until the map fits again. Reading with {@link get} counts as a use. A
 * value heavier than `maxWeight` on its own is not held.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();
  private totalWeight = 0;

  constructor(private readonly bounds: LruBounds<V>) {}

  /** The value of `key`, now the most recently used; undefined if not held. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Holds `value` under `key` as the most recently used entry, dropping the oldest beyond the bounds. */
  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.weightOf(value);
    if (weight > (this.bounds.maxWeight ?? Number.POSITIVE_INFINITY)) return;
    this.entries.set(key, value);
    this.totalWeight += weight;
    const maxEntries = this.bounds.maxEntries ?? Number.POSITIVE_INFINITY;
    const maxWeight = this.bounds.maxWeight ?? Number.POSITIVE_INFINITY;
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= maxEntries && this.totalWeight <= maxWeight) break;
      this.delete(oldest);
    }
  }

  /** Forgets `key`; true if it was held. */
  delete(key: K): boolean {
    const value = this.entries.get(key);
    if (value === undefined) return false;
    this.entries.delete(key);
    this.totalWeight -= this.weightOf(value);
    return true;
  }

  /** Entries held. */
  get size(): number {
    return this.entries.size;
  }

  /** Total weight of the values held. */
  get weight(): number {
    return this.totalWeight;
  }

  private weightOf(value: V): number {
    return this.bounds.weigh?.(value) ?? 0;
  }
}
