// Hono middleware over a manager. Only types come from 'hono' (an optional peer dependency): this file never
// loads it, and neither the core nor the other entry points import this file.
import type { Context, Env, MiddlewareHandler } from 'hono';
import { SessionError } from './errors.js';
import { enterRun, inRun, leaveRun, madeSoFar, standIn } from './lib/request-sessions.js';
import { finalLines, handedLines, withHandedLines, withSessionHeaders } from './lib/session-response.js';
import type { BackgroundContext } from './lib/events.js';
import { describeValue, refuseUnknownOptions } from './lib/option-names.js';
import type { Sessions } from './manager.js';
import type { Session } from './session.js';

/** Options of `sessionMiddleware`. */
export interface SessionMiddlewareOptions<Name extends string = 'session'> {
  /**
   * The context variable that holds the session, `c.var[variable]`. Default `'session'`. Give each manager its
   * own when several serve one app (say an admin session next to the visitor's).
   */
  variable?: Name | undefined;
}

/**
 * The Hono `Env` of an app (or route) behind `sessionMiddleware`: `c.var[Name]` is a promise of the request's
 * `Session<Data>`. Combine it with your bindings (`SessionEnv<Data> & { Bindings: Env }`) and with the env of a
 * second middleware (`SessionEnv<Visitor> & SessionEnv<Admin, 'admin'>`).
 *
 * @example
 * const app = new Hono<SessionEnv<{ visits: number }>>()
 * app.get('/', async (c) => c.text(`visit ${(await c.var.session).increment('visits')}`))
 */
export type SessionEnv<
  Data extends Record<string, unknown> = Record<string, unknown>,
  Name extends string = 'session',
> = {
  /** The session variable: awaiting it reads the session (once per request) and gives the request's `Session<Data>`. */
  Variables: { [K in Name]: Promise<Session<Data>> };
};

const OPTION_NAMES: ReadonlySet<string> = new Set(['variable']);

/**
 * Hono middleware: puts a promise of the request's session in `c.var.session` (or the `variable` you name) and,
 * after the handler, commits it and appends its Set-Cookie lines to `c.res` (on a copy: a Response the handler
 * reuses is never changed).
 *
 * `sessions` is a manager, or a function of the context that returns one: on Workers the bindings reach the app
 * only through `c.env`, and a manager built per request does no I/O (its HMAC keys are prepared once per isolate
 * and list of secrets). The function is called once per request, when a handler first awaits the session.
 *
 * - Lazy: the cookie is checked and the store read only when a handler first awaits the variable; a route that
 *   never does costs no store I/O and sets no cookie.
 * - A handler that throws commits nothing (Hono's `onError` answers); nor does a `Response.error()`.
 * - A response that sets the cookie, or that was made from a live session, gets `Cache-Control: private`
 *   appended unless it already says `private` or `no-store`.
 * - A session the handler replaced with `sessions.create(c.req.raw)` (a login, after awaiting the variable) is
 *   committed too, after the first, so its cookie wins.
 *
 * A store failure while reading rejects the awaited promise; while committing it is thrown from the middleware:
 * both reach Hono's `onError` as a `SessionError`.
 *
 * @example
 * import { Hono } from 'hono'
 * import { createSessions } from 'edge-sessions'
 * import { sessionMiddleware, type SessionEnv } from 'edge-sessions/hono'
 * import { createMemoryStore } from 'edge-sessions/memory'
 *
 * type Data = { visits: number }
 * const sessions = createSessions<Data>({ store: createMemoryStore(), secrets: [SECRET] })
 * const app = new Hono<SessionEnv<Data>>()
 * app.use(sessionMiddleware(sessions))
 * app.get('/', async (c) => {
 *   const session = await c.var.session
 *   return c.text(`visit ${session.increment('visits')}`)
 * })
 *
 * // Workers, a manager per request from the bindings:
 * app.use(sessionMiddleware((c: Context<{ Bindings: Env }>) => createSessions<Data>({
 *   store: createKVStore(c.env.SESSIONS_KV), secrets: [c.env.SESSION_SECRET],
 * })))
 */
export function sessionMiddleware<
  Data extends Record<string, unknown> = Record<string, unknown>,
  Name extends string = 'session',
  E extends Env = Env,
