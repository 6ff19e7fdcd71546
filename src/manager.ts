import { SessionError } from './errors.js';
import { readCookie } from './lib/cookie.js';
import { ID_PATTERN, maskId } from './lib/ids.js';
import { MAX_COOKIE_AGE_SEC, resolveOptions, type Config } from './lib/options.js';
import type { BackgroundContext, Sealer, SessionRecord, SessionsOptions } from './lib/types.js';
import { emit, expiryReason, isRecord, Session, storeCall, storeFailure } from './session.js';

/** What `create()` starts a session with. */
export interface CreateOptions<Data extends Record<string, unknown>> {
  /** Initial values (the same as calling `set` for each). */
  data?: Partial<Data> | undefined;
  /** Constant attributes, read with `session.constant(key)`, never changed. */
  constants?: Readonly<Record<string, unknown>> | undefined;
  /** Remember-me: `false` gives a browser-session cookie. Default `true`. */
  persistent?: boolean | undefined;
}

/** A fetch handler wrapped by `sessions.handle()`: the session comes second; `env`, `ctx`… follow. */
export type SessionHandler<Data extends Record<string, unknown>, Rest extends unknown[]> = (
  request: Request,
  session: Session<Data>,
  ...rest: Rest
) => Response | Promise<Response>;

/** The manager returned by `createSessions`. */
export interface Sessions<Data extends Record<string, unknown> = Record<string, unknown>> {
  /** The cookie name in use (after defaults). */
  readonly cookieName: string;
  /**
   * The request's valid session, or a new unsaved one. Called twice for one request, it returns the same
   * session. Pass the Workers `ctx` to let expiry-only writes and async event hooks run in `ctx.waitUntil`.
   */
  start(request: Request, ctx?: BackgroundContext): Promise<Session<Data>>;
  /** A fresh session with a new ID (login); a valid session already on the request is destroyed first. */
  create(request: Request, options?: CreateOptions<Data>): Promise<Session<Data>>;
  /** Extend the lifetime by `expires` from now (never past `absoluteTimeout`) and re-send the cookie. `NOT_FOUND` without a session. */
  shiftExpiration(request: Request): Promise<Headers>;
  /** A new lifetime of `seconds` from now; `-1` keeps the lifetime and makes the cookie a browser-session cookie. `NOT_FOUND` without a session. */
  updateExpiration(request: Request, seconds: number): Promise<Headers>;
  /** Delete the request's session and expire its cookie. No cookie: empty headers, no error. */
  destroy(request: Request): Promise<Headers>;
  /** Delete one session by ID (admin, "log out everywhere"); its cookie stops working at once. */
  destroyById(id: string): Promise<void>;
  /** Delete every session; `STORE_UNSUPPORTED` if the store has no `clear()`. */
  destroyAll(): Promise<void>;
  /** Live sessions in the store; `STORE_UNSUPPORTED` if the store has no `count()`. */
  count(): Promise<number>;
  /**
   * Wrap a fetch handler: start, run, commit, and append the session's headers to the Response. The wrapped
   * handler takes whatever the runtime passes after the request (`env, ctx` on Workers, `info` on Deno), even
   * arguments your handler does not declare.
   */
  handle<Rest extends unknown[]>(
    handler: SessionHandler<Data, Rest>,
  ): (request: Request, ...rest: [...Rest, ...unknown[]]) => Promise<Response>;
}

