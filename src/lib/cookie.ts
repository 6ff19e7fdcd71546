// Cookie header parsing and Set-Cookie serialization: RFC 6265bis (draft-ietf-httpbis-rfc6265bis).
// Pure string functions; nothing here throws on any input.

/** RFC 6265bis §5.6: user agents ignore a Set-Cookie line over 4096 bytes. */
export const MAX_SET_COOKIE_BYTES = 4096;

/** A cookie name must be an RFC 9110 token (RFC 6265bis §4.1.1). */
export const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The value of the first cookie called `name` in a Cookie header, or undefined.
 *
 * Duplicate names: the first occurrence wins. Browsers list cookies with longer Paths first and, for equal
 * Paths, older cookies first (RFC 6265bis §5.8.3 step 2), so the first is the most specific one. Only that one
 * is considered: trying every copy would let a header with 1,000 copies cost 1,000 signature checks.
 *
 * Names compare case-sensitively (`__HOST-sid` is not `__Host-sid`). Pairs are split on `;` only, so
 * `sid=A, sid=B` is the single value `A, sid=B` (which then fails validation). Surrounding spaces and tabs are
 * trimmed, one pair of double quotes around the value is removed (RFC 6265bis §4.1.1 allows a quoted
 * cookie-value), and nothing is percent-decoded: the caller validates the raw value. One linear pass; no
 * allocation for pairs that do not match.
 */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  const n = header.length;
  let start = 0;
  // The next '=' at or after `start`, found once and reused while the pairs before it have none: a header of
  // many ';' without '=' must stay linear, not search to its end once per pair.
  let eq = -1;
  while (start < n) {
    let end = header.indexOf(';', start);
    if (end === -1) end = n;
    if (eq < start) {
      eq = header.indexOf('=', start);
      if (eq === -1) return undefined;
    }
    if (eq < end) {
      let a = start;
      while (a < eq && isOws(header.charCodeAt(a))) a++;
      let b = eq;
      while (b > a && isOws(header.charCodeAt(b - 1))) b--;
      if (b - a === name.length && header.startsWith(name, a)) return pairValue(header, eq + 1, end);
    }
    start = end + 1;
  }
  return undefined;
}

/**
 * The `name=value` pairs of a Cookie header, one at a time, in one linear pass: for a reader that wants several
 * cookies (the cookie store's chunks) without a pass per cookie. Pairs, names and values are exactly those
 * `readCookie` reads (same splitting and trimming, the same `pairValue`; test/cookie.test.ts compares the two),
 * and nothing is allocated for a pair until its value is asked for. `readCookie` keeps its own copy of the loop:
 * it runs on every request of a signed store, and the object and method calls would cost it about a tenth on a
 * short header.
 */
export class CookiePairs {
  /** Where the current pair's name starts in the header (spaces and tabs skipped). */
  nameStart = 0;
  /** Where the current pair's name ends (exclusive, spaces and tabs before `=` dropped). */
  nameEnd = 0;
  readonly #header: string;
  #start = 0;
  #end = 0;
  // The next '=' at or after `#start`, found once and reused while the pairs before it have none: a header of
  // many ';' without '=' must stay linear, not search to its end once per pair.
  #eq = -1;

  /** The pairs of `header`; call `next()` for the first. */
  constructor(header: string) {
    this.#header = header;
  }

  /** Moves to the next pair that has a `=`; false when there is none left. */
  next(): boolean {
    const header = this.#header;
    const n = header.length;
    let start = this.#start;
    let eq = this.#eq;
    while (start < n) {
      let end = header.indexOf(';', start);
      if (end === -1) end = n;
      if (eq < start) {
        eq = header.indexOf('=', start);
        if (eq === -1) break;
      }
      if (eq < end) {
        let a = start;
        while (a < eq && isOws(header.charCodeAt(a))) a++;
        let b = eq;
        while (b > a && isOws(header.charCodeAt(b - 1))) b--;
        this.nameStart = a;
        this.nameEnd = b;
        this.#eq = eq;
        this.#end = end;
        this.#start = end + 1;
        return true;
      }
      start = end + 1;
    }
    this.#start = n;
    return false;
  }

  /** The current pair's value: trimmed, one pair of surrounding double quotes removed, never percent-decoded. */
  value(): string {
    return pairValue(this.#header, this.#eq + 1, this.#end);
  }
}

/** The value between `start` and `end`: trimmed, one pair of surrounding double quotes removed. */
function pairValue(header: string, start: number, end: number): string {
  let c = start;
  let d = end;
  while (c < d && isOws(header.charCodeAt(c))) c++;
  while (d > c && isOws(header.charCodeAt(d - 1))) d--;
  if (d - c >= 2 && header.charCodeAt(c) === 34 && header.charCodeAt(d - 1) === 34) {
    c++;
    d--;
  }
  return header.slice(c, d);
}

function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

export type SameSite = 'Strict' | 'Lax' | 'None';

/** The session cookie's attributes after defaults, as every Set-Cookie line carries them (RFC 6265bis §4.1.2). */
export interface CookieAttributes {
  /** `Path`. */
  readonly path: string;
  /** `Domain`, sent only when set. */
  readonly domain: string | undefined;
  /** `Secure`: sent over https only. */
  readonly secure: boolean;
  /** `HttpOnly`: scripts cannot read it. */
  readonly httpOnly: boolean;
  /** `SameSite`. */
  readonly sameSite: SameSite;
  /** `Partitioned` (CHIPS). */
  readonly partitioned: boolean;
}

/**
 * A Set-Cookie value. `maxAgeSec` undefined makes a browser-session cookie; a number sets Max-Age and the
 * matching Expires (RFC 6265bis §4.1.2.1: Max-Age wins where understood, Expires serves older agents);
 * 0 deletes the cookie.
 */
export function serializeCookie(
  name: string,
  value: string,
  attributes: CookieAttributes,
  maxAgeSec: number | undefined,
  nowMs: number,
): string {
  let out = `${name}=${value}; Path=${attributes.path}`;
  if (attributes.domain !== undefined) out += `; Domain=${attributes.domain}`;
  if (maxAgeSec !== undefined)
    out += `; Max-Age=${maxAgeSec}; Expires=${httpDate(maxAgeSec === 0 ? 0 : nowMs + maxAgeSec * 1000)}`;
  if (attributes.httpOnly) out += '; HttpOnly';
  if (attributes.secure) out += '; Secure';
  out += `; SameSite=${attributes.sameSite}`;
  if (attributes.partitioned) out += '; Partitioned';
  return out;
}

// Most cookies set within one second share their Expires: format it once per second.
let datedSec = Number.NaN;
let dated = '';

/** An IMF-fixdate (RFC 9110 §5.6.7), e.g. `Thu, 01 Jan 1970 00:00:00 GMT`. */
function httpDate(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== datedSec) {
    dated = new Date(sec * 1000).toUTCString();
    datedSec = sec;
  }
  return dated;
}
