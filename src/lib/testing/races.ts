// Requests of one session that overlap, run through the manager on a store: natural overlaps (Promise.all, many
// tries) and deterministic interleavings (a store call held at a gate while another request runs to the end).
// Shared by every server-side store; the workerd suites add interleavings inside KV's and Durable Objects'
// multi-step transactions through wrapped bindings.
import { SessionError } from '../../errors.js';
import type { SessionEvent } from '../events.js';
import { createSessions, type CreateOptions, type Sessions } from '../../manager.js';
import { commitAll, type Session } from '../../session.js';
import { refuseNonBoolean, refuseUnknownOptions } from '../option-names.js';
import type { SessionChanges, SessionStore, SessionTimes } from '../store-contract.js';
import { createCookieJar } from './cookie-jar.js';
import type { Expect, TestRunner } from './runner.js';
import {
  cookiePair,
  createClock,
  OLD_SECRET,
  request,
  SECRET,
  thrownBy,
  uniqueUser,
  type TestClock,
} from './support.js';

/** Tries of each natural overlap. */
const TRIES = 20;

/**
 * Tries of a natural overlap that ends a session each try, which the next cannot reuse: fewer, as on Durable
 * Objects every session is an object, and in the workerd test runtime every object slows each later call of the
 * file (20 tries of one cost some 20 s there). A deterministic interleaving of the same requests holds each order.
 */
const ENDING_TRIES = 6;

/** Options of {@link describeLifecycleRaces}. */
export interface RaceOptions {
  /**
   * Every transaction is atomic (memory, Durable Objects): overlapping writes never lose a change. False for KV,
   * whose read-merge-write leaves a lost-update window (its revocation guarantees are still checked).
   */
  readonly exact: boolean;
}

/**
 * `change` on a session read before `destroy`; its commit writes nothing, sends no cookie,
 * and the session stays destroyed.
 */
export async function expectDestroyedMeanwhileStaysDestroyed(
  expect: Expect,
  sessions: Sessions,
  cookie: string,
  change: (stale: Session) => void,
): Promise<Session> {
  const stale = await sessions.start(request(cookie));
  await sessions.destroy(request(cookie));
  change(stale);
  expect((await stale.commit()).getSetCookie()).toEqual([]);
  expect(stale.destroyed).toBe(true);
  expect((await sessions.start(request(cookie))).isNew).toBe(true);
  return stale;
}

/**
 * Writes that store an expiry past the manager's `expires` (an hour in the suites), each on a session created with
 * `own`: a change under the session's own lifetime of 400 days or an unlimited one, a shift of its own lifetime,
 * a new lifetime of 400 days. `write` makes one request's write, through the manager.
 */
export const LONG_WRITES: readonly {
  readonly what: string;
  readonly own: CreateOptions<Record<string, unknown>>;
  write(sessions: Sessions, cookie: string): Promise<unknown>;
}[] = [
  { what: 'its own lifetime of 400 days', own: { expires: 400 * 86_400 }, write: change },
  { what: 'its own unlimited lifetime', own: { expires: Infinity }, write: change },
  {
    what: 'its own lifetime shifted',
    own: { expires: 400 * 86_400 },
    write: (sessions, cookie) => sessions.shiftExpiration(request(cookie)),
  },
  {
    what: 'a new lifetime of 400 days',
    own: {},
    write: (sessions, cookie) => sessions.updateExpiration(request(cookie), 400 * 86_400),
  },
];

async function change(sessions: Sessions, cookie: string): Promise<Headers> {
  const session = await sessions.start(request(cookie));
  session.set('late', true);
  return session.commit();
}

/** A call held at a gate: `reached` resolves when the call arrives, `release()` lets it go on. */
export interface Held {
  readonly reached: Promise<void>;
  release(): void;
}

type Method = 'get' | 'create' | 'update' | 'regenerate' | 'destroy';

/**
 * The store with gates: `hold(method, 'before')` stops the next call of `method` before it reaches the store;
 * `'after'` lets it complete in the store and holds its answer from the manager.
 */
export function gatedStore(store: SessionStore): {
  store: SessionStore;
  hold(method: Method, when: 'before' | 'after'): Held;
} {
  const holds = new Map<Method, { when: 'before' | 'after'; arrive(): void; gate: Promise<void> }>();
  const wrapped = Object.create(store) as SessionStore;
  for (const method of ['get', 'create', 'update', 'regenerate', 'destroy'] as const) {
    const original = store[method] as (...args: unknown[]) => Promise<unknown>;
    Object.defineProperty(wrapped, method, {
      value: async (...args: unknown[]) => {
        const held = holds.get(method);
        if (held === undefined) return original.apply(store, args);
        holds.delete(method);
        if (held.when === 'before') {
          held.arrive();
          await held.gate;
          return original.apply(store, args);
        }
        const answer = await original.apply(store, args);
        held.arrive();
        await held.gate;
        return answer;
      },
    });
  }
  return {
    store: wrapped,
    hold(method, when) {
      let arrive!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((resolve) => (arrive = resolve));
      const gate = new Promise<void>((resolve) => (release = resolve));
      holds.set(method, { when, arrive, gate });
      return { reached, release };
    },
  };
}

/**
 * A manager over a fresh gated store on a test clock, as the race and per-user suites use it: sessions live an
 * hour, idle out after 600 s, and a touch is due after 60 s. `events` collects what the manager emitted.
 */
export async function gatedSessions(createStore: (clock: TestClock) => SessionStore | Promise<SessionStore>) {
  const clock = createClock();
  const events: SessionEvent[] = [];
  const gated = gatedStore(await createStore(clock));
  const sessions = racingManager(gated.store, clock, events);
  return { clock, events, sessions, hold: gated.hold, store: gated.store };
}

/**
 * The manager every race runs through: lifetime an hour, idle after 600 s, a touch due after 60 s; `secrets` as a
 * rotation has them when given.
 */
function racingManager(store: SessionStore, clock: TestClock, events: SessionEvent[], secrets = [SECRET]) {
  return createSessions({
    store,
    secrets,
    now: clock.now,
    expires: 3600,
    idleTimeout: 600,
    touchAfter: 60,
    onEvent: (e) => events.push(e),
  });
}

/** Runs `meanwhile` while `held` keeps `call` at its gate, then lets `call` go on: one deterministic interleaving. */
async function whileHeld<T>(held: Held, call: Promise<T>, meanwhile: () => Promise<unknown>): Promise<T> {
  await held.reached;
  await meanwhile();
  held.release();
  return call;
}

/** A committed session of a user: its ID and cookie. */
interface Login {
  readonly id: string;
  readonly cookie: string;
  readonly userId: string;
}

/** A login of `userId` (its data says who), committed, on a request that carries `cookie` when given. */
async function logIn(sessions: Sessions, userId: string, cookie?: string): Promise<Login> {
  const s = await sessions.create(request(cookie), { userId, data: { who: userId } });
  const set = cookiePair(await s.commit());
  return { id: s.id, cookie: set, userId };
}

/** A commit of `old` from another request; get(), not start(): one that finds it ended stores nothing new. */
async function commitOld(sessions: Sessions, old: Login): Promise<undefined> {
  const s = await sessions.get(request(old.cookie));
  s?.set('late', true);
  await s?.commit();
  return undefined;
}

/**
 * What another request does to the session a login replaces, and the store call it can be held at. A second
 * login (of the same user) answers its own session; the others end the old session or write to it.
 */
const RIVALS: readonly {
  readonly what: string;
  readonly method: Method;
  run(sessions: Sessions, old: Login): Promise<Login | undefined>;
}[] = [
  {
    what: 'destroyById of the old session',
    method: 'destroy',
    run: async (sessions, old) => void (await sessions.destroyById(old.id)),
  },
  { what: 'a commit of the old session', method: 'update', run: commitOld },
  {
    what: 'a logout of the old session',
    method: 'destroy',
    run: async (sessions, old) => void (await sessions.destroy(request(old.cookie))),
  },
  {
    what: 'a second login from another tab',
    method: 'create',
    run: (sessions, old) => logIn(sessions, old.userId, old.cookie),
  },
];

/** Where a login's commit can be held: its create, before and after the store, and its end of the old session. */
const LOGIN_HOLDS: readonly (readonly [Method, 'before' | 'after', string])[] = [
  ['create', 'before', 'before its create'],
  ['create', 'after', 'after its create is stored'],
  ['destroy', 'before', 'before it ends the old session'],
];

/** A login then its logout through handle(): create(), its commit when `commitFirst`, then destroy(). */
async function inHandle(sessions: Sessions, cookie: string, userId: string, commitFirst = false) {
  let id = '';
  const app = sessions.handle(async (req) => {
    const login = await sessions.create(req, { userId });
    if (commitFirst) await login.commit();
    id = login.id;
    await sessions.destroy(req);
    return new Response('signed out');
  });
  const { headers } = await app(request(cookie));
  return { id, headers };
}

/**
 * A login then a logout of it in one request that carries `cookie`, as an app writes it: the login's ID and the
 * request's Set-Cookie.
 */
