import { subtle } from 'uncrypto';
import { Bounded, memo } from './bounded.js';
import { toBase64Url, utf8 } from './encoding.js';
import { sha256 } from './hmac-sha256.js';

/** @internal A key derived from a secret for one purpose, and the public fingerprint that names it in cookies. */
export interface DerivedKey<K> {
  /** The derived key, usable for its purpose's operations only. */
  readonly key: K;
  /** 4 base64url characters (24 bits of SHA-256 over a label and the secret): picks the key without trying each. */
  readonly kid: string;
}

/** @internal HKDF-SHA256's parameters for one purpose, as `deriveKey` and `deriveBits` take them. */
export interface HkdfParams {
  readonly name: 'HKDF';
  readonly hash: 'SHA-256';
  readonly salt: Uint8Array;
  readonly info: Uint8Array;
}

/** @internal What a derived key is for: the HKDF `info`, how the key is made from it, and its kid's label. */
export interface KeyPurpose<K> {
  readonly info: string;
  /** The purpose's key from the secret's HKDF base key. */
  readonly derive: (base: CryptoKey, params: HkdfParams) => Promise<K>;
  readonly kidLabel: string;
  /** Keys already derived, by secret (bounded): one derivation per secret and isolate. */
  readonly keys: Bounded<string, Promise<DerivedKey<K>>>;
}

const SALT = utf8.encode('edge-sessions/cookie-store/v1');

/** @internal
 * Derives (once per secret and isolate) the key for `purpose` with HKDF-SHA256, so that no PBKDF2 ever runs on
 * the request path and a key stolen for one purpose says nothing about another's, or about the HMAC key that
 * signs session IDs.
 */
export function derivedKey<K>(secret: string, purpose: KeyPurpose<K>): Promise<DerivedKey<K>> {
  return memo(purpose.keys, secret, async () => {
    const base = await subtle.importKey('raw', utf8.encode(secret), { name: 'HKDF' }, false, [
      'deriveKey',
      'deriveBits',
    ]);
    const key = await purpose.derive(base, {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: SALT,
      info: utf8.encode(purpose.info),
    });
    const kid = toBase64Url(sha256(utf8.encode(`${purpose.kidLabel}\u0000${secret}`)).subarray(0, 3));
    return { key, kid };
  });
}
