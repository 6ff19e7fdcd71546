import { SessionError } from './errors.js';
import { emit, subject, type BackgroundContext } from './lib/events.js';
import { ID_PATTERN, maskId } from './lib/ids.js';
import { MAX_COOKIE_AGE_SEC } from './lib/lifetime.js';
import { duration, lifetime, resolveOptions, type Config, type SessionsOptions } from './lib/options.js';
import { expiryOf, expiryReason, isRecord } from './lib/records.js';
import { describeValue, isObject, refuseNonBoolean, refuseUnknownOptions } from './lib/option-names.js';
import type { SessionStore } from './lib/store-contract.js';
import { SessionCore, type SessionInit } from './lib/session-core.js';
import {
  createdSessions,
  canonical,
  enterRun,
  isAnswered,
  leaveRun,
  madeSoFar,
  nextMade,
  peekState,
  stateOf,
  type KindState,
} from './lib/request-sessions.js';
import { finalLines, withHandedLines, withSessionHeaders } from './lib/session-response.js';
import { storeAnswers } from './lib/store-answers.js';
import { storeCall } from './lib/store-call.js';
import { noCookie, type Opened } from './lib/transport.js';
import { Session } from './session.js';

/** What `create()` starts a session with. */
export interface CreateOptions<Data extends Record<string, unknown>> {
  /** Initial values (the same as calling `set` for each). */
  data?: Partial<Data> | undefined;
  /** Constant attributes, read with `session.constant(key)`, never changed. */
  constants?: Readonly<Record<string, unknown>> | undefined;
  /** Remember-me: `false` gives a browser-session cookie. Default `true`. */
  persistent?: boolean | undefined;
  /**
   * The user signing in (1 to 256 characters): the session is listed by `listByUser` and ended by
   * `destroyByUser`, and `session.userId` gives it back. Omitted: an anonymous session, listed nowhere.
   */
  userId?: string | undefined;
  /** A label for the device, shown in "your devices" (for example from User-Agent); cut to 256 characters. */
  device?: string | undefined;
  /**
   * This session's lifetime in seconds, instead of the manager's `expires` (icza's per-session Timeout): its
   * cookie's Max-Age and `shiftExpiration` follow it, on every later request too. At most 400 days, or `Infinity`.
   */
  expires?: number | undefined;
  /**
   * This session's idle timeout in seconds, instead of the manager's. Touches are throttled to match: a tenth of
   * it, at most 60 s, or the manager's `touchAfter` as set while that is below it.
   */
  idleTimeout?: number | undefined;
}

/** One live session of a user, as `listByUser` gives it: never its cookie. Times in epoch ms. */
export interface SessionInfo {
  /** The session ID: it cannot be turned into a cookie without the secret, so an admin page may show it. */
  readonly id: string;
  /** First and last three characters of the ID, for logs. */
  readonly maskedId: string;
  /** The user it was created for. */
  readonly userId: string;
  /** The label given at `create()`, if any. */
  readonly device: string | undefined;
  /** When the user signed in on it. */
  readonly createdAt: number;
  /** The last write; a read-only request moves it only with a touch, so it lags by `touchAfter` at most. */
  readonly accessedAt: number;
  /** When it expires unless used again, by today's timeouts (which a deploy may have shortened). */
  readonly expiresAt: number;
  /** False for a browser-session cookie (remember-me off). */
  readonly persistent: boolean;
}

/** A fetch handler wrapped by `sessions.handle()`: the session comes second; `env`, `ctx`… follow. */
export type SessionHandler<Data extends Record<string, unknown>, Rest extends unknown[]> = (
  request: Request,
  session: Session<Data>,
  ...rest: Rest
) => Response | Promise<Response>;

/**
 * The manager returned by `createSessions`. Every function that takes a `request` (and the handler `handle()`
 * returns) rejects with `INVALID_OPTION` when it is not a Request: with Hono, pass `c.req.raw`, not `c.req`.
 */