const LOGIN_LOGOUTS: readonly {
  readonly what: string;
  run(sessions: Sessions, cookie: string, userId: string): Promise<{ id: string; headers: Headers }>;
}[] = [
  { what: 'handle(): create() then destroy()', run: (sessions, cookie, userId) => inHandle(sessions, cookie, userId) },
  {
    what: 'handle(): create(), its commit, then destroy()',
    run: (sessions, cookie, userId) => inHandle(sessions, cookie, userId, true),
  },
  {
    what: 'commitAll of the old session and the login, ended by login.destroy()',
    async run(sessions, cookie, userId) {
      const req = request(cookie);
      const old = await sessions.start(req);
      const login = await sessions.create(req, { userId });
      login.destroy();
      const headers = await commitAll(old, login);
      return { id: login.id, headers };
    },
  },
];

/** `a()` and `b()` started in that order, or the other way round when `swap`; their answers in the order given. */
async function overlap<A, B>(a: () => Promise<A>, b: () => Promise<B>, swap: boolean): Promise<[A, B]> {
  if (!swap) return Promise.all([a(), b()]);
  const [y, x] = await Promise.all([b(), a()]);
  return [x, y];
}

/** A session a request logged in: its ID and user (its cookie is in the request's response). */
interface Made {
  readonly id: string;
  readonly userId: string;
}

/** One request through `sessions.handle()`: the response it ends with, and the logins its handler made, in order. */
interface Handled {
  readonly response: Response;
  readonly logins: readonly Made[];
}

/**
 * What a request carrying the old session's cookie does through `handle()`, written as an app writes it, and what
 * the browser keeps when its response is the last to arrive: the request's last login, no cookie (a logout), or
 * either of those (a change of the old session: when another request has ended that session first, its response
 * sends nothing, or clears the cookie, which a browser applies to whatever cookie of that name it holds).
 */
interface Flow {
  readonly what: string;
  readonly leaves: 'its login' | 'no cookie' | 'either';
  handler(
    sessions: Sessions,
    userId: string,
    logins: Made[],
  ): (request: Request, session: Session) => Promise<Response>;
}

/** A login of `userId` on `req`, noted in `logins`; handle() commits it unless the caller does. */
async function loginOn(sessions: Sessions, req: Request, userId: string, logins: Made[]): Promise<Session> {
  const login = await sessions.create(req, { userId, data: { who: userId } });
  logins.push({ id: login.id, userId });
  return login;
}

/** `response` with the Set-Cookie lines of `headers` appended, as a handler that sends a commit's headers does. */
function appended(response: Response, headers: Headers): Response {
  for (const line of headers.getSetCookie()) response.headers.append('Set-Cookie', line);
  return response;
}

const LOGIN: Flow = {
  what: 'a login',
  leaves: 'its login',
  handler: (sessions, userId, logins) => async (req) => {
    await loginOn(sessions, req, userId, logins);
    return new Response('signed in');
  },
};

const LOGOUT: Flow = {
  what: 'a logout',
  leaves: 'no cookie',
  handler: () => async (_req, session) => {
    session.destroy();
    return new Response('signed out');
  },
};

/** A signed-in user's write (an API call): a request whose session is already gone writes nothing. */
const CHANGE: Flow = {
  what: 'a change of the old session',
  leaves: 'either',
  handler: () => async (_req, session) => {
    if (session.userId !== undefined) session.set('late', true);
    return new Response('saved');
  },
};

/** A switch of account in one handler: the old session ends, a login follows (one in between ends too). */
const SWITCHES: readonly Flow[] = [
  {
    what: 'a switch of account (destroy(), then a login the app commits and appends)',
    leaves: 'its login',
    handler: (sessions, userId, logins) => async (req, session) => {
      session.destroy();
      const login = await loginOn(sessions, req, userId, logins);
      return appended(new Response('switched'), await login.commit());
    },
  },
  {
    what: 'a switch of account (destroy(), a login, commitAll(login, old) appended)',
    leaves: 'its login',
    handler: (sessions, userId, logins) => async (req, session) => {
      session.destroy();
      const login = await loginOn(sessions, req, userId, logins);
      // gorilla's sessions.Save(r, w): the order given is not the order they followed each other.
      return appended(new Response('switched'), await commitAll(login, session));
    },
  },
  {
    what: 'a login, its logout, then a second login',
    leaves: 'its login',
    handler: (sessions, userId, logins) => async (req) => {
      await loginOn(sessions, req, userId, logins); // e.g. a remember-me middleware signs the visitor in...
      await sessions.destroy(req); // ...the login route signs out whoever it was...
      await loginOn(sessions, req, userId, logins); // ...and signs the visitor in
      return new Response('signed in');
    },
  },
];

/** One request carrying `old`'s cookie, through `sessions.handle()` as `flow` writes its handler. */
async function through(sessions: Sessions, old: Login, flow: Flow): Promise<Handled> {
  const logins: Made[] = [];
  const response = await sessions.handle(flow.handler(sessions, old.userId, logins))(request(old.cookie));
  return { response, logins };
}

/** The Cookie header a browser that held `cookie` sends after these responses arrive, in this order. */
function browserAfter(cookie: string, ...responses: Response[]): string | undefined {
  const jar = createCookieJar();
  jar.apply(new Headers([['Set-Cookie', `${cookie}; Path=/`]]));
  for (const response of responses) jar.apply(response);
  return jar.header();
}

/**
 * Requests of one cookie through `handle()` at once, as tabs send them; each pair has a login, whose session the
 * next try replaces. Few and busy on purpose: on Durable Objects every session is an object, and in the workerd
 * test runtime every object slows each later call of the file.
 */
const OVERLAPS: readonly { readonly what: string; flows(i: number): readonly Flow[] }[] = [
  { what: 'a login, a second login (another tab) and a logout', flows: () => [LOGIN, LOGIN, LOGOUT] },
  {
    what: 'a login (plain, or a switch of account in three forms, in turn) and a change of the old session',
    flows: (i) => [[LOGIN, ...SWITCHES][i % (SWITCHES.length + 1)]!, CHANGE],
  },
];

/** `runs` started together, `runs[i % n]` first and the rest in turn after it; their answers in the order given. */
async function together<T>(runs: readonly (() => Promise<T>)[], i: number): Promise<T[]> {
  const order = runs.map((_, j) => (j + i) % runs.length);
  const answers = await Promise.all(order.map((k) => runs[k]!()));
  const inOrder: T[] = [];
  order.forEach((k, j) => (inOrder[k] = answers[j]!));
  return inOrder;
}

/**
 * A request through `handle()` held at a store call while another runs to the end. `quiet`: the held request's
 * response sets no cookie (its write finds the session ended, README: "sends no cookie at all").
 */
const HELD_REQUESTS: readonly {
  readonly held: Flow;
  readonly at: readonly [Method, 'before' | 'after', string];
  readonly meanwhile: Flow;
  readonly quiet?: boolean;
}[] = [
  { held: LOGIN, at: ['destroy', 'before', 'before it ends the old session'], meanwhile: LOGOUT },
  { held: LOGOUT, at: ['destroy', 'before', 'before its destroy'], meanwhile: LOGIN },
  { held: CHANGE, at: ['update', 'before', 'before its update'], meanwhile: LOGIN, quiet: true },
  { held: SWITCHES[0]!, at: ['create', 'after', 'after its login is stored'], meanwhile: LOGOUT },
  { held: SWITCHES[1]!, at: ['create', 'before', 'before its create'], meanwhile: CHANGE },
  { held: SWITCHES[2]!, at: ['destroy', 'before', 'before it ends the old session'], meanwhile: CHANGE },
];

/** A request through `handle()` that may fail: what the browser gets, and what the handler threw if it did. */
interface Answered {
  readonly response: Response;
  readonly error?: unknown;
}

/**
 * `app(req)`, answered as the README's fetch wrapper does when the handler throws: a 503 carrying the error's
 * `headers` (what earlier commits must still send) when it is a `SessionError`, nothing else otherwise.
 */
async function answered(app: (req: Request) => Promise<Response>, req: Request): Promise<Answered> {
  try {
    return { response: await app(req) };
  } catch (error) {
    const headers = error instanceof SessionError && error.headers !== undefined ? error.headers : [];
    return { response: new Response('try again', { status: 503, headers }), error };
  }
}

/**
 * A login whose run fails, which commits nothing (README, handle()): the visitor keeps the session they had.
 * `thrown`: the handler throws after `create()`; otherwise it answers `Response.error()` (an upstream fetch failed).
 */
const FAILED_LOGINS: readonly {
  readonly thrown: boolean;
  handler(sessions: Sessions, userId: string, logins: Made[]): (req: Request) => Promise<Response>;
}[] = [
  {
    thrown: true,
    handler: (sessions, userId, logins) => async (req) => {
      await loginOn(sessions, req, userId, logins);
      throw new Error('second factor rejected');
    },
  },
  {
    thrown: false,
    handler: (sessions, userId, logins) => async (req) => {
      await loginOn(sessions, req, userId, logins);
      return networkError();
    },
  },
];

/** `Response.error()`, a network error, which the web types of src/ (lib/web.d.ts) leave out. */
function networkError(): Response {
  return (Response as unknown as { error(): Response }).error();
}

/**
 * A logout committed early (by `sessions.destroy()`, or `destroy()` and `commit()` as a middleware does), then a
 * throw: the logout stands, and the error, not a `SessionError`, carries no lines (README, Errors).
 */
