// Applying one request's changes to the record a store holds at that moment: shared by every store, inside its
// transaction where it has one (memory, Durable Objects) or just before its write (KV).
import { SessionError } from '../errors.js';
import { exactSum, numberInJson } from './numbers.js';
import { isRecord } from './records.js';
import type { SessionChanges, SessionRecord, SessionTimes } from './store-contract.js';
import { toMap, toObject } from './value-codec.js';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

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
  // A copy made by spreading defines own properties, "__proto__" included; `setOwn` writes the same way.
  const data: Record<string, string> = cleared ? {} : { ...stored.data };
  const known = changes.immutable;
  const stillLocked = cleared ? undefined : stored.immutable;
  // Most records have no immutable keys and most commits lock none: then no set is made.
  const locked = stillLocked === undefined && known === undefined ? undefined : new Set(stillLocked);
  // A stored immutable key this request did not know about (another request locked it meanwhile) keeps its value.
  const writable = (k: string) => locked === undefined || !locked.has(k) || Object.hasOwn(known ?? {}, k);
  for (const k of changes.delete ?? []) delete data[k];
  const set = changes.set;
  if (set !== undefined) for (const k of Object.keys(set)) if (writable(k)) setOwn(data, k, set[k]!);
  const increment = changes.increment;
  if (increment !== undefined) {
    for (const k of Object.keys(increment)) {
      if (!writable(k)) continue;
      const base = numberInJson(Object.hasOwn(data, k) ? data[k] : undefined);
      const sum = base === undefined ? NaN : base + increment[k]!;
      if (!exactSum(sum)) {
        throw new SessionError('TYPE_MISMATCH', `increment("${k}"): the stored value does not give an exact number`);
      }
      setOwn(data, k, JSON.stringify(sum));
    }
  }
  if (known !== undefined) {
    for (const k of Object.keys(known)) {
      if (known[k]) locked!.add(k);
      else locked!.delete(k);
    }
  }
  const merged: Writable<SessionRecord> = {
    data,
    createdAt: stored.createdAt,
    accessedAt: times.accessedAt,
    endsAt: times.endsAt,
    expiresAt: times.expiresAt,
  };
  mergeFlashes(merged, stored, changes);
  if (stored.constants !== undefined) merged.constants = stored.constants;
  const immutable = locked === undefined ? [] : [...locked].filter((k) => Object.hasOwn(data, k));
  if (immutable.length > 0) merged.immutable = immutable;
  if (!times.persistent) merged.persistent = false;
  if (stored.userId !== undefined) merged.userId = stored.userId;
  if (stored.device !== undefined) merged.device = stored.device;
  if (stored.lifetimeMs !== undefined) merged.lifetimeMs = stored.lifetimeMs;
  if (stored.idleMs !== undefined) merged.idleMs = stored.idleMs;
  return merged;
}

/** Sets `values[key]` as an own property, never through the `__proto__` setter (no prototype pollution). */
function setOwn(values: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__')
    Object.defineProperty(values, key, { value, enumerable: true, writable: true, configurable: true });
  else values[key] = value;
}

