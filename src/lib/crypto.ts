import { getRandomValues, subtle } from 'uncrypto';
import { fromBase64Url, toBase64Url, utf8, utf8Strict } from './encoding.js';
import { Lru } from './lru.js';

/**
 * HMAC keys by secret, shared by every manager in the isolate: a Workers handler that builds its manager per
 * request imports each key once, on first use. Bounded so a program that keeps inventing secrets cannot grow
 * it without limit.
 */
const hmacKeys = new Lru<string, Promise<CryptoKey>>(64);

export function hmacKey(secret: string): Promise<CryptoKey> {
  return hmacKeys.memo(secret, () =>
    subtle.importKey('raw', utf8.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']),
  );
}

/**
 * Cookie values already checked in this isolate, per list of secrets: `name=id.tag` → index of the secret that
 * verified it, or -1 for a value that failed.
 *
 * Why this is safe: HMAC verification is a pure function of (secrets, message, tag), and an entry is only made
 * from what `subtle.verify` answered for that exact string under that exact list of secrets, so a hit answers
 * what verifying again would. Failures live in their own, smaller map, so a flood of forged values cannot push
 * valid ones out; a new forgery still pays its verify, a repeated one does not (a tampered cookie never costs
 * more than a valid one). A lookup reveals through timing at most whether a complete value was seen before,
 * which an attacker must already hold to ask. It says nothing about whether the session still exists: the store
 * is read as before, so a destroyed session stays dead.
 */
interface VerifiedCache {
  readonly valid: Lru<string, number>;
  readonly forged: Lru<string, true>;
}
const verifiedByList = new Lru<string, VerifiedCache>(16);

/** Length of a base64url HMAC-SHA256 tag: 32 bytes, 43 characters. */
export const TAG_LENGTH = 43;
// The 43rd character carries 4 data bits and 2 zero bits: only these 16 characters are canonical.
const TAG_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** Exactly 43 canonical base64url characters: anything else is malformed before any crypto. */
export function isTagShaped(tag: string): boolean {
  return tag.length === TAG_LENGTH && TAG_PATTERN.test(tag);
}

export async function signTag(secret: string, message: string): Promise<string> {
  const tag = await subtle.sign('HMAC', await hmacKey(secret), utf8.encode(message));
  return toBase64Url(new Uint8Array(tag));
}

/**
 * Index of the secret whose HMAC matches `tag`, or -1. The comparison is `subtle.verify`, constant-time in
 * every runtime we target; the tag's shape is checked first so malformed input costs no crypto.
 */
export async function verifyTag(secrets: readonly string[], message: string, tag: string): Promise<number> {
  if (!isTagShaped(tag)) return -1;
  const cache = verifiedByList.memo(secrets.length === 1 ? secrets[0]! : secrets.join('\u0000'), () => ({
    valid: new Lru<string, number>(2048),
    forged: new Lru<string, true>(256),
  }));
  const cacheKey = `${message}.${tag}`;
  const known = cache.valid.get(cacheKey);
  if (known !== undefined) return known;
  if (cache.forged.get(cacheKey) === true) return -1;
  const bytes = fromBase64Url(tag);
  if (bytes === null) return -1;
  const data = utf8.encode(message);
  for (let i = 0; i < secrets.length; i++) {
    if (await subtle.verify('HMAC', await hmacKey(secrets[i]!), bytes, data)) {
      cache.valid.set(cacheKey, i);
      return i;
    }
  }
  cache.forged.set(cacheKey, true);
  return -1;
}

/** 18 bytes (144 bits) from the CSPRNG, base64url: 24 characters. */
export function randomId(): string {
  return toBase64Url(getRandomValues(new Uint8Array(18)));
}

/** An AES-256-GCM key derived from a secret, and a short public fingerprint that names it in sealed cookies. */
export interface SealKey {
  readonly key: CryptoKey;
  /** 4 base64url characters (24 bits of SHA-256 of the derived key's context): picks the key without trying each. */
  readonly kid: string;
}

const sealKeys = new Lru<string, Promise<SealKey>>(64);
const SEAL_SALT = utf8.encode('edge-sessions/cookie-store/v1');
const SEAL_INFO = utf8.encode('aes-256-gcm');

/**
 * Derives (once per secret and isolate) the sealing key with HKDF-SHA256, so a stolen sealing key says nothing
 * about the HMAC key and no PBKDF2 ever runs on the request path.
 */
export function sealKey(secret: string): Promise<SealKey> {
  return sealKeys.memo(secret, async () => {
    const base = await subtle.importKey('raw', utf8.encode(secret), { name: 'HKDF' }, false, ['deriveKey']);
    const key = await subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: SEAL_SALT, info: SEAL_INFO },
      base,
      { name: 'AES-GCM', length: 256 },
      false,
      ['encrypt', 'decrypt'],
    );
    const digest = new Uint8Array(await subtle.digest('SHA-256', utf8.encode(`edge-sessions kid\u0000${secret}`)));
    return { key, kid: toBase64Url(digest.subarray(0, 3)) };
  });
}

/** AES-256-GCM with a random 96-bit IV; returns base64url(iv || ciphertext || tag). */
export async function seal(key: CryptoKey, plaintext: string, associatedData: string): Promise<string> {
  const iv = getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: utf8.encode(associatedData) }, key, utf8.encode(plaintext)),
  );
  const out = new Uint8Array(12 + sealed.length);
  out.set(iv, 0);
  out.set(sealed, 12);
  return toBase64Url(out);
}

/** The plaintext, or null if the text is not canonical base64url, too short, forged, or not UTF-8. */
export async function unseal(key: CryptoKey, text: string, associatedData: string): Promise<string | null> {
  const bytes = fromBase64Url(text);
  if (bytes === null || bytes.length < 12 + 16) return null;
  try {
    const plain = await subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: utf8.encode(associatedData) },
      key,
      bytes.subarray(12),
    );
    return utf8Strict.decode(new Uint8Array(plain));
  } catch {
    return null;
  }
}