>(
  sessions: Sessions<Data> | ((c: Context<E>) => Sessions<Data>),
  options: SessionMiddlewareOptions<Name> = {},
): MiddlewareHandler<SessionEnv<Data, Name>> {
  if (typeof sessions !== 'function' && typeof (sessions as Partial<Sessions<Data>> | null)?.start !== 'function') {
    throw new SessionError(
      'INVALID_OPTION',
      'sessionMiddleware: the first argument must be a manager (createSessions) or a function that returns one',
    );
  }
  refuseUnknownOptions('sessionMiddleware', options, OPTION_NAMES);
  const variable = options.variable ?? ('session' as Name);
  if (typeof variable !== 'string' || variable === '') {
    throw new SessionError('INVALID_OPTION', 'sessionMiddleware: variable must be a non-empty string');
  }

  /** The manager the app's function makes for this request (a block arrow without its `return` makes none). */
  const made = (c: Context): Sessions<Data> => {
    const manager = (sessions as (c: Context<E>) => Sessions<Data>)(c as unknown as Context<E>);
    if (typeof (manager as Partial<Sessions<Data>> | null)?.start !== 'function') {
      throw new SessionError(
        'INVALID_OPTION',
        `sessionMiddleware: the function given returned ${describeValue(manager)}, not a manager (createSessions)`,
      );
    }
    return manager;
  };

  return async (c, next) => {
    let manager: Sessions<Data> | undefined;
    const managerOf = (): Sessions<Data> => (manager ??= typeof sessions === 'function' ? made(c) : sessions);
    // The Request as it came, for this run. A middleware after this one may replace c.req.raw (Hono's bodyLimit
    // does): the replacement stands for it, so the handler's calls with c.req.raw find this request's session, its
    // login and its run, not a second copy read from the same cookie.
    watchReplacements(c.req);
    const raw = c.req.raw;
    // If the run fails, it drops the sessions made on the request while it went on (numbered above `since`), but
    // for one its first read made and handed (`start()` after an earlier run's `destroy()`: numbered `handed`).
    const since = madeSoFar(raw);
    let handed = 0;
    // From its first read until it is over, this run holds the request's session of its kind: a run of the same
    // kind inside it (a sub-app's middleware) leaves this one's sessions to it, and one that finds none holding it
    // is the request's first, or a retry. Undefined until then (or for a manager-like object that counts no runs).
    let nestedInKind: boolean | undefined;
    // Set once this run is over: a read after it (a logger before this middleware, a waitUntil task) holds nothing.
    let over = false;
    const lazy = new LazySession(() => {
      const m = managerOf();
      const first = !over && nestedInKind === undefined && typeof m._enterKind === 'function';
      if (first) nestedInKind = m._enterKind(raw);
      const before = madeSoFar(raw);
      const loading = m.start(raw, backgroundContext(c));
      if (!first) return loading;
      return loading.then((session) => {
        if (session._made > before) handed = session._made;
        return session;
      });
    });
    c.set(variable, lazy);
    try {
      // Once the handler is done, a login or regenerate() on the request is refused (ANSWERED), also while its
      // sessions are committed below; unless this middleware runs inside another (a sub-app's).
      enterRun(raw);
      try {
        await next();
      } catch (error) {
        // Hono rethrew the handler's error (an onError that throws): the run failed, as below, with no Response.
        const m = manager ?? (typeof sessions === 'function' ? undefined : sessions);
        if (m !== undefined) await failed(m, undefined, raw, since, handed, !isNested(m, nestedInKind, raw));
        throw error;
      } finally {
        leaveRun(raw);
      }
      return await settle(c, lazy, raw, since, handed, nestedInKind, managerOf, manager, sessions);
    } finally {
      over = true;
      if (nestedInKind !== undefined) managerOf()._leaveKind(raw);
    }
  };
}

