// A stored record is untrusted input (another version, another program, a corrupted backend): its shape is
// checked before use, and its expiry is decided here, by the manager's clock and today's configuration.
import type { SessionRecord } from './store-contract.js';

/** The manager's timeouts in milliseconds, as `expiryOf` needs them. */
export interface Timeouts {
  readonly idleMs: number | undefined;
  readonly absoluteMs: number | undefined;
}

/**
 * A record with the shape the manager writes: every value a string (a record whose value is not is corrupt,
 * never silently emptied and then overwritten), times finite numbers.
 */
export function isRecord(value: unknown): value is SessionRecord {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    isStrings(r.data, false) &&
    isStrings(r.flash, true) &&
    (r.flashIds === undefined || isNumbers(r.flashIds)) &&
    (r.flashNext === undefined || Number.isSafeInteger(r.flashNext)) &&
    isStrings(r.constants, true) &&
    Number.isFinite(r.createdAt) &&
    (r.accessedAt === undefined || Number.isFinite(r.accessedAt)) &&
    Number.isFinite(r.endsAt) &&
    Number.isFinite(r.expiresAt) &&
    (r.immutable === undefined || (Array.isArray(r.immutable) && r.immutable.every((k) => typeof k === 'string'))) &&
    (r.persistent === undefined || typeof r.persistent === 'boolean') &&
    (r.userId === undefined || typeof r.userId === 'string') &&
    (r.device === undefined || typeof r.device === 'string') &&
    (r.lifetimeMs === undefined || Number.isFinite(r.lifetimeMs)) &&
    (r.idleMs === undefined || Number.isFinite(r.idleMs))
  );
}

function isStrings(value: unknown, optional: boolean): boolean {
  if (value === undefined) return optional;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  // Own keys only: an enumerable property another library put on Object.prototype is not session data.
  for (const k of Object.keys(value)) if (typeof (value as Record<string, unknown>)[k] !== 'string') return false;
  return true;
}

function isNumbers(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  for (const k of Object.keys(value)) if (!Number.isSafeInteger((value as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * A stored record's JSON text, parsed as a store hands it to the manager. Text that is not JSON (cut short,
 * written by another program) is handed on as it is: like any value that is not a record, the manager then
 * treats the session as corrupt (the cookie cleared, a login with it made afresh) and a listing skips it, where
 * a parse error would fail every request that carries the cookie, a login included.
 */
export function parseRecord(text: string): SessionRecord | null {
  try {
    return JSON.parse(text) as SessionRecord | null;
  } catch {
    return text as unknown as SessionRecord;
  }
}

/**
 * When a stored record's session ends unless it is written again: the earliest of its stored `expiresAt` (and
 * `endsAt`: the manager never stores an expiry past the lifetime's end, another program might), the idle
 * timeout's end from its last write and the absolute timeout's end from its creation. The timeouts are
 * today's settings, so an `idleTimeout` or `absoluteTimeout` added or shortened by a deploy applies to existing
 * sessions on their next read (a session created with its own `idleTimeout` keeps that one). The one
 * definition: expiry checks, listings and a loaded session's times all use it.
 */
export function expiryOf(record: SessionRecord, timeouts: Timeouts): number {
  const idleMs = record.idleMs ?? timeouts.idleMs;
  return Math.min(
    record.expiresAt,
    record.endsAt,
    (record.accessedAt ?? record.createdAt) + (idleMs ?? Infinity),
    record.createdAt + (timeouts.absoluteMs ?? Infinity),
  );
}

/**
 * Why a stored record is no longer valid at `now` (see `expiryOf`), or undefined if it is. Expiry is inclusive:
 * a record whose expiry equals `now` is expired.
 */
export function expiryReason(
  timeouts: Timeouts,
  record: SessionRecord,
  now: number,
): 'lifetime' | 'idle' | 'absolute' | undefined {
  if (now < expiryOf(record, timeouts)) return undefined;
  if (now >= record.createdAt + (timeouts.absoluteMs ?? Infinity)) return 'absolute';
  return now >= record.endsAt ? 'lifetime' : 'idle';
}
