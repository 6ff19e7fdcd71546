// A session's values, flashes, immutable keys and constants, and the journal of what this request changed: the
// journal is what a store merges (SessionChanges), so overlapping requests keep each other's changes.
import { SessionError } from '../errors.js';
import { appendJson, flashEnd } from './merge.js';
import { exactSum, toNumber } from './numbers.js';
import type { SessionChanges, SessionRecord, SessionTimes } from './store-contract.js';
import { decodeValue, encodeValue, toMap, toObject } from './value-codec.js';
import type { Serializer } from './options.js';

// Most sessions have no flashes, constants or immutable keys: they share these empty stand-ins (three fewer
// allocations per request) until their first write makes a collection of their own. Filling a stand-in would
// leak into every session, so they refuse it loudly.
const NO_ENTRIES: Map<string, string> = new (class extends Map<string, string> {
  override set(): never {
    throw new TypeError('edge-sessions: shared empty map');
  }
})();
const NO_KEYS: Set<string> = new (class extends Set<string> {
  override add(): never {
    throw new TypeError('edge-sessions: shared empty set');
  }
})();

/** What encoding values needs of the manager's configuration. */
export interface Codec {
  readonly serializer: Serializer;
  /** True when values are JSON, so stores may add to numbers themselves. */
  readonly json: boolean;
}

/** A pending change of one key: its final value is sent (`set`), it is deleted, or a number is added to it. */
type KeyChange = 'set' | 'delete' | number;

/** What `SessionValues` journals between two writes (see its fields of the same names). */
interface Journal {
  readonly cleared: boolean;
  readonly keyChanges: Map<string, KeyChange> | undefined;
  readonly flashChanges: Map<string, boolean> | undefined;
  readonly consumed: Map<string, { readonly text: string | undefined; readonly upTo: number }> | undefined;
  readonly appended: Map<string, string[]> | undefined;
  readonly immutableChanges: Map<string, boolean> | undefined;
}

export class SessionValues {
  readonly #codec: Codec;
  #data: Map<string, string>;
  #immutable: Set<string>;
  #constants: Map<string, string>;
  #flash: Map<string, string>;
  /** The record as the store last gave it (or as this request wrote it whole): what a read consumes. */
  #stored: Pick<SessionRecord, 'flash' | 'flashIds'> | undefined;

  // The journal: made on first change, cleared after each write.
  #keyChanges: Map<string, KeyChange> | undefined;
  #cleared = false;
  /** Per flash key: true = stored with its current value, false = deleted by this request. */
  #flashChanges: Map<string, boolean> | undefined;
  /**
   * Flashes read in this request, with the stored value read (undefined when the store held none: only items
   * this request appended were read) and the end of its item numbers then. Still readable here; the store removes
   * exactly the items read. The end is taken at the read: a commit in between may renumber what is stored.
   */
  #consumed: Map<string, { readonly text: string | undefined; readonly upTo: number }> | undefined;
  /**
   * Per flash key: items `addFlash` appended (encoded) and not read since, sent as additions to whatever list
   * the store holds.
   */
  #appended: Map<string, string[]> | undefined;
  /** Per key whose immutability changed: true = made immutable, false = no longer. */
  #immutableChanges: Map<string, boolean> | undefined;
  /**
   * The journal of the write in flight, set aside when it started (`take`): changes made meanwhile start a journal
   * of their own, which the write neither sends nor clears, so the next commit writes them. Put back in front of
   * them if the write fails (`restore`).
   */
  #taken: Journal | undefined;

  constructor(codec: Codec, record: SessionRecord | undefined) {
    this.#codec = codec;
    this.#stored = record;
    // isRecord() has checked every value is a string. A new session (no record) starts with an empty map.
    this.#data = toMap(record?.data);
    this.#flash = record?.flash === undefined ? NO_ENTRIES : toMap(record.flash);
    this.#constants = record?.constants === undefined ? NO_ENTRIES : toMap(record.constants);
    this.#immutable = record?.immutable === undefined ? NO_KEYS : new Set(record.immutable);
  }

