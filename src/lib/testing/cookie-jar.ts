import type { CreateOptions, Sessions } from '../../manager.js';
import { MAX_COOKIE_AGE_SEC } from '../lifetime.js';
import { clockOption, refuseUnknownOptions } from '../option-names.js';

/**
 * A browser's cookie store, as far as tests of a fetch handler need one.
 *
 * Give the request URL to `apply`, `header` and `get`, and the jar keeps cookies as a browser does (RFC 6265,
 * RFC 6265bis): by name, domain and path, sent only where they match. Leave it out, and the jar is one origin
 * whose cookies go by name alone: such a cookie is host-less, replaced and deleted only by URL-less `apply`,
 * and sent with every request, with a URL or not. URL-less `header()` and `get()` read every cookie in the jar.
 */
export interface CookieJar {
  /**
   * Takes in every `Set-Cookie` of a response (or of the `Headers` a session's `commit()` returned): sets each
   * cookie, and deletes those sent with `Max-Age=0` (or an `Expires` in the past), as chunk cookies are.
   * `Max-Age` and `Expires` count for at most 400 days.
   *
   * @param url The URL of the request the response answers. With it, a cookie belongs to its host (or to its
   * `Domain`, which must domain-match the host) and its `Path` (by default the URL's directory); a `Secure`
   * cookie over http, and a `__Host-` or `__Secure-` cookie without the attributes its prefix demands, are
   * ignored. Without it, cookies are kept by name alone and only `Max-Age` and `Expires` are read.
   */
  apply(from: Headers | Response, url?: string | URL): void;
  /**
   * The `Cookie` header to send with the next request, or `undefined` while no cookie goes.
   *
   * @param url The request's URL: with it, only the cookies whose domain and path match it go (and `Secure` ones
   * only over https or to localhost), longer paths first. Without it, every cookie in the jar goes.
   */
  header(url?: string | URL): string | undefined;
  /**
   * The value of one cookie, or `undefined`: the first of that name that `header(url)` would send.
   *
   * @param url The request's URL, as for `header`.
   */
  get(name: string, url?: string | URL): string | undefined;
  /** Forgets the cookies that had no `Max-Age` or `Expires`: what closing the browser does. */
  closeBrowser(): void;
  /** Forgets every cookie. */
  clear(): void;
  /** How many cookies the jar holds now. */
  readonly size: number;
}

/** Options of {@link createCookieJar}. */
export interface CookieJarOptions {
  /** The jar's clock in epoch ms, to let a `Max-Age` run out on a test clock. Default `Date.now`. */
  now?: (() => number) | undefined;
}

interface Stored {
  name: string;
  value: string;
  /** Epoch ms after which the cookie is gone; undefined for a browser-session cookie. */
  expiresAt: number | undefined;
  /** Its host, or its Domain; undefined for a host-less cookie (applied without a URL): it goes everywhere. */
  domain: string | undefined;
  /** Sent to `domain` alone, not to its subdomains: set without a Domain attribute (RFC 6265 §5.3 step 6). */
  hostOnly: boolean;
  /** Sent to this path and below it; `/` for a host-less cookie. */
  path: string;
  /** Set with `Secure`: sent only over https or to a loopback host. */
  secure: boolean;
}

/** Where a cookie of a `Set-Cookie` line is kept and sent: the `Stored` fields the request URL decides. */
type Scope = Pick<Stored, 'domain' | 'hostOnly' | 'path' | 'secure'>;

/** A cookie applied without a URL: the jar's one origin, by name alone, as the jar always kept cookies. */
const HOSTLESS: Scope = { domain: undefined, hostOnly: false, path: '/', secure: false };

/** A request's URL, as far as cookies care. */
interface Target {
  host: string;
  path: string;
  /** May carry `Secure` cookies: https, or a loopback host over http. */
  secure: boolean;
}

/** One `Set-Cookie` line, read as RFC 6265 §5.2 does: attributes it does not know are passed over. */
interface SetCookie {
  name: string;
  value: string;
  maxAge?: number;
  expires?: number;
  /** Lower-cased, without a leading dot; absent when empty (§5.2.3). */
  domain?: string;
  /** The attribute as written (§5.2.4 leaves one not starting with `/` to the default path). */
  path?: string;
  secure: boolean;
}

