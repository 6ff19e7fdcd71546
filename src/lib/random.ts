import { getRandomValues } from 'uncrypto';
import { toBase64Url } from './encoding.js';

// CSPRNG bytes are drawn 1 KB at a time and handed out once each (as Node's randomUUID does): a
// getRandomValues call has a fixed cost that dwarfs 18 bytes on Node 20, and a new session needs 18 bytes (and
// 12 more for a seal's IV). Each pool is a fresh array, so bytes already handed out are never overwritten.
const POOL_BYTES = 1024;
let pool: Uint8Array<ArrayBuffer> = new Uint8Array(0);
let used = 0;

/** @internal `n` (<= 1024) bytes from the CSPRNG, never handed out before. */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  if (used + n > pool.length) {
    pool = getRandomValues(new Uint8Array(POOL_BYTES));
    used = 0;
  }
  return pool.subarray(used, (used += n));
}

/** 18 bytes (144 bits) from the CSPRNG, base64url: 24 characters. */
export function randomId(): string {
  return toBase64Url(randomBytes(18));
}