const LOGOUTS_THEN_THROW: readonly ((sessions: Sessions) => (req: Request, session: Session) => Promise<Response>)[] = [
  (sessions) => async (req) => {
    await sessions.destroy(req);
    throw new Error('audit log down');
  },
  () => async (_req, session) => {
    session.destroy();
    await session.commit();
    throw new Error('audit log down');
  },
];

/** A signed-in user's write: `n` up by one; a request whose session is already gone writes nothing. */
function counting(sessions: Sessions): (req: Request) => Promise<Response> {
  return sessions.handle(async (_req, session) => {
    if (!session.isNew) session.increment('n');
    return new Response('counted');
  });
}

/**
 * Registers the lifecycle races on a store, through the manager: requests of one session that overlap
 * (`Promise.all`, 20 tries each) and deterministic interleavings (a store call held while another request runs
 * to the end). Nobody's change is lost, nothing ended comes back.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest'; // or 'bun:test'
 * import { describeLifecycleRaces } from 'edge-sessions/testing';
 *
 * const runner = { describe, it, expect };
 * describeLifecycleRaces('my store', (clock) => createMyStore({ now: clock.now }), runner, { exact: true });
 * ```
 */
export function describeLifecycleRaces(
  name: string,
  createStore: (clock: TestClock) => SessionStore | Promise<SessionStore>,
  runner: TestRunner,
  options: RaceOptions,
): void {
  if (options === undefined) {
    throw new SessionError('INVALID_OPTION', 'describeLifecycleRaces: options { exact: true | false } are required');
  }
  refuseUnknownOptions('describeLifecycleRaces', options, RACE_OPTIONS);
  // Required: `exact: 'false'` would hold a store to the exact tests, a missing one silently skip them.
  refuseNonBoolean('describeLifecycleRaces', options, 'exact', false);
  const { describe, it, expect } = runner;
  const setup = () => gatedSessions(createStore);

  async function login(sessions: Sessions, act: (s: Session) => void = (s) => s.set('u', 'ada')) {
    const s = await sessions.start(request());
    act(s);
    return cookiePair(await s.commit());
  }

  async function alive(sessions: Sessions, cookie: string): Promise<boolean> {
    return !(await sessions.start(request(cookie))).isNew;
  }

  /** The cookie a commit's headers set, if any. */
  function setCookie(headers: Headers): string | undefined {
    return headers.getSetCookie().length === 0 ? undefined : cookiePair(headers);
  }

  /**
   * A regenerate (`renewing`, from `oldId`) raced a logout or a destroyById of `oldId`: `destroyed` was told once,
   * and names an ID the session was live under: one of `ids` (the old one, or the new one the regenerate's commit
   * handed out). Clears `events`, so a loop checks each try on its own.
   */
  function expectEndNamed(events: SessionEvent[], ...ids: string[]): void {
    const named = events.flatMap((e) => (e.type === 'destroyed' ? [e.id] : []));
    events.length = 0;
    expect(named).toHaveLength(1);
    expect(ids).toContain(named[0]);
  }

  /** The IDs listed for `userId`, sorted; undefined on a store without a per-user index. */
  async function listed(sessions: Sessions, userId: string): Promise<string[] | undefined> {
    try {
      return (await sessions.listByUser(userId)).map((info) => info.id).sort();
    } catch (error) {
      if (error instanceof SessionError && error.code === 'STORE_UNSUPPORTED') return undefined;
      throw error;
    }
  }

  /**
   * Of these sessions exactly `live` work: each in `ended` is gone by ID and by cookie, each in `live` opens by
   * its cookie; with `listing`, their users have only `live` listed (see {@link expectListed}).
   */
  async function expectOnly(
    sessions: Sessions,
    ended: readonly { id: string; cookie?: string; userId: string }[],
    live: readonly Login[],
    listing = true,
  ): Promise<void> {
    for (const s of ended) {
      expect(await sessions.getById(s.id)).toBeNull();
      if (s.cookie !== undefined) expect(await alive(sessions, s.cookie)).toBe(false);
    }
    for (const s of live) expect((await sessions.start(request(s.cookie))).get('who')).toBe(s.userId);
    if (listing) await expectListed(sessions, [...ended, ...live], live);
  }

  /**
   * The users of `sessions` have exactly their `live` sessions listed, on a store with a per-user index: no
   * session is left live that no cookie names. (A store without one is checked by ID and cookie only.)
   */
  async function expectListed(
    sessions: Sessions,
    of: readonly { userId: string }[],
    live: readonly Login[],
  ): Promise<void> {
    for (const userId of new Set(of.map((s) => s.userId))) {
      const ids = await listed(sessions, userId);
      const expected = live.filter((s) => s.userId === userId).map((s) => s.id);
      if (ids !== undefined) expect(ids).toEqual(expected.sort());
    }
  }

  /**
   * A login (of `old`'s user) then its logout in one request left neither it nor `old` live, nor a cookie; with
   * `listing`, the user has no session listed.
   */
  async function expectLoggedOut(
    sessions: Sessions,
    old: Login,
    out: { id: string; headers: Headers },
    listing = true,
  ) {
    const jar = createCookieJar();
    jar.apply(new Headers([['Set-Cookie', `${old.cookie}; Path=/`]]));
    jar.apply(out.headers);
    expect(jar.header()).toBeUndefined();
    await expectOnly(sessions, [old, { id: out.id, userId: old.userId }], [], listing);
  }

  /** Changes made `pause` microtasks into a commit of `s`: `b` set, `n` up by 10, `a` deleted. */
  async function changeMeanwhile(s: Session, b: number, pause = 0): Promise<void> {
    for (let k = 0; k < pause; k++) await null;
    s.set('b', b);
    s.increment('n', 10);
    s.delete('a');
  }

  /** The ID of the live session the Cookie header `header` opens, or undefined (no cookie, or a dead one). */
  async function opened(sessions: Sessions, header: string | undefined): Promise<string | undefined> {
    return header === undefined ? undefined : (await sessions.get(request(header)))?.id;
  }

  /**
   * A browser that held `cookie` opens the session `id` (undefined: none) whichever of `a` and `b` reaches it last
   * (a Cookie header both orders leave is read once: on Durable Objects every read is a call).
   */
  async function expectEitherLast(sessions: Sessions, cookie: string, a: Response, b: Response, id?: string) {
    const headers = new Set([browserAfter(cookie, a, b), browserAfter(cookie, b, a)]);
    for (const header of headers) expect(await opened(sessions, header)).toBe(id);
  }

  /**
   * None of the logins `made` (failed runs' logins, never committed) is live: by its user's listing on a store
   * with a per-user index (one call however many), by ID otherwise.
   */
  async function expectNoneLive(sessions: Sessions, made: readonly Made[]): Promise<void> {
    for (const userId of new Set(made.map((s) => s.userId))) {
      const ids = await listed(sessions, userId);
      if (ids !== undefined) expect(ids).toEqual([]);
      else for (const s of made) if (s.userId === userId) expect(await sessions.getById(s.id)).toBeNull();
    }
  }

  /**
   * Rotation (README, Security): a manager of the old secret (`before`) and one that put a new secret first, on one
   * store; `page` answers a read, whose response re-signs an old cookie (commit plan `resend`), `logout` ends it.
   */
  async function rotation() {
    const { clock, events, store, hold } = await setup();
    const before = racingManager(store, clock, events, [OLD_SECRET]);
    const sessions = racingManager(store, clock, events, [SECRET, OLD_SECRET]);
    const page = sessions.handle(async (_req, session) => new Response(`hello ${String(session.get('who'))}`));
    const logout = sessions.handle(LOGOUT.handler(sessions, '', []));
    return { before, sessions, page, logout, hold };
  }

  /** The cookie `headers` set is `old`'s re-signed: its ID, another value. */
  function expectResigned(headers: Headers, old: Login): void {
    const [pair] = cookiePair(headers).split('; ');
    expect(pair!.split('.')[0]).toBe(old.cookie.split('.')[0]);
    expect(pair).not.toBe(old.cookie);
  }

  /**
   * Requests that carried `old`'s cookie ended through `handle()` (each `flows[k]`, which answered `handled[k]`)
   * as promised, whichever response the browser got last: that response's login if it logged in (so it lives, by
   * its cookie), no cookie if it logged out, and never a session that no longer lives. In the store, `old` is
   * ended by ID and by cookie, a login its own request replaced by ID. Gives each request's last login, with its
   * cookie. (Each session is read as few times as can be: on Durable Objects every read is a call.)
   */
  async function expectRequestEnds(
    sessions: Sessions,
    old: Login,
    flows: readonly Flow[],
    handled: readonly Handled[],
  ): Promise<Login[]> {
    const ended: { id: string; cookie?: string; userId: string }[] = [old];
    const live: Login[] = [];
    flows.forEach((flow, k) => {
      const { response, logins } = handled[k]!;
      const last = flow.leaves === 'its login' ? logins.at(-1) : undefined;
      ended.push(...logins.filter((s) => s !== last));
      // The cookie its response alone leaves in the browser.
      if (last !== undefined) live.push({ ...last, cookie: browserAfter(old.cookie, response) ?? 'none' });
    });
    for (let k = 0; k < flows.length; k++) {
      const header = browserAfter(
        old.cookie,
        ...handled.filter((_, j) => j !== k).map((h) => h.response),
        handled[k]!.response,
      );
      const id = await opened(sessions, header);
      if (flows[k]!.leaves === 'its login') expect(id).toBe(handled[k]!.logins.at(-1)!.id);
      if (flows[k]!.leaves === 'no cookie') expect(header).toBeUndefined();
      expect([undefined, ...live.map((s) => s.id)]).toContain(id);
    }
    await expectOnly(sessions, ended, [], false);
    return live;
  }

  // Guarantees only an atomic store gives are not asked of KV (registered, not skipped: a green run skips none).
  const itIfExact: typeof it = options.exact ? it : ((() => undefined) as unknown as typeof it);

  describe(`${name}: lifecycle races (natural overlaps, ${TRIES} tries each)`, () => {
    it('a commit overlapping destroyById never brings the session back', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const cookie = await login(sessions);
        const stale = await sessions.start(request(cookie));
        stale.set('late', i);
        await Promise.all([stale.commit(), sessions.destroyById(stale.id)]);
        expect(await alive(sessions, cookie)).toBe(false);
      }
    });

    it('a touch (idle timeout) overlapping a logout never brings the session back', async () => {
      const { sessions, clock } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const cookie = await login(sessions);
        clock.advanceSec(120); // a touch is due
        const reader = await sessions.start(request(cookie));
        await Promise.all([reader.commit(), sessions.destroy(request(cookie))]);
        expect(await alive(sessions, cookie)).toBe(false);
      }
    });

    it('a regenerate overlapping destroyById of the old ID ends the session under both IDs', async () => {
      const { sessions, events } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const cookie = await login(sessions);
        const renewing = await sessions.start(request(cookie));
        const oldId = renewing.id;
        renewing.regenerate();
        events.length = 0;
        const [headers] = await Promise.all([renewing.commit(), sessions.destroyById(oldId)]);
        expect(await alive(sessions, cookie)).toBe(false);
        const renewed = setCookie(headers);
        if (renewed !== undefined) expect(await alive(sessions, renewed)).toBe(false);
        expectEndNamed(events, oldId, ...(renewed === undefined ? [] : [renewing.id]));
      }
    });

    it('destroyAll overlapping a commit and a regenerate never brings either session back', async () => {
      const { sessions, store, clock } = await setup();
      if (store.clear === undefined) {
        await expect(sessions.destroyAll()).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
        return;
      }
      for (let i = 0; i < TRIES; i++) {
        const [writing, moving] = [await login(sessions), await login(sessions)];
        clock.advance(1000); // destroyAll ends the sessions made before it
        const stale = await sessions.start(request(writing));
        stale.set('late', i);
        const renewing = await sessions.start(request(moving));
        renewing.regenerate();
        const [, headers] = await Promise.all([stale.commit(), renewing.commit(), sessions.destroyAll()]);
        for (const cookie of [writing, moving, setCookie(headers)]) {
          if (cookie !== undefined) expect(await alive(sessions, cookie)).toBe(false);
        }
      }
    });

    it('a regenerate overlapping a logout from another tab ends the session under both IDs', async () => {
      const { sessions, events } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const cookie = await login(sessions);
        const renewing = await sessions.start(request(cookie));
        const oldId = renewing.id;
        renewing.regenerate();
        events.length = 0;
        const [headers] = await Promise.all([renewing.commit(), sessions.destroy(request(cookie))]);
        expect(await alive(sessions, cookie)).toBe(false);
        const renewed = setCookie(headers);
        if (renewed !== undefined) expect(await alive(sessions, renewed)).toBe(false);
        expectEndNamed(events, oldId, ...(renewed === undefined ? [] : [renewing.id]));
      }
    });

    it('of two overlapping regenerates one wins (KV: at least one) with the data; the old cookie is dead', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const cookie = await login(sessions);
        const [a, b] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
        a.regenerate();
        b.regenerate();
        const cookies = (await Promise.all([a.commit(), b.commit()])).map(setCookie);
        const winners = cookies.filter((c) => c !== undefined);
        if (options.exact) {
          expect(winners).toHaveLength(1);
          expect([a.destroyed, b.destroyed].filter(Boolean)).toHaveLength(1);
        }
        expect(winners.length).toBeGreaterThanOrEqual(1);
        for (const winner of winners) expect((await sessions.start(request(winner))).get('u')).toBe('ada');
        expect(await alive(sessions, cookie)).toBe(false);
      }
    });

    it('a commit overlapping a regenerate either moves with the session or is told the session moved', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const cookie = await login(sessions);
        const [renewing, other] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
        renewing.regenerate();
        other.set('cart', i);
        const [headers] = await Promise.all([renewing.commit(), other.commit()]);
        const moved = await sessions.start(request(cookiePair(headers)));
        expect(moved.get('u')).toBe('ada');
        if (options.exact) expect(moved.get('cart') === i || other.destroyed).toBe(true);
        expect(await alive(sessions, cookie)).toBe(false);
      }
    });

    itIfExact('overlapping increments all count', async () => {
      const { sessions } = await setup();
      const cookie = await login(sessions, (s) => s.set('n', 0));
      const loaded = await Promise.all(Array.from({ length: TRIES }, () => sessions.start(request(cookie))));
      for (const s of loaded) s.increment('n');
      await Promise.all(loaded.map((s) => s.commit()));
      expect((await sessions.start(request(cookie))).get('n')).toBe(TRIES);
    });

    itIfExact('a flash consumed while another request stores a newer one keeps the newer one', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const cookie = await login(sessions, (s) => s.setFlash('msg', 'old'));
        const [reader, writer] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
        expect(reader.getFlash('msg')).toBe('old');
        writer.setFlash('msg', `new ${i}`);
        await Promise.all([reader.commit(), writer.commit()]);
        expect((await sessions.start(request(cookie))).getFlash('msg')).toBe(`new ${i}`);
      }
    });

    itIfExact('overlapping addFlash all stay, in one list', async () => {
      const { sessions } = await setup();
      const cookie = await login(sessions);
      const loaded = await Promise.all(Array.from({ length: TRIES }, () => sessions.start(request(cookie))));
      loaded.forEach((s, i) => s.addFlash('notices', i));
      await Promise.all(loaded.map((s) => s.commit()));
      const list = (await sessions.start(request(cookie))).getFlash<number[]>('notices');
      expect([...list!].sort((a, b) => a - b)).toEqual(Array.from({ length: TRIES }, (_, i) => i));
    });

    itIfExact('a flash list read and appended to while another request appends: only the read item goes', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const cookie = await login(sessions, (s) => s.addFlash('k', 'x'));
        const [reader, writer] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
        expect(reader.getFlash('k')).toEqual(['x']);
        reader.addFlash('k', 'a');
        writer.addFlash('k', 'c');
        // Either may reach the store first.
        await Promise.all(i % 2 === 0 ? [reader.commit(), writer.commit()] : [writer.commit(), reader.commit()]);
        const list = (await sessions.start(request(cookie))).getFlash<string[]>('k');
        expect([...list!].sort()).toEqual(['a', 'c']);
      }
    });

    itIfExact('a single flash read while another request appends to it is not shown again', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const cookie = await login(sessions, (s) => s.setFlash('k', 'x'));
        const [reader, writer] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
        expect(reader.getFlash('k')).toBe('x');
        writer.addFlash('k', 'y');
        await Promise.all(i % 2 === 0 ? [reader.commit(), writer.commit()] : [writer.commit(), reader.commit()]);
        expect((await sessions.start(request(cookie))).getFlash('k')).toEqual(['y']);
      }
    });

    itIfExact('create never overwrites: of two creates of one ID exactly one succeeds', async () => {
      const store = await createStore(createClock());
      for (let i = 0; i < TRIES; i++) {
        const id = `same-id-${i}-`.padEnd(24, 'x');
        const now = createClock().now();
        const record = (v: string) => ({ data: { v }, createdAt: now, endsAt: now + 60_000, expiresAt: now + 60_000 });
        const results = await Promise.all([store.create(id, record('"a"')), store.create(id, record('"b"'))]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.get(id))?.data.v).toBe(results[0] ? '"a"' : '"b"');
      }
    });

    // Logins (create() on a request whose cookie names a session): the new session's first commit stores it, then
    // ends the one it replaces. Every store, KV included, must hold these: they ask only that an ended session
    // stays ended at the location that ended it, and that a session nothing ended lives.
    for (const rival of RIVALS) {
      it(`a login overlapping ${rival.what}: the old session ends, the login lives`, async () => {
        const { sessions } = await setup();
        // One user signs in again and again, each login replacing the last, listed once at the end: one new
        // session a try, as few as can be (on Durable Objects each is an object, and in the workerd test runtime
        // every object created slows every later call of the file).
        const ada = uniqueUser('ada');
        let old = await logIn(sessions, ada);
        const tabs: Login[] = []; // second logins, live besides the last login
        for (let i = 0; i < TRIES; i++) {
          const replaced = old;
          const [login, other] = await overlap(
            () => logIn(sessions, ada, replaced.cookie),
            () => rival.run(sessions, replaced),
            i % 2 === 1,
          );
          if (other !== undefined) tabs.push(other);
          await expectOnly(sessions, [replaced], other === undefined ? [login] : [login, other], false);
          old = login;
        }
        await expectListed(sessions, [old], [old, ...tabs]);
      });
    }

    it('a login then its logout in one request, overlapping a commit of the old session: neither stays', async () => {
      const { sessions } = await setup();
      const ada = uniqueUser('ada');
      for (let i = 0; i < TRIES; i++) {
        const old = await logIn(sessions, ada);
        const form = LOGIN_LOGOUTS[i % LOGIN_LOGOUTS.length]!;
        const [out] = await overlap(
          () => form.run(sessions, old.cookie, ada),
          () => commitOld(sessions, old),
          i % 2 === 1,
        );
        await expectLoggedOut(sessions, old, out, false);
      }
      await expectListed(sessions, [{ userId: ada }], []);
    });

    // One request, one writer at a time (a commit waits for the one in flight): KV keeps these too.
    it('changes made while a commit of the session is in flight are each stored once', async () => {
      const { sessions } = await setup();
      const cookie = await login(sessions, (s) => s.set('n', 0));
      for (let i = 0; i < TRIES; i++) {
        const s = await sessions.start(request(cookie));
        s.increment('n');
        s.set('a', i);
        await Promise.all([s.commit(), changeMeanwhile(s, i, i)]);
        await s.commit();
        expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: 11 * (i + 1), b: i });
      }
    });

    it('changes made while a login’s first commit is in flight are each stored once', async () => {
      const { sessions } = await setup();
      for (let i = 0; i < TRIES; i++) {
        const s = await sessions.create(request(), { data: { n: 1, a: i } });
        const [headers] = await Promise.all([s.commit(), changeMeanwhile(s, i, i)]);
        await s.commit();
        expect((await sessions.start(request(cookiePair(headers)))).getAll()).toEqual({ n: 11, b: i });
      }
    });
  });

  describe(`${name}: lifecycle races (deterministic interleavings)`, () => {
    it('a commit held before the store during destroyById: nothing written, no cookie, still destroyed', async () => {
      const { sessions, hold } = await setup();
      const cookie = await login(sessions);
      const stale = await sessions.start(request(cookie));
      stale.set('late', true);
      const commit = whileHeld(hold('update', 'before'), stale.commit(), () => sessions.destroyById(stale.id));
      expect((await commit).getSetCookie()).toEqual([]);
      expect(stale.destroyed).toBe(true);
      expect(await alive(sessions, cookie)).toBe(false);
    });

    it('a commit stored but not yet answered when destroyById runs: the session stays destroyed', async () => {
      const { sessions, hold } = await setup();
      const cookie = await login(sessions);
      const stale = await sessions.start(request(cookie));
      stale.set('late', true);
      const commit = whileHeld(hold('update', 'after'), stale.commit(), () => sessions.destroyById(stale.id));
      await commit;
      expect(await alive(sessions, cookie)).toBe(false);
    });

    it('a touch held before the store while the user logs out: the session stays destroyed', async () => {
      const { sessions, hold, clock } = await setup();
      const cookie = await login(sessions);
      clock.advanceSec(120);
      const reader = await sessions.start(request(cookie));
      const commit = whileHeld(hold('update', 'before'), reader.commit(), () => sessions.destroy(request(cookie)));
      expect((await commit).getSetCookie()).toEqual([]);
      expect(await alive(sessions, cookie)).toBe(false);
    });

    it('a regenerate held before the store while destroyById runs: no new session, no cookie', async () => {
      const { sessions, hold, events } = await setup();
      const cookie = await login(sessions);
      const renewing = await sessions.start(request(cookie));
      const oldId = renewing.id;
      renewing.regenerate();
      events.length = 0;
      const commit = whileHeld(hold('regenerate', 'before'), renewing.commit(), () => sessions.destroyById(oldId));
      expect((await commit).getSetCookie()).toEqual([]);
      expect(renewing.destroyed).toBe(true);
      expect(await alive(sessions, cookie)).toBe(false);
      expectEndNamed(events, oldId);
    });

    it('a regenerate stored but not yet answered when destroyById(old ID) runs: the new ID is ended too', async () => {
      const { sessions, hold, events } = await setup();
      const cookie = await login(sessions);
      const renewing = await sessions.start(request(cookie));
      const oldId = renewing.id;
      renewing.regenerate();
      events.length = 0;
      const commit = whileHeld(hold('regenerate', 'after'), renewing.commit(), () => sessions.destroyById(oldId));
      const renewed = cookiePair(await commit);
      expect(await alive(sessions, renewed)).toBe(false);
      expect(await alive(sessions, cookie)).toBe(false);
      expectEndNamed(events, renewing.id); // the move was done: the session was live under its new ID
    });

    it('a regenerate held before the store as another request commits: the moved session has that change', async () => {
      const { sessions, hold } = await setup();
      const cookie = await login(sessions);
      const renewing = await sessions.start(request(cookie));
      renewing.regenerate();
      renewing.set('renewed', true);
      const held = hold('regenerate', 'before');
      const commit = renewing.commit();
      await held.reached;
      const other = await sessions.start(request(cookie));
      other.set('cart', [1, 2]);
      other.increment('visits');
      await other.commit();
      held.release();
      const moved = await sessions.start(request(cookiePair(await commit)));
      expect(moved.getAll()).toEqual({ u: 'ada', cart: [1, 2], visits: 1, renewed: true });
      expect(renewing.get('cart')).toEqual([1, 2]);
    });

    it('a commit held after a regenerate moved the session: told it moved, no cookie undoing the login', async () => {
      const { sessions, hold } = await setup();
      const cookie = await login(sessions);
      const late = await sessions.start(request(cookie));
      late.set('late', true);
      const held = hold('update', 'before');
      const commit = late.commit();
      await held.reached;
      const renewing = await sessions.start(request(cookie));
      renewing.regenerate();
      const renewed = cookiePair(await renewing.commit());
      held.release();
      expect((await commit).getSetCookie()).toEqual([]);
      expect(late.destroyed).toBe(true);
      expect(await alive(sessions, renewed)).toBe(true);
      expect(await alive(sessions, cookie)).toBe(false);
    });

    for (const rival of RIVALS) {
      for (const [method, when, where] of LOGIN_HOLDS) {
        it(`a login held ${where} while ${rival.what} runs: the old session ends, the login lives`, async () => {
          const { sessions, hold } = await setup();
          const ada = uniqueUser('ada');
          const old = await logIn(sessions, ada);
          const seen: { other?: Login | undefined } = {};
          const login = await whileHeld(hold(method, when), logIn(sessions, ada, old.cookie), async () => {
            seen.other = await rival.run(sessions, old);
          });
          await expectOnly(sessions, [old], seen.other === undefined ? [login] : [login, seen.other]);
        });
      }
    }

    // A second login held while a login runs is the case above turned round.
    for (const rival of RIVALS.filter((r) => r.method !== 'create')) {
      for (const when of ['before', 'after'] as const) {
        it(`${rival.what} held ${when} its ${rival.method} while a login replaces it: the old ends`, async () => {
          const { sessions, hold } = await setup();
          const ada = uniqueUser('ada');
          const old = await logIn(sessions, ada);
          const seen: { login?: Login } = {};
          await whileHeld(hold(rival.method, when), rival.run(sessions, old), async () => {
            seen.login = await logIn(sessions, ada, old.cookie);
          });
          await expectOnly(sessions, [old], [seen.login!]);
        });
      }
    }

    for (const when of ['before', 'after'] as const) {
      it(`the old session's commit held ${when} its update while a request logs in and out: none stays`, async () => {
        const { sessions, hold } = await setup();
        const ada = uniqueUser('ada');
        for (const form of LOGIN_LOGOUTS) {
          const old = await logIn(sessions, ada);
          const seen: { out?: { id: string; headers: Headers } } = {};
          await whileHeld(hold('update', when), commitOld(sessions, old), async () => {
            seen.out = await form.run(sessions, old.cookie, ada);
          });
          await expectLoggedOut(sessions, old, seen.out!);
        }
      });
    }

    it('a login-and-logout request held before it ends the old session while that commits: none stays', async () => {
      const { sessions, hold } = await setup();
      const ada = uniqueUser('ada');
      for (const form of LOGIN_LOGOUTS) {
        const old = await logIn(sessions, ada);
        const held = hold('destroy', 'before');
        const out = await whileHeld(held, form.run(sessions, old.cookie, ada), () => commitOld(sessions, old));
        await expectLoggedOut(sessions, old, out);
      }
    });

    for (const [method, when] of [
      ['update', 'before'],
      ['update', 'after'],
      ['create', 'before'],
      ['create', 'after'],
    ] as const) {
      it(`changes made while a commit is held ${when} its ${method} are each stored once`, async () => {
        const { sessions, hold } = await setup();
        const stored = method === 'update' ? await login(sessions, (s) => s.set('n', 0)) : undefined;
        const s =
          stored === undefined
            ? await sessions.create(request(), { data: { n: 0 } })
            : await sessions.start(request(stored));
        s.increment('n');
        s.set('a', 1);
        const headers = await whileHeld(hold(method, when), s.commit(), () => changeMeanwhile(s, 2));
        expect(s.getAll()).toEqual({ n: 11, b: 2 });
        await s.commit();
        const cookie = stored ?? cookiePair(headers);
        expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: 11, b: 2 });
      });
    }

    // A write whose read came before a logout lands after it. A store without transactions (KV) then stores the
    // record again, with the expiry the write computed, which may be far past the manager's `expires`: the store
    // keeps the end until `retainUntil`, so `retainUntil` must lie past that expiry, or the session comes back
    // once the end is dropped.
    for (const { what, own, write } of LONG_WRITES) {
      it(`a write held across a logout: the end is kept past any expiry it stores (${what})`, async () => {
        const clock = createClock();
        const store = await createStore(clock);
        const kept: number[] = [];
        const stored: number[] = [];
        const spied = Object.create(store, {
          update: {
            value: (id: string, changes: SessionChanges, times: SessionTimes) => {
              stored.push(times.expiresAt);
              return store.update(id, changes, times);
            },
          },
          destroy: {
            value: (id: string, retainUntil: number) => {
              kept.push(retainUntil);
              return store.destroy(id, retainUntil);
            },
          },
        }) as SessionStore;
        const { store: gated, hold } = gatedStore(spied);
        const sessions = createSessions({ store: gated, secrets: [SECRET], now: clock.now, expires: 3600 });
        const created = await sessions.create(request(), { ...own, data: { role: 'user' } });
        const cookie = cookiePair(await created.commit());
        clock.advanceSec(60);
        await whileHeld(hold('update', 'before'), write(sessions, cookie), () => sessions.destroy(request(cookie)));
        expect(stored).toHaveLength(1);
        expect(kept).toHaveLength(1);
        expect(kept[0]).toBeGreaterThanOrEqual(stored[0]!);
        clock.advanceSec(7200); // past the end as the manager's own hour would keep it
        expect(await alive(sessions, cookie)).toBe(false);
      });
    }

    it('a flash consumed after another request stored a newer one leaves the newer one', async () => {
      const { sessions } = await setup();
      const cookie = await login(sessions, (s) => s.setFlash('msg', 'old'));
      const reader = await sessions.start(request(cookie));
      expect(reader.getFlash('msg')).toBe('old');
      const writer = await sessions.start(request(cookie));
      writer.setFlash('msg', 'new');
      await writer.commit();
      await reader.commit();
      expect((await sessions.start(request(cookie))).getFlash('msg')).toBe('new');
    });

    it('a flash list read then appended to keeps the items another request appended meanwhile', async () => {
      const { sessions } = await setup();
      for (const readerFirst of [false, true]) {
        const cookie = await login(sessions, (s) => s.addFlash('k', 'x'));
        const [reader, writer] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
        expect(reader.getFlash('k')).toEqual(['x']);
        reader.addFlash('k', 'a');
        writer.addFlash('k', 'c');
        // This request's own view starts a new list after its read.
        expect(reader.peekFlash('k')).toEqual(['a']);
        for (const s of readerFirst ? [reader, writer] : [writer, reader]) await s.commit();
        const next = await sessions.start(request(cookie));
        expect(next.getFlash('k')).toEqual(readerFirst ? ['a', 'c'] : ['c', 'a']);
      }
    });

    it('a single flash read while another request appended to it is consumed, the appended item stays', async () => {
      const { sessions } = await setup();
      for (const readerFirst of [false, true]) {
        const cookie = await login(sessions, (s) => s.setFlash('k', 'x'));
        const [reader, writer] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
        expect(reader.getFlash('k')).toBe('x');
        writer.addFlash('k', 'y');
        for (const s of readerFirst ? [reader, writer] : [writer, reader]) await s.commit();
        expect((await sessions.start(request(cookie))).getFlash('k')).toEqual(['y']);
      }
    });

    it('a flash read twice by overlapping requests removes only the items each read', async () => {
      const { sessions } = await setup();
      const cookie = await login(sessions, (s) => s.addFlash('k', 'x'));
      const early = await sessions.start(request(cookie));
      expect(early.getFlash('k')).toEqual(['x']);
      const appender = await sessions.start(request(cookie));
      appender.addFlash('k', 'y');
      await appender.commit();
      const late = await sessions.start(request(cookie));
      expect(late.getFlash('k')).toEqual(['x', 'y']);
      const third = await sessions.start(request(cookie));
      third.addFlash('k', 'z');
      await late.commit();
      await third.commit();
      await early.commit();
      expect((await sessions.start(request(cookie))).getFlash('k')).toEqual(['z']);
    });

    it('a flash consumed by two requests does not remove the same value stored again meanwhile', async () => {
      const { sessions } = await setup();
      for (const add of [false, true]) {
        const store = (s: Session) => (add ? s.addFlash('k', 'x') : s.setFlash('k', 'x'));
        const cookie = await login(sessions, store);
        const [slow, fast] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
        slow.getFlash('k');
        fast.getFlash('k');
        await fast.commit();
        const again = await sessions.start(request(cookie));
        store(again);
        await again.commit();
        await slow.commit();
        expect((await sessions.start(request(cookie))).getFlash('k')).toEqual(add ? ['x'] : 'x');
      }
    });
  });

  // How a request ends: handle() commits every session the handler made or replaced, in order, and appends their
  // Set-Cookie lines, while other requests of the same cookie run. The browser is a cookie jar that takes the
  // responses in the order they arrive (any order: the network decides), the store is checked by ID and cookie.
  describe(`${name}: request ends through handle()`, () => {
    for (const { what, flows } of OVERLAPS) {
      it(`${what} of one cookie at once (${TRIES} tries): the old session ends, each last login lives`, async () => {
        const { sessions } = await setup();
        const ada = uniqueUser('ada');
        let old = await logIn(sessions, ada);
        const tabs: Login[] = []; // the other tabs' logins, live besides the one the next try replaces
        for (let i = 0; i < TRIES; i++) {
          const replaced = old;
          const run = flows(i);
          const handled = await together(
            run.map((flow) => () => through(sessions, replaced, flow)),
            i,
          );
          const [login, ...others] = await expectRequestEnds(sessions, replaced, run, handled);
          tabs.push(...others);
          old = login!;
        }
        await expectListed(sessions, [old], [old, ...tabs]);
      });
    }

    for (const { held, at, meanwhile, quiet } of HELD_REQUESTS) {
      const [method, when, where] = at;
      it(`${held.what} held ${where} while ${meanwhile.what} runs to its end`, async () => {
        const { sessions, hold } = await setup();
        const old = await logIn(sessions, uniqueUser('ada'));
        const seen: { other?: Handled } = {};
        const first = await whileHeld(hold(method, when), through(sessions, old, held), async () => {
          seen.other = await through(sessions, old, meanwhile);
        });
        if (quiet) expect(first.response.headers.getSetCookie()).toEqual([]);
        const live = await expectRequestEnds(sessions, old, [held, meanwhile], [first, seen.other!]);
        await expectListed(sessions, [old], live);
      });
    }

    it('a retry of a Request whose login answer was lost, a logout meanwhile: the retry sends the login', async () => {
      const { sessions, hold } = await setup();
      const ada = uniqueUser('ada');
      const old = await logIn(sessions, ada);
      const logins: Made[] = [];
      let attempts = 0;
      let retried: string | undefined; // the session the retry's handler was given
      const app = sessions.handle(async (req, session) => {
        if (++attempts > 1) {
          retried = session.id;
          return new Response('welcome back');
        }
        await loginOn(sessions, req, ada, logins); // e.g. an OAuth callback, committed by handle()...
        return new Response('profile service busy', { status: 503 }); // ...whose answer the fetch wrapper drops
      });
      const req = request(old.cookie);
      // The first run's end of the old session is held while another tab logs out of it; that tab's answer (the
      // expired cookie) reaches the browser, the first run's never does.
      const meanwhile: { logout?: Handled } = {};
      await whileHeld(hold('destroy', 'before'), app(req), async () => {
        meanwhile.logout = await through(sessions, old, LOGOUT);
      });
      const retry = await app(req);
      expect(retried).toBe(logins[0]!.id);
      // The login ended the old session and lives: the retry's answer must carry its cookie, or the browser is left
      // with none (or the old, dead one) and the login is live with no cookie naming it.
      const header = browserAfter(old.cookie, meanwhile.logout!.response, retry);
      expect(await opened(sessions, header)).toBe(logins[0]!.id);
      const login = { ...logins[0]!, cookie: header! };
      await expectOnly(sessions, [old], [login]);
    });

    it('nested handle(): outer logs out, inner fills the new session, a commit of the old one lands', async () => {
      const { sessions, hold } = await setup();
      const old = await logIn(sessions, uniqueUser('ada'));
      const inner = sessions.handle(async (_req, session) => {
        session.setFlash('notice', 'signed out'); // the session after the logout (a route wrapped on its own)
        return new Response('bye');
      });
      const app = sessions.handle(async (_req, session) => {
        session.destroy(); // e.g. a top-level guard ends a session whose user was removed
        return inner(_req);
      });
      // The outer run's end of the old session is stored, not yet answered, when another request commits it.
      const response = await whileHeld(hold('destroy', 'after'), app(request(old.cookie)), () =>
        commitOld(sessions, old),
      );
      const after = await sessions.start(request(browserAfter(old.cookie, response)));
      // The inner run's cookie names the new session; the outer run's expired line must not follow and undo it.
      expect(after.isNew).toBe(false);
      expect(after.getFlash('notice')).toBe('signed out');
      await expectOnly(sessions, [old], []);
    });

    it('a login begun in the background while handle() commits the handler’s login is refused (ANSWERED)', async () => {
      const { sessions, hold } = await setup();
      const ada = uniqueUser('ada');
      const old = await logIn(sessions, ada);
      const logins: Made[] = [];
      // handle() stores the handler's login after the handler answered; its create is held there.
      const held = hold('create', 'before');
      let late: Promise<Session> | undefined;
      const app = sessions.handle(async (req) => {
        await loginOn(sessions, req, ada, logins);
        // ctx.waitUntil work that signs in again while the response is being finished: its cookie could reach no
        // browser, and its commit would end the login whose cookie does.
        late = held.reached.then(() => sessions.create(req, { userId: ada }));
        late.catch(() => undefined); // its outcome is read below: handled at once for Bun and Deno
        return new Response('signed in');
      });
      const refused = () =>
        late!.then(
          () => 'created',
          (e: unknown) => (e instanceof SessionError ? e.code : e),
        );
      const response = await whileHeld(held, app(request(old.cookie)), refused);
      expect(await refused()).toBe('ANSWERED');
      const header = browserAfter(old.cookie, response);
      expect(await opened(sessions, header)).toBe(logins[0]!.id);
      await expectOnly(sessions, [old], [{ ...logins[0]!, cookie: header! }]);
    });

    it('a login after handle() answered (ctx.waitUntil) is refused (ANSWERED): the old session stays', async () => {
      const { sessions } = await setup();
      const ada = uniqueUser('ada');
      const old = await logIn(sessions, ada);
      let answered: Request | undefined;
      const app = sessions.handle(async (req, session) => {
        answered = req;
        session.set('seen', true);
        return new Response('ok');
      });
      const response = await app(request(old.cookie));
      const late = await sessions.create(answered!, { userId: ada }).then(
        (s) => s.commit().then(() => 'committed'),
        (e: unknown) => (e instanceof SessionError ? e.code : e),
      );
      expect(late).toBe('ANSWERED');
      // The browser keeps the old cookie (the response re-sent it), and the store its session, alone.
      expect(await opened(sessions, browserAfter(old.cookie, response))).toBe(old.id);
      await expectOnly(sessions, [], [old]);
    });

    // A run that fails (its handler throws, or answers Response.error()) commits nothing it had not committed
    // itself (README, handle()): its login is dropped, the visitor keeps the session they had, and another request
    // of that session goes on undisturbed. What the failed run did commit (a logout) stands.
    it(`a failing login overlapping a change of the session (${TRIES} tries): it stays, changed`, async () => {
      const { sessions } = await setup();
      const old = await logIn(sessions, uniqueUser('ada'));
      const bob = uniqueUser('bob');
      const failed: Made[] = [];
      for (let i = 0; i < TRIES; i++) {
        const form = FAILED_LOGINS[i % FAILED_LOGINS.length]!;
        const [out, changed] = await overlap(
          () => answered(sessions.handle(form.handler(sessions, bob, failed)), request(old.cookie)),
          () => counting(sessions)(request(old.cookie)),
          i % 4 >= 2,
        );
        if (form.thrown) expect(out.error).toBeDefined();
        else expect(out.response.type).toBe('error');
        expect(out.response.headers.getSetCookie()).toEqual([]);
        await expectEitherLast(sessions, old.cookie, out.response, changed, old.id);
      }
      expect(failed).toHaveLength(TRIES);
      // Every change stored once: the failed runs wrote nothing, not even an end of the session they replaced.
      expect((await sessions.start(request(old.cookie))).get('n')).toBe(TRIES);
      await expectOnly(sessions, [], [old]);
      await expectNoneLive(sessions, failed);
    });

    it('a failing login while a change is held at its update, or held itself at its read: both kept', async () => {
      const { sessions, hold } = await setup();
      const old = await logIn(sessions, uniqueUser('ada'));
      const bob = uniqueUser('bob');
      const failed: Made[] = [];
      let n = 0;
      for (const form of FAILED_LOGINS) {
        const failing = () => answered(sessions.handle(form.handler(sessions, bob, failed)), request(old.cookie));
        const change = () => counting(sessions)(request(old.cookie));
        // The change held before and after its update while the failed run runs to its end; then the failed run
        // held after its read of the session while the change runs to its end (the run goes on with a stale copy).
        for (const when of ['before', 'after'] as const) {
          const seen: { out?: Answered } = {};
          const changed = await whileHeld(hold('update', when), change(), async () => (seen.out = await failing()));
          await expectEitherLast(sessions, old.cookie, seen.out!.response, changed, old.id);
        }
        const seen: { changed?: Response } = {};
        const out = await whileHeld(hold('get', 'after'), failing(), async () => (seen.changed = await change()));
        await expectEitherLast(sessions, old.cookie, out.response, seen.changed!, old.id);
        n += 3;
      }
      expect((await sessions.start(request(old.cookie))).get('n')).toBe(n);
      await expectOnly(sessions, [], [old]);
      await expectNoneLive(sessions, failed);
    });

    it(`a logout committed early, a throw, overlapping a change (${ENDING_TRIES} tries): it stays ended`, async () => {
      const { sessions } = await setup();
      const ada = uniqueUser('ada');
      for (let i = 0; i < ENDING_TRIES; i++) {
        const old = await logIn(sessions, ada);
        const handler = LOGOUTS_THEN_THROW[i % LOGOUTS_THEN_THROW.length]!;
        const [out, changed] = await overlap(
          () => answered(sessions.handle(handler(sessions)), request(old.cookie)),
          () => counting(sessions)(request(old.cookie)),
          i % 4 >= 2,
        );
        // README (Errors): an error other than a failed commit's carries no lines; the browser keeps the old cookie.
        expect(out.error).toMatchObject({ message: 'audit log down' });
        expect((out.error as { headers?: Headers }).headers).toBeUndefined();
        await expectEitherLast(sessions, old.cookie, out.response, changed);
        expect(await sessions.getById(old.id)).toBeNull();
      }
      await expectListed(sessions, [{ userId: ada }], []);
    });

    it('a logout committed early, a throw, and a change, each held while the other runs: it stays ended', async () => {
      const { sessions, hold } = await setup();
      const ada = uniqueUser('ada');
      // Each form of the logout in one of the two orders: one ended session each (see ENDING_TRIES).
      for (const [k, handler] of LOGOUTS_THEN_THROW.entries()) {
        const old = await logIn(sessions, ada);
        const failing = () => answered(sessions.handle(handler(sessions)), request(old.cookie));
        const change = () => counting(sessions)(request(old.cookie));
        const seen: { out?: Answered; changed?: Response } = {};
        if (k % 2 === 0) {
          // The logout's destroy held before the store while the change is stored and answered.
          seen.out = await whileHeld(hold('destroy', 'before'), failing(), async () => (seen.changed = await change()));
        } else {
          // The change, read before the logout, held before its update: it finds the session ended and sends no
          // cookie (README: the request that ended it sent the cookie the browser must keep).
          seen.changed = await whileHeld(hold('update', 'before'), change(), async () => (seen.out = await failing()));
          expect(seen.changed.headers.getSetCookie()).toEqual([]);
        }
        expect(seen.out!.error).toMatchObject({ message: 'audit log down' });
        await expectEitherLast(sessions, old.cookie, seen.out!.response, seen.changed!);
        await expectOnly(sessions, [old], []);
      }
    });

    // README, Errors: when the run's own commit at the end fails, the SessionError's `headers` hold what earlier
    // commits must still send: a login committed early, whose session is now the only live one.
    it('a login committed early, its final commit failing, a change meanwhile: e.headers carry the login', async () => {
      const writes = { failing: false };
      const { sessions, hold } = await gatedSessions(async (clock) => {
        const store = await createStore(clock);
        const update: SessionStore['update'] = (...args) =>
          writes.failing ? Promise.reject(new Error('backend down')) : store.update(...args);
        return Object.create(store, { update: { value: update } }) as SessionStore;
      });
      const ada = uniqueUser('ada');
      const old = await logIn(sessions, ada);
      const logins: Made[] = [];
      const app = sessions.handle(async (req) => {
        const login = await loginOn(sessions, req, ada, logins);
        await login.commit(); // stored: the old session is ended
        writes.failing = true; // the store starts failing
        login.set('profile', 'loaded');
        return new Response('welcome');
      });
      const seen: { changed?: Response } = {};
      // The early commit's end of the old session is held while another request commits a change of it.
      const out = await whileHeld(hold('destroy', 'before'), answered(app, request(old.cookie)), async () => {
        seen.changed = await counting(sessions)(request(old.cookie));
      });
      writes.failing = false;
      expect(out.error).toMatchObject({ code: 'STORE_WRITE' });
      // The 503 reaching the browser last leaves it the login; the change's last, never a session that ended.
      const header = browserAfter(old.cookie, seen.changed!, out.response);
      expect(await opened(sessions, header)).toBe(logins[0]!.id);
      const changeLast = await opened(sessions, browserAfter(old.cookie, out.response, seen.changed!));
      expect([undefined, logins[0]!.id]).toContain(changeLast);
      await expectOnly(sessions, [old], [{ ...logins[0]!, cookie: header! }]);
    });

    // README, handle(): a retry of the same Request reads the session again, without the failed run's changes
    // (an increment is counted once), unless that run committed something: it then goes on from where that run
    // left the session, and commits what it left uncommitted.
    it(`a retry of a Request whose run failed, overlapping a change (${TRIES} tries): handed it again`, async () => {
      const { sessions } = await setup();
      const old = await logIn(sessions, uniqueUser('ada'));
      const bob = uniqueUser('bob');
      const failed: Made[] = [];
      for (let i = 0; i < TRIES; i++) {
        let tries = 0;
        let handed: string | undefined; // the session the retry's handler was given
        const app = sessions.handle(async (req, session) => {
          session.increment('n');
          if (tries++ === 0) {
            if (i % 2 === 0) await loginOn(sessions, req, bob, failed); // a login, dropped with the run
            throw new Error('upstream down');
          }
          handed = session.id;
          return new Response('ok');
        });
        const req = request(old.cookie);
        const [retried, changed] = await overlap(
          () => app(req).catch(() => app(req)),
          () => counting(sessions)(request(old.cookie)),
          i % 4 >= 2,
        );
        expect(handed).toBe(old.id);
        await expectEitherLast(sessions, old.cookie, retried, changed, old.id);
      }
      // Each retry's increment counted once, and none of the change's lost (KV may lose one of two overlapping).
      if (options.exact) expect((await sessions.start(request(old.cookie))).get('n')).toBe(2 * TRIES);
      await expectOnly(sessions, [], [old]);
      await expectNoneLive(sessions, failed);
    });

    it('a retry after a run committed a login and threw, a change meanwhile: the retry sends the login', async () => {
      const { sessions, hold } = await setup();
      const ada = uniqueUser('ada');
      const live: Login[] = [];
      for (const when of ['before', 'after'] as const) {
        const old = await logIn(sessions, ada);
        const logins: Made[] = [];
        let tries = 0;
        let handed: string | undefined;
        const app = sessions.handle(async (req, session) => {
          if (tries++ === 0) {
            await (await loginOn(sessions, req, ada, logins)).commit(); // stored: the old session is ended
            throw new Error('profile service down'); // its lines reach no browser: the error carries none
          }
          handed = session.id;
          return new Response('welcome');
        });
        const req = request(old.cookie);
        const seen: { changed?: Response } = {};
        // The first run's end of the old session is held while another request commits a change of it.
        const first = await whileHeld(hold('destroy', when), answered(app, req), async () => {
          seen.changed = await counting(sessions)(request(old.cookie));
        });
        expect(first.response.headers.getSetCookie()).toEqual([]);
        const retry = await app(req);
        expect(handed).toBe(logins[0]!.id);
        const header = browserAfter(old.cookie, seen.changed!, first.response, retry);
        expect(await opened(sessions, header)).toBe(logins[0]!.id);
        live.push({ ...logins[0]!, cookie: header! });
        await expectOnly(sessions, [old], live.slice(-1), false);
      }
      await expectListed(sessions, live, live);
    });

    it(`a read re-signing a rotated cookie, its logout at once (${ENDING_TRIES} tries): it stays ended`, async () => {
      const { before, sessions, page, logout } = await rotation();
      const ada = uniqueUser('ada');
      for (let i = 0; i < ENDING_TRIES; i++) {
        const old = await logIn(before, ada);
        const [read, out] = await overlap(
          () => page(request(old.cookie)),
          () => logout(request(old.cookie)),
          i % 2 === 1,
        );
        if (read.headers.getSetCookie().length > 0) expectResigned(read.headers, old);
        await expectEitherLast(sessions, old.cookie, read, out);
        expect(await sessions.getById(old.id)).toBeNull();
      }
      await expectListed(sessions, [{ userId: ada }], []);
    });

    it('a read re-signing a rotated cookie, held at its write while a logout runs: no cookie of it lives', async () => {
      const { before, sessions, page, logout, hold } = await rotation();
      const ada = uniqueUser('ada');
      for (const when of ['before', 'after'] as const) {
        const old = await logIn(before, ada);
        const held = hold('update', when);
        const reading = page(request(old.cookie));
        // The resend writes before it sends the cookie: a read that answers without it is caught here.
        const wrote = await Promise.race([held.reached.then(() => true), reading.then(() => false)]);
        expect(wrote).toBe(true);
        const out = await logout(request(old.cookie));
        held.release();
        const read = await reading;
        // Held before the store, the write finds the session ended: no cookie (README). Stored, then answered
        // after the logout, it re-sends the cookie, whose session the browser can no longer open.
        if (when === 'before') expect(read.headers.getSetCookie()).toEqual([]);
        else expectResigned(read.headers, old);
        await expectEitherLast(sessions, old.cookie, read, out);
        await expectOnly(sessions, [old], []);
      }
    });
  });
}

