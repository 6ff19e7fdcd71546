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

  /** Keeps `value` for `key`, dropping the old generation if the young one is full. */
  set(key: K, value: V): void {
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
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
