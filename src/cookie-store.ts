import { SessionError } from './errors.js';
import { expiredChunkLines, readSealedCookies, sealedCookieLines } from './lib/chunk-cookies.js';
import { MAX_SET_COOKIE_BYTES } from './lib/cookie.js';
import { Bounded, memo } from './lib/bounded.js';
import { SecondSighting } from './lib/second-sighting.js';
import { describeValue, refuseUnknownOptions } from './lib/option-names.js';
import { seal, SEALED_MIN_LENGTH, sealKey, unseal } from './lib/seal.js';
import { SIGNED_MIN_LENGTH, signKey, signPayload, verifyPayload, type SigningKey } from './lib/signed-payload.js';
import type { DerivedKey } from './lib/derived-key.js';
import type { Sealer, StatelessStore } from './lib/store-contract.js';

/** Options of `createCookieStore`. */
export interface CookieStoreOptions {
  /**
   * `true` (default): the record is sealed with AES-256-GCM, so the client can neither read nor change it.
   * `false`: signed only (HMAC-SHA256): the client can read the session's values (base64url JSON) but not change
   * them (one HMAC where the sealed form makes one AES-GCM call), for data that is not secret. Key rotation works
   * the same way in both forms; a cookie written in one form is not opened by the other (no session, and a
   * `rejected` event).
   */
  encrypt?: boolean | undefined;
  /**
   * How many cookies one session may span, 1–10 (default 3: about 11 KB of Cookie header, under the 16 KB
   * request-header limit of Node and many proxies). A commit that needs more fails with `COOKIE_TOO_LARGE`
   * and writes nothing. Lowered, it ends the sessions written over the new limit: their cookies are cleared on the
   * next response, unopened (a `rejected` event, reason `oversized`).
   */
  maxChunks?: number | undefined;
}

/** The stateless store `createCookieStore` returns. */
export interface CookieStore extends StatelessStore {
  /** Sealing (AES-256-GCM) or signing (HMAC-SHA256) of the record into chunk cookies. */
  readonly sealer: Sealer;
}

/** How the record is protected inside the cookie; the cookie text is `kid.` + what `protect` returns. */
interface Protection<K> {
  /** Which form this is, in the sealer's `form` (managers of the two forms do not share a request's session). */
  readonly name: 'sealed' | 'signed';
  /** The key derived from one secret, and its 4-character public fingerprint (the kid). */
  readonly keyOf: (secret: string) => Promise<{ readonly key: K; readonly kid: string }>;
  readonly protect: (key: K, plaintext: string, associatedData: string) => Promise<string>;
  /** The plaintext, or null for anything forged or malformed. */
  readonly open: (key: K, text: string, associatedData: string) => Promise<string | null>;
  /** The shortest text `protect` can return: anything shorter is refused before any crypto. */
  readonly minLength: number;
}

const SEALED: Protection<CryptoKey> = {
  name: 'sealed',
  keyOf: sealKey,
  protect: seal,
  open: unseal,
  minLength: SEALED_MIN_LENGTH,
};
const SIGNED: Protection<SigningKey> = {
  name: 'signed',
  keyOf: signKey,
  protect: signPayload,
  open: verifyPayload,
  minLength: SIGNED_MIN_LENGTH,
};

// A scope names the secrets and the cookie name, as JSON (no secret's content can make two lists look alike).
// Each manager passes its own frozen `secrets` array, so its scope is made once; a frozen array never changes, so
// a scope already known needs no check. An array that is not frozen (the sealer called directly, as the conformance
// suite does) may change between calls: its scope is made each time.
const scopes = new WeakMap<readonly string[], { name: string; scope: string }>();
function scopeOf(secrets: readonly string[], cookieName: string): string {
  const known = scopes.get(secrets);
  if (known !== undefined && known.name === cookieName) return known.scope;
  const scope = JSON.stringify([cookieName, ...secrets]);
  if (Object.isFrozen(secrets)) scopes.set(secrets, { name: cookieName, scope });
  return scope;
}

/**
 * A stateless store: the session's data travels in the cookie itself, sealed with AES-256-GCM (default) or, with
 * `encrypt: false`, signed with HMAC-SHA256 and readable by the client. Keys are derived once per secret with
 * HKDF from the manager's `secrets`, and the cookie name is bound into every seal and signature.
 * Nothing is kept on the server, so no store I/O at all, and no revocation either: a copied cookie works until
 * it expires, even after `destroy()` or `regenerate()` (use a server-side store when that matters).
 * Expiry is still enforced: the record carries its times and they are checked on every read.
 *
 * @example
 * import { createSessions } from 'edge-sessions'
 * import { createCookieStore } from 'edge-sessions/cookie'
 *
 * const sessions = createSessions({ store: createCookieStore(), secrets: [env.SESSION_SECRET] })
 * // Signed only: the client can read the values, not change them.
 * const prefs = createSessions({ store: createCookieStore({ encrypt: false }), secrets: [env.SESSION_SECRET] })
 */
