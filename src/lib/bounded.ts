/**
 * At most `max` entries, the oldest dropped first, in O(1): two generations of `max / 2` entries; when the young
 * one is full it becomes the old one and the previous old one is dropped. (Evicting one by one from the front
 * of a single Map walks over V8's deleted slots on every eviction.)
 */
export class Bounded<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #half: number;

  /** Keeps between `max / 2` and `max` of the entries set most recently (at least one). */
  constructor(max: number) {
    this.#half = Math.max(1, max >> 1);
  }

  /** The value for `key`, if it is still kept. */
  get(key: K): V | undefined {
    return this.#young.get(key) ?? this.#old.get(key);
  }

  /** Whether `key` is still kept. */
  has(key: K): boolean {
    return this.#young.has(key) || this.#old.has(key);
  }

  /**
   * Keeps `value` for `key`, dropping the old generation if the young one is full. A string key is kept as a copy
   * of its own (see `detached`): the caches are keyed by cookie values cut out of a request's Cookie header.
   */
  set(key: K, value: V): void {
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(typeof key === 'string' ? (detached(key) as K) : key, value);
  }

  /** Forgets `key` in both generations. */
  delete(key: K): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }
}

/** The value for `key`, made once; a rejected promise is forgotten so the next call retries. */
export function memo<V>(map: Bounded<string, Promise<V>>, key: string, create: () => Promise<V>): Promise<V> {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
    value.catch(() => map.get(key) === value && map.delete(key));
  }
  return value;
}

/**
 * @internal `text` in a string of its own. JavaScript engines cut a substring (or join a concatenation) without
 * copying: the result keeps the whole string it came from alive, so a 70-character cookie value cut from a 32 KB
 * Cookie header keeps 32 KB in memory for as long as a cache holds it (the signer's 2,048 values: 66 MB on Node,
 * test/retention.node.test.ts). Joining a character in front makes the engine build a flat copy, and the slice
 * then points into that copy alone.
 */
export function detached(text: string): string {
  return ` ${text}`.slice(1);
}
