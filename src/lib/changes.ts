// Applying one request's SessionChanges to a stored record: shared by the stores that merge inside the backend
// (Durable Objects, atomically) or just before writing (KV, narrowing the lost-update window).
import type { SessionChanges, SessionRecord } from './types.js';
import { stringMap, toObject } from './values.js';

/** `changes` on top of what is stored, in the order SessionChanges defines; times come from the caller. */
export function applyChanges(
  stored: SessionRecord,
  changes: SessionChanges,
  record: SessionRecord,
  expiresAt: number,
): SessionRecord {
  const cleared = changes.clear === true;
  const data = cleared ? new Map<string, string>() : (stringMap(stored.data) ?? new Map<string, string>());
  const locked = new Set<string>(cleared || !Array.isArray(stored.immutable) ? [] : stored.immutable);
  const known = changes.immutable ?? {};
  // A stored immutable key this request did not know about (another request locked it meanwhile) keeps its value.
  const writable = (k: string) => !locked.has(k) || Object.hasOwn(known, k);
  for (const k of changes.delete ?? []) data.delete(k);
  for (const [k, v] of Object.entries(changes.set ?? {})) if (writable(k)) data.set(k, v);
  for (const [k, by] of Object.entries(changes.increment ?? {}))
    if (writable(k)) data.set(k, JSON.stringify(numberIn(data.get(k)) + by));
  for (const [k, on] of Object.entries(known)) {
    if (on) locked.add(k);
    else locked.delete(k);
  }
  const flash = new Map<string, string>(stored.flash === undefined ? [] : (stringMap(stored.flash) ?? []));
  for (const [k, v] of Object.entries(changes.flash ?? {})) {
    if (v === null) flash.delete(k);
    else flash.set(k, v);
  }
  const immutable = [...locked].filter((k) => data.has(k));
  const merged: { -readonly [K in keyof SessionRecord]: SessionRecord[K] } = {
    data: toObject(data),
    createdAt: stored.createdAt,
    endsAt: record.endsAt,
    expiresAt,
  };
  if (flash.size > 0) merged.flash = toObject(flash);
  if (stored.constants !== undefined) merged.constants = stored.constants;
  if (immutable.length > 0) merged.immutable = immutable;
  if (record.persistent === false) merged.persistent = false;
  return merged;
}

/** The number a stored JSON value holds ("42" counts, as `session.getNumber` reads it); 0 for anything else. */
function numberIn(text: string | undefined): number {
  if (text === undefined) return 0;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 0;
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : 0;
}
