import { SessionError } from '../errors.js';
import { COOKIE_NAME, MAX_SET_COOKIE_BYTES, serializeCookie, type CookieAttributes, type SameSite } from './cookie.js';
import { byteLength, exceedsBytes } from './encoding.js';
import type { SessionEvent } from './events.js';
import { MAX_COOKIE_AGE_SEC, NEVER, touchAfterFor } from './lifetime.js';
import { sealedCookieTransport } from './sealed-cookie.js';
import type { SessionConfig } from './session-core.js';
import { signedIdTransport } from './signed-id.js';
import { clockOption, describeValue, refuseUnknownOptions } from './option-names.js';
import { randomId } from './random.js';
import { signerFor } from './signer.js';
import type { SessionStore, StatelessStore } from './store-contract.js';

const DAY_SEC = 86_400;
const DEFAULT_EXPIRES_SEC = 14 * DAY_SEC;
/** Kept past a session's longest possible life by its end (KV propagation, clock skew between locations). */
const REVOCATION_MARGIN_MS = 5 * 60_000;
/** RFC 6265bis §5.6: attribute values over 1024 bytes are ignored by user agents. */
const MAX_ATTRIBUTE_BYTES = 1024;
// A Path must not be able to end the attribute or the header line, and must be a valid header value everywhere:
// printable ASCII (RFC 6265 §4.1.1 path-value is US-ASCII), no ';'. A Domain's pattern (DOMAIN) is stricter.
const UNSAFE_ATTRIBUTE = /[^\u0020-\u003a\u003c-\u007e]/;
/** setTimeout's largest delay (2^31 − 1 ms); a longer one fires at once on every runtime. */
const MAX_TIMER_MS = 2_147_483_647;
/** A surrogate code unit without its pair (in `u` mode a pair is one code point, of another category). */
const LONE_SURROGATE = /\p{Cs}/u;
/** What cookie.name, path and domain must leave of a Set-Cookie line for the value (a signed ID needs 172). */
const MIN_VALUE_ROOM = 1024;
const DOMAIN = /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Encodes one session value to text and back. The default is JSON. */
export interface Serializer {
  /** One value to text; throw for a value it cannot keep (the manager reports `UNSERIALIZABLE`). */
  stringify(value: unknown): string;
  /** Text from `stringify` back to the value. */
  parse(text: string): unknown;
}

/** `cookie.sameSite`, in either case. */
export type SameSiteOption = 'strict' | 'lax' | 'none' | 'Strict' | 'Lax' | 'None';

/** Cookie attributes. Defaults: `__Host-sid`, Path=/, HttpOnly, Secure, SameSite=Lax, not Partitioned. */
export interface CookieOptions {
  /**
   * Cookie name; an RFC 9110 token. Default `__Host-sid`, or `sid` when `secure` is false or a `domain` or
   * another `path` is set (the `__Host-` prefix forbids those).
   */
  name?: string | undefined;
  /** Default `/`. */
  path?: string | undefined;
  /** Sent only when given; then sibling subdomains receive the cookie too. */
  domain?: string | undefined;
  /** Default `true`. Turn off only for plain-http development on a host a browser does not treat as secure. */
  secure?: boolean | undefined;
  /** Default `true`: scripts cannot read the cookie. */
  httpOnly?: boolean | undefined;
  /** Default `lax`. `none` requires `secure`. */
  sameSite?: SameSiteOption | undefined;
  /** CHIPS partitioned cookie; requires `secure`. Default `false`. */
  partitioned?: boolean | undefined;
}