export interface Sessions<Data extends Record<string, unknown> = Record<string, unknown>> {
  /** The cookie name in use (after defaults). */
  readonly cookieName: string;
  /**
   * The request's valid session, or a new unsaved one. Called twice for one request, it returns the same
   * session. Pass the Workers `ctx` to let async event hooks run in `ctx.waitUntil`.
   */
  start(request: Request, ctx?: BackgroundContext): Promise<Session<Data>>;
  /**
   * The request's valid session, or null (icza `Manager.Get`): it creates nothing, stores nothing and sets no
   * cookie. A later `start()` for the same request returns the same session.
   */
  get(request: Request): Promise<Session<Data> | null>;
  /**
   * A live session by ID (admin): values decoded, expiry checked, or null. Its changes persist through its
   * `commit()`, which returns empty Headers (no browser sent it, so no cookie goes back), and reading it is no
   * activity: it is not touched. If the session ended, expired or moved to a new ID (a regenerate) since, that
   * `commit()` rejects with `NOT_FOUND` and stores nothing: a change is never written back to an ended session
   * (its `destroy()` of a session already ended resolves: the end stands).
   * `STORE_UNSUPPORTED` on a stateless store, `INVALID_ID` for a non-ID.
   */
  getById(id: string): Promise<Session<Data> | null>;
  /**
   * A fresh session with a new ID (login). The request's session (and one destroyed in it whose destroy is not
   * committed yet) is ended when the new one is first stored, not before: a login that fails keeps it.
   */
  create(request: Request, options?: CreateOptions<Data>): Promise<Session<Data>>;
  /**
   * Extend the lifetime by `expires` from now (never past `absoluteTimeout`) and re-send the cookie.
   * `NOT_FOUND` without a session.
   */
  shiftExpiration(request: Request): Promise<Headers>;
  /**
   * A new lifetime of `seconds` from now; `-1` keeps the lifetime and makes the cookie a browser-session
   * cookie. `NOT_FOUND` without a session.
   */
  updateExpiration(request: Request, seconds: number): Promise<Headers>;
  /** End the request's session for good and expire its cookie. No cookie: empty headers, no error. */
  destroy(request: Request): Promise<Headers>;
  /**
   * End one session by ID (admin, "log out everywhere"): it stops working at once (per the store's revocation
   * window) and never comes back, also under an ID a regenerate in flight is moving it to.
   */
  destroyById(id: string): Promise<void>;
  /**
   * Every live session created with `userId` ("your devices"), most recently used first. `STORE_UNSUPPORTED`
   * for a store without a per-user index (the cookie store).
   */
  listByUser(userId: string): Promise<SessionInfo[]>;
  /**
   * End every session of `userId` ("log out everywhere"), or all but `except` (a session ID: "everywhere else"),
   * and resolve how many were ended. Like `destroyById`, none of them works again, whatever was in flight.
   */
  destroyByUser(userId: string, options?: { except?: string | undefined }): Promise<number>;
  /** Delete every session; `STORE_UNSUPPORTED` if the store has no `clear()`. */
  destroyAll(): Promise<void>;
  /** Live sessions in the store; `STORE_UNSUPPORTED` if the store has no `count()`. */
  count(): Promise<number>;
  /**
   * Wrap a fetch handler: start, run, commit, and return the handler's Response with the session's headers
   * (on a copy: a Response the handler reuses is never changed), those of commits made inside the handler
   * (`destroy(request)`, an early `commit()`…) included, and `Cache-Control: private` when it sets a
   * cookie or the request had a live session (a shared cache must not keep a page made from it). The wrapped
   * handler takes whatever the runtime passes after the request (`env, ctx` on Workers, `info` on Deno), even
   * arguments your handler does not declare. A handler that throws, or answers `Response.error()`, commits nothing;
   * so does one that answers no Response (Bun's `if (server.upgrade(req)) return;`), and `handle()` then answers
   * none either (commit first, and give `server.upgrade` the headers, to keep a change).
   */
  handle<Rest extends unknown[]>(
    handler: SessionHandler<Data, Rest>,
  ): (request: Request, ...rest: [...Rest, ...unknown[]]) => Promise<Response>;
  /**
   * @internal The Hono middleware's run failed (its handler threw, whether onError answered or rethrew, answered
   * a network error, or its final commit failed): the sessions made on `request` since the count `since` (but
   * `handed`, the one its first read made) and not committed are dropped, and with `forget` the Request may be
   * forgotten, as `handle()` does.
   */
  _abandon(request: Request, since: number, forget: boolean, read: Session<Data> | undefined, handed: number): void;
  /** @internal The Hono middleware's run holds the request's session from its first read: see `handle()`. */
  _enterKind(request: Request): boolean;
  /** @internal The Hono middleware's run that entered is done. */
  _leaveKind(request: Request): void;
  /** @internal Whether a run of this kind holds the request's session now. */
  _kindHeld(request: Request): boolean;
  /** @internal The request's session as this manager holds it now (or the promise of its read): no I/O. */
  _cached(request: Request): Session<Data> | Promise<Session<Data>> | undefined;
}

