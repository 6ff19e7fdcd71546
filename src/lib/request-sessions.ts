// The session of each request, per cookie name, shared by the managers in the isolate that read that cookie alike
// (gorilla's registry). A request carries one cookie of a name, so it has one session of that name: a Workers app
// that builds its manager per request (as the Hono middleware's function does) and builds it again in a handler
// gets the same session from both, and a login through either one is the one committed. Managers that would read
// or keep the session otherwise (another kind or form of store, other secrets, cookie attributes or durations: an
// admin area with a shorter absoluteTimeout, a move to another store that tries the new one, then the old) each
// have sessions of their own: sharing must never hand one of them a session its own rules refuse. Functions are
// not compared (a manager built per request makes new ones): a shared session uses those of the manager that
// loaded it.
import { Bounded } from './bounded.js';
import type { BackgroundContext } from './events.js';

/**
 * Bounded, like the signers (lib/signer.ts): the keys hold secrets, and an app that builds managers for many
 * configurations (one per tenant, or a test suite) must not keep every one for the isolate's life. A map dropped
 * while a request is in flight only stops sharing between a manager built before and one built after at least 32
 * other configurations.
 */
const byKey = new Bounded<string, WeakMap<Request, unknown>>(64);

/**
 * The sessions of requests for managers whose configuration gives `sharingKey` (lib/options.ts; each a session, or
 * the promise of one while it is being loaded), the same map for every such manager. A manager takes it once, so a
 * request pays one lookup, as with a map of its own.
 */
export function requestSessions<S>(key: string): WeakMap<Request, S> {
  let sessions = byKey.get(key);
  if (sessions === undefined) byKey.set(key, (sessions = new WeakMap()));
  return sessions as WeakMap<Request, S>;
}

/** The Workers `ctx` (or Deno `info`) a request's `start()` was given, for the sessions made later in it. */
export const requestContexts = new WeakMap<Request, BackgroundContext>();

/**
 * Sessions made by `create()` in their request: not stored yet, but the request has them (a login followed by
 * `updateExpiration()` in the same request is not "no session").
 */
export const createdSessions = new WeakSet<object>();

/**
 * Per request and cookie name, the session the last `create()` made (a login), by whichever manager. Managers of
 * one cookie with other options do not share a request's session; a login through one of them inside another's
 * `handle()` (or Hono middleware) must still be the cookie the response ends with.
 */
const logins = new WeakMap<Request, Map<string, unknown>>();

/** Notes `session` as the request's latest login under `cookieName`. */
export function rememberLogin(request: Request, cookieName: string, session: unknown): void {
  let byName = logins.get(request);
  if (byName === undefined) logins.set(request, (byName = new Map()));
  byName.set(cookieName, session);
}

/**
 * The request's latest login under `cookieName` when another manager made it: none of `mine` (the sessions the
 * caller handed out and would commit). Its cookie replaces theirs.
 */
export function loginByAnother<S>(request: Request, cookieName: string, ...mine: unknown[]): S | undefined {
  const login = logins.get(request)?.get(cookieName);
  return login === undefined || mine.includes(login) ? undefined : (login as S);
}
