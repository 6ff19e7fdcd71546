// What the session adds to a handler's Response: its cookies, and the cache rule that goes with them.
import { SessionError } from '../errors.js';

/** `private` as a directive of its own, not `private="set-cookie"` (which leaves the rest cacheable). */
const PRIVATE_OR_NO_STORE = /(?:^|,)\s*(?:private|no-store)\s*(?:,|$)/i;

/**
 * True when the field `name` of `headers` already keeps the response out of shared caches (`private` or
 * `no-store`), so nothing needs to be appended to it (RFC 9111 §5.2.2.7, §5.2.2.5).
 */
function isPrivate(headers: Headers, name = 'Cache-Control'): boolean {
  const cacheControl = headers.get(name);
  return cacheControl !== null && PRIVATE_OR_NO_STORE.test(cacheControl);
}

/**
 * Cache-Control fields targeted at CDNs (RFC 9213): `CDN-Cache-Control`, and a CDN's own (`Cloudflare-CDN-…`).
 * A CDN that reads one ignores Cache-Control, so `private` there would not keep the page out of it.
 */
const CDN_CACHE_CONTROL = /(?:^|-)cdn-cache-control$/;

/** The CDN-targeted fields of `headers` (lower-case, as Headers iterates them) that allow shared storing. */
function cdnFieldsToMark(headers: Headers): string[] {
  const names: string[] = [];
  headers.forEach((_, name) => {
    if (CDN_CACHE_CONTROL.test(name) && !names.includes(name) && !isPrivate(headers, name)) names.push(name);
  });
  return names;
}

/**
 * The handler's Response with the session's Set-Cookie lines appended (never set: other cookies must survive),
 * on a copy: the handler's own object is never changed, since one it keeps at module level and returns for every
 * request must not collect one visitor's session cookie for the next. A response that sets the cookie, or that
 * was made from a `live` session, gets `Cache-Control: private` unless it already keeps out of shared caches, and
 * so does each CDN-targeted field it has (`CDN-Cache-Control`: a CDN that reads one ignores Cache-Control).
 * With nothing to add, the Response itself is returned.
 */
export function withSessionHeaders(response: Response, cookies: readonly string[], live = false): Response {
  const perUser = live || cookies.length > 0;
  const markPrivate = perUser && !isPrivate(response.headers);
  const cdnFields = perUser ? cdnFieldsToMark(response.headers) : [];
  if (cookies.length === 0 && !markPrivate && cdnFields.length === 0) return response;
  const copy = new Response(response.body, response);
  const headers = copy.headers;
  for (const cookie of cookies) headers.append('Set-Cookie', cookie);
  if (markPrivate) headers.append('Cache-Control', 'private');
  for (const name of cdnFields) headers.append(name, 'private');
  return copy;
}

/** A session as `handle()` and the Hono middleware finish it. */
interface Finished {
  readonly _previous: Finished | undefined;
  _sentLines(): readonly string[];
  _commitLines(): string[] | Promise<string[]>;
  _recordSent(lines: readonly string[]): void;
}

/**
 * What `handle()` and the Hono middleware append for the request's sessions: `session`'s (whose final commit made
 * `committed`), then, when the handler replaced it (a login with `create()`, or `start()` after `destroy()`), every
 * session that followed it, each committed in turn up to `latest`, the one the request ends with (its cookie wins).
 * One in between is committed too: a login that was ended again in the same request must not stay live, nor its
 * cookie stay in the browser. Sessions before `session` were committed by the run that made them, but what they
 * sent counts. With `retry` (no run encloses this one), they are of an earlier run on the same Request, whose
 * response was dropped or which failed: what they left uncommitted (a logout after a login it committed) is
 * committed now. Synchronous when nothing was replaced, so `handle()` pays no promise for it.
 */
export function finalLines(
  response: Response,
  session: Finished,
  committed: readonly string[],
  latest: Finished,
  retry: boolean,
): string[] | Promise<string[]> {
  // Most requests: one session, no commit handed lines to the handler, and the Response's headers are not read.
  if (latest === session && session._previous === undefined && session._sentLines().length === 0) {
    return committed as string[];
  }
  const { before, chain } = sessionsOf(session, latest);
  const already = response.headers.getSetCookie();
  if (latest === session && (before.length === 0 || !retry)) {
    return linesToSend(already, [...before, session], [...before.map(() => []), committed]);
  }
  return finishChain(already, [...before, ...chain], before.length, committed, retry);
}

/**
 * The lines that commits of the request's sessions up to `latest` handed to the app and that a Response with the
 * Set-Cookie lines `already` does not hold: a failed run's answer (Hono's onError) must still carry them, since
 * those commits were made.
 */