/** After the handler: commit the request's sessions and append their lines, or, if the run failed, settle that. */
async function settle<Data extends Record<string, unknown>, E extends Env>(
  c: Context,
  lazy: LazySession<Data>,
  raw: Request,
  since: number,
  handed: number,
  nestedInKind: boolean | undefined,
  managerOf: () => Sessions<Data>,
  made: Sessions<Data> | undefined,
  sessions: Sessions<Data> | ((c: Context<E>) => Sessions<Data>),
): Promise<void> {
  // Hono caught the handler's error inside next() and onError answered: store nothing of this request. The
  // sessions made meanwhile are dropped (a handle() around the app would commit a failed login), and what
  // earlier commits handed to the handler still goes out, on onError's Response (a login committed early has
  // ended the visitor's old session). Only through a manager there is: the app's function is not called for it.
  if (c.error !== undefined) {
    const manager = made ?? (typeof sessions === 'function' ? undefined : sessions);
    if (manager !== undefined) {
      await failed(manager, c, raw, since, handed, !isNested(manager, nestedInKind, raw), lazy.live);
    }
    return;
  }
  if (!lazy.started) return;
  const nested = nestedInKind ?? isNested(managerOf(), undefined, raw);
  let session: Session<Data>;
  try {
    session = await lazy.first();
  } catch {
    return; // the read failed and the handler answered without a session: there is nothing to commit
  }
  const response = c.res;
  // A network error carries no headers: commit nothing rather than store what no cookie would follow.
  if (response.type === 'error') return abandon(managerOf(), raw, since, handed, !nested, session);
  // The handler may have replaced the session: `create()` (a login) or `start()` after `destroy()`. The
  // manager answers the one the request ends with from memory, no I/O; committed last, its cookie wins.
  const latest = await managerOf().start(raw);
  let cookies: string[];
  try {
    // A failure carries the lines earlier commits handed to the handler (SessionError.headers).
    const committed = await Promise.resolve(session._commitLines()).catch((error: unknown) => {
      throw withHandedLines(error, latest);
    });
    cookies = await finalLines(response, session, committed, latest, !nested);
  } catch (error) {
    abandon(managerOf(), raw, since, handed, !nested, session);
    // Hono's onError answers, and the c.res setter gives its Response the headers of the one it replaces, as for
    // any header a middleware sets on c.res: the lines still to send go there (with `Cache-Control: private`),
    // so they reach the browser with the other middlewares' cookies, whatever onError does with error.headers.
    if (error instanceof SessionError && error.headers !== undefined) {
      c.res = undefined;
      c.res = withSessionHeaders(response, error.headers.getSetCookie(), lazy.live);
    }
    throw error;
  }
  // Sent: an outer middleware run (a sub-app's inside its parent's), or a retry of the same Request, must know.
  if (cookies.length > 0) latest._recordSent(cookies);
  // A page made from a live session differs per user even when no cookie is sent: no shared cache may keep
  // it, nor a cookie for someone else (RFC 9111 §5.2.2.7).
  const copy = withSessionHeaders(response, cookies, lazy.live);
  if (copy === response) return;
  // Setting c.res over an existing one merges the old headers into the new (the old Set-Cookie lines replace
  // the new ones, the old Cache-Control overwrites): clear it first so the copy goes in as it is.
  c.res = undefined;
  c.res = copy;
}

/**
 * The variable's value: a promise of the session that starts loading only when first awaited. Each `then`
 * after the first answers the request's session as it is then, from memory; a failed load is not remembered (as
 * in the manager), so a later await tries again.
 */
class LazySession<Data extends Record<string, unknown>> implements Promise<Session<Data>> {
  readonly [Symbol.toStringTag] = 'Promise';
  /** Set when the loaded session was stored, not new: the response then differs per user. */
  live = false;
  readonly #load: () => Promise<Session<Data>>;
  #loading: Promise<Session<Data>> | undefined;

  constructor(load: () => Promise<Session<Data>>) {
    this.#load = load;
  }

  /** True once a handler awaited the session (and its load has not failed). */
  get started(): boolean {
    return this.#loading !== undefined;
  }

  then<A = Session<Data>, B = never>(
    onfulfilled?: ((session: Session<Data>) => A | PromiseLike<A>) | null | undefined,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null | undefined,
  ): Promise<A | B> {
    return this.#session().then(onfulfilled, onrejected);
  }

  catch<B = never>(
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null | undefined,
  ): Promise<Session<Data> | B> {
    return this.#session().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null | undefined): Promise<Session<Data>> {
    return this.#session().finally(onfinally);
  }

  /** The session the request started with (the first await's): the middleware commits from it on. */
  first(): Promise<Session<Data>> {
    return this.#loading ?? this.#session();
  }

