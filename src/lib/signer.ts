import { Bounded, detached } from './bounded.js';
import { fromBase64Url, toBase64Url, utf8 } from './encoding.js';
import { HmacKey, sha256 } from './hmac-sha256.js';
import { ID_PATTERN } from './ids.js';
import { SecondSighting } from './second-sighting.js';

/**
 * The 2 base64url characters (12 bits of SHA-256 over a label and the secret) that name `secret` in a signed
 * value, so that opening one costs at most the HMACs of the secrets sharing its kid, not one per secret. Public,
 * like the cookie store's 4-character kid, but under a label of its own: the two fingerprints are unrelated.
 */
function kidOf(secret: string): string {
  return toBase64Url(sha256(utf8.encode(`edge-sessions signer kid\u0000${secret}`)).subarray(0, 3)).slice(0, 2);
}

/** What follows the dot: the kid (2 characters) and a base64url HMAC-SHA256 tag (32 bytes, 43 characters). */
const SUFFIX_LENGTH = 2 + 43;
// Any base64url characters, except the tag's 43rd: it carries 4 data bits and 2 zero bits, so only these 16
// characters are canonical (a non-canonical tag would give a second spelling of one signature).
const SUFFIX_PATTERN = /^[A-Za-z0-9_-]{44}[AEIMQUYcgkosw048]$/;

/** A signed cookie value opened: the session ID, and which secret signed it. */
export interface OpenedValue {
  /** The session ID (matches `ID_PATTERN`). */
  readonly id: string;
  /** Index in `secrets` of the secret whose HMAC verified: 0 is current, above 0 means re-sign. */
  readonly secret: number;
}

/** Signs and checks `id.` + kid + tag cookie values for one list of secrets and one cookie name. */
export interface Signer {
  /**
   * The cookie value for `id` (`id.` + the signing secret's kid + tag), signed with `secrets[0]`. `id` matches
   * `ID_PATTERN`: the session checks every ID it makes before it signs one.
   */
  sign(id: string): string;
  /** ID and index of the secret that signed it, or why not: 'malformed' (shape), 'signature' (forged, unknown key). */
  open(value: string): OpenedValue | 'malformed' | 'signature';
}

const signers = new Bounded<string, Signer>(32);

/**
 * The signer for `secrets` and `cookieName`, shared by every manager in the isolate with the same ones: a
 * Workers handler that builds its manager per request prepares no keys again and keeps the caches below.
 *
 * A value is `id.` + kid + tag: the tag is the HMAC-SHA256 of `name=id` under the secret the kid names. Opening
 * verifies only with the secrets whose kid matches (more than one only if two secrets share a kid), so a forgery
 * costs at most one HMAC however many secrets are listed, and one naming no secret costs none. The kid is outside
 * the MAC on purpose: it only chooses the key, and a tag verifies under its own secret alone, so changing the kid
 * gives a value that fails, never a second spelling of a valid one. Everything is synchronous (lib/hmac-sha256.ts
 * says why the HMAC is not WebCrypto's).
 *
 * The caches remember cookie values already checked: the whole value → its ID and the index of the secret that
 * verified it, or a forgery. A lookup costs less than the HMAC it saves (in workerd, dropping them made a returning
 * visitor's read 0.3× the floor slower: bench/RESULTS.md). Why this is safe: HMAC verification is a pure function
 * of (secrets, message, tag), and an entry is only made from what verifying answered for that exact string under
 * these exact secrets and name, so a hit answers what verifying again would. Forgeries live in their own, smaller
 * map, so a flood of them cannot push valid values out; a new forgery still pays its HMAC, a repeated one only on
 * its first two sightings (a tampered cookie never costs more than a valid one). Only forgeries that cost an HMAC
 * are kept: one whose kid names no secret is refused again for free, and must not push out those that cost. A
 * lookup reveals through timing at most whether a complete value was seen before, which an attacker must already
 * hold to ask. It says nothing about whether the session still exists: the store is read as before, so a destroyed
 * session stays dead. Both maps are bounded (first in, first out), and a value enters one only on its second sighting
 * (lib/second-sighting.ts), each map with a table of sightings of its own, so forgeries cannot push valid values
 * out of that table either: an honest cookie the isolate meets once costs its HMAC and leaves nothing behind.
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
  const valid = new Bounded<string, OpenedValue>(2048);
  const forged = new Bounded<string, true>(256);
  const seenValid = new SecondSighting(2048);
  const seenForged = new SecondSighting(256);
  const keys = secrets.map((secret) => new HmacKey(utf8.encode(secret)));
  const kids = secrets.map(kidOf);
  // The signed message, `name=id`, written into one buffer per signer: the name once, the ID's characters on each
  // use (an ID is base64url, so each character is its byte). No TextEncoder call, no allocation per check.
  const prefix = utf8.encode(`${cookieName}=`);
  const message = new Uint8Array(prefix.length + 128);
  message.set(prefix);
  const messageOf = (id: string): number => {
    for (let i = 0; i < id.length; i++) message[prefix.length + i] = id.charCodeAt(i);
    return prefix.length + id.length;
  };

  return {
    sign(id) {
      return `${id}.${kids[0]!}${toBase64Url(keys[0]!.mac(message, messageOf(id)))}`;
    },
    open(value) {
      // Shape first, in O(1) before any pattern: malformed input costs no HMAC.
      const dot = value.length - SUFFIX_LENGTH - 1;
      if (dot <= 0 || value.charCodeAt(dot) !== 46 /* . */) return 'malformed';
      const id = value.slice(0, dot);
      const suffix = value.slice(dot + 1);
      if (!ID_PATTERN.test(id) || !SUFFIX_PATTERN.test(suffix)) return 'malformed';
      const known = valid.get(value);
      if (known !== undefined) return known;
      if (forged.has(value)) return 'signature';
      const kid = suffix.slice(0, 2);
      let tag: Uint8Array | undefined;
      let length = 0;
      for (let i = 0; i < secrets.length; i++) {
        if (kids[i] !== kid) continue;
        tag ??= fromBase64Url(suffix.slice(2))!;
        if (length === 0) length = messageOf(id);
        if (keys[i]!.verify(tag, message, length)) {
          // The ID is cut from the cookie header: a copy, so that neither the cache nor an app that keeps
          // `session.id` keeps the header alive through it.
          const opened: OpenedValue = { id: detached(id), secret: i };
          if (seenValid.admit(value)) valid.set(value, opened);
          return opened;
        }
      }
      if (tag !== undefined && seenForged.admit(value)) forged.set(value, true);
      return 'signature';
    },
  };
}
