// The contract between the manager and a store: what a store keeps, and the lifecycle transactions it offers.
// Exported from `edge-sessions` for people who write their own stores; the README's "Writing a store" explains
// it and `describeStoreConformance` (test/conformance.ts) checks it.
import type { CookieAttributes } from './cookie.js';

/**
 * What a store keeps for one session. Values are already encoded by the manager's serializer (one string per
 * key), so a store only moves strings and numbers; it never needs the serializer. Times are epoch milliseconds.
 */
export interface SessionRecord {
  /** Session values, each encoded by the manager's serializer. */
  readonly data: Readonly<Record<string, string>>;
  /** Flash values waiting to be read, encoded likewise. */
  readonly flash?: Readonly<Record<string, string>>;
  /**
   * Flash items are numbered in the order they were stored (per key; a JSON array's items each, any other value
   * as one), so that a request consumes exactly the items it read. Per flash key: the number after its last
   * item. A key without an entry is numbered from 0 (`flashEnd`). Written by `mergeChanges`.
   */
  readonly flashIds?: Readonly<Record<string, number>>;
  /**
   * The number the next flash item stored gets, when above every `flashIds` end (a consumed or deleted flash's
   * numbers are never given out again). Written by `mergeChanges`.
   */
  readonly flashNext?: number;
  /** Constant attributes given at `create`, encoded likewise; read-only for the session's life. */
  readonly constants?: Readonly<Record<string, string>>;
  /** Keys of `data` that a plain `set` may not overwrite. */
  readonly immutable?: readonly string[];
  /** When the session was created. */
  readonly createdAt: number;
  /** When a request last wrote the session (its idle timeout runs from here). Older records lack it. */
  readonly accessedAt?: number;
  /** End of the lifetime (`expires`, moved by shiftExpiration/updateExpiration), capped by `absoluteTimeout`. */
  readonly endsAt: number;
  /** When the session expires: `endsAt`, or earlier if the idle timeout comes first. Stores expire records here. */
  readonly expiresAt: number;
  /** `false` for a browser-session cookie (no Max-Age): remember-me off. */
  readonly persistent?: boolean;
  /** The user the session was created for (`create(request, { userId })`); never changed afterwards. */
  readonly userId?: string;
  /** The app's label for the device, given with `userId` (for example from User-Agent). */
  readonly device?: string;
  /**
   * This session's own lifetime in ms (`create(request, { expires })`), when it has one; `expires: Infinity` is
   * stored as 8.64e15 (JSON has no Infinity), whose end is never reached.
   */
  readonly lifetimeMs?: number;
  /** This session's own idle timeout in ms (`create(request, { idleTimeout })`), when it has one. */
  readonly idleMs?: number;
}

/** One live session of a user, as `listByUser` returns it. */
export interface UserSession {
  /** The session ID. */
  readonly id: string;
  /** Its record as stored. */
  readonly record: SessionRecord;
}

/** The times one write gives a session, decided by the manager. Epoch milliseconds. */
export interface SessionTimes {
  /** The time of this write. */
  readonly accessedAt: number;
  /** End of the lifetime. */
  readonly endsAt: number;
  /** When the session expires (the lifetime's end, or the idle timeout's if earlier). */
  readonly expiresAt: number;
  /** False for a browser-session cookie (remember-me off). */
  readonly persistent: boolean;
}

/**
 * The changes one request made to a session. A store applies them to the record as it is stored at that moment
 * (`mergeChanges` in `edge-sessions` does it), so overlapping requests keep each other's changes. Applied in this
 * order: `clear`, `delete`, `set`, `increment`, then `flash`, `append`, `consumed`, `consumedItems`,
 * `consumedUpTo` and `immutable` key by key. A key the stored record holds as immutable keeps its stored value
 * against `set` and `increment` unless this request knew it (its `immutable` entry says so): a request that
 * loaded the session before another made a key immutable cannot overwrite it.
 */
