/**
 * Admits a cookie value to a cache on its second sighting only (TinyLFU's "doorkeeper"). A value seen once and
 * never again (a visitor whose cookie this isolate meets once) then costs its check and nothing more: no entry, no
 * copy of the value, nothing that outlives the young generation only to die in the old one. A value seen again
 * before another value took its slot is admitted: with `slots` slots, after n other values it still holds its slot
 * with probability (1 − 1/slots)^n (61 % after 1,024 others in 2,048 slots), so a returning visitor's third request
 * usually hits the cache.
 *
 * One fixed table of 32-bit fingerprints, one slot per fingerprint: a lookup allocates nothing, and a
 * collision only decides whether a value is cached, never what a check answers (an entry is made only from what
 * checking answered for that exact value).
 */
export class SecondSighting {
  readonly #seen: Uint32Array;
  readonly #mask: number;

  /** `slots` is rounded down to a power of two. */
  constructor(slots: number) {
    const size = 2 ** Math.floor(Math.log2(slots));
    this.#seen = new Uint32Array(size);
    this.#mask = size - 1;
  }

  /** Whether `value` was seen recently; if not, it is remembered, pushing out whatever shared its slot. */
  admit(value: string): boolean {
    const print = fingerprint(value);
    const slot = print & this.#mask;
    if (this.#seen[slot] === print) return true;
    this.#seen[slot] = print;
    return false;
  }
}

/**
 * FNV-1a over the last 16 characters, never 0 (an empty slot). A signed value and a sealed text both end in
 * their tag, whose characters are uniformly random for any value a key made; the tail is all this needs. Values
 * an attacker makes to share a tail share a slot, which can only decide whether they are cached.
 */
function fingerprint(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = Math.max(0, value.length - 16); i < value.length; i++) {
    hash = Math.imul(hash ^ value.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0 || 1;
}
