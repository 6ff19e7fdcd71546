import { SessionError } from '../errors.js';
import { COOKIE_NAME, MAX_SET_COOKIE_BYTES, serializeCookie, type CookieAttributes, type SameSite } from './cookie.js';
import { byteLength, exceedsBytes } from './encoding.js';
import { randomId } from './random.js';
import { signerFor, type Signer } from './signer.js';
import type { Sealer, SessionEvent, SessionsOptions, SessionStore, Serializer } from './types.js';

const DAY_SEC = 86_400;
/** RFC 6265bis §5.6.1: user agents cap Max-Age and Expires at 400 days. */
export const MAX_COOKIE_AGE_SEC = 400 * DAY_SEC;
const DEFAULT_EXPIRES_SEC = 14 * DAY_SEC;
const DEFAULT_TOUCH_AFTER_SEC = 60;
/** RFC 6265bis §5.6: attribute values over 1024 bytes are ignored by user agents. */
const MAX_ATTRIBUTE_BYTES = 1024;
// A Path or Domain must not be able to end the attribute or the header line, and must be a valid header value
// everywhere: printable ASCII (RFC 6265 §4.1.1 path-value is US-ASCII), no ';'.
const UNSAFE_ATTRIBUTE = /[^\u0020-\u003a\u003c-\u007e]/;
/** setTimeout's largest delay (2^31 − 1 ms); a longer one fires at once on every runtime. */
const MAX_TIMER_MS = 2_147_483_647;
/** What cookie.name, path and domain must leave of a Set-Cookie line for the value (a signed ID needs 172). */
const MIN_VALUE_ROOM = 1024;
const DOMAIN = /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

export interface Config {
  readonly store: SessionStore;
  readonly storeName: string;
  /** Stateless stores: the record travels sealed in the cookie. */
  readonly sealer: Sealer | undefined;
  readonly secrets: readonly string[];
  readonly cookieName: string;
  /** Signs and checks cookie values (shared by managers with the same secrets and name). */
  readonly signer: Signer;
  readonly attributes: CookieAttributes;
  readonly expiresMs: number;
  readonly idleMs: number | undefined;
  readonly absoluteMs: number | undefined;
  readonly touchAfterMs: number;
  readonly storeTimeoutMs: number | undefined;
  readonly generateId: () => string;
  readonly now: () => number;
  readonly serializer: Serializer;
  /** True when values are JSON, so stores may add to numbers themselves. */
  readonly json: boolean;
  readonly onEvent: ((event: SessionEvent) => unknown) | undefined;
}

const JSON_SERIALIZER: Serializer = Object.freeze({ stringify: JSON.stringify, parse: JSON.parse });

function fail(code: ConstructorParameters<typeof SessionError>[0], message: string): never {
  throw new SessionError(code, message);
}

/** Seconds → milliseconds after checking the value; `undefined` stays undefined. */
function duration(name: string, value: unknown, allowZero: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    fail(
      'INVALID_DURATION',
      `${name} must be a finite number of seconds ${allowZero ? '>= 0' : '> 0'}, got ${String(value)}`,
    );
  }
  return value * 1000;
}

function fn<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') fail('INVALID_OPTION', `${name} must be a function`);
  return value;
}

