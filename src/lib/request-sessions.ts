// The session of each request, per cookie name, shared by the managers in the isolate that read that cookie alike
// (gorilla's registry). A request carries one cookie of a name, so it has one session of that name: a Workers app
// that builds its manager per request (as the Hono middleware's function does) and builds it again in a handler
// gets the same session from both, and a login through either one is the one committed. Managers of another kind
// of store or other secrets do not read the cookie alike (a move to another store tries the new one, then the
// old): each has sessions of its own.
import { Bounded } from './bounded.js';
import type { BackgroundContext } from './events.js';

/**
 * Bounded, like the signers (lib/signer.ts): the keys hold secrets, and an app that builds managers for many
 * secret lists (one per tenant, or a test suite) must not keep every one for the isolate's life. A map dropped
 * while a request is in flight only stops sharing between a manager built before and one built after at least 32
 * other lists.
 */
const byName = new Bounded<string, WeakMap<Request, unknown>>(64);

/**
 * The sessions of requests under `cookieName` for managers of `storeName` and `secrets` (each a session, or the
 * promise of one while it is being loaded), the same map for every such manager. A manager takes it once, so a
 * request pays one lookup, as with a map of its own.
 */
export function requestSessions<S>(
  cookieName: string,
  storeName: string,
  secrets: readonly string[],
): WeakMap<Request, S> {
  // JSON, not a join: no name or secret can make two different lists look alike.
  const key = JSON.stringify([cookieName, storeName, ...secrets]);
  let sessions = byName.get(key);
  if (sessions === undefined) byName.set(key, (sessions = new WeakMap()));
  return sessions as WeakMap<Request, S>;
}

/** The Workers `ctx` (or Deno `info`) a request's `start()` was given, for the sessions made later in it. */
export const requestContexts = new WeakMap<Request, BackgroundContext>();

/**
 * Sessions made by `create()` in their request: not stored yet, but the request has them (a login followed by
 * `updateExpiration()` in the same request is not "no session").
 */
export const createdSessions = new WeakSet<object>();
