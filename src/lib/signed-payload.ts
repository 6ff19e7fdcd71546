import { subtle } from 'uncrypto';
import { Bounded } from './bounded.js';
import { derivedKey, type DerivedKey, type KeyPurpose } from './derived-key.js';
import { fromBase64Url, fromLongBase64Url, toBase64Url, utf8, utf8Strict } from './encoding.js';

// The signed-only form of the cookie store (`createCookieStore({ encrypt: false })`): the payload travels as
// base64url text anyone can decode, followed by an HMAC-SHA256 tag over the cookie name and that text.

const SIGNING: KeyPurpose = {
  info: 'hmac-sha-256 signed payload',
  algorithm: { name: 'HMAC', hash: 'SHA-256', length: 256 },
  usages: ['sign', 'verify'],
  kidLabel: 'edge-sessions signed kid',
  keys: new Bounded(64),
};

/** @internal The HMAC-SHA256 key derived from `secret` (not the sealed form's, not the ID signer's), and its kid. */
export const signKey = (secret: string): Promise<DerivedKey> => derivedKey(secret, SIGNING);

/** The tag: 32 bytes, 43 base64url characters, after a dot. */
const TAG_LENGTH = 43;

/** @internal The shortest signed text: one character of payload, the dot and the tag. */
export const SIGNED_MIN_LENGTH = 1 + 1 + TAG_LENGTH;

/** What the tag covers: the cookie name binds the value to it, as the sealed form's associated data does. */
function signedBytes(text: string, associatedData: string) {
  return utf8.encode(`${associatedData}=${text}`);
}

/** @internal base64url(UTF-8 plaintext) + `.` + base64url(HMAC-SHA256 over the associated data and that text). */
export async function signPayload(key: CryptoKey, plaintext: string, associatedData: string): Promise<string> {
  const text = toBase64Url(utf8.encode(plaintext));
  const tag = new Uint8Array(await subtle.sign('HMAC', key, signedBytes(text, associatedData)));
  return `${text}.${toBase64Url(tag)}`;
}

/**
 * @internal The plaintext, or null if the tag does not verify, or the text is not canonical base64url or not
 * UTF-8. The tag is checked first: of a forged value, nothing but the tag is decoded.
 */
export async function verifyPayload(key: CryptoKey, signed: string, associatedData: string): Promise<string | null> {
  const dot = signed.length - TAG_LENGTH - 1;
  if (dot < 1 || signed.charCodeAt(dot) !== 46 /* . */) return null;
  const tag = fromBase64Url(signed.slice(dot + 1));
  if (tag === null) return null;
  const text = signed.slice(0, dot);
  if (!(await subtle.verify('HMAC', key, tag, signedBytes(text, associatedData)))) return null;
  const bytes = fromLongBase64Url(text);
  if (bytes === null) return null;
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return null;
  }
}
