import { getRandomValues, subtle } from 'uncrypto';
import { fromBase64Url, toBase64Url, utf8, utf8Strict } from './encoding.js';

/**
 * At most `max` entries, the oldest dropped first, in O(1): two generations of `max / 2` entries; when the young
 * one is full it becomes the old one and the previous old one is dropped. (Evicting one by one from the front
 * of a single Map walks over V8's deleted slots on every eviction.)
 */
export class Bounded<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #half: number;

  constructor(max: number) {
    this.#half = Math.max(1, max >> 1);
  }

  get(key: K): V | undefined {
    return this.#young.get(key) ?? this.#old.get(key);
  }

  has(key: K): boolean {
    return this.#young.has(key) || this.#old.has(key);
  }

  set(key: K, value: V): void {
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  delete(key: K): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }
}

/** The value for `key`, made once; a rejected promise is forgotten so the next call retries. */
function memo<V>(map: Bounded<string, Promise<V>>, key: string, create: () => Promise<V>): Promise<V> {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
    value.catch(() => map.get(key) === value && map.delete(key));
  }
  return value;
}

/** HMAC keys by secret, imported once per isolate and shared by every manager (bounded). */
const hmacKeys = new Bounded<string, Promise<CryptoKey>>(64);

function hmacKey(secret: string): Promise<CryptoKey> {
  return memo(hmacKeys, secret, () =>
    subtle.importKey('raw', utf8.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']),
  );
}

/** Length of a base64url HMAC-SHA256 tag: 32 bytes, 43 characters. */
const TAG_LENGTH = 43;
// The 43rd character carries 4 data bits and 2 zero bits: only these 16 characters are canonical.
const TAG_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** Exactly 43 canonical base64url characters: anything else is malformed before any crypto. */
export function isTagShaped(tag: string): boolean {
  return tag.length === TAG_LENGTH && TAG_PATTERN.test(tag);
}

/** Signs and checks `ID.TAG` cookie values for one list of secrets and one cookie name. */
export interface Signer {
  /** The tag of `id` under `secrets[0]`, over `name=id`. */
  sign(id: string): Promise<string>;
  /**
   * Index of the secret whose HMAC of `name=id` is `tag` (the caller checked its shape), or -1. `value` is the
   * whole cookie value `id.tag`. Answers synchronously for a value this isolate has already checked.
   */
  check(id: string, tag: string, value: string): number | Promise<number>;
}

const signers = new Bounded<string, Signer>(32);

/**
 * The signer for `secrets` and `cookieName`, shared by every manager in the isolate with the same ones: a
 * Workers handler that builds its manager per request pays no crypto set-up and keeps the caches below.
 *
 * Those caches remember cookie values already checked: `id.tag` → index of the secret that verified it, or a
 * forgery. Why this is safe: HMAC verification is a pure function of (secrets, message, tag), and an entry is
 * only made from what `subtle.verify` answered for that exact string under these exact secrets and name, so a
 * hit answers what verifying again would. Forgeries live in their own, smaller map, so a flood of them cannot
 * push valid values out; a new forgery still pays its verify, a repeated one does not (a tampered cookie never
 * costs more than a valid one). A lookup reveals through timing at most whether a complete value was seen
 * before, which an attacker must already hold to ask. It says nothing about whether the session still exists:
 * the store is read as before, so a destroyed session stays dead. Both maps are bounded (first in, first out).
 */
export function signerFor(secrets: readonly string[], cookieName: string): Signer {
  // JSON, not a join: no secret's content can make two different lists look alike.
  const id = JSON.stringify([cookieName, ...secrets]);
  let signer = signers.get(id);
  if (signer === undefined) {
    signer = createSigner(secrets, cookieName);
    signers.set(id, signer);
  }
  return signer;
}

function createSigner(secrets: readonly string[], cookieName: string): Signer {
  const valid = new Bounded<string, number>(2048);
  const forged = new Bounded<string, true>(256);
  const keys: CryptoKey[] = [];
  const message = (id: string) => utf8.encode(`${cookieName}=${id}`);
  const key = async (i: number) => (keys[i] ??= await hmacKey(secrets[i]!));

  async function verify(id: string, tag: string, value: string): Promise<number> {
    const bytes = fromBase64Url(tag)!;
    const data = message(id);
    for (let i = 0; i < secrets.length; i++) {
      if (await subtle.verify('HMAC', keys[i] ?? (await key(i)), bytes, data)) {
        valid.set(value, i);
        return i;
      }
    }
    forged.set(value, true);
    return -1;
  }

  return {
    async sign(id) {
      return toBase64Url(new Uint8Array(await subtle.sign('HMAC', keys[0] ?? (await key(0)), message(id))));
    },
    check(id, tag, value) {
      const known = valid.get(value);
      if (known !== undefined) return known;
      return forged.has(value) ? -1 : verify(id, tag, value);
    },
  };
}

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

/** @internal An AES-256-GCM key derived from a secret, and a short public fingerprint that names it in sealed cookies. */
export interface SealKey {
  readonly key: CryptoKey;
  /** 4 base64url characters (24 bits of SHA-256 of the derived key's context): picks the key without trying each. */
  readonly kid: string;
}

const sealKeys = new Bounded<string, Promise<SealKey>>(64);
const SEAL_SALT = utf8.encode('edge-sessions/cookie-store/v1');
const SEAL_INFO = utf8.encode('aes-256-gcm');

/** @internal
 * Derives (once per secret and isolate) the sealing key with HKDF-SHA256, so a stolen sealing key says nothing
 * about the HMAC key and no PBKDF2 ever runs on the request path.
 */
export function sealKey(secret: string): Promise<SealKey> {
  return memo(sealKeys, secret, async () => {
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

/** @internal AES-256-GCM with a random 96-bit IV; returns base64url(iv || ciphertext || tag). */
export async function seal(key: CryptoKey, plaintext: string, associatedData: string): Promise<string> {
  const iv = randomBytes(12);
  const sealed = await subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: utf8.encode(associatedData) },
    key,
    utf8.encode(plaintext),
  );
  // 12 bytes are exactly 16 characters, so the two encodings join without a copy of the bytes.
  return toBase64Url(iv) + toBase64Url(new Uint8Array(sealed));
}

/** @internal The plaintext, or null if the text is not canonical base64url, too short, forged, or not UTF-8. */
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