export interface SessionChanges {
  /** Every value was removed (constants and flashes stay). */
  readonly clear?: boolean;
  /** Keys removed. */
  readonly delete?: readonly string[];
  /** Keys set, with their encoded values. */
  readonly set?: Readonly<Record<string, string>>;
  /** Numeric additions, made to whatever the store holds; present only with the JSON serializer. */
  readonly increment?: Readonly<Record<string, number>>;
  /** Per flash key: its new value, or null when this request deleted it. */
  readonly flash?: Readonly<Record<string, string | null>>;
  /**
   * Per flash key: items `addFlash` appended (each encoded), added to the end of the list the store holds (a
   * single value there becomes the list's first item). Present only with the JSON serializer, so overlapping
   * requests' items all stay.
   */
  readonly append?: Readonly<Record<string, readonly string[]>>;
  /**
   * Per flash key this request read: the value it read. The store removes the flash only if it still holds that
   * value (or a list that starts with it, after appends: then that first item): a newer one another request
   * stored meanwhile stays for the next request.
   */
  readonly consumed?: Readonly<Record<string, string>>;
  /**
   * Per flash key whose value this request read as a JSON list (JSON serializer only): the list it read. The
   * store removes it when it still holds that list, and otherwise removes those items from the front of the list
   * it holds, so items another request appended meanwhile stay for the next request.
   */
  readonly consumedItems?: Readonly<Record<string, string>>;
  /**
   * Per flash key this request read: the number after the last item it read (`flashEnd` of the record it read).
   * The store removes the items numbered below it and keeps the rest: items appended meanwhile, and a value
   * stored meanwhile even if its text is the same. `consumed` or `consumedItems`, sent too (for a store with its
   * own merge), are then a check: when the items below the number are not the last ones read, the numbers were
   * reset since the read (by a version that keeps none) and the text read decides.
   */
  readonly consumedUpTo?: Readonly<Record<string, number>>;
  /** Per key: true when this request made it immutable, false when it deleted it (it is then a plain key). */
  readonly immutable?: Readonly<Record<string, boolean>>;
}

/**
 * The contract every server-side store implements: reads and four lifecycle transactions. IDs are session IDs
 * (stores may prefix them). Each transaction is atomic where the backend allows (memory, Durable Objects); the
 * README's per-store table says what each backend cannot promise (Workers KV has no conditional write).
 *
 * The invariants the conformance and race suites check:
 * - `create` never overwrites a live session, nor reuses an ended ID;
 * - `update` never recreates a session that is destroyed, moved away or expired;
 * - `regenerate` moves a session only while its old ID is live, with every change stored under the old ID;
 * - after `destroy` returns, nothing in flight brings the session back, under this ID or an ID it moved to
 *   (a store may revoke the lineage that every ID of a session shares: see `regenerate`);
 * - a store with a per-user index (`listByUser`) lists every live session created with a `userId`, under its
 *   current ID, and no other; `destroyByUser` ends them as `destroy` would.
 *
 * A store may go on returning a record after its `expiresAt` until it deletes it (KV keeps keys at least 60 s):
 * the manager checks expiry on every read, never uses such a record, and reports it as `expired`.
 */
export interface SessionStore {
  /**
   * A short name used in error messages, such as `"kv"`. Managers of one cookie name share a request's session
   * only when their stores have the same name (and they have the same secrets).
   */
  readonly name?: string;
  /** The record of a session that was not ended, or null: one backend read. */
  get(id: string): Promise<SessionRecord | null>;
  /** Stores a new session under an ID nobody used. Resolves `false`, storing nothing, if the ID is taken. */
  create(id: string, record: SessionRecord): Promise<boolean>;
  /**
   * Applies `changes` and `times` to the live record (a touch has no changes) and resolves the record as stored
   * afterwards, which may hold other requests' changes; or null, writing nothing, when the session is not live.
   */
  update(id: string, changes: SessionChanges, times: SessionTimes): Promise<SessionRecord | null>;
  /**
   * Moves the live session `id` to `newId` with `changes` and `times` applied, and resolves the moved record; or
   * null, creating nothing, when `id` is not live. From then on `id` is ended and forwards to `newId` until
   * `times.expiresAt`, so that a `destroy(id)` racing the move ends the session under `newId` too. One that
   * rejects leaves the record of `id` as it was: a store that moves in several writes stores `changes` with
   * `newId` only, so that a move cut short stores none of them.
   *
   * `newId` starts with the first 22 characters of `id` (the session's lineage, the same for every ID the session
   * ever has), followed by a fresh `generateId()` value. A store that cannot make destroy and regenerate atomic
   * (Workers KV) may revoke the lineage instead: that ends the session under every ID it moved to, even by a
   * regenerate that had not seen the revocation yet.
   */
  regenerate(id: string, newId: string, changes: SessionChanges, times: SessionTimes): Promise<SessionRecord | null>;
  /**
   * Ends the session under `id` and under any ID it moved to. The end is kept until `retainUntil` (epoch ms):
   * no create, update or regenerate in flight can undo it. Resolves the ID the session was live under when it
   * was ended: the ID a regenerate moved it to, or `id` (or `true`, which means `id`); `false` when no live
   * session was ended. The manager's `destroyed` event names that ID, the one the app last heard of; an answer
   * that is not an ID of this session (its lineage) is refused (`STORE_DELETE`). A regenerate that did not finish
   * left the session under `id`: answer `id`, not the ID it was moving to.
   */
  destroy(id: string, retainUntil: number): Promise<boolean | string>;
  /**
   * The live sessions whose record has this `userId`, each under its current ID (a regenerated session under its
   * new one). Entries of ended sessions are dropped from the index; expired ones are not returned, but a write
   * that checked the session live just before it expired may still land and extend it, so its entry must then
   * be there (kept until no such write can land, or entered again by every write). Optional, with
   * `destroyByUser`: without them `listByUser()` and `destroyByUser()` are `STORE_UNSUPPORTED`.
   */
  listByUser?(userId: string): Promise<UserSession[]>;
  /**
   * Ends every live session of `userId` but the one `except` names, whatever ID it has by then (an ID sharing the
   * first 22 characters of `except`, its lineage: it may be moving to a new ID meanwhile), as `destroy` ends one
   * (kept until `retainUntil`, nothing in flight undoes it, also under an ID a regenerate is moving it to), and
   * resolves the IDs it ended (each the ID the session was live under). A session created for the user while
   * this runs is either ended or listed afterwards, never left out of the index.
   */
  destroyByUser?(userId: string, except: string | undefined, retainUntil: number): Promise<string[]>;
  /** Ends every session. Optional: without it `destroyAll()` is `STORE_UNSUPPORTED`. */
  clear?(): Promise<void>;
  /** Live sessions. Optional: without it `count()` is `STORE_UNSUPPORTED`. */
  count?(): Promise<number>;
}

