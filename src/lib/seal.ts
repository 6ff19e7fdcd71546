import { subtle } from 'uncrypto';
import { Bounded, memo } from './bounded.js';
import { fromLongBase64Url, toBase64Url, utf8, utf8Strict } from './encoding.js';
import { randomBytes } from './random.js';

/**
 * @internal An AES-256-GCM key derived from a secret, and a short public fingerprint that names it in sealed
 * cookies.
 */
export interface SealKey {
  /** The AES-256-GCM key, usable to encrypt and decrypt only. */
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
  const bytes = fromLongBase64Url(text);
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