  /** A new session, with its constants if it has any (they are never changed afterwards). */
  static withConstants(codec: Codec, constants: Readonly<Record<string, unknown>> | undefined): SessionValues {
    const values = new SessionValues(codec, undefined);
    if (constants === undefined) return values;
    const encoded = new Map<string, string>();
    for (const [k, v] of Object.entries(constants))
      if (v !== undefined && v !== null) encoded.set(k, values.#encode(k, v));
    if (encoded.size > 0) values.#constants = encoded;
    return values;
  }

  // ------------------------------------------------------------------------------------------ data

  get(key: string): unknown {
    const text = this.#data.get(key);
    return text === undefined ? undefined : this.#decode(key, text);
  }

  has(key: string): boolean {
    return this.#data.has(key);
  }

  keys(): string[] {
    return [...this.#data.keys()];
  }

  entries(): [string, unknown][] {
    return [...this.#data].map(([k, text]) => [k, this.#decode(k, text)]);
  }

  set(key: string, value: unknown): void {
    if (this.#immutable.has(key)) {
      throw new SessionError('IMMUTABLE', `"${key}" is immutable; delete it first or use setImmutable`);
    }
    this.#put(key, value);
  }

  /** Sets only when absent; returns whether it did. */
  add(key: string, value: unknown): boolean {
    if (this.#data.has(key)) return false;
    this.set(key, value);
    return this.#data.has(key);
  }

  setImmutable(key: string, value: unknown): void {
    const before = this.#data.get(key);
    this.#put(key, value);
    // Recorded for a key newly immutable, and for a new value of one already immutable (a store's merge lets only
    // a request that says so replace it); the same value again changes nothing and writes nothing.
    if (value !== null && value !== undefined && (!this.#immutable.has(key) || this.#data.get(key) !== before)) {
      if (this.#immutable === NO_KEYS) this.#immutable = new Set();
      this.#immutable.add(key);
      (this.#immutableChanges ??= new Map()).set(key, true);
    }
  }

  isImmutable(key: string): boolean {
    return this.#immutable.has(key);
  }

  delete(key: string): void {
    if (!this.#data.has(key)) return;
    this.#data.delete(key);
    (this.#keyChanges ??= new Map()).set(key, 'delete');
    if (this.#immutable.delete(key)) (this.#immutableChanges ??= new Map()).set(key, false);
  }

  clear(): void {
    if (this.#data.size === 0 && !this.#cleared) return;
    this.#data.clear();
    this.#keyChanges = undefined;
    this.#cleared = true;
    if (this.#immutable.size > 0) {
      const changes = (this.#immutableChanges ??= new Map());
      for (const k of this.#immutable) changes.set(k, false);
      this.#immutable.clear();
    }
  }

  constant(key: string): unknown {
    const text = this.#constants.get(key);
    return text === undefined ? undefined : this.#decode(key, text);
  }

  increment(key: string, by: number): number {
    if (!Number.isFinite(by)) {
      throw new SessionError('TYPE_MISMATCH', `increment("${key}") needs a finite number, got ${String(by)}`);
    }
    if (this.#immutable.has(key)) throw new SessionError('IMMUTABLE', `"${key}" is immutable`);
    // A missing key counts as 0.
    const next = (this.typed(key, undefined, 'a number', toNumber) ?? 0) + by;
    if (!exactSum(next)) throw new SessionError('TYPE_MISMATCH', `increment("${key}") would not be exact`);
    // Adding 0 to a value changes nothing: it must not turn an addition queued for the key into a plain set. (To
    // a missing key it is an addition of 0 below: the key becomes 0 here, a number added to nothing in the store.)
    if (by === 0 && this.#data.has(key)) return next;
    // A key already set, deleted or cleared in this request is sent as its final value; otherwise as an
    // addition, which the store applies to whatever it holds (concurrent increments all count).
    const change = this.#keyChanges?.get(key);
    const atomic = this.#codec.json && !this.#cleared && (change === undefined || typeof change === 'number');
    this.#put(key, next);
    // `??=`: an addition too small to change the value (1 + 1e-20) leaves #put nothing to record. The additions
    // sent as one must be exact too (MAX_SAFE_INTEGER - 1, twice, is not): else the final value is sent.
    if (atomic) {
      const sum = ((change as number | undefined) ?? 0) + by;
      (this.#keyChanges ??= new Map()).set(key, exactSum(sum) ? sum : 'set');
    }
    return next;
  }

  /**
   * The value of `key` converted by `convert`; the default when missing; `TYPE_MISMATCH` when it does not
   * convert (the default form never throws, not even for a stored value that no longer parses).
   */
  typed<T>(key: string, defaultValue: T | undefined, what: string, convert: (value: unknown) => T | undefined) {
    const text = this.#data.get(key);
    if (text === undefined) return defaultValue;
    let decoded: unknown;
    try {
      decoded = this.#decode(key, text);
    } catch (error) {
      if (defaultValue !== undefined) return defaultValue;
      throw error;
    }
    const value = convert(decoded);
    if (value !== undefined) return value;
    if (defaultValue !== undefined) return defaultValue;
    throw new SessionError('TYPE_MISMATCH', `"${key}" is not ${what}`);
  }

  // ------------------------------------------------------------------------------------------ flashes

  setFlash(key: string, value: unknown): void {
    if (value === null || value === undefined) return this.deleteFlash(key);
    this.#putFlash(key, this.#encode(key, value));
  }

  /**
   * Appends `value` to the list under `key` (a single value there becomes the list's first item). With JSON, a
   * list this request has not set or deleted is sent as an addition (`append`), so overlapping requests' items
   * all stay; otherwise as the whole list. After a read in this request, this request's view starts a new list,
   * but what was read is still consumed item by item in the store: a read followed by an append must not
   * overwrite items another request appended meanwhile.
   */
  addFlash(key: string, value: unknown): void {
    if (value === null || value === undefined) return;
    this.#notInFlight('addFlash', key);
    const item = this.#encode(key, value);
    const read = this.#consumed?.has(key) === true && this.#appended?.has(key) !== true;
    const base = read || this.#flashChanges?.get(key) === false ? undefined : this.#flash.get(key);
    if (this.#codec.json) {
      const text = appendJson(base, [item]);
      if (this.#flashChanges?.has(key) === true) return this.#putFlash(key, text);
      if (this.#flash === NO_ENTRIES) this.#flash = new Map();
      this.#flash.set(key, text);
      const appended = (this.#appended ??= new Map());
      appended.set(key, [...(appended.get(key) ?? []), item]);
      return;
    }
    const list = base === undefined ? [] : this.#decode(key, base);
    this.#putFlash(key, this.#encode(key, [...(Array.isArray(list) ? list : [list]), value]));
  }

  getFlash(key: string): unknown {
    const text = this.#flash.get(key);
    if (text === undefined) return undefined;
    this.#notInFlight('getFlash', key);
    // One set in this request is deleted outright; one that came from the store is consumed as read, and items
    // this request appended are read here, never sent.
    const change = this.#flashChanges?.get(key);
    if (change === true) this.#flashChanges!.set(key, false);
    else if (change === undefined) {
      const stored = this.#stored?.flash;
      const text = stored !== undefined && Object.hasOwn(stored, key) ? stored[key] : undefined;
      (this.#consumed ??= new Map()).set(key, { text, upTo: text === undefined ? 0 : flashEnd(this.#stored!, key) });
      this.#appended?.delete(key);
    }
    return this.#decode(key, text);
  }

  peekFlash(key: string): unknown {
    const text = this.#flash.get(key);
    return text === undefined ? undefined : this.#decode(key, text);
  }

  /** A flash `key`, or any flash without a key (read or not in this request). */
  hasFlash(key: string | undefined): boolean {
    return key === undefined ? this.#flash.size > 0 : this.#flash.has(key);
  }

  flashKeys(): string[] {
    return [...this.#flash.keys()];
  }

  deleteFlash(key: string): void {
    if (!this.#flash.delete(key)) return;
    this.#consumed?.delete(key);
    this.#appended?.delete(key);
    (this.#flashChanges ??= new Map()).set(key, false);
  }

  clearFlashes(): void {
    for (const k of [...this.#flash.keys()]) this.deleteFlash(k);
  }

  // ------------------------------------------------------------------------------------------ journal

  /** Whether this request changed values, flashes or immutable keys since the last write. */
  get changed(): boolean {
    return (
      this.#cleared ||
      this.#keyChanges !== undefined ||
      this.#flashChanges !== undefined ||
      this.#consumed !== undefined ||
      this.#appended !== undefined ||
      this.#immutableChanges !== undefined
    );
  }

  /** This request's changes, for a store to merge into what it holds. */
  changes(): SessionChanges {
    const changes: { -readonly [K in keyof SessionChanges]: SessionChanges[K] } = {};
    if (this.#cleared) changes.clear = true;
    const deleted: string[] = [];
    const set: [string, string][] = [];
    const increment: [string, number][] = [];
    for (const [k, change] of this.#keyChanges ?? []) {
      if (change === 'delete') deleted.push(k);
      else if (change === 'set') set.push([k, this.#data.get(k)!]);
      else increment.push([k, change]);
    }
    if (deleted.length > 0) changes.delete = deleted;
    if (set.length > 0) changes.set = toObject(set);
    if (increment.length > 0) changes.increment = toObject(increment);
    if (this.#flashChanges !== undefined) {
      changes.flash = toObject([...this.#flashChanges].map(([k, keep]) => [k, keep ? this.#flash.get(k)! : null]));
    }
    if (this.#appended !== undefined && this.#appended.size > 0) changes.append = toObject(this.#appended);
    if (this.#consumed !== undefined) {
      // The store removes the items numbered below what was read (`consumedUpTo`), whatever was appended or
      // stored meanwhile. The text read goes too, for a store with its own merge: with JSON a list read is
      // consumed item by item there, and any other value only if the store still holds it.
      const lists: [string, string][] = [];
      const whole: [string, string][] = [];
      const upTo: [string, number][] = [];
      for (const [k, { text, upTo: end }] of this.#consumed) {
        if (text === undefined) continue;
        (this.#codec.json && text.startsWith('[') ? lists : whole).push([k, text]);
        upTo.push([k, end]);
      }
      if (lists.length > 0) changes.consumedItems = toObject(lists);
      if (whole.length > 0) changes.consumed = toObject(whole);
      if (upTo.length > 0) changes.consumedUpTo = toObject(upTo);
    }
    if (this.#immutableChanges !== undefined) changes.immutable = toObject(this.#immutableChanges);
    return changes;
  }

  /** The whole record as this request sees it, for a new session or a sealed cookie. */
  record(createdAt: number, times: SessionTimes): SessionRecord {
    // Flashes read here are gone: consumed ones that came from the store (but for items appended after the
    // read), and ones set and read in this request.
    const read = (k: string) =>
      (this.#consumed?.has(k) === true && this.#appended?.has(k) !== true) || this.#flashChanges?.get(k) === false;
    const flash = [...this.#flash].filter(([k]) => !read(k));
    const record: { -readonly [K in keyof SessionRecord]: SessionRecord[K] } = {
      data: toObject(this.#data),
      createdAt,
      accessedAt: times.accessedAt,
      endsAt: times.endsAt,
      expiresAt: times.expiresAt,
    };
    if (flash.length > 0) record.flash = toObject(flash);
    if (this.#constants.size > 0) record.constants = toObject(this.#constants);
    if (this.#immutable.size > 0) record.immutable = [...this.#immutable];
    if (!times.persistent) record.persistent = false;
    return record;
  }

  /**
   * A write starts: the journal goes aside (see `#taken`). Called once what the write sends is made (`changes()`,
   * `record()`), before the write's first await.
   */
  take(): void {
    this.#taken = {
      cleared: this.#cleared,
      keyChanges: this.#keyChanges,
      flashChanges: this.#flashChanges,
      consumed: this.#consumed,
      appended: this.#appended,
      immutableChanges: this.#immutableChanges,
    };
    this.#cleared = false;
    this.#keyChanges = undefined;
    this.#flashChanges = undefined;
    this.#consumed = undefined;
    this.#appended = undefined;
    this.#immutableChanges = undefined;
  }

  /**
   * The write failed: its journal comes back, with the changes made while it was in flight after it (they win key
   * by key, and a clear made meanwhile wipes the key changes before it), so that nothing is lost and the next
   * commit sends both.
   */
  restore(): void {
    const t = this.#taken;
    if (t === undefined) return;
    this.#taken = undefined;
    if (!this.#cleared) {
      // An addition made meanwhile onto a key set, deleted or cleared before is its final value (see increment).
      const keys = new Map(t.keyChanges);
      for (const [k, change] of this.#keyChanges ?? []) {
        const before = keys.get(k);
        const both = typeof change === 'number' && typeof before === 'number';
        const sum = both ? before + change : NaN;
        const number = typeof change === 'number';
        keys.set(k, both && exactSum(sum) ? sum : number && (before !== undefined || t.cleared) ? 'set' : change);
      }
      this.#keyChanges = keys.size > 0 ? keys : undefined;
      this.#cleared = t.cleared;
    }
    // A flash set or deleted meanwhile replaces what was read of it or appended to it before.
    const replaced = (k: string) => this.#flashChanges?.has(k) === true;
    const flash = new Map(t.flashChanges);
    for (const [k, keep] of this.#flashChanges ?? []) flash.set(k, keep);
    this.#flashChanges = flash.size > 0 ? flash : undefined;
    const consumed = new Map([...(t.consumed ?? [])].filter(([k]) => !replaced(k)));
    for (const [k, read] of this.#consumed ?? []) consumed.set(k, read);
    this.#consumed = consumed.size > 0 ? consumed : undefined;
    // Items appended before a read made meanwhile were read in this request: never sent.
    const appended = new Map<string, string[]>();
    for (const [k, items] of t.appended ?? []) {
      if (!replaced(k) && this.#consumed?.has(k) !== true) appended.set(k, [...items]);
    }
    for (const [k, items] of this.#appended ?? []) appended.set(k, [...(appended.get(k) ?? []), ...items]);
    this.#appended = appended.size > 0 ? appended : undefined;
    const immutable = new Map(t.immutableChanges);
    for (const [k, on] of this.#immutableChanges ?? []) immutable.set(k, on);
    this.#immutableChanges = immutable.size > 0 ? immutable : undefined;
  }

  /** The write timed out, its outcome unknown: its journal is not sent again. */
  drop(): void {
    this.#taken = undefined;
  }

  /**
   * After a write: its journal is done with. `stored` is the record the store returned after merging (it may hold
   * other requests' changes); without it, the store holds what this request wrote whole. Changes made while the
   * write was in flight stay in the journal for the next commit; the values this request sees then stay as they
   * are (the store's merge of them comes with that commit), the flashes are taken from `stored` with the pending
   * flash changes on top (a read consumes by what is stored).
   */
  committed(stored: SessionRecord | undefined): void {
    const taken = this.#taken;
    this.#taken = undefined;
    const pending = this.changed;
    if (stored !== undefined) {
      this.#stored = stored;
      if (pending) {
        this.#rebaseFlashes(stored);
        return;
      }
      // Usually the store holds just what this request wrote: the maps stay as they are (most commits are the
      // request's last act, and rebuilding them would be its largest allocation).
      if (!holds(this.#data, stored.data)) this.#data = toMap(stored.data);
      if (!holds(this.#flash, stored.flash)) this.#flash = toMap(stored.flash);
      const immutable = stored.immutable ?? [];
      if (immutable.length !== this.#immutable.size || !immutable.every((k) => this.#immutable.has(k))) {
        this.#immutable = immutable.length === 0 ? NO_KEYS : new Set(immutable);
      }
    } else if (taken !== undefined) {
      // Written whole (a new session, a sealed cookie): the store holds this request's view as it was, numbered
      // from 0; flashes read or deleted before the write are gone from it, unless set again meanwhile.
      const again = (k: string) => this.#flashChanges?.has(k) === true || this.#appended?.has(k) === true;
      for (const [k, keep] of taken.flashChanges ?? []) if (!keep && !again(k)) this.#flash.delete(k);
      for (const k of taken.consumed?.keys() ?? []) {
        if (taken.appended?.has(k) !== true && !again(k)) this.#flash.delete(k);
      }
      this.#stored = { flash: toObject(this.#flash) };
    }
  }

  // ------------------------------------------------------------------------------------------ internals

  /**
   * The flashes as `stored` holds them, with this request's pending flash changes on top: a flash is consumed by
   * the stored text and item numbers it is read with, so what this request shows must be what is stored.
   */
  #rebaseFlashes(stored: SessionRecord): void {
    if (holds(this.#flash, stored.flash)) return;
    const local = this.#flash;
    const flash = toMap(stored.flash);
    for (const [k, keep] of this.#flashChanges ?? []) {
      if (keep) flash.set(k, local.get(k)!);
      else flash.delete(k);
    }
    for (const [k, items] of this.#appended ?? []) flash.set(k, appendJson(flash.get(k), items));
    this.#flash = flash;
  }

  #put(key: string, value: unknown): void {
    if (value === null || value === undefined) {
      this.delete(key);
      return;
    }
    const text = this.#encode(key, value);
    // An unchanged value needs no write, unless this request queued an addition to it (or the write in flight
    // carries one): a plain set then means "this value", not "+n" on whatever the store holds by now.
    if (this.#data.get(key) === text && !adds(this.#keyChanges, key) && !adds(this.#taken?.keyChanges, key)) return;
    this.#data.set(key, text);
    (this.#keyChanges ??= new Map()).set(key, 'set');
  }

  /** Throws `COMMIT_IN_FLIGHT` where `getFlash(key)` would, without consuming anything. */
  readableFlash(op: string, key: string): void {
    this.#notInFlight(op, key);
  }

  /**
   * A flash that the write in flight sets, consumes or appends to cannot be read or appended to until it is done:
   * what is stored of it, and how its items are numbered, is known only then.
   */
  #notInFlight(op: string, key: string): void {
    const t = this.#taken;
    if (t !== undefined && (t.flashChanges?.has(key) || t.consumed?.has(key) || t.appended?.has(key))) {
      throw new SessionError(
        'COMMIT_IN_FLIGHT',
        `${op}("${key}"): a commit of this flash is in flight; await it first`,
      );
    }
  }

  #putFlash(key: string, text: string): void {
    if (this.#flash === NO_ENTRIES) this.#flash = new Map();
    this.#flash.set(key, text);
    this.#consumed?.delete(key);
    this.#appended?.delete(key);
    (this.#flashChanges ??= new Map()).set(key, true);
  }

  #encode(key: string, value: unknown): string {
    return encodeValue(this.#codec.serializer, this.#codec.json, key, value);
  }

  #decode(key: string, text: string): unknown {
    return decodeValue(this.#codec.serializer, key, text);
  }
}

/** Whether `keyChanges` adds a number to `key`. */
function adds(keyChanges: Map<string, KeyChange> | undefined, key: string): boolean {
  return typeof keyChanges?.get(key) === 'number';
}

/**
 * Whether `map` holds exactly the entries of `values` (none when undefined), compared without allocating. `for...in`
 * also walks enumerable properties inherited from a polluted Object.prototype; that only makes the answer false,
 * and the caller then rebuilds the map from own keys (`toMap`).
 */
function holds(map: Map<string, string>, values: Readonly<Record<string, string>> | undefined): boolean {
  let n = 0;
  for (const k in values) {
    if (map.get(k) !== values[k]) return false;
    n++;
  }
  return n === map.size;
}
