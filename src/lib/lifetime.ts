// A session's times: its lifetime (`expires`, shifted by shiftExpiration/updateExpiration and capped by
// `absoluteTimeout`), its idle timeout, remember-me, and when an expiry-only write (a touch) is worth making.
import { expiryOf } from './records.js';
import type { SessionRecord, SessionTimes } from './store-contract.js';

/** RFC 6265bis §5.6.1: user agents cap Max-Age and Expires at 400 days. */
export const MAX_COOKIE_AGE_SEC = 400 * 86_400;
const MAX_COOKIE_AGE_MS = MAX_COOKIE_AGE_SEC * 1000;

/**
 * `expires: Infinity` as a lifetime in ms, and the end of such a lifetime: the largest time a Date can hold
 * (ECMA-262 §21.4.1.1). Finite, so records keep it through JSON in every store, and never reached.
 */
export const NEVER = 8.64e15;

/**
 * Until when a store keeps the per-user index entry it writes with `record`: the lifetime's end, which no later
 * write passes without writing the entry again (a touch moves only `expiresAt`). An unlimited lifetime ends at
 * NEVER, past any TTL a store can set (KV refuses one over 2^31 s, Deno KV such an `expireIn`); that session
 * lives on by its writes, each storing an expiry at most 400 days after it. So its entry lasts to the end of the
 * 400-day period after the one of the write (at least 400 days on): later writes in the same period stay within
 * it, and the first in a later period finds the value grown and writes the entry again, once per 400 days.
 */
export function indexedUntil(record: SessionRecord): number {
  const at = record.accessedAt ?? record.createdAt;
  return Math.min(record.endsAt, (Math.floor(at / MAX_COOKIE_AGE_MS) + 2) * MAX_COOKIE_AGE_MS);
}

/** An unlimited session's record and cookie are renewed at most this often (and only on a request). */
const RENEW_UNLIMITED_MS = 86_400_000;

/** The most an expiry-only write waits for by default (a tenth of the idle timeout when that is less). */
const DEFAULT_TOUCH_AFTER_MS = 60_000;

/**
 * The touch throttle for an idle timeout: `touchAfter` as the app set it while it is below the timeout, else the
 * smaller of 60 s and a tenth of the timeout. For a session with an `idleTimeout` of its own too, so that a day's
 * timeout is not touched every 6 s because the manager's is a minute.
 */
export function touchAfterFor(setMs: number | undefined, idleMs: number | undefined): number {
  if (setMs !== undefined && (idleMs === undefined || setMs < idleMs)) return setMs;
  return idleMs === undefined ? DEFAULT_TOUCH_AFTER_MS : Math.min(DEFAULT_TOUCH_AFTER_MS, Math.floor(idleMs / 10));
}

/** What the arithmetic needs of the manager's configuration (or of one session's own), in milliseconds. */
export interface LifetimeConfig {
  readonly expiresMs: number;
  readonly idleMs: number | undefined;
  readonly absoluteMs: number | undefined;
  readonly touchAfterMs: number;
}

export class Lifetime {
  readonly #config: LifetimeConfig;
  readonly createdAt: number;
  /** End of the lifetime. */
  #endsAt: number;
  /** The expiry as last stored (a new session: as it would be stored now). */
  #expiresAt: number;
  #persistent: boolean;
  /** The lifetime or remember-me changed in this request: the next commit writes. */
  changed = false;
  /** Counts changes of the lifetime or remember-me, and which of them the write in flight carries. */
  #version = 0;
  #writing = 0;

  constructor(config: LifetimeConfig, now: number, record: SessionRecord | undefined, persistent = true) {
    this.#config = config;
    if (record === undefined) {
      this.createdAt = now;
      this.#endsAt = this.#cap(now + config.expiresMs);
      this.#expiresAt = this.#endsAt;
      this.#persistent = persistent;
    } else {
      this.createdAt = record.createdAt;
      // The timeouts as configured today (a deploy may have added or shortened them): the absolute timeout from
      // creation caps the lifetime, so no write or cookie of this request outlives it, and the expiry is the one
      // the expiry check and listings use.
      this.#endsAt = this.#cap(record.endsAt);
      this.#expiresAt = expiryOf(record, config);
      this.#persistent = record.persistent !== false;
    }
  }

