import { getRandomValues, subtle } from 'uncrypto';
import { fromBase64Url, toBase64Url, utf8 } from './encoding.js';

/**
 * HMAC keys by secret, shared by every manager in the isolate: a Workers handler that builds its manager per
 * request imports each key once, on first use. Bounded so a program that keeps inventing secrets cannot grow
 * it without limit; a failed import is forgotten so the next call retries.
 */
const hmacKeys = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_KEYS = 64;

export function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (key === undefined) {
    if (hmacKeys.size >= MAX_CACHED_KEYS) hmacKeys.delete(hmacKeys.keys().next().value!);
    key = subtle.importKey('raw', utf8.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    hmacKeys.set(secret, key);
    key.catch(() => hmacKeys.delete(secret));
  }
  return key;
}

/** Length of a base64url HMAC-SHA256 tag: 32 bytes, 43 characters. */
export const TAG_LENGTH = 43;
// The 43rd character carries 4 data bits and 2 zero bits: only these 16 characters are canonical.
const TAG_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

export async function signTag(secret: string, message: string): Promise<string> {
  const tag = await subtle.sign('HMAC', await hmacKey(secret), utf8.encode(message));
  return toBase64Url(new Uint8Array(tag));
}

/**
 * Index of the secret whose HMAC matches `tag`, or -1. The comparison is `subtle.verify`, constant-time in
 * every runtime we target; the tag's shape is checked first so malformed input costs no crypto.
 */
export async function verifyTag(secrets: readonly string[], message: string, tag: string): Promise<number> {
  if (tag.length !== TAG_LENGTH || !TAG_PATTERN.test(tag)) return -1;
  const bytes = fromBase64Url(tag);
  if (bytes === null) return -1;
  const data = utf8.encode(message);
  for (let i = 0; i < secrets.length; i++) {
    if (await subtle.verify('HMAC', await hmacKey(secrets[i]!), bytes, data)) return i;
  }
  return -1;
}

/** 18 bytes (144 bits) from the CSPRNG, base64url: 24 characters. */
export function randomId(): string {
  return toBase64Url(getRandomValues(new Uint8Array(18)));
}
