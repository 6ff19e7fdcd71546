// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) in plain JavaScript, synchronous.
//
// Why not WebCrypto: a session cookie's tag covers a few dozen bytes, and for that the call itself is the cost.
// `subtle.verify` is a promise on every runtime and, on Node, a trip through the libuv thread pool: checking a tag
// over 40 bytes took 11.9–25.9 µs on Node, Bun and Deno (one core) against 1.4–2.7 µs here, and 2.3 against 1.6 µs
// in workerd (`PIN=1 node bench/hmac.mjs`, bench/RESULTS.md). The function is the standard one, checked against
// WebCrypto for every message length up to three blocks and for long keys (test/hmac-sha256.test.ts, on every
// runtime). It is constant-time as far as JavaScript allows: only 32-bit additions, rotations and logic on the
// data, no table indexed by it, no branch on it; tags compare in full.
// The key's pads are hashed once (`HmacKey`), so a tag over a short message costs two compressions.

// FIPS 180-4 §4.2.2 and §5.3.3: the first 32 bits of the fractional parts of the cube roots of the first 64
// primes (K) and of the square roots of the first 8 (the initial state), computed from that definition: a double
// has bits to spare for them, and the known-answer tests would fail on a single wrong bit.
const PRIMES: number[] = [];
for (let n = 2; PRIMES.length < 64; n++) if (PRIMES.every((p) => n % p !== 0)) PRIMES.push(n);
const fraction32 = (x: number) => ((x - Math.floor(x)) * 0x1_0000_0000) | 0;
const K = Int32Array.from(PRIMES, (p) => fraction32(Math.cbrt(p)));
const INITIAL = PRIMES.slice(0, 8).map((p) => fraction32(Math.sqrt(p)));
const BLOCK = 64;

// Scratch space, shared: every call runs to its end synchronously, so no two calls ever use it at once. A check
// (`verify`) allocates nothing.
const schedule = new Int32Array(64);
const tail = new Uint8Array(2 * BLOCK);
const state = new Int32Array(8);
const innerDigest = new Uint8Array(32);
const expected = new Uint8Array(32);

/** One compression of the 64-byte block at `bytes[offset]` into `state`. */
function compress(state: Int32Array, bytes: Uint8Array, offset: number): void {
  const w = schedule;
  for (let i = 0; i < 16; i++, offset += 4) {
    w[i] = (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (s1 + w[i - 7]! + s0 + w[i - 16]!) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/**
 * Into `digest`: the digest of the first `length` bytes of `message`, hashed on from `state`, which has already
 * absorbed `absorbed` bytes (whole blocks): the message's whole blocks, then the padding (0x80, zeros, the total
 * length in bits, big-endian).
 */
function finish(state: Int32Array, absorbed: number, message: Uint8Array, length: number, digest: Uint8Array): void {
  const whole = length - (length % BLOCK);
  for (let offset = 0; offset < whole; offset += BLOCK) compress(state, message, offset);
  const rest = length - whole;
  const end = rest < BLOCK - 8 ? BLOCK : 2 * BLOCK;
  tail.fill(0, 0, end);
  for (let i = 0; i < rest; i++) tail[i] = message[whole + i]!;
  tail[rest] = 0x80;
  const bits = (absorbed + length) * 8;
  const high = Math.floor(bits / 0x1_0000_0000);
  for (let i = 0; i < 4; i++) {
    tail[end - 1 - i] = bits >>> (8 * i);
    tail[end - 5 - i] = high >>> (8 * i);
  }
  compress(state, tail, 0);
  if (end > BLOCK) compress(state, tail, BLOCK);
  for (let i = 0; i < 8; i++) {
    const word = state[i]!;
    digest[4 * i] = word >>> 24;
    digest[4 * i + 1] = word >>> 16;
    digest[4 * i + 2] = word >>> 8;
    digest[4 * i + 3] = word;
  }
}

/** SHA-256 of `message`: 32 bytes. */
export function sha256(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const digest = new Uint8Array(32);
  finish(Int32Array.from(INITIAL), 0, message, message.length, digest);
  return digest;
}

/** An HMAC-SHA256 key: its inner and outer pads hashed once, so each tag starts from them. */
export class HmacKey {
  readonly #inner: Int32Array;
  readonly #outer: Int32Array;

  /** `key`: any length; one longer than a block is hashed first, as RFC 2104 §2 says. */
  constructor(key: Uint8Array) {
    const padded = new Uint8Array(BLOCK);
    padded.set(key.length > BLOCK ? sha256(key) : key);
    this.#inner = Int32Array.from(INITIAL);
    this.#outer = Int32Array.from(INITIAL);
    for (let i = 0; i < BLOCK; i++) padded[i]! ^= 0x36;
    compress(this.#inner, padded, 0);
    for (let i = 0; i < BLOCK; i++) padded[i]! ^= 0x36 ^ 0x5c;
    compress(this.#outer, padded, 0);
    padded.fill(0);
  }

  /** The 32-byte tag of the first `length` bytes of `message`. */
  mac(message: Uint8Array, length = message.length): Uint8Array<ArrayBuffer> {
    const tag = new Uint8Array(32);
    this.tagInto(message, length, tag);
    return tag;
  }

  /** Whether `tag` is the tag of the first `length` bytes of `message` (see `sameTag`). */
  verify(tag: Uint8Array, message: Uint8Array, length = message.length): boolean {
    this.tagInto(message, length, expected);
    return sameTag(expected, tag);
  }

  /** Writes into `tag` the 32-byte tag of the first `length` bytes of `message`: every HMAC goes through here. */
  tagInto(message: Uint8Array, length: number, tag: Uint8Array): void {
    if (length > message.length) throw new RangeError(`HMAC over ${length} bytes of a ${message.length}-byte buffer`);
    state.set(this.#inner);
    finish(state, BLOCK, message, length, innerDigest);
    state.set(this.#outer);
    finish(state, BLOCK, innerDigest, 32, tag);
  }
}

/** Whether `tag` equals `expected`, compared in full whatever differs (no early exit); lengths are public. */
export function sameTag(expected: Uint8Array, tag: Uint8Array): boolean {
  if (tag.length !== expected.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= expected[i]! ^ tag[i]!;
  return difference === 0;
}