/**
 * A cookie jar that follows `Set-Cookie` across requests, so a test can walk through an app the way a browser
 * does. Given the request URL, it keeps and sends cookies by name, domain and path as a browser does (RFC 6265,
 * RFC 6265bis); without one, it is a single origin and keys cookies by name (see {@link CookieJar}).
 *
 * @example
 * ```ts
 * const jar = createCookieJar();
 * const url = 'https://example.com/login';
 * jar.apply(await app.fetch(new Request(url, { method: 'POST' })), url);
 * const home = 'https://example.com/';
 * const next = await app.fetch(new Request(home, { headers: { cookie: jar.header(home) ?? '' } }));
 * ```
 */
export function createCookieJar(options: CookieJarOptions = {}): CookieJar {
  refuseUnknownOptions('createCookieJar', options, JAR_OPTIONS);
  // Checked here: a clock object passed for its `now` would otherwise fail later, in the middle of a test.
  const now = clockOption('createCookieJar', options.now);
  // By name, domain and path (RFC 6265 §5.3 step 11). A Map keeps the order of first insertion, and a replaced
  // cookie keeps its place: the creation time that step 11 carries over, which breaks ties in `sent`.
  const cookies = new Map<string, Stored>();
  // Expired cookies leave lazily, on every read, so the jar follows a clock that moves between requests.
  const live = (): Map<string, Stored> => {
    const t = now();
    for (const [key, c] of cookies) if (c.expiresAt !== undefined && c.expiresAt <= t) cookies.delete(key);
    return cookies;
  };
  /** The cookies a request to `url` carries, in the order of RFC 6265 §5.4 step 2: longer paths first. */
  const sent = (url: string | URL | undefined): Stored[] => {
    const to = url === undefined ? undefined : targetOf(url);
    const all = [...live().values()];
    // Array.prototype.sort is stable: cookies of one path length stay in creation order.
    return (to === undefined ? all : all.filter((c) => goesTo(c, to))).sort((a, b) => b.path.length - a.path.length);
  };
  return {
    apply(from, url) {
      const headers = 'getSetCookie' in from ? from : from.headers;
      const origin = url === undefined ? undefined : targetOf(url);
      const t = now();
      for (const line of headers.getSetCookie()) {
        const cookie = parseSetCookie(line);
        if (cookie === undefined) continue; // not a cookie a browser would keep
        const scope = origin === undefined ? HOSTLESS : scopeOf(cookie, origin);
        if (scope === undefined) continue; // refused, as a browser refuses it
        const key = JSON.stringify([cookie.name, scope.domain ?? null, scope.path]);
        const expiresAt = expiryOf(cookie, t);
        if (expiresAt !== undefined && expiresAt <= t) cookies.delete(key);
        else cookies.set(key, { name: cookie.name, value: cookie.value, expiresAt, ...scope });
      }
    },
    header(url) {
      const pairs = sent(url).map((c) => `${c.name}=${c.value}`);
      return pairs.length === 0 ? undefined : pairs.join('; ');
    },
    get(name, url) {
      return sent(url).find((c) => c.name === name)?.value;
    },
    closeBrowser() {
      for (const [key, c] of cookies) if (c.expiresAt === undefined) cookies.delete(key);
    },
    clear() {
      cookies.clear();
    },
    get size() {
      return live().size;
    },
  };
}

function parseSetCookie(line: string): SetCookie | undefined {
  const [pair = '', ...attributes] = line.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const cookie: SetCookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), secure: false };
  // Of an attribute given twice the last counts (RFC 6265 §5.3 step 3 reads "the last attribute ... named").
  for (const attribute of attributes) {
    const at = attribute.indexOf('=');
    const key = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
    const text = at < 0 ? '' : attribute.slice(at + 1).trim();
    if (key === 'max-age' && /^-?\d+$/.test(text)) cookie.maxAge = Number(text);
    else if (key === 'expires' && !Number.isNaN(Date.parse(text))) cookie.expires = Date.parse(text);
    else if (key === 'domain' && text !== '') cookie.domain = text.replace(/^\./, '').toLowerCase();
    else if (key === 'path') cookie.path = text;
    else if (key === 'secure') cookie.secure = true;
  }
  return cookie;
}

/**
 * When the cookie runs out, in epoch ms (undefined: at the end of the browser session). Max-Age wins over Expires
 * (RFC 6265 §5.3 step 3), and neither reaches past 400 days (RFC 6265bis §5.6.1, §5.6.2).
 */
function expiryOf(cookie: SetCookie, now: number): number | undefined {
  const at = cookie.maxAge !== undefined ? now + cookie.maxAge * 1000 : cookie.expires;
  return at === undefined ? undefined : Math.min(at, now + MAX_COOKIE_AGE_SEC * 1000);
}