/**
 * Creates a session manager. Every option is checked here; a mistake is a `SessionError` now, not on a request.
 * Construction does no I/O, and the HMAC keys of a list of secrets are prepared once per isolate, so building a
 * manager per request (as Workers handlers often do) costs next to nothing.
 *
 * @example
 * import { createSessions } from 'edge-sessions'
 * import { createMemoryStore } from 'edge-sessions/memory'
 *
 * const sessions = createSessions({ store: createMemoryStore(), secrets: [SECRET] })
 * export default {
 *   fetch: sessions.handle(async (request, session) => {
 *     const visits = session.increment('visits')
 *     return new Response(`visit ${visits}`)
 *   }),
 * }
 */
export function createSessions<Data extends Record<string, unknown> = Record<string, unknown>>(
  options: SessionsOptions,
): Sessions<Data> {
  const c = resolveOptions(options);
  // One session per request and way of reading its cookie (lib/request-sessions.ts): `start` twice decodes once. A
  // promise while the session is being loaded; the session itself once known without waiting (a new visitor).
  type Slot = KindState & { session: Session<Data> | Promise<Session<Data>> | undefined };
  const kindOf = (request: Request) => stateOf(request).kind(c.sharingKey) as Slot;
  const peekKind = (request: Request) => peekState(request)?.kind(c.sharingKey) as Slot | undefined;

  /** A run of this kind starts on the request `kind` is of; true if another holds the session already (nested). */
  function enterKind(kind: Slot): boolean {
    return kind.runs++ > 0;
  }

  /** A run of this kind on the request `kind` is of is done. */
  function leaveKind(kind: Slot): void {
    if (kind.runs > 0) kind.runs--;
  }

  /** `start`, without a promise when none is needed (`handle()` then awaits nothing for a new visitor). */
  function begin(request: Request, ctx: BackgroundContext | undefined): Session<Data> | Promise<Session<Data>> {
    request = canonical(request);
    const state = stateOf(request);
    if (ctx !== undefined) state.ctx = ctx;
    const kind = state.kind(c.sharingKey) as Slot;
    const cached = kind.session;
    if (cached === undefined) return remember(kind, load<Data>(c, request, ctx));
    // After destroy(), the request's next session is a new one.
    const live = (session: Session<Data>) => {
      if (!session.destroyed) return session;
      const cookie = noCookie(chunksBefore(request, session));
      const next = newSession<Data>(c, { kind: 'new', cookie }, state.ctx, request);
      return remember(kind, next._after(session, nextMade(request)));
    };
    return cached instanceof Promise ? cached.then(live) : live(cached);
  }

  /**
   * How many cookies the browser will hold for this cookie name after this response, as far as the request's
   * sessions up to `latest` have set them: a new session's (a login's, or one after `destroy()`) stateless cookie
   * must expire the chunk cookies it does not reuse, also those an earlier commit of this request set. Its line
   * supersedes theirs (lib/session-response.ts).
   */
  function chunksBefore(request: Request, latest: Session<Data>): number {
    let chunks = c.transport.cookiesIn(request.headers.get('cookie'));
    for (let s: Session<Record<string, unknown>> | undefined = latest; s !== undefined; s = s._previous) {
      chunks = Math.max(chunks, s._chunks);
    }
    return chunks;
  }

  // Async so that anything thrown while opening the cookie is a rejection, as the signature promises.
  async function start(request: Request, ctx?: BackgroundContext): Promise<Session<Data>> {
    refuseNonRequest('start', request);
    return begin(request, ctx);
  }

  function remember<S extends Session<Data> | Promise<Session<Data>>>(kind: Slot, session: S): S {
    kind.session = session;
    // A failed load is not remembered: the caller may retry.
    if (session instanceof Promise) {
      session.catch(() => {
        if (kind.session === session) kind.session = undefined;
      });
    }
    return session;
  }

  /** The request's valid session (stored, or made by `create()` in this request), or null. */
  async function current(request: Request): Promise<Session<Data> | null> {
    const session = await start(request);
    return session.isNew && !createdSessions.has(session) ? null : session;
  }

  async function existing(request: Request, what: string): Promise<Session<Data>> {
    const session = await current(request);
    if (session === null) throw new SessionError('NOT_FOUND', `${what}: the request has no valid session`);
    return session;
  }

  /** A session ID for an admin call on a server-side store, or `STORE_UNSUPPORTED` / `INVALID_ID`. */
  function byId(operation: string, id: unknown, why: string): asserts id is string {
    if (!c.transport.stateful) {
      throw new SessionError('STORE_UNSUPPORTED', `${operation}: the ${c.storeName} store is stateless and ${why}`);
    }
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      throw new SessionError('INVALID_ID', `${operation}: not a session ID`);
    }
  }

  /**
   * After a run that failed (its handler threw or answered a network error or no Response, or its final commit
   * failed): the sessions made on the request since the run began (numbered above `since`: logins with `create()`,
   * `start()` after `destroy()`) that committed nothing are dropped, from the last one back, so that neither a run
   * around it nor a retry of the Request takes them up: a failed login leaves the visitor the session they had.
   * `handed`, the number of one the run's first read made and handed (the Hono middleware's), is kept. With
   * `forget` (no run of the same kind encloses this one), a Request of which nothing was committed is forgotten: a
   * retry reads its session again, without the failed run's changes (`read`: the session the run read, while the
   * map still holds the read's promise). Other changes the run made to the session it was handed stay in it (a
   * run around it holds the same session).
   */
  function abandon(request: Request, since: number, forget: boolean, read?: Session<Data>, handed = 0): void {
    const kind = peekKind(request);
    let latest = kind?.session;
    if (latest instanceof Promise) latest = read; // the run made no session
    if (kind === undefined || latest === undefined) return;
    let s = latest as unknown as Session<Record<string, unknown>>;
    while (s._previous !== undefined && s._made > since && s._made !== handed && s._uncommittedItself) {
      s._drop();
      s = s._previous;
    }
    const current = s as unknown as Session<Data>;
    kind.session = forget && current._uncommitted ? undefined : current;
  }

  /** The checks of the store's answers to the admin calls below, made once one is called. */
  let checks: ReturnType<typeof storeAnswers> | undefined;
  const answers = () => (checks ??= storeAnswers(c.storeName));

  /** The store's per-user index, or `STORE_UNSUPPORTED` naming the store. */
  function perUser(operation: string): SessionStore {
    const store = c.store;
    if (store?.listByUser === undefined || store.destroyByUser === undefined) {
      const why = c.transport.stateful ? 'has no per-user index' : 'is stateless and keeps no index';
      throw new SessionError('STORE_UNSUPPORTED', `${operation}: the ${c.storeName} store ${why}`);
    }
    return store;
  }

  return {
    cookieName: c.cookieName,
    start,

    async get(request) {
      refuseNonRequest('get', request);
      return current(request);
    },

    async getById(id) {
      byId('getById', id, 'keeps no session by ID');
      const record = await storeCall(c, 'STORE_READ', 'get', () => c.store!.get(id));
      if (record === null || record === undefined || !isRecord(record)) return null;
      const now = c.now();
      const reason = expiryReason(c, record, now);
      if (reason !== undefined) {
        emit(c.onEvent, { type: 'expired', ...subject(id, record.userId), reason, at: now });
        return null;
      }
      const cookie = { ...noCookie(), detached: true };
      return newSession<Data>(c, { kind: 'stored', id, record, cookie }, undefined, undefined);
    },

    async create(request, init = {}) {
      refuseNonRequest('create', request);
      refuseAnswered(request);
      refuseUnknownOptions('create', init, CREATE_OPTIONS);
      if (init.userId !== undefined) checkUserId('create', init.userId);
      if (init.device !== undefined && typeof init.device !== 'string') {
        throw new SessionError('INVALID_OPTION', 'create: device must be a string');
      }
      // Plain JavaScript can pass anything: 'false' would read as a persistent session, a string's characters as
      // values, null as a TypeError.
      refuseNonBoolean('create', init, 'persistent');
      refuseNonObject('create: data', init.data);
      refuseNonObject('create: constants', init.constants);
      const lifetimeMs = lifetime('create: expires', init.expires);
      const idleMs = duration('create: idleTimeout', init.idleTimeout, false);
      request = canonical(request);
      const current = await start(request);
      // Again after the await: a login begun before the handler answered (not awaited, in ctx.waitUntil) and still
      // loading the session when it did could reach no browser either.
      refuseAnswered(request);
      const chunks = chunksBefore(request, current);
      // Made first: values that cannot be stored throw here, before the current session is ended.
      const session = newSession<Data>(
        c,
        {
          kind: 'new',
          forced: true,
          cookie: noCookie(chunks),
          ...init,
          device: init.device?.slice(0, 256),
          lifetimeMs,
          idleMs,
        },
        stateOf(request).ctx,
        request,
      );
      // The current session is ended by the new one's first commit, not here: a login that fails keeps it.
      session._replace(current as Session<Record<string, unknown>>);
      createdSessions.add(session);
      return Promise.resolve(remember(kindOf(request), session._after(current, nextMade(request))));
    },

    async shiftExpiration(request) {
      refuseNonRequest('shiftExpiration', request);
      const session = await existing(request, 'shiftExpiration');
      session._setLifetime(undefined);
      return session.commit();
    },

    async updateExpiration(request, seconds) {
      refuseNonRequest('updateExpiration', request);
      if (
        seconds !== -1 &&
        (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_COOKIE_AGE_SEC)
      ) {
        throw new SessionError(
          'INVALID_DURATION',
          `updateExpiration: seconds must be -1 or in (0, ${MAX_COOKIE_AGE_SEC}], got ${String(seconds)}`,
        );
      }
      const session = await existing(request, 'updateExpiration');
      session._setLifetime(seconds);
      return session.commit();
    },

    async destroy(request) {
      refuseNonRequest('destroy', request);
      const session = await start(request);
      session.destroy();
      return session.commit();
    },

    async destroyById(id) {
      byId('destroyById', id, 'cannot revoke');
      const now = c.now();
      const ended = await c.transport.destroy(id, now + c.retainMs);
      if (ended !== null) emit(c.onEvent, { type: 'destroyed', ...subject(ended, undefined), at: now });
    },

    async listByUser(userId) {
      checkUserId('listByUser', userId);
      const store = perUser('listByUser');
      const found = await storeCall(c, 'STORE_READ', 'listByUser', () => store.listByUser!(userId), answers().listed);
      const now = c.now();
      const infos: SessionInfo[] = [];
      for (const { id, record } of found) {
        // The store's index is trusted for membership only: the record decides, by today's timeouts.
        if (!isRecord(record) || record.userId !== userId || expiryReason(c, record, now) !== undefined) continue;
        infos.push({
          id,
          maskedId: maskId(id),
          userId,
          device: record.device,
          createdAt: record.createdAt,
          accessedAt: record.accessedAt ?? record.createdAt,
          expiresAt: expiryOf(record, c), // by today's timeouts, as the session's next read would see it
          persistent: record.persistent !== false,
        });
      }
      return infos.sort((a, b) => b.accessedAt - a.accessedAt);
    },

    async destroyByUser(userId, options = {}) {
      refuseUnknownOptions('destroyByUser', options, EXCEPT_OPTION);
      checkUserId('destroyByUser', userId);
      const store = perUser('destroyByUser');
      const except = options.except;
      if (except !== undefined && (typeof except !== 'string' || !ID_PATTERN.test(except))) {
        throw new SessionError('INVALID_ID', 'destroyByUser: except must be a session ID');
      }
      const now = c.now();
      const ended = await storeCall(
        c,
        'STORE_DELETE',
        'destroyByUser',
        () => store.destroyByUser!(userId, except, now + c.retainMs),
        answers().endedForUser,
      );
      for (const id of ended) emit(c.onEvent, { type: 'destroyed', ...subject(id, userId), at: now });
      return ended.length;
    },

    async destroyAll() {
      const store = c.store;
      if (store?.clear === undefined) {
        throw new SessionError('STORE_UNSUPPORTED', `destroyAll: the ${c.storeName} store has no clear()`);
      }
      await storeCall(c, 'STORE_DELETE', 'clear', () => store.clear!());
    },

    async count() {
      const store = c.store;
      if (store?.count === undefined) {
        throw new SessionError('STORE_UNSUPPORTED', `count: the ${c.storeName} store has no count()`);
      }
      return storeCall(c, 'STORE_READ', 'count', () => store.count!(), answers().counted);
    },

    _abandon: (request, since, forget, read, handed) => abandon(request, since, forget, read, handed),
    _enterKind: (request) => enterKind(kindOf(request)),
    _leaveKind: (request) => leaveKind(kindOf(request)),
    _kindHeld: (request) => (peekKind(request)?.runs ?? 0) > 0,
    _cached: (request) => peekKind(request)?.session,

    handle<Rest extends unknown[]>(handler: SessionHandler<Data, Rest>) {
      return async (request: Request, ...rest: [...Rest, ...unknown[]]) => {
        refuseNonRequest('handle', request);
        const key = canonical(request);
        const kind = kindOf(key);
        // Inside a run that holds this request's session (a nested handle() of the same cookie), this run leaves
        // that run's sessions to it; otherwise it is the request's first run, or a retry (lib/request-sessions.ts).
        const nested = enterKind(kind);
        try {
          let session = begin(key, rest.find(isBackgroundContext));
          if (session instanceof Promise) session = await session;
          // Read from the store before the handler runs: the page may show it (see withSessionHeaders).
          const live = !session.isNew;
          const handed = kind.session;
          // If this run fails, it drops the sessions made on the request from here on (not the one it is handed).
          const since = madeSoFar(key);
          let response: Response | undefined;
          // Once the handler is done, a login or regenerate() on the request is refused (ANSWERED), also while its
          // sessions are committed below; unless this run is nested in another.
          enterRun(key);
          try {
            const result = handler(request, session, ...(rest as unknown as Rest));
            response = result instanceof Response ? result : await result;
          } catch (error) {
            // A SessionError (a commit of the handler's that failed) carries the lines its earlier commits made.
            const latest = kind.session;
            withHandedLines(error, latest === undefined || latest instanceof Promise ? session : latest);
            abandon(key, since, !nested, session);
            throw error;
          } finally {
            leaveRun(key);
          }
          // A network error carries no headers, and no Response at all is Bun's answer for a WebSocket upgrade
          // (`if (server.upgrade(req)) return;`): commit nothing rather than store what no cookie would follow.
          if (response === undefined || response === null || response.type === 'error') {
            abandon(key, since, !nested, session);
            return response;
          }
          // The handler may have replaced the session it was given: `create()` (a login) or `start()` after
          // `destroy()`. The one the request ends with is committed too, after the first (its cookie wins).
          const latest = kind.session;
          const last = latest !== handed && latest !== undefined ? await latest : session;
          let committed = session._commitLines();
          if (!Array.isArray(committed)) {
            // A failure carries the lines earlier commits handed to the handler (SessionError.headers).
            committed = await committed.catch((error: unknown) => {
              abandon(key, since, !nested, session);
              throw withHandedLines(error, last);
            });
          }
          let lines = finalLines(response, session, committed, last, !nested);
          if (!Array.isArray(lines)) {
            lines = await lines.catch((error: unknown) => {
              abandon(key, since, !nested, session);
              throw error;
            });
          }
          // Sent: a run this one is nested in (a handle() inside a handle()), or a retry of the same Request whose
          // first response was dropped, must know these lines, or a later line of its own could undo them.
          if (lines.length > 0) last._recordSent(lines);
          return withSessionHeaders(response, lines, live);
        } finally {
          leaveKind(kind);
        }
      };
    },
  };
}

