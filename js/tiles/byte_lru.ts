// A map that holds at most a budget of bytes, dropping the least recently used entries first
// (the page's tile cache; attn_widget keeps its own on the Python side). Reading an entry with
// `get` makes it the most recent; `has` only looks.

export class ByteLru<K, V> {
  private readonly entries = new Map<K, V>(); // in use order: least recent first
  private total = 0;

  constructor(
    private readonly budget: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  /** The entry, now the most recently used, or undefined. */
  get(key: K): V | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Store as the most recent, then drop the least recent until the bytes fit; the newest entry
   * stays even when it alone is over the budget. */
  set(key: K, value: V): void {
    const old = this.entries.get(key);
    if (old !== undefined) this.total -= this.sizeOf(old);
    this.entries.delete(key);
    this.entries.set(key, value);
    this.total += this.sizeOf(value);
    while (this.total > this.budget && this.entries.size > 1) {
      const [oldest, dropped] = this.entries.entries().next().value as [K, V];
      this.entries.delete(oldest);
      this.total -= this.sizeOf(dropped);
    }
  }

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }
}
