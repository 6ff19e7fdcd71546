// The state behind one public Session: identity, values, times and cookie, and the configuration they need.
// The public class (src/session.ts) delegates to it; the commit (lib/commit.ts) reads and advances it.
import { SessionError } from '../errors.js';
import type { BackgroundContext, SessionEvent } from './events.js';
import { ID_PATTERN, movedId } from './ids.js';
import { Lifetime, touchAfterFor, type LifetimeConfig } from './lifetime.js';
import type { Codec } from './session-values.js';
import { SessionValues } from './session-values.js';
import type { SessionRecord, SessionTimes } from './store-contract.js';
import { noCookie, type CookieState, type Transport } from './transport.js';

/** What a session needs of its manager's configuration. */
export interface SessionConfig extends LifetimeConfig, Codec {
  readonly transport: Transport;
  /** `touchAfter` as the app set it (undefined: the default), for a session with its own `idleTimeout`. */
  readonly touchAfterSetMs: number | undefined;
  readonly generateId: () => string;
  readonly now: () => number;
  readonly onEvent: ((event: SessionEvent) => unknown) | undefined;
  /** How long a destroyed session's end is kept by the store, from the moment of `destroy`. */
  readonly retainMs: number;
}

/** How the manager hands a session over. */
export type SessionInit =
  | { readonly kind: 'stored'; readonly id: string; readonly record: SessionRecord; readonly cookie: CookieState }
  | {
      readonly kind: 'new';
      readonly cookie?: CookieState | undefined;
      /** `create()`: stored even when empty, with these values and constants. */
      readonly forced?: boolean | undefined;
      readonly data?: Readonly<Record<string, unknown>> | undefined;
      readonly constants?: Readonly<Record<string, unknown>> | undefined;
      readonly persistent?: boolean | undefined;
      /** `create()` for a user: the session is listed by `listByUser`. */
      readonly userId?: string | undefined;
      readonly device?: string | undefined;
      /** `create()`: this session's own lifetime and idle timeout, in ms (checked by the manager). */
      readonly lifetimeMs?: number | undefined;
      readonly idleMs?: number | undefined;
    };

export class SessionCore {
  readonly config: SessionConfig;
  readonly ctx: BackgroundContext | undefined;
  /** The request the session came with (none from `getById`): once it is answered, no new ID can reach it. */
  readonly request: Request | undefined;
  readonly accessedAt: number;
  readonly values: SessionValues;
  readonly lifetime: Lifetime;
  readonly cookie: CookieState;
  /** Undefined for a new session until its ID is first needed. */
  #id: string | undefined;
  /** After `regenerate()` of a stored session: the ID the store still holds it under. */
  previousId: string | undefined;
  /** The store holds this session under `previousId ?? id`. */
  stored: boolean;
  destroyed = false;
  /**
   * This session's commit while its I/O is in flight. A second commit of the same session waits for it: started
   * at once, both would plan from the same state and apply the same changes twice (an increment counted twice,
   * a new session stored under two IDs).
   */
  committing: Promise<unknown> | undefined = undefined;
  /**
   * The Set-Cookie lines that `commit()` and `commitAll` handed to the app's code, in order. `handle()` and the
   * Hono middleware send them too (those of `sessions.destroy(request)`, an early `commit()`…): a handler that did
   * not append them must not leave the browser with a cookie the commit meant to change or expire.
   */
  readonly sent: string[] = [];
  /** Made by `create()`: stored even when empty. */
  forced: boolean;
  /**
   * Made by `create()`: the request's sessions before this one (the one it replaced, and any that one was to
   * end), which this one's first commit ends once this one is stored, or its destroy if it is ended first. Not
   * before: a login that fails (a handler that throws after `create()`, a store that fails the write) must leave
   * the visitor the session they had. Each is ended through its own manager's store, once its own write in flight
   * (if any) is done.
   */
  replaces: readonly SessionCore[] | undefined = undefined;
  /** Replaced by a session `create()` made: commits nothing of its own (the new session ends it). */
  replaced = false;
  /**
   * Its `create` or `regenerate` timed out: whether (and under which ID) it is stored is not known, so it commits
   * nothing but a destroy.
   */
  outcomeUnknown = false;
  /** The session that replaced this one: a `destroy()` of this one (a logout through a stale handle) ends it. */
  replacedBy: SessionCore | undefined = undefined;
  /**
   * Made by `create()`: the session it replaced, what that one was still to end then, and whether it was stored
   * (see `drop`).
   */
  replacing:
    | {
        readonly previous: SessionCore;
        readonly replaces: readonly SessionCore[] | undefined;
        readonly stored: boolean;
      }
    | undefined = undefined;
  /** The user the session belongs to, fixed at `create()`, and the app's label for the device. */
  readonly userId: string | undefined;
  readonly device: string | undefined;
  /** This session's own lifetime and idle timeout (ms), kept in its record; undefined: the manager's. */
  readonly #lifetimeMs: number | undefined;
  readonly #idleMs: number | undefined;