  get persistent(): boolean {
    return this.#persistent;
  }

  set persistent(value: boolean) {
    if (value === this.#persistent) return;
    this.#persistent = value;
    this.changed = true;
    this.#version++;
  }

  /** When the session expires by today's settings, as this request read or last wrote it. */
  get storedExpiry(): number {
    return this.#expiresAt;
  }

  /** When the session expires as stored, or as the next write would store it if something changed. */
  expiresAt(now: number, stored: boolean): number {
    return stored && !this.changed ? this.#expiresAt : this.#idleExpiry(now);
  }

  /**
   * A new lifetime from `now`: `seconds` undefined extends by `expires` (shiftExpiration), -1 keeps the lifetime
   * and makes the cookie a browser-session cookie, a number sets that many seconds (updateExpiration).
   */
  setLifetime(seconds: number | undefined, now: number): void {
    if (seconds === -1) {
      this.#persistent = false; // the server-side lifetime stays as it is
    } else {
      if (seconds !== undefined) this.#persistent = true;
      this.#endsAt = this.#cap(now + (seconds === undefined ? this.#config.expiresMs : seconds * 1000));
    }
    this.changed = true;
    this.#version++;
  }

  /**
   * An expiry-only write is due when the expiry it would store is later than the stored one by at least
   * `touchAfter`: an idle timeout moved on, or one a deploy lengthened or removed (the stored expiry is the old
   * idle end, though today's settings let the session live longer). The record and cookie of an unlimited
   * session without an idle timeout, which live 400 days from the last write, are renewed once a day instead, or
   * once per `touchAfter` when that is longer, but at most every 200 days: the cookie is renewed while it has
   * half of its 400 days left.
   */
  touchDue(now: number): boolean {
    const c = this.#config;
    const next = this.#idleExpiry(now);
    // Without an idle timeout only an unlimited lifetime's 400-day bound moves with the clock: renewed daily.
    const renewal = c.idleMs === undefined && next === now + MAX_COOKIE_AGE_MS;
    const least = renewal
      ? Math.min(Math.max(RENEW_UNLIMITED_MS, c.touchAfterMs), MAX_COOKIE_AGE_MS / 2)
      : Math.max(1, c.touchAfterMs);
    return next - this.#expiresAt >= least;
  }

  /** The times a write made now stores. */
  times(now: number): SessionTimes {
    this.#writing = this.#version;
    return { accessedAt: now, endsAt: this.#endsAt, expiresAt: this.#idleExpiry(now), persistent: this.#persistent };
  }

  /** After a write that stored `times`. */
  written(times: SessionTimes): void {
    this.#expiresAt = times.expiresAt;
    // A change made while the write was in flight (a second updateExpiration) is for the next commit.
    if (this.#version === this.#writing) this.changed = false;
  }

  /** After a write whose outcome is unknown (`STORE_TIMEOUT`): the change it carried is not sent again. */
  dropped(): void {
    if (this.#version === this.#writing) this.changed = false;
  }

  /** The cookie's Max-Age for an expiry (default: as stored); undefined for a browser-session cookie. */
  maxAgeSec(now: number, expiresAt = this.#expiresAt): number | undefined {
    if (!this.#persistent) return undefined;
    return Math.min(MAX_COOKIE_AGE_SEC, Math.max(1, Math.ceil((expiresAt - now) / 1000)));
  }

  #cap(end: number): number {
    return Math.min(end, this.createdAt + (this.#config.absoluteMs ?? Infinity), NEVER);
  }

  /**
   * The expiry a write made now stores: the lifetime's end or the idle timeout's, and at most 400 days away,
   * as the cookie sent with it (only an unlimited lifetime reaches that far): a session no browser can still
   * hold a cookie for is dropped by its store.
   */
  #idleExpiry(now: number): number {
    return Math.min(this.#endsAt, now + (this.#config.idleMs ?? Infinity), now + MAX_COOKIE_AGE_MS);
  }
}
