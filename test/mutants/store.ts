// Broken stores for test/mutants.test.ts: a copy of the memory store (src/memory.ts) with one contract violation
// each, chosen by name. The published suites (edge-sessions/testing) must fail every one of them.
import { SessionError } from '../../src/errors.js';
import { sameSession } from '../../src/lib/ids.js';
import { mergeChanges } from '../../src/lib/merge.js';
import type { SessionChanges, SessionRecord, SessionTimes, UserSession } from '../../src/lib/store-contract.js';
import type { MemoryStore } from '../../src/memory.js';

/** Each mutant, and the contract violation it injects. */
export const MUTANTS = {
  updateRecreates: 'update of a session that is not live creates it',
  touchRecreates: 'a touch (update without changes) of a destroyed session creates it',
  updateAfterDestroyInFlight: 'update reads, yields, then writes: a destroy in between is undone',
  createOverwrites: 'create overwrites a live session',
  createReusesEnded: 'create reuses an ID that was ended',
  regenerateMovesEnded: 'regenerate moves a session that was destroyed meanwhile (from its last record)',
  regenerateStale: 'regenerate merges into the record as last read by get, losing changes made meanwhile',
  regenerateLeavesOld: 'regenerate leaves the old ID live',
  regenerateNoForward: 'regenerate ends the old ID without a forward to the new one',
  regenerateIgnoresEndsAt: 'regenerate keeps the stored endsAt, ignoring times.endsAt',
  updateIgnoresEndsAt: 'update keeps the stored endsAt, ignoring times.endsAt',
  destroyAnswersTrue: 'destroy answers true (the old ID) for a session it ended under a newer ID',
  destroyAnswersOtherLineage: 'destroy answers an ID of another lineage',
  destroyAnswersTrueForNone: 'destroy answers true when it ended nothing (a session already ended)',
  destroyNoForward: 'destroy ends only the ID it is given, not the IDs the session moved to',
  flashRemovesNewer: 'a consumed flash is removed whatever it holds now',
  mergeDropsOthersKeys: "update keeps only this request's sets, dropping keys other requests stored",
  mergeIgnoresDelete: 'update ignores deleted keys',
  clearAfterSet: "a clear applied after this request's sets (the sets are lost)",
  clearKeepsImmutable: 'a clear keeps the immutable keys locked',
  ignoresImmutable: 'update lets a plain set overwrite an immutable key',
  nonFiniteIncrement: 'update accepts a non-finite increment',
  hexIncrement: 'increment of "0x10" stores 17',
  expiryLate: 'a session is still live at exactly expiresAt',
  expiryEarly: 'a session ends 1 ms before expiresAt',
  getHidesAtExpiry: 'get answers null at expiresAt rather than the expired record once',
  listsExpired: 'listByUser lists expired sessions',
  listsEnded: 'listByUser lists destroyed sessions',
  listsOtherUsers: 'listByUser lists the sessions of every user whose ID starts with the one asked for',
  listsOldId: 'listByUser lists a regenerated session under its first ID',
  destroyByUserIgnoresExcept: 'destroyByUser ends the session `except` names too',
  destroyByUserSparesById: 'destroyByUser spares the session `except` names by equal ID, not by lineage',
  destroyByUserOtherUsers: 'destroyByUser ends sessions of every user whose ID starts with the one given',
  destroyByUserAnswersTwice: 'destroyByUser answers each ID it ended twice',
  countsExpired: 'count counts expired sessions',
  countsEnded: 'count counts destroyed sessions',
  clearRevives: 'clear forgets ended IDs, so they can be created again',
  createAnswersNumber: 'create answers 1 rather than true',
  updateAnswersUndefined: 'update answers undefined for a session that is not live',
  destroyAnswersNull: 'destroy answers null rather than false',
  rawErrorOnMismatch: 'an increment onto a non-number throws a raw Error, not TYPE_MISMATCH',
  keepsRecordObject: 'create keeps the record it was handed, by reference',
  destroyIgnoresRetainUntil: 'destroy keeps the end 1 ms only, not until retainUntil',
  destroyByUserIgnoresRetainUntil: 'destroyByUser keeps each end 1 ms only, not until retainUntil',
  regenerateForwardExpiresEarly: 'regenerate keeps the forward 1 ms only, not until times.expiresAt',
  regenerateResetsCreatedAt: 'regenerate gives the moved record a new createdAt',
  regenerateDropsDevice: "regenerate drops the record's device",
  regenerateAfterDestroyInFlight: 'regenerate reads, yields, then writes: a destroy in between is undone',
  getAnswersUndefined: 'get answers undefined for an ID it never stored',
  expiryByEndsAt: 'a session is live until its endsAt: the idle expiry (expiresAt) is ignored',
  updateRecreatesSilently: 'update of a session that is not live answers null, but stores it anew',
  dropsFlashNumbers: 'the record is stored without its flashIds and flashNext',
  dropsOwnTimeouts: 'the record is stored without its lifetimeMs and idleMs',
  countOffByOne: 'count counts a session at exactly its expiresAt',
  destroyAnswersExpired: 'destroy of an expired session answers its ID, as if it ended a live one',
} as const;