function targetOf(url: string | URL): Target {
  const { protocol, hostname, pathname } = new URL(url);
  return { host: hostname, path: pathname, secure: protocol === 'https:' || isLoopback(hostname) };
}

/**
 * Chromium lets `Secure` cookies be set and sent over http to localhost and loopback addresses, which it counts
 * as secure contexts (W3C Secure Contexts §3.1, "potentially trustworthy"): local test servers need no TLS.
 */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127(\.\d+){3}$/.test(host);
}

/**
 * Where a cookie set by a response to `from` is kept, or undefined where a browser ignores it entirely:
 * RFC 6265 §5.3, with what RFC 6265bis §5.7 adds (no `Secure` from an insecure origin, and the name prefixes).
 */
function scopeOf(cookie: SetCookie, from: Target): Scope | undefined {
  // Steps 5-6: a Domain makes a domain cookie, sent to subdomains too; one the host is not within is refused, or
  // a site could set cookies for another. (No public suffix list: `Domain=com` on example.com is accepted.)
  if (cookie.domain !== undefined && !domainMatches(from.host, cookie.domain)) return undefined;
  if (cookie.secure && !from.secure) return undefined;
  const hostOnly = cookie.domain === undefined;
  // Step 7 and §5.2.4: without a Path starting with `/`, the cookie belongs to the directory of the URL.
  const path = cookie.path?.startsWith('/') ? cookie.path : defaultPath(from.path);
  // RFC 6265bis §4.1.3: prefixes a server cannot forge, matched case-insensitively as browsers do. `__Host-` is
  // bound to one host and every path of it; `__Secure-` could only come from a secure origin.
  const name = cookie.name.toLowerCase();
  if (name.startsWith('__secure-') && !cookie.secure) return undefined;
  if (name.startsWith('__host-') && !(cookie.secure && hostOnly && cookie.path === '/')) return undefined;
  return { domain: hostOnly ? from.host : cookie.domain, hostOnly, path, secure: cookie.secure };
}

/** RFC 6265 §5.1.3: the host is the domain, or a name below it (an IP address has no names below it). */
function domainMatches(host: string, domain: string): boolean {
  if (host === domain) return true;
  const ip = /^\d+(\.\d+){3}$/.test(host) || host.startsWith('[');
  return !ip && host.endsWith(`.${domain}`);
}

/** RFC 6265 §5.1.4: the URL path up to, not including, its last `/`; `/` when that leaves nothing. */
function defaultPath(path: string): string {
  const last = path.lastIndexOf('/');
  return last <= 0 ? '/' : path.slice(0, last);
}

/** RFC 6265 §5.1.4: the request path is the cookie's, or lies below it (`/a` covers `/a/b`, not `/ab`). */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  return requestPath.startsWith(cookiePath) && (cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/');
}

/** RFC 6265 §5.4 step 1: whether a request to `to` carries the cookie. A host-less one goes everywhere. */
function goesTo(cookie: Stored, to: Target): boolean {
  if (cookie.domain === undefined) return true;
  const domain = cookie.hostOnly ? to.host === cookie.domain : domainMatches(to.host, cookie.domain);
  return domain && pathMatches(to.path, cookie.path) && (!cookie.secure || to.secure);
}

/** Options of {@link sessionCookie}: those of `sessions.create()`. */
export type SessionCookieOptions<Data extends Record<string, unknown>> = CreateOptions<Data>;

/**
 * A `Cookie` header value for a new stored session holding `options.data` (and belonging to `options.userId`),
 * made through the manager (so it is signed, stored and accepted exactly as a real login's cookie): a test can
 * start logged in.
 *
 * @example
 * ```ts
 * const cookie = await sessionCookie(sessions, { userId: 'ada', data: { role: 'admin' } });
 * const response = await app.fetch(new Request('https://example.com/account', { headers: { cookie } }));
 * ```
 */
export async function sessionCookie<Data extends Record<string, unknown>>(
  sessions: Sessions<Data>,
  options: SessionCookieOptions<Data> = {},
): Promise<string> {
  // Any https URL will do: the manager reads only the request's cookies, and a __Host- cookie needs https.
  const session = await sessions.create(new Request('https://example.com/'), options);
  const jar = createCookieJar();
  jar.apply(await session.commit());
  const header = jar.header();
  if (header === undefined) throw new Error('edge-sessions: sessionCookie: the session set no cookie');
  return header;
}

const JAR_OPTIONS: ReadonlySet<string> = new Set<keyof CookieJarOptions>(['now']);