  /**
   * The first await reads the session; each later one answers the request's session now, from memory: a login
   * (`create()`) in an earlier middleware, or `start()` after `destroy()`, has replaced the first.
   */
  #session(): Promise<Session<Data>> {
    if (this.#loading !== undefined) return this.#loading.then(() => this.#load());
    let loaded: Promise<Session<Data>>;
    try {
      loaded = this.#load();
    } catch (error) {
      loaded = Promise.reject(error); // a manager factory that throws: a rejection, like a failed read
    }
    const loading = loaded.then((session) => {
      if (!session.isNew) this.live = true;
      return session;
    });
    this.#loading = loading;
    loading.catch(() => {
      if (this.#loading === loading) this.#loading = undefined;
    });
    return loading;
  }
}

/**
 * The run failed: `manager` drops the sessions made on the request since the count `since` that committed nothing,
 * as `handle()` does, and, for an `outermost` run, forgets the Request if nothing of it was committed, so a retry
 * reads it again (a manager-like object without that part of a manager drops nothing).
 */
function abandon<Data extends Record<string, unknown>>(
  manager: Sessions<Data>,
  raw: Request,
  since: number,
  handed: number,
  outermost: boolean,
  read: Session<Data> | undefined,
): void {
  if (typeof manager._abandon === 'function') manager._abandon(raw, since, outermost, read, handed);
}

/**
 * The handler failed: `abandon`, then append to onError's Response (`c`; none when onError rethrew) what earlier
 * commits handed the handler, and mark it private if the run read a `live` session: onError may show what the
 * session holds (a page per user, as after a handler that answers). Only for a session of the request this manager
 * holds (it read or made one): no I/O.
 */
async function failed<Data extends Record<string, unknown>>(
  manager: Sessions<Data>,
  c: Context | undefined,
  raw: Request,
  since: number,
  handed: number,
  outermost: boolean,
  live = false,
): Promise<void> {
  const cached = typeof manager._cached === 'function' ? manager._cached(raw) : undefined;
  if (cached === undefined) return;
  let latest: Session<Data>;
  try {
    latest = await cached;
  } catch {
    return; // its read failed: nothing of it was committed
  }
  // Before `abandon`, which may forget the Request: the sessions it drops committed nothing anyway.
  // A network error (onError's Response.error()) carries no headers.
  const lines = c === undefined || c.res.type === 'error' ? [] : handedLines(c.res.headers.getSetCookie(), latest);
  abandon(manager, raw, since, handed, outermost, latest);
  if (c === undefined || c.res.type === 'error') return;
  const copy = withSessionHeaders(c.res, lines, live);
  if (copy === c.res) return;
  c.res = undefined;
  c.res = copy;
}

/**
 * Whether this run is nested in another of its kind: known from its first read (`nestedInKind`), or, for a run
 * whose handler never read the variable, whether one of its kind holds the session now.
 */
function isNested<Data extends Record<string, unknown>>(
  manager: Sessions<Data>,
  nestedInKind: boolean | undefined,
  raw: Request,
): boolean {
  if (nestedInKind !== undefined) return nestedInKind;
  return typeof manager._kindHeld === 'function' ? manager._kindHeld(raw) : inRun(raw);
}

/** Hono requests whose `raw` is watched: one watch per request, however many middleware runs it has. */
const watched = new WeakSet<object>();

/**
 * Makes each Request set as `req.raw` from now on (Hono's bodyLimit replaces it) stand for the one it replaces,
 * at once: the handler after it may call the manager with it before this middleware runs again.
 */
function watchReplacements(req: { raw: Request }): void {
  if (watched.has(req)) return;
  watched.add(req);
  let current = req.raw;
  try {
    Object.defineProperty(req, 'raw', {
      configurable: true,
      enumerable: true,
      get: () => current,
      set: (next: Request) => {
        if (typeof next === 'object' && next !== null) standIn(next, current);
        current = next;
      },
    });
  } catch {
    // A request object that cannot take the accessor (frozen): its replacements are not linked.
  }
}

function backgroundContext(c: Context): BackgroundContext | undefined {
  let ctx: { waitUntil?: unknown } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    return undefined; // Hono's getter throws where the runtime passed no context (Deno, Bun, app.request())
  }
  return typeof ctx?.waitUntil === 'function' ? (ctx as BackgroundContext) : undefined;
}
