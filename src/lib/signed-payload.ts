import { subtle } from 'uncrypto';
import { Bounded } from './bounded.js';
import { derivedKey, type DerivedKey, type KeyPurpose } from './derived-key.js';
import { fromBase64Url, fromLongBase64Url, toBase64Url, utf8, utf8Strict } from './encoding.js';
import { HmacKey, sameTag } from './hmac-sha256.js';

// The signed-only form of the cookie store (`createCookieStore({ encrypt: false })`): the payload travels as
// base64url text anyone can decode, followed by an HMAC-SHA256 tag over the cookie name and that text.

/**
 * Whether WebCrypto is slow here: a promise that costs 12–27 µs per call on Node, Bun and Deno (on Node a trip
 * through the thread pool), told by `process.versions.node`, which Bun and Deno 2 report too. workerd reports it
 * as well under `nodejs_compat`, so it is ruled out first, by `WebSocketPair`: a global of its own, there whatever
 * the compatibility settings (its user agent, `Cloudflare-Workers`, is not: a Worker may run without the global
 * navigator). A runtime with neither is taken to have WebCrypto as cheap as workerd's.
 */
const SLOW_WEBCRYPTO = (() => {
  const g = globalThis as { WebSocketPair?: unknown; process?: { versions?: { node?: unknown } } };
  return typeof g.WebSocketPair !== 'function' && typeof g.process?.versions?.node === 'string';
})();

/**
 * @internal Up to this many signed bytes, the tag is computed in JavaScript (lib/hmac-sha256.ts), above it by
 * WebCrypto. A fixed cut per kind of runtime, from `PIN=1 node bench/hmac.mjs`: JavaScript costs about 0.4 µs per
 * 64 bytes, WebCrypto 2–4 µs in workerd and 11–29 µs on the others, rising slowly with length. In workerd the two
 * cost about the same near 250 bytes and JavaScript loses above: the cut is 256 bytes, which two short values in
 * a session's record (about 245 bytes with its times and ID) fit and a third does not. On Node, Bun and Deno
 * JavaScript stays faster past 2 KB (the closest, Deno: 11.94 against 13.72 µs at 2,048 bytes; it breaks even
 * near 2.5 KB): the cut is 2 KB.
 */
export const SYNC_MAX_BYTES = SLOW_WEBCRYPTO ? 2048 : 256;

/** @internal One derived HMAC-SHA256 key, in both forms: the same 32 bytes. */
export interface SigningKey {
  readonly sync: HmacKey;
  readonly web: CryptoKey;
}

const SIGNING: KeyPurpose<SigningKey> = {
  info: 'hmac-sha-256 signed payload',
  // The bits WebCrypto's deriveKey would give an HMAC-SHA256 key of 256 bits, so cookies signed before stay valid.
  async derive(base, params) {
    const bits = new Uint8Array(await subtle.deriveBits(params, base, 256));
    const web = await subtle.importKey('raw', bits, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const key = { sync: new HmacKey(bits), web };
    bits.fill(0);
    return key;
  },
  kidLabel: 'edge-sessions signed kid',
  keys: new Bounded(64),
};

/** @internal The HMAC-SHA256 key derived from `secret` (not the sealed form's, not the ID signer's), and its kid. */
export const signKey = (secret: string): Promise<DerivedKey<SigningKey>> => derivedKey(secret, SIGNING);

/** The tag: 32 bytes, 43 base64url characters, after a dot. */
const TAG_LENGTH = 43;

/** @internal The shortest signed text: one character of payload, the dot and the tag. */
export const SIGNED_MIN_LENGTH = 1 + 1 + TAG_LENGTH;

/**
 * The tag of `text`, by the one rule signing and checking share: in JavaScript up to SYNC_MAX_BYTES (no promise),
 * by WebCrypto above.
 */
function tagOf(key: SigningKey, text: string, associatedData: string): Uint8Array | Promise<Uint8Array> {
  // The cookie name binds the value to it, as the sealed form's associated data does.
  const bytes = utf8.encode(`${associatedData}=${text}`);
  if (bytes.length <= SYNC_MAX_BYTES) return key.sync.mac(bytes);
  return subtle.sign('HMAC', key.web, bytes).then((tag) => new Uint8Array(tag));
}

/** @internal base64url(UTF-8 plaintext) + `.` + base64url(HMAC-SHA256 over the associated data and that text). */
export async function signPayload(key: SigningKey, plaintext: string, associatedData: string): Promise<string> {
  const text = toBase64Url(utf8.encode(plaintext));
  const tag = await tagOf(key, text, associatedData);
  return `${text}.${toBase64Url(tag)}`;
}

/**
 * @internal The plaintext, or null if the tag does not verify, or the text is not canonical base64url or not
 * UTF-8. The tag is checked first: of a forged value, nothing but the tag is decoded.
 */
export async function verifyPayload(key: SigningKey, signed: string, associatedData: string): Promise<string | null> {
  const dot = signed.length - TAG_LENGTH - 1;
  if (dot < 1 || signed.charCodeAt(dot) !== 46 /* . */) return null;
  const tag = fromBase64Url(signed.slice(dot + 1));
  if (tag === null) return null;
  const text = signed.slice(0, dot);
  const computed = tagOf(key, text, associatedData);
  if (!sameTag(computed instanceof Uint8Array ? computed : await computed, tag)) return null;
  const plain = fromLongBase64Url(text);
  if (plain === null) return null;
  try {
    return utf8Strict.decode(plain);
  } catch {
    return null;
  }
}