  constructor(
    config: SessionConfig,
    init: SessionInit,
    ctx: BackgroundContext | undefined,
    request: Request | undefined,
  ) {
    this.config = config;
    this.ctx = ctx;
    this.request = request;
    const now = config.now();
    this.accessedAt = now;
    if (init.kind === 'stored') {
      this.#id = init.id;
      this.stored = true;
      this.forced = false;
      this.cookie = init.cookie;
      this.values = new SessionValues(config, init.record);
      this.#lifetimeMs = init.record.lifetimeMs;
      this.#idleMs = init.record.idleMs;
      this.lifetime = new Lifetime(this.#timeouts(), now, init.record);
      this.userId = init.record.userId;
      this.device = init.record.device;
    } else {
      this.#id = undefined;
      this.stored = false;
      this.forced = init.forced ?? false;
      this.cookie = init.cookie ?? noCookie();
      this.values = SessionValues.withConstants(config, init.constants);
      this.#lifetimeMs = init.lifetimeMs;
      this.#idleMs = init.idleMs;
      this.lifetime = new Lifetime(this.#timeouts(), now, undefined, init.persistent ?? true);
      this.userId = init.userId;
      this.device = init.userId === undefined ? undefined : init.device;
      if (init.data !== undefined) for (const [k, v] of Object.entries(init.data)) this.values.set(k, v);
    }
  }

  /** The session ID; a new session gets one when first asked, a regenerated one a new ID of its lineage. */
  get id(): string {
    if (this.#id === undefined) {
      const id = this.config.generateId();
      if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
        throw new SessionError(
          'INVALID_ID',
          'generateId must return 22 to 128 base64url characters (>= 128 random bits)',
        );
      }
      // A regenerated session keeps its lineage (see movedId): a store may revoke every ID of the session.
      this.#id = this.previousId === undefined ? id : movedId(this.previousId, id);
    }
    return this.#id;
  }

  /** The whole record as this request holds it, with the times of a write made now. */
  record(times: SessionTimes): SessionRecord {
    const record: { -readonly [K in keyof SessionRecord]: SessionRecord[K] } = this.values.record(
      this.lifetime.createdAt,
      times,
    );
    if (this.userId !== undefined) record.userId = this.userId;
    if (this.device !== undefined) record.device = this.device;
    if (this.#lifetimeMs !== undefined) record.lifetimeMs = this.#lifetimeMs;
    if (this.#idleMs !== undefined) record.idleMs = this.#idleMs;
    return record;
  }

  /** The manager's timeouts, with this session's own lifetime and idle timeout (and touches to match). */
  #timeouts(): LifetimeConfig {
    const c = this.config;
    const idleMs = this.#idleMs;
    if (this.#lifetimeMs === undefined && idleMs === undefined) return c;
    return {
      expiresMs: this.#lifetimeMs ?? c.expiresMs,
      idleMs: idleMs ?? c.idleMs,
      absoluteMs: c.absoluteMs,
      touchAfterMs: idleMs === undefined ? c.touchAfterMs : touchAfterFor(c.touchAfterSetMs, idleMs),
    };
  }

  /** A new ID (regenerate, or a collision at create); the cookie must be signed again. */
  renew(): void {
    this.#id = undefined;
    this.cookie.value = undefined;
  }

  /**
   * Refuses a change the session can never commit: it was destroyed, or its create or move timed out (a change
   * accepted then would be dropped in silence, since such a session commits nothing but a destroy).
   */
  writable(): void {
    if (this.destroyed) throw new SessionError('DESTROYED', 'this session was destroyed; start a new one');
    if (this.outcomeUnknown) {
      throw new SessionError(
        'STORE_TIMEOUT',
        'its create or regenerate timed out (outcome unknown): the session takes no more changes, only destroy()',
      );
    }
  }
}

/**
 * `create()`'s new session `next` takes over from `previous`: it ends `previous` when it is first stored, and
 * whatever `previous` was still to end (a login replaced by another). `previous` commits nothing from now on, and
 * is destroyed as far as the app can see; a write of it already in flight completes, and is then ended. `before`
 * are the request's sessions before `previous` (`start()` after `destroy()`): one destroyed whose destroy is not
 * committed yet (a logout, then a login) is ended by the login too, with what it was still to end, as `previous`
 * would have been, and still commits its own destroy (a logout stands even when the login fails).
 */
export function replace(next: SessionCore, previous: SessionCore, before: readonly SessionCore[]): void {
  const loggedOut: SessionCore[] = [];
  for (const s of before) {
    if (!s.destroyed || s.replaced) continue;
    // And what it was still to end: a login logged out again before it was stored ends nothing by itself when
    // the app commits only the last login.
    loggedOut.push(...(s.replaces ?? []));
    if (s.stored) loggedOut.push(s);
  }
  next.replaces = [...new Set([...loggedOut, ...(previous.replaces ?? []), previous])];
  next.replacing = { previous, replaces: previous.replaces, stored: previous.stored };
  previous.replaces = undefined;
  previous.replaced = true;
  previous.replacedBy = next;
  previous.destroyed = true;
}

/**
 * Drops `s`, a session a failed run made (a login, or `start()` after `destroy()`) and never committed: it commits
 * nothing and takes no more changes. A login's replacement is undone: the session it replaced is the request's
 * again, with what it was to end, and live, unless another request ended it meanwhile (its own commit in flight
 * found it gone): then it stays ended.
 */
export function drop(s: SessionCore): void {
  s.destroyed = true;
  const replacing = s.replacing;
  if (replacing === undefined) return;
  const previous = replacing.previous;
  previous.replaces = replacing.replaces;
  previous.replaced = false;
  previous.replacedBy = undefined;
  previous.destroyed = replacing.stored && !previous.stored;
  s.replaces = undefined;
  s.replacing = undefined;
}
