// How a session travels between the browser and the store. Two transports, chosen once per manager:
// lib/signed-id.ts (a signed session ID in the cookie, the record in a server-side store) and
// lib/sealed-cookie.ts (the whole record sealed in the cookie, no server-side state).
import type { SessionEvent } from './events.js';
import type { SessionChanges, SessionRecord, SessionTimes } from './store-contract.js';

/** What a request's cookie said, kept by its session for the commit. */
export interface CookieState {
  /** The signed cookie value that arrived, when signed with `secrets[0]`: re-sent as it is. */
  value: string | undefined;
  /** Signed or sealed with an older secret: the next cookie is signed or sealed anew. */
  resign: boolean;
  /** The request carried a session cookie that opened no live session: cleared unless a new one replaces it. */
  stale: boolean;
  /**
   * Sealed cookies: how many cookies the request's main cookie says the session spans (those no longer needed are
   * expired); never counted from other `name.k` cookies, which may be another manager's.
   */
  chunks: number;
  /**
   * A genuine cookie's session ID whose session was not found live (ended, expired, or moved by a regenerate in
   * flight): a `destroy()` still ends it by ID, wherever it moved.
   */
  orphanId?: string | undefined;
  /** A session found by ID (`getById`): no browser sent it, so its commits send no cookie and it is never touched. */
  detached?: boolean | undefined;
}

/** Why a cookie was not accepted: the reasons a `rejected` event gives. */
export type Rejection = Extract<SessionEvent, { type: 'rejected' }>['reason'];

/** A request's cookie, opened: no cookie, a rejected one, or a session (not yet checked for expiry). */
export type Opened =
  | { readonly kind: 'none'; readonly cookie: CookieState }
  | { readonly kind: 'rejected'; readonly reason: Rejection; readonly cookie: CookieState }
  | { readonly kind: 'session'; readonly id: string; readonly record: SessionRecord; readonly cookie: CookieState };

export interface Transport {
  /** True when sessions live in a server-side store: they can be revoked, listed and counted. */
  readonly stateful: boolean;
  /**
   * Reads the request's cookie (and, for a server-side store, the record): never throws for a bad cookie.
   * Synchronous when the answer needs no crypto and no I/O (no cookie, a malformed one): a new visitor's
   * request then makes no promise for it.
   */
  open(header: string | null): Opened | Promise<Opened>;
  /**
   * The lifecycle transactions (see SessionStore). A stateless transport answers from `whole()`, the record as
   * this request holds it; a server-side store never needs it (so it is not built).
   */
  create(id: string, record: SessionRecord): Promise<boolean>;
  update(id: string, changes: SessionChanges, times: SessionTimes, whole: Whole): Promise<SessionRecord | null>;
  regenerate(
    id: string,
    newId: string,
    changes: SessionChanges,
    times: SessionTimes,
    whole: Whole,
  ): Promise<SessionRecord | null>;
  /** The ID the session was live under when this ended it (`id`, or where a regenerate moved it), or null. */
  destroy(id: string, retainUntil: number): Promise<string | null>;
  /**
   * The session's record as stored now, or null: not stored (ended or moved), or a stateless transport, which
   * holds nothing but the request's cookie. Read only by a commit that lands after the expiry it read.
   */
  reread(id: string): Promise<SessionRecord | null>;
  /** Set-Cookie lines that carry the session after a write. May throw `COOKIE_TOO_LARGE` (nothing sent). */
  send(cookie: CookieState, id: string, whole: Whole, maxAgeSec: number | undefined, now: number): Promise<string[]>;
  /** Set-Cookie lines that expire the session's cookie(s). */
  clear(cookie: CookieState, now: number): string[];
  /** How many cookies the session spans by a Cookie header's main cookie, read without any crypto (chunks). */
  cookiesIn(header: string | null): number;
}

/** The session's whole record as this request holds it, built on demand. */
export type Whole = () => SessionRecord;

/** A fresh cookie state: no cookie arrived. */
export function noCookie(chunks = 0): CookieState {
  return { value: undefined, resign: false, stale: false, chunks };
}
