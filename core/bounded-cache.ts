/**
 * A map of at most `limit` entries, each built on first use and reused after: for what is costly
 * to make and asked for again (parsed keys, TLS contexts), bounded against inputs that never
 * repeat. The least recently used entry goes first, so what every caller shares (a fleet's
 * claim credentials, its signing key) stays while one-off entries pass through. A `build` that
 * throws caches nothing.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a cache holds at least one entry, not ${limit}`);
  }

  get(key: K, build: () => V): V {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = build();
      if (this.entries.size >= this.limit) {
        const leastRecent = this.entries.keys().next();
        if (!leastRecent.done) this.entries.delete(leastRecent.value);
      }
    } else {
      // Map keeps insertion order: moving the entry to the end marks it most recently used.
      this.entries.delete(key);
    }
    this.entries.set(key, entry);
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }
}