export type Mutant = keyof typeof MUTANTS;

interface Live {
  readonly text: string;
  readonly expiresAt: number;
  readonly merged?: SessionRecord;
  readonly userId?: string | undefined;
  /** keepsRecordObject: the object handed to create. */
  readonly kept?: SessionRecord;
}

interface Ended {
  readonly until: number;
  readonly movedTo?: string;
}

type Entry = Live | Ended;

/** The memory store with `mutant` injected. */
export function createMutantStore(mutant: Mutant, now: () => number): MemoryStore {
  const entries = new Map<string, Entry>();
  const users = new Map<string, Set<string>>();
  /** regenerateMovesEnded: the last record of each ID. regenerateStale: the last record get answered. */
  const last = new Map<string, SessionRecord>();
  const read = new Map<string, SessionRecord>();
  const is = (m: Mutant) => mutant === m;

  /** The record as the mutant keeps it. */
  function stored(record: SessionRecord): SessionRecord {
    if (is('dropsFlashNumbers')) return { ...record, flashIds: undefined, flashNext: undefined };
    if (is('dropsOwnTimeouts')) return { ...record, lifetimeMs: undefined, idleMs: undefined };
    return record;
  }

  const expired = (expiresAt: number) =>
    is('expiryLate') ? now() > expiresAt : is('expiryEarly') ? now() >= expiresAt - 1 : now() >= expiresAt;

  function live(id: string): Live | undefined {
    const entry = entries.get(id);
    return entry === undefined || !('text' in entry) || expired(entry.expiresAt) ? undefined : entry;
  }

  function put(id: string, entry: Entry, before: Entry | undefined): void {
    if (before !== undefined && 'text' in before && before.userId !== undefined) {
      if (!(is('listsEnded') && !('text' in entry))) unlist(before.userId, id);
    }
    if ('text' in entry && entry.userId !== undefined) {
      let ids = users.get(entry.userId);
      if (ids === undefined) users.set(entry.userId, (ids = new Set()));
      ids.add(id);
    }
    if ('text' in entry) last.set(id, entry.merged ?? (JSON.parse(entry.text) as SessionRecord));
    entries.set(id, entry);
  }

  function unlist(userId: string, id: string): void {
    const ids = users.get(userId);
    if (ids?.delete(id) === true && ids.size === 0) users.delete(userId);
  }

  function remove(id: string, entry: Entry): void {
    if ('text' in entry && entry.userId !== undefined) unlist(entry.userId, id);
    entries.delete(id);
  }

  function end(id: string, retainUntil: number): string | false {
    if (is('destroyIgnoresRetainUntil')) retainUntil = now() + 1;
    let ended: string | false = false;
    let next: string | undefined = id;
    while (next !== undefined) {
      // An ended entry is gone at its `until`, as under a TTL.
      const held = entries.get(next);
      const entry = held !== undefined && 'until' in held && now() >= held.until ? undefined : held;
      if (entry !== undefined && 'text' in entry && (!expired(entry.expiresAt) || is('destroyAnswersExpired'))) {
        ended = next;
      }
      const movedTo = entry !== undefined && 'movedTo' in entry ? entry.movedTo : undefined;
      put(next, { until: Math.max(retainUntil, entry !== undefined && 'until' in entry ? entry.until : 0) }, entry);
      next = is('destroyNoForward') ? undefined : movedTo;
    }
    return ended;
  }

  function parsed(entry: Live): SessionRecord {
    if (entry.kept !== undefined) return entry.kept;
    return entry.merged ?? (JSON.parse(entry.text) as SessionRecord);
  }

  /** `changes` as the mutant sees them. */
  function mutated(changes: SessionChanges): SessionChanges {
    if (is('mergeIgnoresDelete')) return { ...changes, delete: undefined };
    if (is('clearAfterSet') && changes.clear === true) return { ...changes, set: undefined };
    return changes;
  }

  function merge(stored: SessionRecord, changes: SessionChanges, times: SessionTimes): SessionRecord {
    if (is('ignoresImmutable')) stored = { ...stored, immutable: undefined };
    if (is('mergeDropsOthersKeys') && changes.set !== undefined) stored = { ...stored, data: {} };
    const increment = changes.increment;
    if (increment !== undefined) {
      const data = { ...stored.data };
      let handled = false;
      for (const k of Object.keys(increment)) {
        const value = data[k] === undefined ? undefined : (JSON.parse(data[k]) as unknown);
        if (is('nonFiniteIncrement') && !Number.isFinite(increment[k])) {
          data[k] = String(increment[k]);
          handled = true;
        }
        if (is('hexIncrement') && typeof value === 'string' && Number.isFinite(Number(value))) {
          data[k] = JSON.stringify(Number(value) + increment[k]!);
          handled = true;
        }
        if (is('rawErrorOnMismatch') && typeof value !== 'number') throw new Error('not a number');
      }
      if (handled) {
        const rest = Object.fromEntries(Object.entries(increment).filter(([k]) => data[k] === stored.data[k]));
        return mergeChanges({ ...stored, data }, { ...changes, increment: rest }, times);
      }
    }
    let merged = mergeChanges(stored, mutated(changes), times);
    if (is('clearKeepsImmutable') && changes.clear === true && stored.immutable !== undefined) {
      merged = { ...merged, immutable: stored.immutable };
    }
    if (is('flashRemovesNewer') && merged.flash !== undefined) {
      const { flash: held, ...rest } = merged;
      const flash = { ...held };
      for (const k of Object.keys({ ...changes.consumed, ...changes.consumedUpTo })) delete flash[k];
      merged = Object.keys(flash).length === 0 ? rest : { ...rest, flash };
    }
    return merged;
  }

  const store: MemoryStore = {
    name: `mutant ${mutant}`,
    async get(id) {
      const entry = entries.get(id);
      if (entry === undefined) return (is('getAnswersUndefined') ? undefined : null) as null;
      if (!('text' in entry)) return null;
      if (expired(entry.expiresAt)) {
        remove(id, entry);
        if (is('getHidesAtExpiry')) return null;
      }
      const record = JSON.parse(entry.kept === undefined ? entry.text : JSON.stringify(entry.kept)) as SessionRecord;
      read.set(id, record);
      return structuredClone(record);
    },
    async create(id, record) {
      const entry = entries.get(id);
      const taken =
        entry !== undefined &&
        ('text' in entry ? !expired(entry.expiresAt) : !is('createReusesEnded') && now() < entry.until);
      if (taken && !is('createOverwrites')) return false;
      put(
        id,
        {
          text: JSON.stringify(stored(record)),
          expiresAt: is('expiryByEndsAt') ? record.endsAt : record.expiresAt,
          userId: record.userId,
          ...(is('keepsRecordObject') ? { kept: record } : {}),
        },
        entry,
      );
      return (is('createAnswersNumber') ? 1 : true) as boolean;
    },
    async update(id, changes, times) {
      let entry = live(id);
      if (entry === undefined) {
        const recreate = is('updateRecreates') || (is('touchRecreates') && Object.keys(changes).length === 0);
        if (is('updateRecreatesSilently') && entries.get(id) !== undefined) {
          const text = JSON.stringify({ data: {}, createdAt: times.accessedAt, ...times });
          put(id, { text, expiresAt: times.expiresAt }, entries.get(id));
        }
        if (!recreate) return (is('updateAnswersUndefined') ? undefined : null) as null;
        entry = { text: JSON.stringify({ data: {}, createdAt: times.accessedAt, ...times }), expiresAt: 0 };
      }
      let merged = merge(parsed(entry), changes, times);
      if (is('updateIgnoresEndsAt')) merged = { ...merged, endsAt: parsed(entry).endsAt };
      if (is('updateAfterDestroyInFlight')) await new Promise((resolve) => setTimeout(resolve, 0));
      put(
        id,
        {
          text: JSON.stringify(stored(merged)),
          expiresAt: is('expiryByEndsAt') ? times.endsAt : times.expiresAt,
          merged: stored(merged),
          userId: merged.userId,
        },
        entries.get(id),
      );
      return merged;
    },
    async regenerate(id, newId, changes, times) {
      let entry = live(id);
      if (entry === undefined) {
        const before = last.get(id);
        if (!is('regenerateMovesEnded') || before === undefined) return null;
        entry = { text: JSON.stringify(before), expiresAt: before.expiresAt, userId: before.userId };
      }
      if (entries.has(newId) && !is('regenerateMovesEnded')) {
        throw new SessionError('STORE_WRITE', 'memory store: regenerate: the new ID is taken');
      }
      const base = is('regenerateStale') ? (read.get(id) ?? parsed(entry)) : parsed(entry);
      let merged = merge(base, changes, times);
      if (is('regenerateIgnoresEndsAt')) merged = { ...merged, endsAt: base.endsAt };
      if (is('regenerateResetsCreatedAt')) merged = { ...merged, createdAt: times.accessedAt };
      if (is('regenerateDropsDevice')) merged = { ...merged, device: undefined };
      if (is('regenerateAfterDestroyInFlight')) await new Promise((resolve) => setTimeout(resolve, 0));
      const forwardUntil = is('regenerateForwardExpiresEarly') ? now() + 1 : times.expiresAt;
      if (!is('regenerateLeavesOld')) {
        put(
          id,
          is('regenerateNoForward') ? { until: forwardUntil } : { until: forwardUntil, movedTo: newId },
          entries.get(id),
        );
      }
      const text = JSON.stringify(stored(merged));
      const expiresAt = is('expiryByEndsAt') ? times.endsAt : times.expiresAt;
      put(newId, { text, expiresAt, merged: stored(merged), userId: entry.userId }, undefined);
      return merged;
    },
    async destroy(id, retainUntil) {
      const ended = end(id, retainUntil);
      if (is('destroyAnswersTrue') && ended !== false) return true;
      if (is('destroyAnswersOtherLineage') && ended !== false) return `${'Z'.repeat(22)}${ended.slice(22)}`;
      if (is('destroyAnswersTrueForNone') && ended === false && entries.has(id)) return true;
      if (is('destroyAnswersNull') && ended === false) return null as unknown as false;
      return ended;
    },
    async listByUser(userId) {
      const found: UserSession[] = [];
      for (const [user, ids] of users) {
        if (user !== userId && !(is('listsOtherUsers') && user.startsWith(userId))) continue;
        for (const id of ids) {
          const entry = entries.get(id)!;
          if ('text' in entry && (live(id) !== undefined || is('listsExpired'))) {
            found.push({ id, record: JSON.parse(entry.text) as SessionRecord });
          } else if (is('listsEnded') && last.has(id)) found.push({ id, record: last.get(id)! });
        }
      }
      if (is('listsOldId')) {
        for (const [i, session] of found.entries()) {
          for (const [id, entry] of entries) {
            if ('movedTo' in entry && entry.movedTo === session.id) found[i] = { ...session, id };
          }
        }
      }
      return found;
    },
    async destroyByUser(userId, except, retainUntil) {
      const ended: string[] = [];
      for (const [user, ids] of [...users]) {
        if (user !== userId && !(is('destroyByUserOtherUsers') && user.startsWith(userId))) continue;
        for (const id of [...ids]) {
          if (except !== undefined && !is('destroyByUserIgnoresExcept')) {
            if (is('destroyByUserSparesById') ? id === except : sameSession(id, except)) continue;
          }
          const at = end(id, is('destroyByUserIgnoresRetainUntil') ? now() + 1 : retainUntil);
          if (at !== false) ended.push(...(is('destroyByUserAnswersTwice') ? [at, at] : [at]));
        }
      }
      return ended;
    },
    async clear() {
      for (const [id, entry] of entries) if ('text' in entry || is('clearRevives')) remove(id, entry);
    },
    async count() {
      let n = 0;
      for (const [id, entry] of entries) {
        const live = 'text' in entry && (is('countOffByOne') ? now() <= entry.expiresAt : !expired(entry.expiresAt));
        if (live || ('text' in entry && is('countsExpired'))) n++;
        else if (is('countsEnded') && last.has(id)) n++;
      }
      return n;
    },
  };
  return store;
}
