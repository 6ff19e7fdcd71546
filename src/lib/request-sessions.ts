// The session of each request, per cookie name, shared by every manager in the isolate (gorilla's registry).
// A request carries one cookie of a name, so it has one session of that name, whichever manager asks: a Workers
// app that builds its manager per request (as the Hono middleware's function does) and builds it again in a
// handler gets the same session from both, and a login through either one is the one committed.
import type { BackgroundContext } from './events.js';

const byName = new Map<string, WeakMap<Request, unknown>>();

/**
 * The sessions of requests under `cookieName` (each a session, or the promise of one while it is being loaded),
 * the same map for every manager of that name. A manager takes it once, so a request pays one lookup, as with a
 * map of its own.
 */
export function requestSessions<S>(cookieName: string): WeakMap<Request, S> {
  let sessions = byName.get(cookieName);
  if (sessions === undefined) byName.set(cookieName, (sessions = new WeakMap()));
  return sessions as WeakMap<Request, S>;
}

/** The Workers `ctx` (or Deno `info`) a request's `start()` was given, for the sessions made later in it. */
export const requestContexts = new WeakMap<Request, BackgroundContext>();

/**
 * Sessions made by `create()` in their request: not stored yet, but the request has them (a login followed by
 * `updateExpiration()` in the same request is not "no session").
 */
export const createdSessions = new WeakSet<object>();
