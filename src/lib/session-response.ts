// What the session adds to a handler's Response: its cookies, and the cache rule that goes with them.
/** `private` as a directive of its own, not `private="set-cookie"` (which leaves the rest cacheable). */
const PRIVATE_OR_NO_STORE = /(?:^|,)\s*(?:private|no-store)\s*(?:,|$)/i;

/**
 * True when `headers` already keep the response out of shared caches (`Cache-Control: private` or `no-store`),
 * so nothing needs to be appended (RFC 9111 §5.2.2.7, §5.2.2.5).
 */
function isPrivate(headers: Headers): boolean {
  const cacheControl = headers.get('Cache-Control');
  return cacheControl !== null && PRIVATE_OR_NO_STORE.test(cacheControl);
}

/**
 * The handler's Response with the session's Set-Cookie lines appended (never set: other cookies must survive),
 * on a copy: the handler's own object is never changed, since one it keeps at module level and returns for every
 * request must not collect one visitor's session cookie for the next. A response that sets the cookie, or that
 * was made from a `live` session, gets `Cache-Control: private` unless it already keeps out of shared caches.
 * With nothing to add, the Response itself is returned.
 */
export function withSessionHeaders(response: Response, cookies: readonly string[], live = false): Response {
  const markPrivate = (live || cookies.length > 0) && !isPrivate(response.headers);
  if (cookies.length === 0 && !markPrivate) return response;
  const copy = new Response(response.body, response);
  const headers = copy.headers;
  for (const cookie of cookies) headers.append('Set-Cookie', cookie);
  if (markPrivate) headers.append('Cache-Control', 'private');
  return copy;
}

/**
 * The lines `handle()` sends for `session`, whose final commit made `last`: first those that `commit()` or
 * `commitAll` handed to the handler (`sessions.destroy(request)`, `shiftExpiration`, an early `commit()`…) after
 * the last one it already put on its response (`already`), then `last`. A handler that ignored the headers of a
 * logout must not leave the browser holding the cookie (a sealed cookie would go on working); nor may a commit's
 * line the handler skipped follow, and so undo, a later one it appended (an early `commit()`, then a logout).
 */
function linesToSend(already: readonly string[], session: Finished, last: readonly string[]): string[] {
  const earlier = session._sentLines();
  if (earlier.length === 0) return last as string[];
  let from = earlier.length;
  while (from > 0 && !already.includes(earlier[from - 1]!)) from--;
  return earlier.slice(from).concat(last);
}

/** A session as `handle()` and the Hono middleware finish it. */
interface Finished {
  readonly _previous: Finished | undefined;
  _sentLines(): readonly string[];
  _commitLines(): string[] | Promise<string[]>;
  _answered(): void;
}

/**
 * The response of the request `latest` ends is made: a login (`create()`) or a `regenerate()` after that (in
 * `ctx.waitUntil`) could reach no browser. It would end the session whose cookie the browser keeps, and store one
 * no cookie names: both are refused (`ANSWERED`).
 */
export function markAnswered(latest: Finished): void {
  for (let s: Finished | undefined = latest; s !== undefined; s = s._previous) s._answered();
}

/**
 * What `handle()` and the Hono middleware append for the request's sessions: `session`'s (whose final commit made
 * `committed`), then, when the handler replaced it (a login with `create()`, or `start()` after `destroy()`), every
 * session that followed it, each committed in turn up to `latest`, the one the request ends with (its cookie wins).
 * One in between is committed too: a login that was ended again in the same request must not stay live, nor its
 * cookie stay in the browser. Synchronous when nothing was replaced, so `handle()` pays no promise for it.
 */
export function finalLines(
  response: Response,
  session: Finished,
  committed: readonly string[],
  latest: Finished,
): string[] | Promise<string[]> {
  if (latest === session) {
    // Most requests: no commit handed lines to the handler, and the Response's headers are not read.
    if (session._sentLines().length === 0) return committed as string[];
    return linesToSend(response.headers.getSetCookie(), session, committed);
  }
  const chain: Finished[] = [latest];
  for (let s = latest._previous; s !== undefined && s !== session; s = s._previous) chain.unshift(s);
  chain.unshift(session);
  return finishChain(response, chain, committed);
}

/**
 * Commits every session of `chain` after its first (whose final commit made `first`), in order, then picks the
 * lines to send. A session the handler already appended a line of (a login it committed itself) supersedes every
 * session before it: their lines (a logout's expired cookie, an early commit's) are not sent after it, or the
 * browser would end with a cookie the request has replaced.
 */
async function finishChain(
  response: Response,
  chain: readonly Finished[],
  first: readonly string[],
): Promise<string[]> {
  const made: (readonly string[])[] = [first];
  for (let i = 1; i < chain.length; i++) made.push(await chain[i]!._commitLines());
  const already = response.headers.getSetCookie();
  let from = chain.length - 1;
  while (from > 0 && !chain[from]!._sentLines().some((line) => already.includes(line))) from--;
  let lines: string[] = [];
  for (let i = from; i < chain.length; i++) lines = lines.concat(linesToSend(already, chain[i]!, made[i]!));
  return lines;
}