/** The flashes of `stored` with this request's flash changes applied, set on `merged`. */
function mergeFlashes(merged: Writable<SessionRecord>, stored: SessionRecord, changes: SessionChanges): void {
  const { flash: set, append, consumed, consumedItems, consumedUpTo } = changes;
  const reads = consumed ?? consumedItems ?? consumedUpTo;
  if (set === undefined && append === undefined && reads === undefined) {
    // Most commits leave flashes alone: they stay as stored, numbers and all, without counting items.
    if (stored.flash !== undefined && hasKeys(stored.flash)) merged.flash = { ...stored.flash };
    if (stored.flashIds !== undefined) merged.flashIds = stored.flashIds;
    if (stored.flashNext !== undefined) merged.flashNext = stored.flashNext;
    return;
  }
  // Flash items are numbered in the order they are stored, per key, and a read is sent as "every item below
  // this number": the store then removes exactly what was read, however the list was appended to, consumed or
  // replaced meanwhile (a value set again, even the same text, has new numbers). See flashEnd.
  const flash = toMap(stored.flash);
  const counts = new Map<string, number>();
  const ends = new Map<string, number>();
  let next = stored.flashNext ?? 0;
  for (const [k, text] of flash) {
    const count = flashItems(text);
    const end = flashEnd(stored, k, count);
    counts.set(k, count);
    ends.set(k, end);
    next = Math.max(next, end);
  }
  const put = (k: string, text: string, count: number, end: number) => {
    flash.set(k, text);
    counts.set(k, count);
    ends.set(k, end);
    next = Math.max(next, end);
  };
  const remove = (k: string) => {
    flash.delete(k);
    counts.delete(k);
    ends.delete(k);
  };
  for (const [k, v] of Object.entries(set ?? {})) {
    const count = v === null ? 0 : flashItems(v);
    if (v === null) remove(k);
    else put(k, v, count, next + count);
  }
  for (const [k, items] of Object.entries(append ?? {})) {
    const held = flash.get(k);
    // Appended items continue the list's numbers (a new list starts above every number given out).
    if (held === undefined) put(k, appendJson(held, items), items.length, next + items.length);
    else put(k, appendJson(held, items), counts.get(k)! + items.length, ends.get(k)! + items.length);
  }
  // Per key read: the text read (one of the two), and the number after its last item.
  const texts: Record<string, string> = { ...consumed, ...consumedItems };
  const upTo = consumedUpTo ?? {};
  for (const k of new Set([...Object.keys(upTo), ...Object.keys(texts)])) {
    const held = flash.get(k);
    if (held === undefined) continue;
    const count = counts.get(k)!;
    const text = Object.hasOwn(texts, k) ? texts[k] : undefined;
    // Items numbered below what was read are consumed; those stored meanwhile (appended, or a new value) stay.
    let n = Object.hasOwn(upTo, k) ? Math.min(count, upTo[k]! - (ends.get(k)! - count)) : undefined;
    // Unless they are not the last items this request read: then the numbers were reset since the read (an
    // older version's write drops them, and the list is counted from 0 again), and the text decides.
    if (n !== undefined && n > 0 && text !== undefined && !endsWith(itemTexts(text), itemTexts(held), n)) {
      n = undefined;
    }
    // By text, for a caller that sends no numbers: the items read are consumed if the list still starts with them
    // (only the value read is consumed: a newer one stored meanwhile waits for the next request).
    if (n === undefined) n = text !== undefined && startsWith(itemTexts(held), itemTexts(text)) ? flashItems(text) : 0;
    // An empty list holds no numbers: whether this request read it, or an older value of the key, only its text
    // can tell.
    if (n >= count && (count > 0 || text === undefined || text === held)) remove(k);
    else if (n > 0) put(k, dropItems(held, n), count - n, ends.get(k)!);
  }
  // Numbers past 2^53 are not exact (a record near it could only be crafted): the flashes are then numbered
  // from 0 again, which in-flight reads survive by the text check above.
  if (!Number.isSafeInteger(next)) {
    for (const [k, count] of counts) ends.set(k, count);
    next = 0;
  }
  if (flash.size > 0) merged.flash = toObject(flash);
  // Numbers are written only where they differ from what a record without them means (see flashEnd), so a
  // record whose flashes were never raced over stays as older versions wrote it.
  const numbered = [...ends].filter(([k, end]) => end !== counts.get(k));
  if (numbered.length > 0) merged.flashIds = toObject(numbered);
  if (next > Math.max(0, ...ends.values())) merged.flashNext = next;
}

function hasKeys(values: object): boolean {
  for (const k in values) if (Object.hasOwn(values, k)) return true;
  return false;
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

/**
 * The number after the last item of flash `key` in `record`: its `flashIds` entry, or for a record without one
 * (written by an older version, or whole by the manager) the count of its items, as if numbered from 0.
 * `count` is `flashItems` of its value, when the caller has it.
 */
export function flashEnd(record: Pick<SessionRecord, 'flash' | 'flashIds'>, key: string, count?: number): number {
  const ids = record.flashIds;
  if (ids !== undefined && Object.hasOwn(ids, key)) return ids[key]!;
  return count ?? flashItems(record.flash![key]!);
}

/** How many items a flash value holds: a JSON array's length, else 1 (a single value, or another serializer's). */
export function flashItems(text: string): number {
  if (!text.startsWith('[')) return 1;
  try {
    const list: unknown = JSON.parse(text);
    return Array.isArray(list) ? list.length : 1;
  } catch {
    return 1;
  }
}

/** The items of a flash value as JSON texts: a JSON array's items, else the value itself as the only item. */
function itemTexts(text: string): string[] {
  if (text.startsWith('[')) {
    try {
      const list: unknown = JSON.parse(text);
      if (Array.isArray(list)) return list.map((item) => JSON.stringify(item));
    } catch {
      // not JSON: one item
    }
  }
  return [text];
}

/** Whether `list` starts with every item of `prefix`. */
function startsWith(list: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= list.length && prefix.every((item, i) => item === list[i]);
}

/** Whether the first `n` items of `held` are the last `n` items of `read`. */
function endsWith(read: readonly string[], held: readonly string[], n: number): boolean {
  return n <= read.length && startsWith(held, read.slice(read.length - n));
}

/**
 * The JSON array `list` without its first `n` items (0 < n < its length), cut from the text so the items that
 * stay keep their exact encoding.
 */
function dropItems(list: string, n: number): string {
  let depth = 0;
  let quoted = false;
  let commas = 0;
  for (let i = 1; i < list.length; i++) {
    const c = list[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0 && ++commas === n) return '[' + list.slice(i + 1);
  }
  return '[]';
}
