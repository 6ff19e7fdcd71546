import { subtle } from 'uncrypto';
import { Bounded } from './bounded.js';
import { derivedKey, type DerivedKey, type KeyPurpose } from './derived-key.js';
import { fromLongBase64Url, toBase64Url, utf8, utf8Strict } from './encoding.js';
import { randomBytes } from './random.js';

const SEALING: KeyPurpose<CryptoKey> = {
  info: 'aes-256-gcm',
  // Derived inside WebCrypto: the AES key's bytes never reach JavaScript.
  derive: (base, params) =>
    subtle.deriveKey(params, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']),
  kidLabel: 'edge-sessions kid',
  keys: new Bounded(64),
};

/** @internal The AES-256-GCM key derived from `secret`, and its kid. */
export const sealKey = (secret: string): Promise<DerivedKey<CryptoKey>> => derivedKey(secret, SEALING);

/** @internal The shortest sealed text: base64url of the IV and the tag alone (12 + 16 bytes), 38 characters. */
export const SEALED_MIN_LENGTH = 38;

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