/** Options of `createSessions`. Durations are seconds; `now()` is epoch milliseconds. */
export interface SessionsOptions {
  /** Where sessions live: `createMemoryStore()`, `createKVStore(env.SESSIONS)`, … Required. */
  store: SessionStore | StatelessStore;
  /** HMAC secrets, each at least 32 bytes. The first signs; every one verifies (rotation). Required. */
  secrets: readonly string[];
  /** The session cookie's name and attributes; secure defaults (see `CookieOptions`). */
  cookie?: CookieOptions | undefined;
  /**
   * Lifetime in seconds from creation or the last `shiftExpiration`. Default 14 days; at most 400 days, or
   * `Infinity`: never ended by lifetime (idle and absolute timeouts still apply); its cookie, which browsers keep
   * 400 days at most, is re-sent on a request at most once a day (once per `touchAfter` if that is longer, up to
   * 200 days), with an expiry-only write.
   */
  expires?: number | undefined;
  /** Seconds without a request after which the session ends (sliding). Default: none. */
  idleTimeout?: number | undefined;
  /** Seconds after creation after which the session ends, whatever else happens. Default: none. */
  absoluteTimeout?: number | undefined;
  /**
   * Minimum seconds an expiry-only write must gain before it is made (with `idleTimeout`). Default 60, or
   * a tenth of `idleTimeout` if that is smaller. Must be below `idleTimeout`.
   */
  touchAfter?: number | undefined;
  /**
   * Seconds a store call may take before it fails with `STORE_TIMEOUT` (fractions allowed, e.g. 0.5).
   * Default: no limit beyond the platform's own.
   */
  storeTimeout?: number | undefined;
  /**
   * New session IDs; default 144 random bits, base64url. Must return 22–128 base64url characters, the first 22
   * random: they are the session's lineage, kept by every regenerate, and a store may revoke a session by them.
   */
  generateId?: (() => string) | undefined;
  /** Clock in epoch milliseconds. Default `Date.now`. */
  now?: (() => number) | undefined;
  /** Encodes values; default JSON (values must then be JSON data: no functions, BigInt, Dates or cycles). */
  serializer?: Serializer | undefined;
  /**
   * Lifecycle events for logging and metrics. An exception it throws is ignored; a promise it returns is
   * handed to `ctx.waitUntil` when the request has a ctx (Workers), and its rejection is ignored.
   */
  onEvent?: ((event: SessionEvent) => unknown) | undefined;
}

/** The manager's configuration after every option was checked. */
export interface Config extends SessionConfig {
  /** The server-side store; undefined for a stateless one (the cookie store). */
  readonly store: SessionStore | undefined;
  readonly storeName: string;
  readonly cookieName: string;
  readonly storeTimeoutMs: number | undefined;
  /**
   * The cookie name, the kind (and form) of store and the secrets, as one string: managers with equal keys share a
   * request's session (lib/request-sessions.ts). It holds the secrets.
   */
  readonly sharingKey: string;
}

const JSON_SERIALIZER: Serializer = Object.freeze({ stringify: JSON.stringify, parse: JSON.parse });

function fail(code: ConstructorParameters<typeof SessionError>[0], message: string): never {
  throw new SessionError(code, message);
}

/** Seconds → milliseconds after checking the value; `undefined` stays undefined. */
export function duration(name: string, value: unknown, allowZero: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    fail(
      'INVALID_DURATION',
      `${name} must be a finite number of seconds ${allowZero ? '>= 0' : '> 0'}, got ${String(value)}`,
    );
  }
  return value * 1000;
}

/**
 * A lifetime in seconds → ms: at most 400 days (the Max-Age browsers keep, RFC 6265bis §5.6.1), or `Infinity`
 * (kataras' unlimited lifetime), kept as NEVER. For the manager's `expires` and `create()`'s alike, every value
 * refused gets one message naming the whole accepted range, so that whoever set it sees what would do.
 */
export function lifetime(name: string, seconds: unknown): number | undefined {
  if (seconds === undefined) return undefined;
  if (seconds === Infinity) return NEVER;
  // Negated, so that NaN (false under every comparison) is refused too.
  if (typeof seconds !== 'number' || !(seconds > 0 && seconds <= MAX_COOKIE_AGE_SEC)) {
    fail(
      'INVALID_DURATION',
      `${name} must be a positive number of seconds up to ${MAX_COOKIE_AGE_SEC} (400 days, the longest Max-Age ` +
        `browsers keep), or Infinity for an unlimited lifetime, got ${describeValue(seconds)}`,
    );
  }
  return seconds * 1000;
}