/**
 * Creates a session manager. Every option is checked here; a mistake is a `SessionError` now, not on a request.
 * Construction does no crypto and no I/O, so building a manager per request (as Workers handlers often do) is free.
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
  // One session per request and manager (gorilla's registry): `start` twice decodes once.
  const sessionsByRequest = new WeakMap<Request, Promise<Session<Data>>>();
  const contexts = new WeakMap<Request, BackgroundContext>();
  // Sessions made by create() in this request: not stored yet, but the request has them (a login followed by
  // updateExpiration() in the same request is not "no session").
  const created = new WeakSet<Session<Data>>();

  function start(request: Request, ctx?: BackgroundContext): Promise<Session<Data>> {
    if (ctx !== undefined) contexts.set(request, ctx);
    const cached = sessionsByRequest.get(request);
    if (cached !== undefined) {
      return cached.then((session) =>
        session.destroyed
          ? remember(request, Promise.resolve(new Session<Data>(c, { ctx: ctx ?? contexts.get(request) })))
          : session,
      );
    }
    return remember(request, load<Data>(c, request, ctx));
  }

  function remember(request: Request, session: Promise<Session<Data>>): Promise<Session<Data>> {
    sessionsByRequest.set(request, session);
    // A failed load is not remembered: the caller may retry.
    session.catch(() => {
      if (sessionsByRequest.get(request) === session) sessionsByRequest.delete(request);
    });
    return session;
  }

  async function existing(request: Request, what: string): Promise<Session<Data>> {
    const session = await start(request);
    if (session.isNew && !created.has(session))
      throw new SessionError('NOT_FOUND', `${what}: the request has no valid session`);
    return session;
  }

  return {
    cookieName: c.cookieName,
    start,

    async create(request, init = {}) {
      const current = await start(request);
      // A stateless store's new cookie must also expire the chunk cookies of the old one it does not reuse.
      const chunks = c.sealer?.read(request.headers.get('cookie'), c.cookieName).present;
      // Made first: values that cannot be stored throw here, before the current session is ended.
      const session = new Session<Data>(c, {
        forced: true,
        data: init.data,
        constants: init.constants,
        persistent: init.persistent,
        ctx: contexts.get(request),
        chunks,
      });
      if (!current.isNew) {
        current.destroy();
        await current.commit();
      }
      created.add(session);
      return remember(request, Promise.resolve(session));
    },

    async shiftExpiration(request) {
      const session = await existing(request, 'shiftExpiration');
      session._setLifetime(undefined);
      return session.commit();
    },

    async updateExpiration(request, seconds) {
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
      const session = await start(request);
      session.destroy();
      return session.commit();
    },

    async destroyById(id) {
      if (c.sealer !== undefined) {
        throw new SessionError(
          'STORE_UNSUPPORTED',
          `destroyById: the ${c.storeName} store is stateless and cannot revoke a session`,
        );
      }
      if (typeof id !== 'string' || !ID_PATTERN.test(id))
        throw new SessionError('INVALID_ID', 'destroyById: not a session ID');
      await storeCall(c, 'STORE_DELETE', 'delete', () => c.store.delete(id));
      emit(c, { type: 'destroyed', maskedId: maskId(id), at: c.now() });
    },

    async destroyAll() {
      const clear = c.store.clear;
      if (clear === undefined)
        throw new SessionError('STORE_UNSUPPORTED', `destroyAll: the ${c.storeName} store has no clear()`);
      await storeCall(c, 'STORE_DELETE', 'clear', () => clear.call(c.store));
    },

    async count() {
      const count = c.store.count;
      if (count === undefined)
        throw new SessionError('STORE_UNSUPPORTED', `count: the ${c.storeName} store has no count()`);
      return storeCall(c, 'STORE_READ', 'count', () => count.call(c.store));
    },

    handle<Rest extends unknown[]>(handler: SessionHandler<Data, Rest>) {
      return async (request: Request, ...rest: [...Rest, ...unknown[]]) => {
        const session = await start(request, rest.find(isBackgroundContext));
        const handed = sessionsByRequest.get(request);
        const result = handler(request, session, ...(rest as unknown as Rest));
        const response = result instanceof Response ? result : await result;
        let lines = session._commitLines();
        if (!Array.isArray(lines)) lines = await lines;
        // The handler may have replaced the session it was given: `create()` (a login) or `start()` after
        // `destroy()`. The one the request ends with is committed too, after the first (its cookie wins).
        const latest = sessionsByRequest.get(request);
        if (latest !== handed && latest !== undefined) {
          const last = await latest;
          if (last !== session) lines = lines.concat(await last._commitLines());
        }
        return appendCookies(response, lines);
      };
    },
  };
}

/**
 * Reads the request's cookie. Every check that needs no I/O (shape, ID format, signature) runs before the
 * store is asked, so forged or malformed cookies never cost a store read. A cookie that fails any check is
 * "no session" (and a `rejected` event), never an exception.
 */