function newSession<Data extends Record<string, unknown>>(
  c: Config,
  init: SessionInit,
  ctx: BackgroundContext | undefined,
  request: Request | undefined,
): Session<Data> {
  return Session._over<Data>(new SessionCore(c, init, ctx, request));
}

/**
 * The request's session: a cookie that fails any check is "no session" (and a `rejected` event), never an
 * exception; a store that fails is a `SessionError` with its cause.
 */
function load<Data extends Record<string, unknown>>(
  c: Config,
  request: Request,
  ctx: BackgroundContext | undefined,
): Session<Data> | Promise<Session<Data>> {
  const opened = c.transport.open(request.headers.get('cookie'));
  return opened instanceof Promise
    ? opened.then((o) => loaded<Data>(c, o, ctx, request))
    : loaded<Data>(c, opened, ctx, request);
}

function loaded<Data extends Record<string, unknown>>(
  c: Config,
  opened: Opened,
  ctx: BackgroundContext | undefined,
  request: Request,
): Session<Data> {
  if (opened.kind === 'rejected') emit(c.onEvent, { type: 'rejected', reason: opened.reason, at: c.now() }, ctx);
  if (opened.kind !== 'session') return newSession(c, { kind: 'new', cookie: opened.cookie }, ctx, request);
  const now = c.now();
  const reason = expiryReason(c, opened.record, now);
  if (reason !== undefined) {
    emit(c.onEvent, { type: 'expired', ...subject(opened.id, opened.record.userId), reason, at: now }, ctx);
    opened.cookie.stale = true;
    // The value names the expired session: the new session gets a cookie of its own (a stateless one is resealed).
    opened.cookie.value = undefined;
    opened.cookie.resign = false;
    if (c.transport.stateful) opened.cookie.orphanId = opened.id;
    return newSession(c, { kind: 'new', cookie: opened.cookie }, ctx, request);
  }
  const init = { kind: 'stored', id: opened.id, record: opened.record, cookie: opened.cookie } as const;
  return newSession(c, init, ctx, request);
}

