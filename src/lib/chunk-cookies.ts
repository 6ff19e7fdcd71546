// A sealed session spread over numbered cookies: `name=<n>.<part0>`, `name.1=<part1>`, … `name.<n-1>`.
import { SessionError } from '../errors.js';
import { CookiePairs, MAX_SET_COOKIE_BYTES, serializeCookie, type CookieAttributes } from './cookie.js';
import { byteLength, exceedsBytes } from './encoding.js';
const MAX_CHUNKS = 10;
const PART = /^[A-Za-z0-9._-]+$/;

export interface SealedCookies {
  /** The joined sealed text; undefined without a cookie, null when the cookies are malformed or incomplete. */
  readonly sealed: string | null | undefined;
  /**
   * How many cookies the request's `name` says the session spans (`name`, `name.1`, … : the ones to expire when no
   * longer needed); 1 when `name` gives no count it could have written, 0 without `name`. Never counted from the
   * `name.k` cookies the request carries: those beyond the count may be another manager's (a cookie named
   * `prefs.1` next to this store's `prefs`), and expiring them would log that manager's user out.
   */
  readonly present: number;
  /**
   * True (`sealed` null) when the cookies have the shape of a session this store wrote under a larger `maxChunks`
   * (a count up to MAX_CHUNKS, over today's): refused unopened, and cleared on the next response.
   */
  readonly oversized?: true;
}

/**
 * The sealed text spread over `name`, `name.1`, … in one pass over the header, whatever the number of chunks.
 * Each cookie counts by its first occurrence only, as `readCookie` reads it (the most specific one: see there).
 */
export function readSealedCookies(header: string | null, name: string, maxChunks: number): SealedCookies {
  if (!header) return { sealed: undefined, present: 0 };
  let main: string | undefined;
  // parts[k] is the first `name.k` (k = 1 … 9), read whatever the count: the main cookie may come after them.
  const parts: (string | undefined)[] = [];
  const n = name.length;
  const pairs = new CookiePairs(header);
  while (pairs.next()) {
    const at = pairs.nameStart;
    const length = pairs.nameEnd - at;
    if (length === n) {
      if (main === undefined && header.startsWith(name, at)) main = pairs.value();
    } else if (length === n + 2 && header.charCodeAt(at + n) === 46 /* . */ && header.startsWith(name, at)) {
      // `name.1` … `name.9`: one digit, never 0 (`name.0` and `name.10` are not ours).
      const k = header.charCodeAt(at + n + 1) - 48;
      if (k >= 1 && k < MAX_CHUNKS) parts[k] ??= pairs.value();
    }
  }
  // Without the main cookie, `name.1` … are not taken for ours: they may be another manager's cookies.
  if (main === undefined) return { sealed: undefined, present: 0 };
  // No value this store writes is longer than its own Set-Cookie line leaves room for, even with the fewest
  // attributes: a longer one is forged, and is refused here, before any crypto, so that a tampered cookie never
  // costs more to refuse than a valid session costs to open.
  const room = valueRoom(n);
  if (main.length > room) return { sealed: null, present: 1 };
  // `<count>.`: one digit, or `10.` (MAX_CHUNKS, the only count of two: chunk names have one digit). A digit is
  // 0 to 9 (`:` would read as 10, a count this store spells `10.`).
  const from = main.charCodeAt(1) === 46 /* . */ ? 2 : 3;
  const d = main.charCodeAt(0) - 48;
  const count = from === 2 ? (d <= 9 ? d : NaN) : main.startsWith('10.') ? 10 : NaN;
  // A count this store could have written (up to MAX_CHUNKS, a larger maxChunks before a deploy included): its
  // cookies are checked as that maxChunks would, for the shape only (no crypto: they are not opened).
  if (!(count >= 1 && count <= MAX_CHUNKS)) return { sealed: null, present: 1 };
  let sealed = main.slice(from);
  for (let k = 1; k < count; k++) {
    const part = parts[k];
    if (part === undefined || part.length > room - 2 || !PART.test(part)) {
      return { sealed: null, present: count };
    }
    sealed += part;
  }
  // Nor is the joined text longer than sealedCookieLines writes in `count` cookies (checked last: the bounds above
  // keep it within a few bytes per cookie of this one).
  if (sealed.length > (count === 1 ? room - 2 : count * (room - 4))) return { sealed: null, present: count };
  if (count <= maxChunks) return { sealed, present: count };
  // Over today's maxChunks: cleared, not opened, if it has the shape of what this store writes (`kid.` + text).
  return PART.test(sealed) && sealed.charCodeAt(4) === 46
    ? { sealed: null, present: count, oversized: true }
    : { sealed: null, present: count };
}

