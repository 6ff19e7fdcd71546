// The session of each request, per cookie name, shared by the managers in the isolate that read that cookie alike
// (gorilla's registry). A request carries one cookie of a name, so it has one session of that name: a Workers app
// that builds its manager per request (as the Hono middleware's function does) and builds it again in a handler
// gets the same session from both, and a login through either one is the one committed. Managers of another kind
// or form of store or other secrets do not read the cookie alike (a move to another store tries the new one, then
// the old): each has sessions of its own. Their other options are not compared: a shared session is the one the
// first manager loaded, judged by its options (its timeouts, its functions). Managers of one cookie that do not
// share each commit their session, and the response's last line for the cookie wins: were more options compared,
// a login through one manager inside another's handle() would be undone by the outer commit, and letting the login
// win instead would undo a logout that follows it in the same handler.
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

/**
 * Requests that replaced another of the same request, each mapped to the one it replaced (as the app first got
 * it). Hono's bodyLimit sets `c.req.raw` to a new Request with the same headers: the handler after it, and its
 * calls with `c.req.raw`, must find the session, the login and the run of the Request the middleware before it
 * saw, not load a second copy of the session from the cookie.
 */
const originals = new WeakMap<Request, Request>();
let anyReplaced = false; // until the first replacement, no request pays a lookup

/** `replacement` stands for `original` from now on (see `originals`). */
export function standIn(replacement: Request, original: Request): void {
  if (replacement === original) return;
  anyReplaced = true;
  originals.set(replacement, canonical(original));
}

/** The Request whose sessions and runs `request` shares: the one it replaced, or itself. */
export function canonical(request: Request): Request {
  return anyReplaced ? (originals.get(request) ?? request) : request;
}

const runsByKey = new Bounded<string, WeakMap<Request, number>>(64);

/**
 * Per request, for managers whose configuration gives `sharingKey`: how many runs (`handle()`, the Hono
 * middleware once its handler read the session) hold the request's session of that kind now. A run that starts
 * while another holds it is nested in that one, whose sessions (those before the one it is handed) it leaves
 * alone; one that starts while none does is the request's first, or a retry of a run that ended.
 */
export function requestRuns(key: string): WeakMap<Request, number> {
  let runs = runsByKey.get(key);
  if (runs === undefined) runsByKey.set(key, (runs = new WeakMap()));
  return runs;
}

/** The Workers `ctx` (or Deno `info`) a request's `start()` was given, for the sessions made later in it. */
export const requestContexts = new WeakMap<Request, BackgroundContext>();

/**
 * Sessions made by `create()` in their request: not stored yet, but the request has them (a login followed by
 * `updateExpiration()` in the same request is not "no session").
 */
export const createdSessions = new WeakSet<object>();

/**
 * Per request: how many `handle()` or Hono middleware runs (of any manager) are inside it now, or `ANSWERED` once
 * the outermost one's handler has answered (or thrown). A login (`create()`) or a `regenerate()` after that (work
 * left in `ctx.waitUntil`, or while the response is being committed) could reach no browser: it would end the
 * session whose cookie the browser keeps, and store one no cookie names. Both are refused (`ANSWERED`). A run
 * nested in another (a `handle()` inside a `handle()`, a Hono sub-app's middleware) leaves that to the outer one;
 * a new run on the same Request (a retry) lifts it.
 */
const runs = new WeakMap<Request, number>();
const ANSWERED = -1;

/** A run starts on `request`. */
export function enterRun(request: Request): void {
  request = canonical(request);
  const depth = runs.get(request);
  runs.set(request, depth === undefined || depth === ANSWERED ? 1 : depth + 1);
}

/** The handler of a run on `request` is done. */
export function leaveRun(request: Request): void {
  request = canonical(request);
  const depth = runs.get(request) ?? 1;
  runs.set(request, depth > 1 ? depth - 1 : ANSWERED);
}

/**
 * Per request: how many sessions `create()` (a login) or `start()` after `destroy()` made on it. A run notes the
 * count when it starts: those numbered above it were made while it went on, by it (or by code around it at the
 * same time, which cannot be told apart), and are the ones it drops if it fails.
 */
const made = new WeakMap<Request, number>();

/** The number of a session just made on `request` (see `made`). */
export function nextMade(request: Request): number {
  request = canonical(request);
  const n = (made.get(request) ?? 0) + 1;
  made.set(request, n);
  return n;
}

/** How many sessions were made on `request` so far (see `made`). */
export function madeSoFar(request: Request): number {
  return made.get(canonical(request)) ?? 0;
}

/** Whether a run on `request` is going on (one that starts now is nested in it). */
export function inRun(request: Request): boolean {
  return (runs.get(canonical(request)) ?? 0) > 0;
}

/** Whether the response of `request` is made (see `runs`). */
export function isAnswered(request: Request | undefined): boolean {
  return request !== undefined && runs.get(canonical(request)) === ANSWERED;
}