/**
 * `INVALID_OPTION` for what is not a Request (Hono's `c.req`, a URL, a string…), before it fails deep inside as a
 * TypeError. One `instanceof` is all a Request pays. A Request of another class or realm fails it (the `undici`
 * package's beside Node's own, a polyfill's, one from a vm context or an iframe) yet serves as well: the manager
 * needs only `headers.get()` and the object itself (its identity keys the request's state). It passes when its
 * `url` is a string and its `headers` has a `get` method; `headers instanceof Headers` would refuse it, its Headers
 * being of its own realm or class too. Hono's `c.req` (no `headers`) and Node's IncomingMessage (`headers` a plain
 * object) do not pass.
 */
function refuseNonRequest(operation: string, request: unknown): void {
  if (request instanceof Request || requestLike(request)) return;
  throw new SessionError('INVALID_OPTION', `${operation}: expected a Request${whatInstead(request)}`);
}

/** A Request of another class or realm, by what the manager uses of it (see `refuseNonRequest`). */
function requestLike(value: unknown): boolean {
  const r = value as Partial<Request> | null | undefined;
  return typeof r === 'object' && r !== null && typeof r.url === 'string' && typeof r.headers?.get === 'function';
}

/** For the message of `refuseNonRequest`: what was given instead, or how to get the Request from it. */
function whatInstead(value: unknown): string {
  if (typeof value !== 'object' || value === null) {
    return `, got ${value === null || value === undefined ? String(value) : `a ${typeof value}`}`;
  }
  // Hono's `c.req` holds the Request as `raw` (the only name checked: a bundle may rename its class).
  if ('raw' in value) return ' (with Hono, pass c.req.raw)';
  const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name !== 'string' || name === '' || name === 'Object') return ', got an object';
  return `, got ${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name}`;
}

