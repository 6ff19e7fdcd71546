// Applying one request's changes to the record a store holds at that moment: shared by every store, inside its
// transaction where it has one (memory, Durable Objects) or just before its write (KV).
import { SessionError } from '../errors.js';
import { numberInJson } from './numbers.js';
import { isRecord } from './records.js';
import type { SessionChanges, SessionRecord, SessionTimes } from './store-contract.js';

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
  const data = copy(cleared ? undefined : stored.data);
  const locked = cleared ? [] : (stored.immutable ?? []);
  const known = changes.immutable;
  for (const k of changes.delete ?? []) delete data[k];
  const set = changes.set;
  if (set !== undefined) for (const k of Object.keys(set)) if (writable(k, locked, known)) put(data, k, set[k]!);
  const increment = changes.increment;
  if (increment !== undefined) {
    for (const k of Object.keys(increment)) {
      if (!writable(k, locked, known)) continue;
      const base = numberInJson(Object.hasOwn(data, k) ? data[k] : undefined);
      const sum = base === undefined ? NaN : base + increment[k]!;
      if (!Number.isFinite(sum)) {
        throw new SessionError('TYPE_MISMATCH', `increment("${k}"): the stored value does not give a finite number`);
      }
      put(data, k, JSON.stringify(sum));
    }
  }
  let immutable = locked;
  if (known !== undefined) {
    const keys = new Set(locked);
    for (const k of Object.keys(known)) {
      if (known[k]) keys.add(k);
      else keys.delete(k);
    }
    immutable = [...keys];
  }
  immutable = immutable.filter((k) => Object.hasOwn(data, k));
  let flash = stored.flash;
  if (changes.flash !== undefined || changes.consumed !== undefined) {
    const next = copy(flash);
    const flashes = changes.flash ?? {};
    for (const k of Object.keys(flashes)) {
      const v = flashes[k];
      if (v === null) delete next[k];
      else put(next, k, v!);
    }
    // Only the value this request read is consumed: a newer one stored meanwhile waits for the next request.
    const consumed = changes.consumed ?? {};
    for (const k of Object.keys(consumed)) if (Object.hasOwn(next, k) && next[k] === consumed[k]) delete next[k];
    flash = next;
  }
  const merged: { -readonly [K in keyof SessionRecord]: SessionRecord[K] } = {
    data,
    createdAt: stored.createdAt,
    accessedAt: times.accessedAt,
    endsAt: times.endsAt,
    expiresAt: times.expiresAt,
  };
  if (flash !== undefined && Object.keys(flash).length > 0) merged.flash = flash;
  if (stored.constants !== undefined) merged.constants = stored.constants;
  if (immutable.length > 0) merged.immutable = immutable;
  if (!times.persistent) merged.persistent = false;
  if (stored.userId !== undefined) merged.userId = stored.userId;
  if (stored.device !== undefined) merged.device = stored.device;
  return merged;
}

/**
 * Whether this request may write `k`: not immutable in the store, or made or unmade immutable by this request (a
 * stored immutable key this request did not know about — another request locked it meanwhile — keeps its value).
 */
function writable(k: string, locked: readonly string[], known: SessionChanges['immutable']): boolean {
  return !locked.includes(k) || (known !== undefined && Object.hasOwn(known, k));
}

/**
 * A copy of a record's string map as a plain object (records cross structured clone, as in Durable Object RPC,
 * which refuses objects without a prototype). Spread defines each key as data, so a key named "__proto__" stays
 * a plain key; `put` keeps it so.
 */
function copy(values: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return { ...values };
}

function put(target: Record<string, string>, k: string, v: string): void {
  if (k === '__proto__')
    Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
  else target[k] = v;
}
