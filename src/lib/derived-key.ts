import { subtle } from 'uncrypto';
import { Bounded, memo } from './bounded.js';
import { toBase64Url, utf8 } from './encoding.js';

/** @internal A key derived from a secret for one purpose, and the public fingerprint that names it in cookies. */
export interface DerivedKey {
  /** The derived key, usable for its purpose's operations only. */
  readonly key: CryptoKey;
  /** 4 base64url characters (24 bits of SHA-256 over a label and the secret): picks the key without trying each. */
  readonly kid: string;
}

/** @internal What a derived key is for: the HKDF `info`, the key's algorithm and uses, and its kid's label. */
export interface KeyPurpose {
  readonly info: string;
  readonly algorithm: { readonly name: string; readonly length: number; readonly hash?: string };
  readonly usages: ('encrypt' | 'decrypt' | 'sign' | 'verify')[];
  readonly kidLabel: string;
  /** Keys already derived, by secret (bounded): one derivation per secret and isolate. */
  readonly keys: Bounded<string, Promise<DerivedKey>>;
}

const SALT = utf8.encode('edge-sessions/cookie-store/v1');

/** @internal
 * Derives (once per secret and isolate) the key for `purpose` with HKDF-SHA256, so that no PBKDF2 ever runs on
 * the request path and a key stolen for one purpose says nothing about another's, or about the HMAC key that
 * signs session IDs.
 */
export function derivedKey(secret: string, purpose: KeyPurpose): Promise<DerivedKey> {
  return memo(purpose.keys, secret, async () => {
    const base = await subtle.importKey('raw', utf8.encode(secret), { name: 'HKDF' }, false, ['deriveKey']);
    const key = await subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: SALT, info: utf8.encode(purpose.info) },
      base,
      purpose.algorithm,
      false,
      purpose.usages,
    );
    const label = utf8.encode(`${purpose.kidLabel}\u0000${secret}`);
    const digest = new Uint8Array(await subtle.digest('SHA-256', label));
    return { key, kid: toBase64Url(digest.subarray(0, 3)) };
  });
}
