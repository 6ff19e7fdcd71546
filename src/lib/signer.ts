import { subtle } from 'uncrypto';
import { Bounded, memo } from './bounded.js';
import { fromBase64Url, toBase64Url, utf8 } from './encoding.js';

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