/**
 * A cookie attribute that is on or off: `true`, `false`, or omitted (undefined or null, as for the other cookie
 * options) for `fallback`. Plain JavaScript could pass anything, and truthiness would decide silently:
 * `secure: 'false'` (say, from an environment variable) would keep Secure, `httpOnly: 0` would drop HttpOnly,
 * `partitioned: 'false'` would partition the cookie.
 */
function cookieFlag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    fail('INVALID_COOKIE_OPTION', `cookie.${name} must be true or false, got ${describeValue(value)}`);
  }
  return value;
}

function fn<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') fail('INVALID_OPTION', `${name} must be a function`);
  return value;
}

/** Validates every option up front: misconfiguration is an error at construction, never on a request. */
export function resolveOptions(options: SessionsOptions): Config {
  if (options === null || typeof options !== 'object')
    fail('INVALID_OPTION', 'createSessions() needs an options object');
  refuseUnknownOptions('createSessions', options, OPTION_NAMES);
  const { store } = options;
  const stateless = isStateless(store);
  if (!stateless && !isSessionStore(store)) {
    fail(
      'MISSING_STORE',
      'store is required: a SessionStore with get, create, update, regenerate and destroy (e.g. createMemoryStore())',
    );
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
    // Either would be the key of another secret: UTF-8 writes every lone surrogate as U+FFFD, and HMAC pads a
    // short key with zero bytes (RFC 2104), so `s + "\0"` verifies the tags of `s` (the kid outside the MAC is no bar).
    if (LONE_SURROGATE.test(secret) || secret.endsWith('\u0000'))
      fail('WEAK_SECRET', `secrets[${i}] must not hold a lone surrogate or end with a NUL`);
  }

  const cookie = options.cookie ?? {};
  refuseUnknownOptions('createSessions: cookie', cookie, COOKIE_OPTION_NAMES);
  const secure = cookieFlag('secure', cookie.secure, true);
  const httpOnly = cookieFlag('httpOnly', cookie.httpOnly, true);
  const partitioned = cookieFlag('partitioned', cookie.partitioned, false);
  const path = cookie.path ?? '/';
  const domain = cookie.domain;
  const sameSiteInput: unknown = cookie.sameSite ?? 'lax';
  // Only a string: String() would make ['lax'] or an object with a toString() read as a SameSite value.
  const lowered = typeof sameSiteInput === 'string' ? sameSiteInput.toLowerCase() : '';
  const sameSite: SameSite | undefined =
    lowered === 'strict' ? 'Strict' : lowered === 'lax' ? 'Lax' : lowered === 'none' ? 'None' : undefined;
  if (sameSite === undefined)
    fail(
      'INVALID_COOKIE_OPTION',
      `cookie.sameSite must be 'strict', 'lax' or 'none', got ${describeValue(sameSiteInput)}`,
    );

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
    (typeof domain !== 'string' || !DOMAIN.test(domain) || domain.length > MAX_ATTRIBUTE_BYTES)
  ) {
    fail(
      'INVALID_COOKIE_OPTION',
      'cookie.domain must be a host name of at most 1024 bytes (letters, digits, "-" and ".")',
    );
  }

  const hostCompatible = secure && path === '/' && domain === undefined;
  const cookieName = cookie.name ?? (hostCompatible ? '__Host-sid' : 'sid');
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) {
    fail(
      'INVALID_COOKIE_NAME',
      `cookie.name must be a token (letters, digits, !#$%&'*+-.^_\`|~), got ${JSON.stringify(cookieName)}`,
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

  const expiresMs = lifetime('expires', options.expires) ?? DEFAULT_EXPIRES_SEC * 1000;
  const idleMs = duration('idleTimeout', options.idleTimeout, false);
  const absoluteMs = duration('absoluteTimeout', options.absoluteTimeout, false);
  const touchAfterSetMs = duration('touchAfter', options.touchAfter, true);
  if (touchAfterSetMs !== undefined && idleMs !== undefined && touchAfterSetMs >= idleMs) {
    fail('INVALID_DURATION', 'touchAfter must be below idleTimeout, or sessions would idle out between writes');
  }
  const touchAfterMs = touchAfterFor(touchAfterSetMs, idleMs);

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
      'cookie.name, cookie.path and cookie.domain together leave less than 1 KB ' +
        'of the 4096-byte Set-Cookie line for the value',
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

  const storeName = typeof store.name === 'string' ? store.name : 'custom';
  // The frozen copy, never the caller's array: changing that array later must not change a cached signer.
  const transport = stateless
    ? sealedCookieTransport({ sealer: store.sealer, secrets: frozenSecrets, cookieName, attributes })
    : signedIdTransport({
        store,
        signer: signerFor(frozenSecrets, cookieName),
        cookieName,
        attributes,
        storeName,
        storeTimeoutMs,
      });
  // The default, or JSON itself passed as the serializer: same checks, same atomic increments.
  const json = serializer.stringify === JSON.stringify && serializer.parse === JSON.parse;
  // JSON, not a join: no name, form or secret can make two different lists look alike. The other options are
  // not compared: managers of one cookie that do not share a request's session each commit their own, and the last
  // line wins, so a login through one inside the other's handle() would be undone (see lib/request-sessions.ts).
  const sharingKey = JSON.stringify([
    cookieName,
    storeName,
    stateless ? (store.sealer.form ?? null) : null,
    ...frozenSecrets,
  ]);
  return Object.freeze({
    transport,
    sharingKey,
    store: stateless ? undefined : store,
    storeName,
    cookieName,
    expiresMs,
    idleMs,
    absoluteMs,
    touchAfterMs,
    touchAfterSetMs,
    storeTimeoutMs,
    // A destroyed session's end outlives any write that could still try to revive it: a commit in flight (its
    // read came before the destroy), or a write at another KV location that had not seen the end yet. On KV such
    // a write stores the record again, with an expiry the end must outlive. That expiry is not bound by
    // `expires`: a session's own lifetime (`create(request, { expires })`, up to 400 days or unlimited), a
    // `shiftExpiration` of it or an `updateExpiration` (up to 400 days) may be in the write. Only two bounds hold
    // for every write: 400 days from it (Lifetime caps every expiry there, as the cookie's Max-Age) and
    // `absoluteTimeout` from the session's creation.
    retainMs: Math.min(absoluteMs ?? Infinity, MAX_COOKIE_AGE_SEC * 1000) + REVOCATION_MARGIN_MS,
    generateId: fn('generateId', options.generateId) ?? randomId,
    now: clockOption('createSessions', options.now),
    serializer,
    json,
    onEvent: fn('onEvent', options.onEvent),
  });
}

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof SessionsOptions>([
  'store',
  'secrets',
  'cookie',
  'expires',
  'idleTimeout',
  'absoluteTimeout',
  'touchAfter',
  'storeTimeout',
  'generateId',
  'now',
  'serializer',
  'onEvent',
]);
const COOKIE_OPTION_NAMES: ReadonlySet<string> = new Set<keyof CookieOptions>([
  'name',
  'path',
  'domain',
  'secure',
  'httpOnly',
  'sameSite',
  'partitioned',
]);

function isStateless(store: unknown): store is StatelessStore {
  return typeof store === 'object' && store !== null && typeof (store as StatelessStore).sealer === 'object';
}

function isSessionStore(store: unknown): store is SessionStore {
  if (typeof store !== 'object' || store === null) return false;
  const s = store as Record<string, unknown>;
  return ['get', 'create', 'update', 'regenerate', 'destroy'].every((m) => typeof s[m] === 'function');
}