/**
 * Registers the overlapping requests of one session on a store, through the manager, one after the other:
 * different keys, flashes, immutable keys, a destroy in between; nobody's change is lost, nothing comes back.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest'; // or 'bun:test'
 * import { describeOverlappingRequests } from 'edge-sessions/testing';
 *
 * describeOverlappingRequests('my store', (clock) => createMyStore({ now: clock.now }), { describe, it, expect });
 * ```
 */
export function describeOverlappingRequests(
  name: string,
  createStore: (clock: TestClock) => SessionStore | Promise<SessionStore>,
  runner: TestRunner,
): void {
  const { describe, it, expect } = runner;
  describe(`${name}: overlapping requests of one session`, () => {
    async function setup() {
      const clock = createClock();
      const events: SessionEvent[] = [];
      return { clock, events, sessions: racingManager(await createStore(clock), clock, events) };
    }
    async function login(sessions: Sessions, act: (s: Session) => void = (s) => s.set('u', 'ada')) {
      const s = await sessions.start(request());
      act(s);
      const cookie = cookiePair(await s.commit());
      return { cookie, a: await sessions.start(request(cookie)), b: await sessions.start(request(cookie)) };
    }

    it('a session destroyed (or destroyed by ID) while another request held it stays destroyed', async () => {
      const { sessions } = await setup();
      await expectDestroyedMeanwhileStaysDestroyed(expect, sessions, (await login(sessions)).cookie, (stale) =>
        stale.set('late', true),
      );
      const { cookie, a } = await login(sessions);
      await sessions.destroyById(a.id);
      a.set('late', true);
      expect((await a.commit()).getSetCookie()).toEqual([]);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
    });

    it('two requests that set different keys both keep their value', async () => {
      const { sessions } = await setup();
      const { cookie, a, b } = await login(sessions);
      a.set('x', 1);
      b.set('y', 2);
      await a.commit();
      await b.commit();
      expect((await sessions.start(request(cookie))).getAll()).toEqual({ u: 'ada', x: 1, y: 2 });
    });

    it('a flash read by one request is not brought back by another that sets a different flash', async () => {
      const { sessions } = await setup();
      const { cookie, a, b } = await login(sessions, (s) => s.setFlash('msg', 'hi'));
      expect(a.getFlash('msg')).toBe('hi');
      b.setFlash('other', 'there');
      await a.commit();
      await b.commit();
      const next = await sessions.start(request(cookie));
      expect(next.getFlashes()).toEqual({ other: 'there' });
    });

    it('keys made immutable by two requests both stay immutable', async () => {
      const { sessions } = await setup();
      const { cookie, a, b } = await login(sessions);
      a.setImmutable('k1', 'one');
      b.setImmutable('k2', 'two');
      await a.commit();
      await b.commit();
      const next = await sessions.start(request(cookie));
      expect([next.isImmutable('k1'), next.isImmutable('k2')]).toEqual([true, true]);
      // Not toThrow(expect.objectContaining(…)): Deno's @std/expect and bun:test differ on asymmetric matchers.
      expect(thrownBy(() => next.set('k1', 'hacked'))).toMatchObject({ code: 'IMMUTABLE' });
    });

    it('a plain set from a request that did not know a key had become immutable does not overwrite it', async () => {
      const { sessions } = await setup();
      const { cookie, a, b } = await login(sessions);
      a.setImmutable('role', 'user');
      b.set('role', 'admin');
      b.increment('visits');
      await a.commit();
      await b.commit();
      const next = await sessions.start(request(cookie));
      expect(next.get('role')).toBe('user');
      expect(next.isImmutable('role')).toBe(true);
      expect(next.get('visits')).toBe(1);
      // The request that lost sees what the store kept.
      expect(b.get('role')).toBe('user');
    });

    it('setImmutable replaces an immutable value it already held (only a plain set cannot)', async () => {
      const { sessions } = await setup();
      const { cookie, a } = await login(sessions, (s) => s.setImmutable('role', 'user'));
      a.setImmutable('role', 'admin');
      await a.commit();
      const next = await sessions.start(request(cookie));
      expect(next.get('role')).toBe('admin');
      expect(next.isImmutable('role')).toBe(true);
      // The same value again is no change: nothing to write.
      next.setImmutable('role', 'admin');
      expect((await next.commit()).getSetCookie()).toEqual([]);
    });

    it('reports a session past its idle timeout as expired (not an unknown cookie) and clears the cookie', async () => {
      const { sessions, clock, events } = await setup();
      const { cookie } = await login(sessions);
      clock.advanceSec(600);
      const late = await sessions.start(request(cookie));
      expect(late.isNew).toBe(true);
      expect(events.at(-1)).toMatchObject({ type: 'expired', reason: 'idle' });
      expect((await late.commit()).getSetCookie()[0]).toMatch(/Max-Age=0/);
    });
  });
}

const RACE_OPTIONS: ReadonlySet<string> = new Set<keyof RaceOptions>(['exact']);
