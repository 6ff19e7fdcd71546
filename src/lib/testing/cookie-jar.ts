import type { CreateOptions, Sessions } from '../../manager.js';
import { clockOption, refuseUnknownOptions } from '../option-names.js';

/** A browser's cookie store, as far as tests of a fetch handler need one. */
export interface CookieJar {
  /**
   * Takes in every `Set-Cookie` of a response (or of the `Headers` a session's `commit()` returned): sets each
   * cookie, and deletes those sent with `Max-Age=0` (or an `Expires` in the past), as chunk cookies are.
   */
  apply(from: Headers | Response): void;
  /** The `Cookie` header to send with the next request, or `undefined` while the jar is empty. */
  header(): string | undefined;
  /** The value of one cookie, or `undefined`. */
  get(name: string): string | undefined;
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
  value: string;
  /** Epoch ms after which the cookie is gone; undefined for a browser-session cookie. */
  expiresAt: number | undefined;
}

/**
 * A cookie jar that follows `Set-Cookie` across requests, so a test can walk through an app the way a browser
 * does. It keys cookies by name only: a test talks to one origin, so Domain and Path do not decide anything.
 *
 * @example
 * ```ts
 * const jar = createCookieJar();
 * const login = await app.fetch(new Request('https://example.com/login', { method: 'POST' }));
 * jar.apply(login);
 * const next = await app.fetch(new Request('https://example.com/', { headers: { cookie: jar.header() ?? '' } }));
 * ```
 */
export function createCookieJar(options: CookieJarOptions = {}): CookieJar {
  refuseUnknownOptions('createCookieJar', options, JAR_OPTIONS);
  // Checked here: a clock object passed for its `now` would otherwise fail later, in the middle of a test.
  const now = clockOption('createCookieJar', options.now);
  const cookies = new Map<string, Stored>();
  // Expired cookies leave lazily, on every read, so the jar follows a clock that moves between requests.
  const live = (): Map<string, Stored> => {
    const t = now();
    for (const [name, c] of cookies) if (c.expiresAt !== undefined && c.expiresAt <= t) cookies.delete(name);
    return cookies;
  };
  return {
    apply(from) {
      const headers = 'getSetCookie' in from ? from : from.headers;
      for (const line of headers.getSetCookie()) {
        const [pair = '', ...attributes] = line.split(';');
        const eq = pair.indexOf('=');
        if (eq <= 0) continue; // not a cookie a browser would keep
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        let maxAge: number | undefined;
        let expires: number | undefined;
        for (const attribute of attributes) {
          const at = attribute.indexOf('=');
          const key = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
          const text = at < 0 ? '' : attribute.slice(at + 1).trim();
          if (key === 'max-age' && /^-?\d+$/.test(text)) maxAge = Number(text);
          else if (key === 'expires' && !Number.isNaN(Date.parse(text))) expires = Date.parse(text);
        }
        // Max-Age wins over Expires (RFC 6265 §5.3); either at or below now removes the cookie.
        const expiresAt = maxAge !== undefined ? now() + maxAge * 1000 : expires;
        if (expiresAt !== undefined && expiresAt <= now()) cookies.delete(name);
        else cookies.set(name, { value, expiresAt });
      }
    },
    header() {
      const pairs = [...live()].map(([name, c]) => `${name}=${c.value}`);
      return pairs.length === 0 ? undefined : pairs.join('; ');
    },
    get(name) {
      return live().get(name)?.value;
    },
    closeBrowser() {
      for (const [name, c] of cookies) if (c.expiresAt === undefined) cookies.delete(name);
    },
    clear() {
      cookies.clear();
    },
    get size() {
      return live().size;
    },
  };
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