/** `ANSWERED`: a login on a request whose response is made could reach no browser (lib/request-sessions.ts). */
function refuseAnswered(request: Request): void {
  if (isAnswered(request)) {
    throw new SessionError('ANSWERED', 'create: the response to this request is made; a login could reach no browser');
  }
}

/** Values that must be an object of named values (not null, an array or a string), when given. */
function refuseNonObject(name: string, value: unknown): void {
  if (value !== undefined && !isObject(value)) {
    throw new SessionError('INVALID_OPTION', `${name} must be an object, got ${describeValue(value)}`);
  }
}

const CREATE_OPTIONS: ReadonlySet<string> = new Set<keyof CreateOptions<Record<string, unknown>>>([
  'data',
  'constants',
  'persistent',
  'userId',
  'device',
  'expires',
  'idleTimeout',
]);
const EXCEPT_OPTION: ReadonlySet<string> = new Set(['except']);

/** A user ID as the manager accepts it: 1 to 256 characters (stores build keys from it). */
function checkUserId(operation: string, userId: unknown): void {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 256) {
    throw new SessionError('INVALID_OPTION', `${operation}: userId must be a string of 1 to 256 characters`);
  }
}

function isBackgroundContext(value: unknown): value is BackgroundContext {
  return typeof value === 'object' && value !== null && typeof (value as BackgroundContext).waitUntil === 'function';
}