async function load<Data extends Record<string, unknown>>(
  c: Config,
  request: Request,
  ctx: BackgroundContext | undefined,
): Promise<Session<Data>> {
  const header = request.headers.get('cookie');
  let chunks = 0;
  const rejected = (reason: 'malformed' | 'signature' | 'unknown' | 'corrupt') => {
    emit(c, { type: 'rejected', reason, at: c.now() }, ctx);
    // A genuine cookie whose session is gone is cleared, so the browser stops sending it. A forged or
    // malformed one gets no answer at all: it costs nothing more than a visitor without a cookie.
    const genuine = reason === 'unknown' || reason === 'corrupt';
    return new Session<Data>(c, { staleCookie: genuine, ctx, chunks });
  };

  let id: string;
  let record: SessionRecord;
  let cookieValue: string | undefined;
  let resign: boolean;
  if (c.sealer !== undefined) {
    const opened = await openSealed(c, c.sealer, header);
    chunks = opened.chunks;
    if (opened.session === undefined) return new Session<Data>(c, { ctx });
    if (typeof opened.session === 'string') return rejected(opened.session);
    ({ id, record, resign } = opened.session);
  } else {
    const value = readCookie(header, c.cookieName);
    if (value === undefined) return new Session<Data>(c, { ctx });
    let opened = c.signer.open(value);
    if (typeof opened === 'object' && 'then' in opened) opened = await opened;
    if (typeof opened === 'string') return rejected(opened);
    id = opened.id;
    const key = opened.secret;
    let stored: SessionRecord | null | undefined;
    if (c.storeTimeoutMs === undefined) {
      // Every returning visitor comes through here: the store's promise is awaited directly, without
      // storeCall's frame and closure (memory store S2-cold on workerd: 1.18× the floor in 3 runs before, 1.04–1.17×
      // in 5 runs after).
      try {
        stored = await c.store.get(id);
      } catch (cause) {
        throw storeFailure(c, 'STORE_READ', 'get', cause);
      }
    } else {
      stored = await storeCall(c, 'STORE_READ', 'get', () => c.store.get(id));
    }
    if (stored === null || stored === undefined) return rejected('unknown');
    if (!isRecord(stored)) return rejected('corrupt');
    record = stored;
    cookieValue = key === 0 ? value : undefined;
    resign = key > 0;
  }

  const now = c.now();
  const reason = expiryReason(c, record, now);
  if (reason !== undefined) {
    emit(c, { type: 'expired', maskedId: maskId(id), reason, at: now }, ctx);
    return new Session<Data>(c, { staleCookie: true, ctx, chunks });
  }
  return new Session<Data>(c, { id, record, cookieValue, resign, ctx, chunks });
}

/**
 * Stateless stores: join the chunk cookies, open the seal, parse the payload. Shape checks run before any
 * decryption; a failure is a rejection reason, never an exception.
 */
async function openSealed(
  c: Config,
  sealer: Sealer,
  header: string | null,
): Promise<{
  chunks: number;
  session: undefined | 'malformed' | 'signature' | 'corrupt' | { id: string; record: SessionRecord; resign: boolean };
}> {
  const { sealed, present } = sealer.read(header, c.cookieName);
  if (sealed === undefined) return { chunks: present, session: undefined };
  if (sealed === null) return { chunks: present, session: 'malformed' };
  const opened = await sealer.open(sealed, c.secrets, c.cookieName);
  if (opened === null) return { chunks: present, session: 'signature' };
  let payload: unknown;
  try {
    payload = JSON.parse(opened.plaintext);
  } catch {
    return { chunks: present, session: 'corrupt' };
  }
  const { i, r } = (payload ?? {}) as { i?: unknown; r?: unknown };
  if (typeof i !== 'string' || !ID_PATTERN.test(i) || !isRecord(r)) return { chunks: present, session: 'corrupt' };
  return { chunks: present, session: { id: i, record: r, resign: opened.stale } };
}

function isBackgroundContext(value: unknown): value is BackgroundContext {
  return typeof value === 'object' && value !== null && typeof (value as BackgroundContext).waitUntil === 'function';
}

/**
 * Appends (never sets: other cookies must survive) the session's Set-Cookie lines. Responses with immutable
 * headers, such as `Response.redirect()` or a `fetch()` result, are copied first. A response that sets the
 * session cookie is marked `private`, so no shared cache stores it (RFC 9111 §5.2.2.7).
 */
function appendCookies(response: Response, cookies: string[]): Response {
  if (cookies.length === 0) return response;
  try {
    for (const cookie of cookies) response.headers.append('Set-Cookie', cookie);
  } catch {
    response = new Response(response.body, response);
    for (const cookie of cookies) response.headers.append('Set-Cookie', cookie);
  }
  const cacheControl = response.headers.get('Cache-Control');
  if (cacheControl === null || !/\b(private|no-store)\b/i.test(cacheControl))
    response.headers.append('Cache-Control', 'private');
  return response;
}