export function createCookieStore(options: CookieStoreOptions = {}): CookieStore {
  refuseUnknownOptions('createCookieStore', options, OPTION_NAMES);
  const encrypt = options.encrypt ?? true;
  if (typeof encrypt !== 'boolean') {
    throw new SessionError(
      'INVALID_OPTION',
      `cookie store: encrypt must be true or false, got ${describeValue(encrypt)}`,
    );
  }
  const maxChunks = options.maxChunks ?? 3;
  if (!Number.isInteger(maxChunks) || maxChunks < 1 || maxChunks > 10) {
    throw new SessionError(
      'INVALID_OPTION',
      `cookie store: maxChunks must be an integer from 1 to 10, got ${describeValue(maxChunks)}`,
    );
  }
  return encrypt ? cookieStore(SEALED, maxChunks) : cookieStore(SIGNED, maxChunks);
}

function cookieStore<K>(form: Protection<K>, maxChunks: number): CookieStore {
  // Values already opened in this isolate, and forged ones. Opening is a pure function of the key, the cookie name
  // and the text, and an entry is only made from what opening answered for that exact text under that scope, so a
  // hit answers what opening again would. Forgeries live in their own, smaller map: a flood of them cannot push
  // valid values out. Keyed by the text alone, so that a lookup hashes no string longer than the one that came in;
  // an entry answers only for the scope (secrets and cookie name) it was made under. Bounded in count and in size:
  // only values that fit one cookie are remembered (at most ~2 MB for 256 of them), larger sessions are opened
  // each time. A value enters either map on its second sighting only (lib/second-sighting.ts), each map with a table
  // of sightings of its own: forgeries cannot push valid values out of that table either.
  const opened = new Bounded<string, { scope: string; result: { plaintext: string; stale: boolean } }>(256);
  const forged = new Bounded<string, string>(128);
  const seenOpened = new SecondSighting(256);
  const seenForged = new SecondSighting(128);
  // The keys of a list of secrets, by its scope, derived once: lib/derived-key.ts keeps 64 keys per purpose, and a
  // longer list would have each derived again on every request (a forgery whose kid names no secret too). Keyed by
  // the scope, not the array: a manager built per request brings a new array each time, and the same scope.
  const keyLists = new Bounded<string, Promise<readonly DerivedKey<K>[]>>(16);
  const keysOf = (secrets: readonly string[], scope: string) =>
    memo(keyLists, scope, () => Promise.all(secrets.map((secret) => form.keyOf(secret))));
  return {
    name: 'cookie',
    sealer: {
      form: `${form.name}, ${maxChunks} chunks`,
      read: (header, cookieName) => readSealedCookies(header, cookieName, maxChunks),
      write: (cookieName, sealed, attributes, maxAgeSec, now, present) =>
        sealedCookieLines(cookieName, sealed, attributes, maxAgeSec, now, maxChunks, present),
      clear: (cookieName, attributes, now, present) =>
        expiredChunkLines(cookieName, attributes, now, 0, Math.max(present, 1)),
      async seal(plaintext, secrets, cookieName) {
        const { key, kid } = (await keysOf(secrets, scopeOf(secrets, cookieName)))[0]!;
        return `${kid}.${await form.protect(key, plaintext, cookieName)}`;
      },
      async open(sealed, secrets, cookieName) {
        // Shape first: malformed input costs no crypto.
        if (sealed.length < 5 + form.minLength || sealed.charCodeAt(4) !== 46 /* . */) return null;
        const scope = scopeOf(secrets, cookieName);
        const known = opened.get(sealed);
        if (known?.scope === scope) return known.result;
        if (forged.get(sealed) === scope) return null;
        const kid = sealed.slice(0, 4);
        let tried = false;
        const keys = await keysOf(secrets, scope);
        for (let i = 0; i < keys.length; i++) {
          const { key, kid: candidate } = keys[i]!;
          if (candidate !== kid) continue;
          tried = true;
          const plaintext = await form.open(key, sealed.slice(5), cookieName);
          // Two secrets can share a 24-bit fingerprint: try the next one rather than give up.
          if (plaintext === null) continue;
          const result = { plaintext, stale: i > 0 };
          if (sealed.length <= MAX_SET_COOKIE_BYTES && seenOpened.admit(sealed)) opened.set(sealed, { scope, result });
          return result;
        }
        // Only forgeries that cost crypto are remembered: one whose kid names no secret is refused again for free.
        if (tried && sealed.length <= MAX_SET_COOKIE_BYTES && seenForged.admit(sealed)) forged.set(sealed, scope);
        return null;
      },
    },
  };
}

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof CookieStoreOptions>(['encrypt', 'maxChunks']);
