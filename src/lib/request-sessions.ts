// The session of each request, per cookie name, shared by every manager in the isolate (gorilla's registry).
// A request carries one cookie of a name, so it has one session of that name, whichever manager asks: a Workers
// app that builds its manager per request (as the Hono middleware's function does) and builds it again in a
// handler gets the same session from both, and a login through either one is the one committed.
import type { BackgroundContext } from './events.js';

/** Per request and cookie name: the session, or the promise of it while it is being loaded. */
const byRequest = new WeakMap<Request, Map<string, unknown>>();

/** The session (or its promise) of `request` under `cookieName`, if one was started. */
export function requestSession<S>(request: Request, cookieName: string): S | undefined {
  return byRequest.get(request)?.get(cookieName) as S | undefined;
}

/** Remembers `session` as the session of `request` under `cookieName`. */
export function setRequestSession(request: Request, cookieName: string, session: unknown): void {
  let sessions = byRequest.get(request);
  if (sessions === undefined) byRequest.set(request, (sessions = new Map()));
  sessions.set(cookieName, session);
}

/** Forgets the session of `request` under `cookieName` if it is still `session` (a load that failed). */
export function forgetRequestSession(request: Request, cookieName: string, session: unknown): void {
  const sessions = byRequest.get(request);
  if (sessions !== undefined && sessions.get(cookieName) === session) sessions.delete(cookieName);
}

/** The Workers `ctx` (or Deno `info`) a request's `start()` was given, for the sessions made later in it. */
export const requestContexts = new WeakMap<Request, BackgroundContext>();

/**
 * Sessions made by `create()` in their request: not stored yet, but the request has them (a login followed by
 * `updateExpiration()` in the same request is not "no session").
 */
export const createdSessions = new WeakSet<object>();