/** Validates every option up front: misconfiguration is an error at construction, never on a request. */
export function resolveOptions(options: SessionsOptions): Config {
  if (options === null || typeof options !== 'object')
    fail('INVALID_OPTION', 'createSessions() needs an options object');
  const { store } = options;
  if (
    store === null ||
    typeof store !== 'object' ||
    typeof store.get !== 'function' ||
    typeof store.set !== 'function' ||
    typeof store.delete !== 'function'
  ) {
    fail('MISSING_STORE', 'store is required: an object with get, set and delete (e.g. createMemoryStore())');
  }

  const secrets = options.secrets;
  if (!Array.isArray(secrets) || secrets.length === 0) {
    fail('MISSING_SECRET', 'secrets is required: a non-empty array of strings, each at least 32 bytes');
  }
  // An index loop, not forEach: a hole in a sparse array is a missing secret, not one to skip.
  for (let i = 0; i < secrets.length; i++) {
    const secret: unknown = secrets[i];
    if (typeof secret !== 'string') fail('MISSING_SECRET', `secrets[${i}] must be a string`);
    if (byteLength(secret) < 32)
      fail('WEAK_SECRET', `secrets[${i}] must be at least 32 bytes, got ${byteLength(secret)}`);
  }

  const cookie = options.cookie ?? {};
  const secure = cookie.secure ?? true;
  const httpOnly = cookie.httpOnly ?? true;
  const partitioned = cookie.partitioned ?? false;
  const path = cookie.path ?? '/';
  const domain = cookie.domain;
  const sameSiteInput = cookie.sameSite ?? 'lax';
  const lowered = String(sameSiteInput).toLowerCase();
  const sameSite: SameSite | undefined =
    lowered === 'strict' ? 'Strict' : lowered === 'lax' ? 'Lax' : lowered === 'none' ? 'None' : undefined;
  if (sameSite === undefined)
    fail('INVALID_COOKIE_OPTION', `cookie.sameSite must be 'strict', 'lax' or 'none', got ${String(sameSiteInput)}`);

  if (
    typeof path !== 'string' ||
    !path.startsWith('/') ||
    UNSAFE_ATTRIBUTE.test(path) ||
    byteLength(path) > MAX_ATTRIBUTE_BYTES
  ) {
    fail(
      'INVALID_COOKIE_OPTION',
      'cookie.path must start with "/", be printable ASCII without ";", and fit 1024 bytes',
    );
  }
  if (
    domain !== undefined &&
    (typeof domain !== 'string' ||
      UNSAFE_ATTRIBUTE.test(domain) ||
      !DOMAIN.test(domain) ||
      domain.length > MAX_ATTRIBUTE_BYTES)
  ) {
    fail(
      'INVALID_COOKIE_OPTION',
      'cookie.domain must be a host name (letters, digits, "-", "."), with no control characters or ";"',
    );
  }

  const hostCompatible = secure && path === '/' && domain === undefined;
  const cookieName = cookie.name ?? (hostCompatible ? '__Host-sid' : 'sid');
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) {
    fail(
      'INVALID_COOKIE_NAME',
      `cookie.name must be an RFC 9110 token (letters, digits, !#$%&'*+-.^_\`|~), got ${JSON.stringify(cookieName)}`,
    );
  }
  // Cookie prefixes, RFC 6265bis §4.1.3. Browsers match them case-insensitively, so `__HOST-` gets the rules too.
  const lower = cookieName.toLowerCase();
  if (lower.startsWith('__host-')) {
    if (!secure) fail('INVALID_COOKIE_OPTION', `cookie.name ${cookieName}: the __Host- prefix requires secure: true`);
    if (domain !== undefined)
      fail('INVALID_COOKIE_OPTION', `cookie.name ${cookieName}: the __Host- prefix forbids cookie.domain`);
    if (path !== '/')
      fail('INVALID_COOKIE_OPTION', `cookie.name ${cookieName}: the __Host- prefix requires cookie.path "/"`);
  } else if (lower.startsWith('__secure-') && !secure) {
    fail('INVALID_COOKIE_OPTION', `cookie.name ${cookieName}: the __Secure- prefix requires secure: true`);
  }
  // RFC 6265bis §5.6.7: browsers reject SameSite=None without Secure; CHIPS requires Secure as well.
  if (sameSite === 'None' && !secure) fail('INVALID_COOKIE_OPTION', "cookie.sameSite 'none' requires secure: true");
  if (partitioned && !secure) fail('INVALID_COOKIE_OPTION', 'cookie.partitioned requires secure: true');

  const expiresMs = duration('expires', options.expires, false) ?? DEFAULT_EXPIRES_SEC * 1000;
  if (expiresMs > MAX_COOKIE_AGE_SEC * 1000) {
    fail(
      'INVALID_DURATION',
      `expires must be at most 400 days (${MAX_COOKIE_AGE_SEC} s), the Max-Age browsers keep (RFC 6265bis §5.6.1)`,
    );
  }
  const idleMs = duration('idleTimeout', options.idleTimeout, false);
  const absoluteMs = duration('absoluteTimeout', options.absoluteTimeout, false);
  let touchAfterMs = duration('touchAfter', options.touchAfter, true);
  if (touchAfterMs === undefined) {
    touchAfterMs = DEFAULT_TOUCH_AFTER_SEC * 1000;
    if (idleMs !== undefined) touchAfterMs = Math.min(touchAfterMs, Math.floor(idleMs / 10));
  } else if (idleMs !== undefined && touchAfterMs >= idleMs) {
    fail('INVALID_DURATION', 'touchAfter must be below idleTimeout, or sessions would idle out between writes');
  }

  const attributes: CookieAttributes = Object.freeze({ path, domain, secure, httpOnly, sameSite, partitioned });
  // The longest line we could send: a chunk cookie's name, the longest Max-Age and Expires.
  if (
    exceedsBytes(
      serializeCookie(`${cookieName}.10`, 'x'.repeat(MIN_VALUE_ROOM), attributes, MAX_COOKIE_AGE_SEC, 0),
      MAX_SET_COOKIE_BYTES,
    )
  ) {
    fail(
      'INVALID_COOKIE_OPTION',
      'cookie.name, cookie.path and cookie.domain together leave less than 1 KB of the 4096-byte Set-Cookie line for the value',
    );
  }
  const storeTimeoutMs = duration('storeTimeout', options.storeTimeout, false);
  if (storeTimeoutMs !== undefined && storeTimeoutMs > MAX_TIMER_MS) {
    fail(
      'INVALID_DURATION',
      `storeTimeout must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds (the longest timer runtimes keep)`,
    );
  }

  const frozenSecrets: readonly string[] = Object.freeze([...secrets]);
  const serializer = options.serializer ?? JSON_SERIALIZER;
  if (
    typeof serializer !== 'object' ||
    typeof serializer.stringify !== 'function' ||
    typeof serializer.parse !== 'function'
  ) {
    fail('INVALID_OPTION', 'serializer must have stringify(value) and parse(text) functions');
  }

  return Object.freeze({
    store,
    storeName: typeof store.name === 'string' ? store.name : 'custom',
    sealer: store.sealer,
    secrets: frozenSecrets,
    cookieName,
    // The frozen copy, never the caller's array: changing that array later must not change a cached signer.
    signer: signerFor(frozenSecrets, cookieName),
    attributes,
    expiresMs,
    idleMs,
    absoluteMs,
    touchAfterMs,
    storeTimeoutMs,
    generateId: fn('generateId', options.generateId) ?? randomId,
    now: fn('now', options.now) ?? Date.now,
    serializer,
    // The default, or JSON itself passed as the serializer: same checks, same atomic increments.
    json: serializer.stringify === JSON.stringify && serializer.parse === JSON.parse,
    onEvent: fn('onEvent', options.onEvent),
  });
}
