// Applying one request's changes to the record a store holds at that moment: shared by every store, inside its
// transaction where it has one (memory, Durable Objects) or just before its write (KV).
import { SessionError } from '../errors.js';
import { numberInJson } from './numbers.js';
import { isRecord } from './records.js';
import type { SessionChanges, SessionRecord, SessionTimes } from './store-contract.js';
import { toMap, toObject } from './value-codec.js';

/**
 * `changes` on top of `stored`, in the order `SessionChanges` defines, with the times of this write. Throws a
 * `SessionError` and changes nothing when the stored record is corrupt (`STORE_READ`) or an increment meets a
 * stored value that is not a number, or would leave one that is not finite (`TYPE_MISMATCH`): a store must then
 * write nothing.
 *
 * @example
 * // in a store's update(id, changes, times), inside its transaction:
 * const next = mergeChanges(current, changes, times)
 */
export function mergeChanges(stored: SessionRecord, changes: SessionChanges, times: SessionTimes): SessionRecord {
  if (!isRecord(stored)) throw new SessionError('STORE_READ', 'the stored session record is corrupt');
  const cleared = changes.clear === true;
  const data = toMap(cleared ? undefined : stored.data);
  const locked = new Set<string>(cleared ? undefined : stored.immutable);
  const known = changes.immutable ?? {};
  // A stored immutable key this request did not know about (another request locked it meanwhile) keeps its value.
  const writable = (k: string) => !locked.has(k) || Object.hasOwn(known, k);
  for (const k of changes.delete ?? []) data.delete(k);
  for (const [k, v] of Object.entries(changes.set ?? {})) if (writable(k)) data.set(k, v);
  for (const [k, by] of Object.entries(changes.increment ?? {})) {
    if (!writable(k)) continue;
    const base = numberInJson(data.get(k));
    const sum = base === undefined ? NaN : base + by;
    if (!Number.isFinite(sum)) {
      throw new SessionError('TYPE_MISMATCH', `increment("${k}"): the stored value does not give a finite number`);
    }
    data.set(k, JSON.stringify(sum));
  }
  for (const [k, on] of Object.entries(known)) {
    if (on) locked.add(k);
    else locked.delete(k);
  }
  const flash = toMap(stored.flash);
  for (const [k, v] of Object.entries(changes.flash ?? {})) {
    if (v === null) flash.delete(k);
    else flash.set(k, v);
  }
  for (const [k, items] of Object.entries(changes.append ?? {})) flash.set(k, appendJson(flash.get(k), items));
  // Only the value this request read is consumed: a newer one stored meanwhile waits for the next request.
  for (const [k, v] of Object.entries(changes.consumed ?? {})) if (flash.get(k) === v) flash.delete(k);
  // A list read is consumed item by item: what another request appended to it meanwhile stays.
  for (const [k, read] of Object.entries(changes.consumedItems ?? {})) {
    const held = flash.get(k);
    if (held === read) flash.delete(k);
    else if (held?.startsWith(read.slice(0, -1) + ',') === true) flash.set(k, '[' + held.slice(read.length));
  }
  const immutable = [...locked].filter((k) => data.has(k));
  const merged: { -readonly [K in keyof SessionRecord]: SessionRecord[K] } = {
    data: toObject(data),
    createdAt: stored.createdAt,
    accessedAt: times.accessedAt,
    endsAt: times.endsAt,
    expiresAt: times.expiresAt,
  };
  if (flash.size > 0) merged.flash = toObject(flash);
  if (stored.constants !== undefined) merged.constants = stored.constants;
  if (immutable.length > 0) merged.immutable = immutable;
  if (!times.persistent) merged.persistent = false;
  if (stored.userId !== undefined) merged.userId = stored.userId;
  if (stored.device !== undefined) merged.device = stored.device;
  if (stored.lifetimeMs !== undefined) merged.lifetimeMs = stored.lifetimeMs;
  if (stored.idleMs !== undefined) merged.idleMs = stored.idleMs;
  return merged;
}

/**
 * A JSON list with `items` (JSON texts) appended: to `list` when it is a JSON array, to a list holding it when
 * it is another value, to an empty list when undefined. Textual, so the result is what `JSON.stringify` of the
 * whole array gives.
 */
export function appendJson(list: string | undefined, items: readonly string[]): string {
  const tail = items.join(',');
  if (list === undefined || list === '[]') return `[${tail}]`;
  return list.startsWith('[') ? `${list.slice(0, -1)},${tail}]` : `[${list},${tail}]`;
}
