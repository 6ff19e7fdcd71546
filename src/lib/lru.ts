/** A Map bounded to `max` entries; reading an entry makes it the newest, the oldest goes first. */
export class Lru<K, V> {
  readonly #map = new Map<K, V>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(key, value);
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  /** The value for `key`, made by `create` on a miss; a rejected promise is forgotten so the next call retries. */
  memo(key: K, create: () => V): V {
    let value = this.get(key);
    if (value === undefined) {
      value = create();
      this.set(key, value);
      if (value instanceof Promise) value.catch(() => this.#map.get(key) === value && this.#map.delete(key));
    }
    return value;
  }
}
