// The sealed-cookie transport (stateless stores such as `edge-sessions/cookie`): the whole record travels,
// sealed, in the cookie (split over chunk cookies when large). There is no server-side state, so the lifecycle
// "transactions" only shape the record this request sends, and nothing can be revoked.
import type { CookieAttributes } from './cookie.js';
import { ID_PATTERN } from './ids.js';
import { isRecord } from './records.js';
import type { Sealer } from './store-contract.js';
import { noCookie, type CookieState, type Opened, type Transport } from './transport.js';

export interface SealedCookieConfig {
  readonly sealer: Sealer;
  readonly secrets: readonly string[];
  readonly cookieName: string;
  readonly attributes: CookieAttributes;
}

export function sealedCookieTransport(c: SealedCookieConfig): Transport {
  const sealer = c.sealer;

  /** The session in a sealed text that passed the shape checks, if it opens and holds a record. */
  async function unsealed(sealed: string, cookie: CookieState): Promise<Opened> {
    const opened = await sealer.open(sealed, c.secrets, c.cookieName);
    if (opened === null) return { kind: 'rejected', reason: 'signature', cookie };
    let payload: unknown;
    try {
      payload = JSON.parse(opened.plaintext);
    } catch {
      // Not JSON: corrupt, as below.
    }
    const { i, r } = (payload ?? {}) as { i?: unknown; r?: unknown };
    if (typeof i !== 'string' || !ID_PATTERN.test(i) || !isRecord(r)) {
      return { kind: 'rejected', reason: 'corrupt', cookie: { ...cookie, stale: true } };
    }
    cookie.resign = opened.stale;
    return { kind: 'session', id: i, record: r, cookie };
  }

  return {
    stateful: false,

    // Shape checks run before any decryption; a failure is a rejection, never an exception.
    open(header) {
      const { sealed, present, oversized } = sealer.read(header, c.cookieName);
      const cookie = noCookie(present);
      if (sealed === undefined) return { kind: 'none', cookie };
      // A session written under a larger limit is genuine in shape, and dead here: cleared, like an expired one.
      if (oversized === true) return { kind: 'rejected', reason: 'oversized', cookie: { ...cookie, stale: true } };
      if (sealed === null) return { kind: 'rejected', reason: 'malformed', cookie };
      return unsealed(sealed, cookie);
    },

    // The cookie is the only copy: what this request holds is what is stored.
    create: async () => true,
    update: async (_id, _changes, _times, whole) => whole(),
    regenerate: async (_id, _newId, _changes, _times, whole) => whole(),
    // The request's own session ends with its cookie, which the commit expires; a copy cannot be revoked.
    destroy: async (id) => id,
    reread: async () => null,

    async send(cookie, id, whole, maxAgeSec, now) {
      const sealed = await sealer.seal(JSON.stringify({ i: id, r: whole() }), c.secrets, c.cookieName);
      const { lines, count } = sealer.write(c.cookieName, sealed, c.attributes, maxAgeSec, now, cookie.chunks);
      cookie.chunks = count;
      cookie.resign = false;
      return lines;
    },

    cookiesIn: (header) => sealer.read(header, c.cookieName).present,

    clear(cookie, now) {
      const lines = sealer.clear(c.cookieName, c.attributes, now, cookie.chunks);
      cookie.chunks = 0;
      return lines;
    },
  };
}
