import { SessionError } from './errors.js';
import { expiredChunkLines, readSealedCookies, sealedCookieLines } from './lib/chunk-cookies.js';
import { MAX_SET_COOKIE_BYTES } from './lib/cookie.js';
import { Bounded } from './lib/bounded.js';
import { seal, sealKey, unseal } from './lib/seal.js';
import type { Sealer, StatelessStore } from './lib/store-contract.js';

/** Options of `createCookieStore`. */
export interface CookieStoreOptions {
  /**
   * How many cookies one session may span, 1–10 (default 3: about 11 KB of Cookie header, under the 16 KB
   * request-header limit of Node and many proxies). A commit that needs more fails with `COOKIE_TOO_LARGE`
   * and writes nothing.
   */
  maxChunks?: number | undefined;
}

/** The stateless store `createCookieStore` returns. */
export interface CookieStore extends StatelessStore {
  /** AES-256-GCM sealing of the record into chunk cookies. */
  readonly sealer: Sealer;
}

// `kid.payload`: a 4-character key fingerprint, then base64url(iv || ciphertext || tag): at least 38 characters
// (12 + 16 bytes). The payload's alphabet is checked by the strict decoder, the kid by comparison.
const MIN_SEALED = 4 + 1 + 38;

// Cache keys start with the secrets and cookie name as JSON (no secret's content can make two lists look
// alike), made once per manager: each passes its own frozen `secrets` array.
const prefixes = new WeakMap<readonly string[], { name: string; prefix: string }>();
function cachePrefix(secrets: readonly string[], cookieName: string): string {
  let known = prefixes.get(secrets);
  if (known === undefined || known.name !== cookieName) {
    known = { name: cookieName, prefix: JSON.stringify([cookieName, ...secrets]) };
    prefixes.set(secrets, known);
  }
  return known.prefix;
}

/**
 * A stateless store: the session's data is sealed with AES-256-GCM (keys derived once per secret with HKDF
 * from the manager's `secrets`, the cookie name bound as associated data) and travels in the cookie itself.
 * Nothing is kept on the server, so no store I/O at all, and no revocation either: a copied cookie works until
 * it expires, even after `destroy()` or `regenerate()` (use a server-side store when that matters).
 * Expiry is still enforced: the sealed record carries its times and they are checked on every read.
 *
 * @example
 * import { createSessions } from 'edge-sessions'
 * import { createCookieStore } from 'edge-sessions/cookie'
 *
 * const sessions = createSessions({ store: createCookieStore(), secrets: [env.SESSION_SECRET] })
 */
export function createCookieStore(options: CookieStoreOptions = {}): CookieStore {
  const maxChunks = options.maxChunks ?? 3;
  if (!Number.isInteger(maxChunks) || maxChunks < 1 || maxChunks > 10) {
    throw new SessionError(
      'INVALID_OPTION',
      `cookie store: maxChunks must be an integer from 1 to 10, got ${String(maxChunks)}`,
    );
  }
  // Seals already opened in this isolate, and forged ones (same reasoning as the HMAC cache in lib/signer.ts:
  // AES-GCM decryption is a pure function of key, cookie name and text). Bounded in count and in size: only
  // seals that fit one cookie are remembered (at most ~2 MB for 256 of them), larger sessions decrypt each time.
  const opened = new Bounded<string, { plaintext: string; stale: boolean }>(256);
  const forged = new Bounded<string, true>(128);
  return {
    name: 'cookie',
    sealer: {
      read: (header, cookieName) => readSealedCookies(header, cookieName, maxChunks),
      write: (cookieName, sealed, attributes, maxAgeSec, now, present) =>
        sealedCookieLines(cookieName, sealed, attributes, maxAgeSec, now, maxChunks, present),
      clear: (cookieName, attributes, now, present) =>
        expiredChunkLines(cookieName, attributes, now, 0, Math.max(present, 1)),
      async seal(plaintext, secrets, cookieName) {
        const { key, kid } = await sealKey(secrets[0]!);
        return `${kid}.${await seal(key, plaintext, cookieName)}`;
      },
      async open(sealed, secrets, cookieName) {
        // Shape first: malformed input costs no decryption.
        if (sealed.length < MIN_SEALED || sealed.charCodeAt(4) !== 46 /* . */) return null;
        const cacheKey = cachePrefix(secrets, cookieName) + sealed;
        const known = opened.get(cacheKey);
        if (known !== undefined) return known;
        if (forged.has(cacheKey)) return null;
        const kid = sealed.slice(0, 4);
        for (let i = 0; i < secrets.length; i++) {
          const { key, kid: candidate } = await sealKey(secrets[i]!);
          if (candidate !== kid) continue;
          const plaintext = await unseal(key, sealed.slice(5), cookieName);
          // Two secrets can share a 24-bit fingerprint: try the next one rather than give up.
          if (plaintext === null) continue;
          const result = { plaintext, stale: i > 0 };
          if (sealed.length <= MAX_SET_COOKIE_BYTES) opened.set(cacheKey, result);
          return result;
        }
        if (sealed.length <= MAX_SET_COOKIE_BYTES) forged.set(cacheKey, true);
        return null;
      },
    },
  };
}