// The shortest Set-Cookie line this store writes, name and value aside: serializeCookie with the fewest
// attributes (Path=/ and the shortest SameSite; no Domain, Max-Age, HttpOnly, Secure or Partitioned). The length
// bounds on what it reads then hold whatever the attributes were when the cookie was written (a test writes the
// longest text with these attributes and reads it back).
const BARE_LINE = '=; Path=/; SameSite=Lax'.length;

/**
 * The longest value a Set-Cookie line of this store carries for a main cookie named with `n` (ASCII) characters.
 * sealedCookieLines writes `name=1.<sealed>` in one cookie; in more, parts of at most this room less `.9` in the
 * name and a 2-character count prefix (so `room - 2` for a chunk cookie, `count * (room - 4)` in all).
 */
function valueRoom(n: number): number {
  return MAX_SET_COOKIE_BYTES - BARE_LINE - n;
}

/** Set-Cookie lines carrying `sealed` in `count` cookies, and expiring the chunk cookies no longer needed. */
export function sealedCookieLines(
  name: string,
  sealed: string,
  attributes: CookieAttributes,
  maxAgeSec: number | undefined,
  now: number,
  maxChunks: number,
  present: number,
): { lines: string[]; count: number } {
  // Most sessions fit one cookie: try that line first.
  const single = serializeCookie(name, `1.${sealed}`, attributes, maxAgeSec, now);
  if (!exceedsBytes(single, MAX_SET_COOKIE_BYTES)) {
    return {
      lines: present > 1 ? [single, ...expiredChunkLines(name, attributes, now, 1, present)] : [single],
      count: 1,
    };
  }
  // The longest name and a 2-character count prefix: each line then fits the limit whatever its index.
  const overhead = byteLength(serializeCookie(`${name}.${MAX_CHUNKS - 1}`, '', attributes, maxAgeSec, now)) + 2;
  const size = MAX_SET_COOKIE_BYTES - overhead;
  const count = size > 0 ? Math.ceil(sealed.length / size) : Infinity;
  if (count > maxChunks) {
    throw new SessionError(
      'COOKIE_TOO_LARGE',
      `cookie store: the session needs ${Number.isFinite(count) ? count : 'more'} cookies of 4096 bytes, ` +
        `more than maxChunks (${maxChunks}); nothing was written`,
    );
  }
  const lines: string[] = [];
  for (let k = 0; k < count; k++) {
    const part = sealed.slice(k * size, (k + 1) * size);
    lines.push(
      k === 0
        ? serializeCookie(name, `${count}.${part}`, attributes, maxAgeSec, now)
        : serializeCookie(`${name}.${k}`, part, attributes, maxAgeSec, now),
    );
  }
  return { lines: lines.concat(expiredChunkLines(name, attributes, now, count, present)), count };
}

/** Expiring Set-Cookie lines for chunk cookies `from` … `present - 1` (0 is the main cookie). */
export function expiredChunkLines(
  name: string,
  attributes: CookieAttributes,
  now: number,
  from: number,
  present: number,
): string[] {
  const lines: string[] = [];
  for (let k = from; k < present; k++)
    lines.push(serializeCookie(k === 0 ? name : `${name}.${k}`, '', attributes, 0, now));
  return lines;
}