/**
 * A stateless store (`edge-sessions/cookie`): the whole record travels, sealed, in the cookie. The manager seals
 * and opens through it instead of calling a server-side store.
 */
export interface StatelessStore {
  /**
   * A short name used in error messages, such as `"cookie"`. Managers of one cookie name share a request's session
   * only when their stores have the same name and `sealer.form` (and they have the same secrets).
   */
  readonly name?: string;
  /** Seals the record into the cookie and opens it again. */
  readonly sealer: Sealer;
}

/**
 * Seals session payloads into cookie text and opens them again, and lays the sealed text out in cookies. The
 * manager parses the payload and decides when to write; everything about the cookie store stays in its entry.
 */
export interface Sealer {
  /**
   * What else decides how this sealer reads a cookie, for sealers of one store `name` that differ (the cookie
   * store: `sealed` or `signed`, and its `maxChunks`). Managers whose sealers differ in it each read the cookie
   * themselves instead of sharing a request's session.
   */
  readonly form?: string;
  /**
   * The sealed text the request's Cookie header carries: undefined without one, null when its cookies are
   * malformed or incomplete; `present` is how many cookies the session spans by the count in its main cookie (1
   * when that gives none, 0 without it), never by other `name.k` cookies, which may be another manager's: the
   * ones `write` and `clear` expire. `oversized` (with `sealed` null): the cookies of a session this sealer wrote
   * under a larger limit than today's, which the manager clears on the next response, unopened.
   */
  read(
    header: string | null,
    cookieName: string,
  ): { sealed: string | null | undefined; present: number; oversized?: true | undefined };
  /**
   * Set-Cookie lines carrying `sealed` in `count` cookies, expiring those of the `present` ones no longer
   * needed. Throws `COOKIE_TOO_LARGE` (nothing written) when it does not fit.
   */
  write(
    cookieName: string,
    sealed: string,
    attributes: CookieAttributes,
    maxAgeSec: number | undefined,
    now: number,
    present: number,
  ): { lines: string[]; count: number };
  /** Set-Cookie lines expiring all `present` cookies of the session (at least the first). */
  clear(cookieName: string, attributes: CookieAttributes, now: number, present: number): string[];
  /** Seal with `secrets[0]`, binding `cookieName`. Returns base64url-safe text (`[A-Za-z0-9._-]`). */
  seal(plaintext: string, secrets: readonly string[], cookieName: string): Promise<string>;
  /**
   * The plaintext, or null for anything forged, truncated, malformed or sealed under an unknown secret.
   * `stale` is true when an older secret opened it (the manager reseals on the next response).
   */
  open(
    sealed: string,
    secrets: readonly string[],
    cookieName: string,
  ): Promise<{ plaintext: string; stale: boolean } | null>;
}
