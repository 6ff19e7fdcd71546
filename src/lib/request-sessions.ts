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
import type { BackgroundContext } from './events.js';

/** `RequestState.runs` once the request is answered. */
const ANSWERED = -1;

/**
 * What the library knows of one Request, in one object per Request (one weak entry, not one per fact: each entry
 * of a WeakMap is an ephemeron the garbage collector must trace).
 */
export class RequestState {
  /**
   * How many `handle()` or Hono middleware runs (of any manager) are inside the request now, or `ANSWERED` once
   * the outermost one's handler has answered (or thrown). A login (`create()`) or a `regenerate()` after that (work
   * left in `ctx.waitUntil`, or while the response is being committed) could reach no browser: it would end the
   * session whose cookie the browser keeps, and store one no cookie names. Both are refused (`ANSWERED`). A run
   * nested in another (a `handle()` inside a `handle()`, a Hono sub-app's middleware) leaves that to the outer one;
   * a new run on the same Request (a retry) lifts it.
   */
  runs = 0;
  /**
   * How many sessions `create()` (a login) or `start()` after `destroy()` made on the request. A run notes the
   * count when it starts: those numbered above it were made while it went on, by it (or by code around it at the
   * same time, which cannot be told apart), and are the ones it drops if it fails.
   */
  made = 0;
  /** The Workers `ctx` (or Deno `info`) the request's `start()` was given, for the sessions made later in it. */
  ctx: BackgroundContext | undefined = undefined;
  // The request's sessions, one per kind (almost every app has one kind: kept without a map).
  #firstKey: string | undefined = undefined;
  #first: KindState | undefined = undefined;
  #more: Map<string, KindState> | undefined = undefined;

  /** The request's session of the kind `sharingKey` names (lib/options.ts), and the runs holding it. */
  kind(sharingKey: string): KindState {
    if (this.#firstKey === sharingKey) return this.#first!;
    if (this.#firstKey === undefined) {
      this.#firstKey = sharingKey;
      return (this.#first = new KindState());
    }
    let kind = (this.#more ??= new Map()).get(sharingKey);
    if (kind === undefined) this.#more.set(sharingKey, (kind = new KindState()));
    return kind;
  }
}

/**
 * The request's session of one kind: managers whose configuration gives the same sharing key share it (see
 * above). A promise while it is being loaded; the session itself once known without waiting (a new visitor).
 */
export class KindState {
  session: unknown = undefined;
  /**
   * How many runs (`handle()`, the Hono middleware once its handler read the session) hold the request's session
   * of this kind now. A run that starts while another holds it is nested in that one, whose sessions (those before
   * the one it is handed) it leaves alone; one that starts while none does is the request's first, or a retry of a
   * run that ended.
   */
  runs = 0;
}

const states = new WeakMap<Request, RequestState>();

/** What is known of `request` (or of the Request it stands for), made on first use. */
export function stateOf(request: Request): RequestState {
  request = canonical(request);
  let state = states.get(request);
  if (state === undefined) states.set(request, (state = new RequestState()));
  return state;
}

/** What is known of `request`, without making an entry for it. */
export function peekState(request: Request): RequestState | undefined {
  return states.get(canonical(request));
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

/** A run starts on `request`. */
export function enterRun(request: Request): void {
  const state = stateOf(request);
  state.runs = state.runs === ANSWERED ? 1 : state.runs + 1;
}

/** The handler of a run on `request` is done. */
export function leaveRun(request: Request): void {
  const state = stateOf(request);
  state.runs = state.runs > 1 ? state.runs - 1 : ANSWERED;
}

/** The number of a session just made on `request` (see `RequestState.made`). */
export function nextMade(request: Request): number {
  return ++stateOf(request).made;
}

/** How many sessions were made on `request` so far (see `RequestState.made`). */
export function madeSoFar(request: Request): number {
  return peekState(request)?.made ?? 0;
}

/** Whether a run on `request` is going on (one that starts now is nested in it). */
export function inRun(request: Request): boolean {
  return (peekState(request)?.runs ?? 0) > 0;
}

/** Whether the response of `request` is made (see `RequestState.runs`). */
export function isAnswered(request: Request | undefined): boolean {
  return request !== undefined && peekState(request)?.runs === ANSWERED;
}

/**
 * Sessions made by `create()` in their request: not stored yet, but the request has them (a login followed by
 * `updateExpiration()` in the same request is not "no session").
 */
export const createdSessions = new WeakSet<object>();