export function handedLines(already: readonly string[], latest: Finished): string[] {
  const all: Finished[] = [];
  for (let s: Finished | undefined = latest; s !== undefined; s = s._previous) all.unshift(s);
  return linesToSend(
    already,
    all,
    all.map(() => []),
  );
}

/**
 * `error`, from a commit of the request's sessions up to `latest` that failed (the handler's own, or the final
 * commit of `handle()` or the middleware), with `headers`: the lines earlier commits handed to the app, which no
 * Response carries now (see {@link SessionError.headers}). Left as it is if it has them already.
 */
export function withHandedLines(error: unknown, latest: Finished): unknown {
  if (!(error instanceof SessionError) || error.headers !== undefined) return error;
  return withUnsent(error, handedLines([], latest));
}

/** The sessions of the request before `session` (earlier runs on the same Request), and `session` up to `latest`. */
function sessionsOf(session: Finished, latest: Finished): { before: Finished[]; chain: Finished[] } {
  const before: Finished[] = [];
  for (let s = session._previous; s !== undefined; s = s._previous) before.unshift(s);
  const chain: Finished[] = [];
  for (let s: Finished | undefined = latest; s !== undefined && s !== session; s = s._previous) chain.unshift(s);
  chain.unshift(session);
  return { before, chain };
}

/**
 * Commits every session of `all` in order but the one at `at`, whose final commit made `first`: those the handler
 * made after it, and with `retry` those before it (see `finalLines`). `already`: the Set-Cookie lines of the
 * handler's Response. If one fails, the error carries the lines of those committed before it, and those handed to
 * the app.
 */
async function finishChain(
  already: readonly string[],
  all: readonly Finished[],
  at: number,
  first: readonly string[],
  retry: boolean,
): Promise<string[]> {
  const made: (readonly string[])[] = [];
  for (let i = 0; i < all.length; i++) {
    try {
      made.push(i === at ? first : i < at && !retry ? [] : await all[i]!._commitLines());
    } catch (error) {
      const lines = linesToSend([], all, [...made, ...all.slice(i).map(() => [])]);
      // Handed to the app on the error: a run around this one, or a retry, must still send them.
      for (let k = 0; k < i; k++) all[k]!._recordSent(made[k]!);
      throw withUnsent(error, lines);
    }
  }
  return linesToSend(already, all, made);
}

/**
 * `error` with `headers` set to `lines` (and the cache rule that goes with them), when it is a SessionError. The
 * lines are worked out as if the handler had appended none: the Response it made is not the one sent.
 */
function withUnsent(error: unknown, lines: readonly string[]): unknown {
  if (error instanceof SessionError) {
    const headers = new Headers();
    for (const line of lines) headers.append('Set-Cookie', line);
    if (lines.length > 0) headers.append('Cache-Control', 'private');
    error.headers = headers;
  }
  return error;
}

/**
 * The lines to append for the request's sessions `chain` (in order), whose final commits made `made`, to a
 * Response that has the Set-Cookie lines `already`. In the order they were made, each session's lines that
 * `commit()` or `commitAll` handed to the handler (`sessions.destroy(request)`, `shiftExpiration`, an early
 * `commit()`, a login's…), then its final ones: all of them after the last one the handler appended itself.
 * - A logout whose headers the handler forgot must still expire the cookie (a sealed cookie would go on working).
 * - No line the handler skipped may follow, and so undo, a later one it appended (an early `commit()`, then a
 *   logout; a logout's expired cookie after the login that followed it). Unless nothing after it sets its cookie:
 *   the expired chunk cookies (`name.1`…) of a session that shrank or ended still go out.
 * The appended lines are found in order, so that two identical lines (every logout's expired cookie is the same
 * text) are told apart by where they stand.
 */
function linesToSend(
  already: readonly string[],
  chain: readonly Finished[],
  made: readonly (readonly string[])[],
): string[] {
  const all: { readonly line: string; readonly appended: boolean }[] = [];
  let at = 0; // where in `already` the next handed line is looked for
  let cut = 0; // in `all`, just after the last line the handler appended
  chain.forEach((s, i) => {
    for (const line of s._sentLines()) {
      const found = already.indexOf(line, at);
      all.push({ line, appended: found !== -1 });
      if (found !== -1) [at, cut] = [found + 1, all.length];
    }
    for (const line of made[i]!) all.push({ line, appended: false });
  });
  // From the last line back: a line before the cut stands only if no line standing after it sets its cookie.
  const setLater = new Set<string>();
  const lines: string[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const { line, appended } = all[i]!;
    const name = cookieName(line);
    const stands = i >= cut || appended || !setLater.has(name);
    if (!stands) continue;
    setLater.add(name);
    if (!appended) lines.unshift(line);
  }
  return lines;
}

/** The name a Set-Cookie line sets. */
function cookieName(line: string): string {
  return line.slice(0, line.indexOf('='));
}
