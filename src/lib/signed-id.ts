// The signed-ID transport: the cookie holds `id.kid+tag` (HMAC of the ID), the record lives in a server-side
// store. Every check that needs no I/O (shape, signature) runs before the store is asked, so a forged or
// malformed cookie never costs a store read.
import { readCookie, serializeCookie, type CookieAttributes } from './cookie.js';
import type { OpenedValue, Signer } from './signer.js';
import { storeCall, storeFailure, type StoreCallConfig } from './store-call.js';
import type { SessionRecord, SessionStore } from './store-contract.js';
import { isRecord } from './records.js';
import { storeAnswers } from './store-answers.js';
import { noCookie, type Opened, type Transport } from './transport.js';

export interface SignedIdConfig extends StoreCallConfig {
  readonly store: SessionStore;
  readonly signer: Signer;
  readonly cookieName: string;
  readonly attributes: CookieAttributes;
}

export function signedIdTransport(c: SignedIdConfig): Transport {
  const store = c.store;

  /** The record behind a cookie value whose signature verified. */
  async function read(value: string, opened: OpenedValue): Promise<Opened> {
    const id = opened.id;
    let stored: SessionRecord | null;
    if (c.storeTimeoutMs === undefined) {
      // Every returning visitor comes through here: the store's promise is awaited directly, without
      // storeCall's frame and closure.
      try {
        stored = await store.get(id);
      } catch (cause) {
        throw storeFailure(c, 'STORE_READ', 'get', cause);
      }
    } else {
      stored = await storeCall(c, 'STORE_READ', 'get', () => store.get(id));
    }
    if (stored === null || stored === undefined || !isRecord(stored)) {
      // A genuine cookie whose session is gone is cleared, so the browser stops sending it.
      const cookie = { value: undefined, resign: false, stale: true, chunks: 0, orphanId: id };
      return { kind: 'rejected', reason: stored === null || stored === undefined ? 'unknown' : 'corrupt', cookie };
    }
    const current = opened.secret === 0;
    return {
      kind: 'session',
      id,
      record: stored,
      cookie: { value: current ? value : undefined, resign: !current, stale: false, chunks: 0 },
    };
  }

  // A write's answer is checked before anything is sent: a cookie sent on the word of a store that answered
  // something else could name an ID it never stored. The commit rejects and sends no cookie; the session keeps its
  // changes, as after any failure.
  const answers = storeAnswers(c.storeName);

  return {
    stateful: true,

    open(header) {
      const value = readCookie(header, c.cookieName);
      if (value === undefined) return { kind: 'none', cookie: noCookie() };
      const opened = c.signer.open(value);
      if (typeof opened === 'string') return { kind: 'rejected', reason: opened, cookie: noCookie() };
      return read(value, opened);
    },

    create: (id, record) => storeCall(c, 'STORE_WRITE', 'create', () => store.create(id, record), answers.created),
    update: (id, changes, times) =>
      storeCall(c, 'STORE_WRITE', 'update', () => store.update(id, changes, times), answers.updated),
    regenerate: (id, newId, changes, times) =>
      storeCall(c, 'STORE_WRITE', 'regenerate', () => store.regenerate(id, newId, changes, times), answers.moved),
    destroy: (id, retainUntil) =>
      storeCall(c, 'STORE_DELETE', 'destroy', () => store.destroy(id, retainUntil), answers.ended(id)),
    async reread(id) {
      const stored = await storeCall(c, 'STORE_READ', 'get', () => store.get(id));
      return stored !== null && stored !== undefined && isRecord(stored) ? stored : null;
    },

    async send(cookie, id, _whole, maxAgeSec, now) {
      if (cookie.value === undefined || cookie.resign) {
        cookie.value = c.signer.sign(id);
        cookie.resign = false;
      }
      // A signed ID always fits: createSessions refuses a name, path and domain that leave it no room.
      return [serializeCookie(c.cookieName, cookie.value, c.attributes, maxAgeSec, now)];
    },

    cookiesIn: () => 0,

    clear(cookie, now) {
      cookie.value = undefined;
      return [serializeCookie(c.cookieName, '', c.attributes, 0, now)];
    },
  };
}
