// The model of the differential (model-based) fuzz tests: random sequences of manager operations, run against a
// manager over the memory store (the reference, exact and atomic) and over each other store, every manager with its
// own cookie jars and a clock of its own that moves in step, and after each step what an app can observe must be
// the same: Set-Cookie lines and their Max-Age, the session's values, flashes, flags and expiresAt, the events
// (type, reason, ID), listings, counts and error codes. IDs come from a seeded generateId, the same sequence for
// every store, so they compare as they are.
//
// Shared by the runtimes' files, which bring the stores and say which to compare (each given only what it can do,
// README "Stores: which one"): test/differential.node.test.ts (Redis, SQLite, the cookie stores) and
// test/workerd/differential.workerd.test.ts (Durable Objects, D1).
// What remains and no store promises is compared as a set: the order of keys in getAll() and flashKeys(), of
// sessions used at the same time in listByUser, and of the `destroyed` events of one destroyByUser. The documented
// differences are modelled in `normalise` (an expired session's `expired` or `rejected unknown`; chunk cookies)
// and in `run` (a cookie store's COOKIE_TOO_LARGE ends the comparison).
import { createSessions, SessionError, type Session, type SessionEvent, type Sessions } from '../../src/index.js';
import type { SessionsOptions } from '../../src/index.js';
import { createMemoryStore } from '../../src/memory.js';
import { createCookieJar, type CookieJar } from '../../src/testing.js';
import { afterAll } from 'vitest';
import { describe, expect, it } from '../harness.js';
import { SECRET, T0 } from '../helpers.js';

/** mulberry32: a small seeded PRNG, so a sequence replays from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A store under test: `memory` (the reference) or a name the runtime's file gives one of its stores. */
export type Kind = string;
export interface Group {
  readonly name: string;
  /** The stores compared, memory first. */
  readonly kinds: readonly Kind[];
  /** Admin calls by ID and per user (stateful stores). */
  readonly admin: boolean;
  /** count() and destroyAll(). */
  readonly global: boolean;
  /** With `global`, `false` leaves destroyAll() out (count() is drawn in its place). */
  readonly destroyAll?: boolean;
  /** A client sends a cookie it held before (a stolen copy): only a store that revokes answers as memory does. */
  readonly replay: boolean;
  /**
   * Two requests of one client that overlap (both read, then both commit, maybe with another step between). A
   * cookie store's responses each carry their own request's whole session ("last response wins"), so only the
   * stateful stores, which merge, answer as memory does.
   */
  readonly overlap: boolean;
}
// ---------------------------------------------------------------------------------------------------------------
// Operations

export type Mut =
  | { m: 'set'; key: string; value: unknown }
  | { m: 'delete'; key: string }
  | { m: 'clear' }
  | { m: 'increment'; key: string; by: number }
  | { m: 'add'; key: string; value: unknown }
  | { m: 'setImmutable'; key: string; value: unknown }
  | { m: 'setFlash'; key: string; value: unknown }
  | { m: 'addFlash'; key: string; value: unknown }
  | { m: 'getFlash'; key: string }
  | { m: 'peekFlash'; key: string }
  | { m: 'persistent'; value: boolean };

export interface Settings {
  readonly expires?: number;
  readonly idleTimeout?: number;
  readonly absoluteTimeout?: number;
  readonly touchAfter?: number;
}

export type Op =
  | {
      op: 'login';
      client: number;
      userId?: string;
      data?: Record<string, unknown>;
      expires?: number;
      idleTimeout?: number;
      persistent?: boolean;
      muts: Mut[];
    }
  | { op: 'request'; client: number; muts: Mut[]; end?: 'regenerate' | 'destroy'; peek?: boolean; between?: Op }
  | { op: 'logout'; client: number }
  | { op: 'shift'; client: number }
  | { op: 'updateExpiration'; client: number; seconds: number }
  | { op: 'advance'; sec: number }
  | { op: 'closeBrowser'; client: number }
  | { op: 'replay'; client: number; pick: number }
  | { op: 'getById'; pick: number; muts: Mut[]; destroy: boolean; between?: Op }
  | { op: 'destroyById'; pick: number }
  | { op: 'destroyByUser'; user: string; exceptClient?: number }
  | { op: 'listByUser'; user: string }
  | { op: 'count' }
  | { op: 'destroyAll' }
  | { op: 'overlap'; client: number; a: Part; b: Part; between?: Op; order: 'ab' | 'ba' };

/** One of two overlapping requests of one client: both read the session before either commits. */
export interface Part {
  muts: Mut[];
  /** `login`: `create()` on that request (with a user), whose session is then committed instead. */
  end?: 'regenerate' | 'destroy' | 'login';
}

const CLIENTS = 3;
const USERS = ['ann', 'bob'];
const KEYS = ['a', 'b', 'c'];
// With a long string, a cookie store's session spans two or three chunk cookies.
const VALUES: unknown[] = [1, 2, -3, 'x', '7', true, { o: 1 }, [1, 'two'], null, 'long '.repeat(500)];

function pickOf<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function randomMut(rand: () => number): Mut {
  const key = pickOf(rand, KEYS);
  const value = pickOf(rand, VALUES);
  switch (pickOf(rand, [0, 0, 0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10] as const)) {
    case 0:
      return { m: 'set', key, value };
    case 1:
      return { m: 'delete', key };
    case 2:
      return rand() < 0.3 ? { m: 'clear' } : { m: 'delete', key };
    case 3:
      return { m: 'increment', key, by: pickOf(rand, [1, 1, 5, -2]) };
    case 4:
      return { m: 'add', key, value };
    case 5:
      return { m: 'setImmutable', key, value };
    case 6:
      return { m: 'setFlash', key, value };
    case 7:
      return { m: 'addFlash', key, value };
    case 8:
      return { m: 'getFlash', key };
    case 9:
      return { m: 'peekFlash', key };
    default:
      return { m: 'persistent', value: rand() < 0.5 };
  }
}

function randomMuts(rand: () => number, max: number): Mut[] {
  const n = Math.floor(rand() * (max + 1));
  return Array.from({ length: n }, () => randomMut(rand));
}

function randomSettings(rand: () => number): Settings {
  const s: { -readonly [K in keyof Settings]: Settings[K] } = {};
  if (rand() < 0.5) s.expires = pickOf(rand, [3600, 86_400, 14 * 86_400, Infinity]);
  if (rand() < 0.5) s.idleTimeout = pickOf(rand, [600, 1800, 7200]);
  if (rand() < 0.3) s.absoluteTimeout = pickOf(rand, [7200, 2 * 86_400]);
  if (rand() < 0.2) s.touchAfter = pickOf(rand, [1, 120]);
  return s;
}

function randomPart(rand: () => number): Part {
  const part: Part = { muts: randomMuts(rand, 3) };
  const e = rand();
  if (e < 0.12) part.end = 'regenerate';
  else if (e < 0.18) part.end = 'destroy';
  else if (e < 0.26) part.end = 'login';
  return part;
}

function randomOp(rand: () => number, group: Group, nested = false): Op {
  // Inside a cookie store's request, only time passes: another request of the client would overlap it.
  if (nested && !group.overlap) return { op: 'advance', sec: pickOf(rand, [1, 61, 601, 3601, 86_401]) };
  if (group.overlap && !nested && rand() < 0.12) {
    const client = Math.floor(rand() * CLIENTS);
    const op: Op = {
      op: 'overlap',
      client,
      a: randomPart(rand),
      b: randomPart(rand),
      order: rand() < 0.5 ? 'ab' : 'ba',
    };
    if (rand() < 0.6) op.between = randomOp(rand, group, true);
    return op;
  }
  const client = Math.floor(rand() * CLIENTS);
  const user = pickOf(rand, USERS);
  const r = rand();
  if (r < 0.14) {
    const op: Op = { op: 'login', client, muts: randomMuts(rand, 2) };
    if (rand() < 0.7) op.userId = user;
    if (rand() < 0.4) op.data = { a: pickOf(rand, VALUES), b: 'login' };
    if (rand() < 0.2) op.expires = pickOf(rand, [900, 86_400, Infinity]);
    if (rand() < 0.2) op.idleTimeout = pickOf(rand, [300, 3600]);
    if (rand() < 0.2) op.persistent = rand() < 0.5;
    return op;
  }
  if (r < 0.45) {
    const op: Op = { op: 'request', client, muts: randomMuts(rand, 4) };
    const e = rand();
    if (e < 0.1) op.end = 'regenerate';
    else if (e < 0.15) op.end = 'destroy';
    else if (e < 0.2) op.peek = true;
    // A slow request: the clock moves, or another step runs, between its read and its commit.
    if (!nested && !op.peek && rand() < 0.15) op.between = randomOp(rand, group, true);
    return op;
  }
  if (r < 0.5) return { op: 'logout', client };
  if (r < 0.54) return { op: 'shift', client };
  if (r < 0.58) return { op: 'updateExpiration', client, seconds: pickOf(rand, [-1, 60, 3600, 30 * 86_400]) };
  if (r < 0.74) {
    return {
      op: 'advance',
      sec: pickOf(rand, [1, 2, 30, 59, 61, 121, 301, 599, 601, 899, 1801, 3601, 86_401, 35 * 86_400, 401 * 86_400]),
    };
  }
  if (r < 0.77) return { op: 'closeBrowser', client };
  if (r < 0.8 && group.replay) return { op: 'replay', client, pick: Math.floor(rand() * 1000) };
  if (!group.admin) return { op: 'request', client, muts: randomMuts(rand, 3) };
  if (r < 0.85) {
    const op: Op = { op: 'getById', pick: Math.floor(rand() * 1000), muts: randomMuts(rand, 3), destroy: rand() < 0.2 };
    if (!nested && rand() < 0.5) op.between = randomOp(rand, group, true);
    return op;
  }
  if (r < 0.88) return { op: 'destroyById', pick: Math.floor(rand() * 1000) };
  if (r < 0.92) {
    return rand() < 0.5 ? { op: 'destroyByUser', user } : { op: 'destroyByUser', user, exceptClient: client };
  }
  if (r < 0.96 || !group.global) return { op: 'listByUser', user };
  return r < 0.985 || group.destroyAll === false ? { op: 'count' } : { op: 'destroyAll' };
}

export interface Sequence {
  readonly seed: number;
  readonly settings: Settings;
  readonly ops: Op[];
}

export function randomSequence(seed: number, group: Group, steps: number): Sequence {
  const rand = prng(seed);
  const settings = randomSettings(rand);
  return { seed, settings, ops: Array.from({ length: steps }, () => randomOp(rand, group)) };
}

// ---------------------------------------------------------------------------------------------------------------
// Subjects: one manager per store, with its own clock, jars and event log

/** What a runtime's file gives for a store other than memory: the store on the sequence's clock `now`. */
export type StoreFactory = (
  kind: Kind,
  seq: Sequence,
  now: () => number,
) => Promise<{ store: SessionsOptions['store']; close?: () => void }>;

interface Subject {
  readonly kind: Kind;
  readonly sessions: Sessions;
  readonly jars: CookieJar[];
  /** Every cookie header each client sent, for replays. */
  readonly sent: string[][];
  /** IDs in the order they appeared in events (the same order on every store while they agree). */
  readonly ids: string[];
  readonly events: string[];
  now(): number;
  advance(ms: number): void;
  close(): void;
}

async function subject(kind: Kind, seq: Sequence, factory: StoreFactory): Promise<Subject> {
  let t = T0;
  const now = () => t;
  const idRand = prng(seq.seed ^ 0x5eed);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const generateId = () => Array.from({ length: 22 }, () => alphabet[Math.floor(idRand() * 64)]).join('');
  const made = kind === 'memory' ? { store: createMemoryStore({ now }) } : await factory(kind, seq, now);
  const close = made.close ?? (() => {});
  const store = made.store;
  const ids: string[] = [];
  const events: string[] = [];
  const seen = (id: string | undefined) => {
    if (id !== undefined && !ids.includes(id)) ids.push(id);
  };
  const onEvent = (e: SessionEvent) => {
    const id = 'id' in e ? e.id : undefined;
    seen(id);
    let line: string = e.type;
    if (e.type === 'expired' || e.type === 'rejected') line += `:${e.reason}`;
    if (e.type === 'error') line += `:${e.operation}:${e.error.code}`;
    if (e.type === 'regenerated') line += ` ${e.previousId} ->`;
    if (id !== undefined) line += ` ${id}`;
    if ('userId' in e && e.userId !== undefined) line += ` (${e.userId})`;
    events.push(line);
  };
  const sessions = createSessions({ store, secrets: [SECRET], now, generateId, onEvent, ...seq.settings });
  return {
    kind,
    sessions,
    jars: Array.from({ length: CLIENTS }, () => createCookieJar({ now })),
    sent: Array.from({ length: CLIENTS }, () => []),
    ids,
    events,
    now,
    advance: (ms) => {
      t += ms;
    },
    close: () => close(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running one step and observing it

/** What a call gave: its value, or the SessionError's code (anything else is reported as it is). */
async function attempt<T>(run: () => T | Promise<T>): Promise<{ ok: T } | { error: string }> {
  try {
    return { ok: await run() };
  } catch (error) {
    if (error instanceof SessionError) return { error: error.code };
    return { error: `not a SessionError: ${String(error)}` };
  }
}

function applyMut(s: Session, m: Mut): unknown {
  switch (m.m) {
    case 'set':
      return s.set(m.key, m.value);
    case 'delete':
      return s.delete(m.key);
    case 'clear':
      return s.clear();
    case 'increment':
      return s.increment(m.key, m.by);
    case 'add':
      return s.add(m.key, m.value);
    case 'setImmutable':
      return s.setImmutable(m.key, m.value);
    case 'setFlash':
      return s.setFlash(m.key, m.value);
    case 'addFlash':
      return s.addFlash(m.key, m.value);
    case 'getFlash':
      return s.getFlash(m.key);
    case 'peekFlash':
      return s.peekFlash(m.key);
    case 'persistent':
      s.persistent = m.value;
      return undefined;
  }
}

async function muts(s: Session, list: Mut[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const m of list) {
    const r = await attempt(() => applyMut(s, m));
    out.push('ok' in r ? (r.ok === undefined ? 'ok' : r.ok) : r.error);
  }
  return out;
}

/** What the app sees of a session. */
function state(s: Session) {
  return {
    isNew: s.isNew,
    destroyed: s.destroyed,
    // Sorted: the order of keys after a merge is the store's (memory merges the changes onto the record it holds,
    // a cookie store keeps the request's own object); no store promises one.
    values: Object.fromEntries(Object.entries(s.getAll()).sort(([a], [b]) => (a < b ? -1 : 1))),
    flashes: s.flashKeys().sort(),
    expiresAt: s.expiresAt - T0,
    persistent: s.persistent,
    userId: s.userId,
  };
}

/** The Set-Cookie lines, without their values: name, Max-Age (or a browser-session cookie), cleared or not. */
function cookies(headers: Headers): string[] {
  return headers.getSetCookie().map((line) => {
    const [pair, ...attributes] = line.split('; ');
    const name = pair!.slice(0, pair!.indexOf('='));
    const maxAge = attributes.find((a) => a.startsWith('Max-Age='));
    return `${name} ${maxAge ?? 'session'}`;
  });
}

function requestOf(x: Subject, client: number, cookie = x.jars[client]!.header()): Request {
  if (cookie !== undefined) x.sent[client]!.push(cookie);
  return new Request('https://example.com/', cookie === undefined ? {} : { headers: { cookie } });
}

async function committed(x: Subject, client: number, s: Session) {
  const r = await attempt(() => s.commit());
  if (!('ok' in r)) return { commit: r.error };
  x.jars[client]!.apply(r.ok);
  return { setCookie: cookies(r.ok) };
}

/** Runs `op` on `x`; resolves what the app could observe (JSON-comparable). */
async function step(x: Subject, op: Op): Promise<Record<string, unknown>> {
  const sessions = x.sessions;
  switch (op.op) {
    case 'login': {
      const options: Record<string, unknown> = {};
      for (const k of ['userId', 'data', 'expires', 'idleTimeout', 'persistent'] as const) {
        if (op[k] !== undefined) options[k] = op[k];
      }
      const made = await attempt(() => sessions.create(requestOf(x, op.client), options));
      if (!('ok' in made)) return { create: made.error };
      const s = made.ok;
      const results = await muts(s, op.muts);
      const commit = await committed(x, op.client, s);
      return { results, ...commit, after: state(s) };
    }
    case 'request': {
      const request = requestOf(x, op.client);
      if (op.peek) {
        const got = await attempt(() => sessions.get(request));
        if (!('ok' in got)) return { get: got.error };
        return { got: got.ok === null ? null : state(got.ok) };
      }
      const started = await attempt(() => sessions.start(request));
      if (!('ok' in started)) return { start: started.error };
      const s = started.ok;
      const before = state(s);
      const results = await muts(s, op.muts);
      let end: unknown;
      if (op.end !== undefined) {
        const r = await attempt(() => (op.end === 'regenerate' ? s.regenerate() : s.destroy()));
        end = 'ok' in r ? 'ok' : r.error;
      }
      const between = op.between === undefined ? undefined : await step(x, op.between);
      const commit = await committed(x, op.client, s);
      return { before, results, end, between, ...commit, after: state(s) };
    }
    case 'logout': {
      const r = await attempt(() => sessions.destroy(requestOf(x, op.client)));
      if (!('ok' in r)) return { destroy: r.error };
      x.jars[op.client]!.apply(r.ok);
      return { setCookie: cookies(r.ok) };
    }
    case 'shift':
    case 'updateExpiration': {
      const request = requestOf(x, op.client);
      const r = await attempt(() =>
        op.op === 'shift' ? sessions.shiftExpiration(request) : sessions.updateExpiration(request, op.seconds),
      );
      if (!('ok' in r)) return { [op.op]: r.error };
      x.jars[op.client]!.apply(r.ok);
      return { setCookie: cookies(r.ok) };
    }
    case 'advance':
      x.advance(op.sec * 1000);
      return {};
    case 'closeBrowser':
      x.jars[op.client]!.closeBrowser();
      return { cookie: x.jars[op.client]!.header() !== undefined };
    case 'replay': {
      const old = x.sent[op.client]!;
      if (old.length === 0) return { replay: 'none' };
      const s = await attempt(() => sessions.start(requestOf(x, op.client, old[op.pick % old.length])));
      if (!('ok' in s)) return { start: s.error };
      // The cookie's answer is not applied: the client's jar keeps what it has (a stolen copy was replayed).
      const r = await attempt(() => s.ok.commit());
      return { after: state(s.ok), ...('ok' in r ? { setCookie: cookies(r.ok) } : { commit: r.error }) };
    }
    case 'getById': {
      if (x.ids.length === 0) return { getById: 'no id' };
      const id = x.ids[op.pick % x.ids.length]!;
      const got = await attempt(() => sessions.getById(id));
      if (!('ok' in got)) return { getById: got.error };
      if (got.ok === null) return { got: null };
      const s = got.ok;
      const before = state(s);
      const results = await muts(s, op.muts);
      if (op.destroy) s.destroy();
      const between = op.between === undefined ? undefined : await step(x, op.between);
      const r = await attempt(() => s.commit());
      const commit = 'ok' in r ? { setCookie: cookies(r.ok) } : { commit: r.error };
      return { before, results, between, ...commit, after: state(s) };
    }
    case 'destroyById': {
      if (x.ids.length === 0) return { destroyById: 'no id' };
      const r = await attempt(() => sessions.destroyById(x.ids[op.pick % x.ids.length]!));
      return { destroyById: 'ok' in r ? 'ok' : r.error };
    }
    case 'destroyByUser': {
      let except: string | undefined;
      if (op.exceptClient !== undefined) {
        const current = await attempt(() => sessions.get(requestOf(x, op.exceptClient!)));
        if (!('ok' in current)) return { get: current.error };
        except = current.ok?.id;
      }
      const before = x.events.length;
      const r = await attempt(() => sessions.destroyByUser(op.user, { except }));
      // A user's sessions are a set: their `destroyed` events come in the store's order.
      x.events.push(...x.events.splice(before).sort());
      return { except: except !== undefined, destroyByUser: 'ok' in r ? r.ok : r.error };
    }
    case 'listByUser': {
      const r = await attempt(() => sessions.listByUser(op.user));
      if (!('ok' in r)) return { listByUser: r.error };
      return {
        // "most recently used first": sessions used at the same time come in the store's order.
        listByUser: [...r.ok]
          .sort((a, b) => b.accessedAt - a.accessedAt || (a.id < b.id ? -1 : 1))
          .map((i) => ({
            id: i.id,
            device: i.device,
            createdAt: i.createdAt - T0,
            accessedAt: i.accessedAt - T0,
            expiresAt: i.expiresAt - T0,
            persistent: i.persistent,
          })),
      };
    }
    case 'overlap': {
      const requests = [requestOf(x, op.client), requestOf(x, op.client)];
      const started = await Promise.all(requests.map((r) => attempt(() => sessions.start(r))));
      const out: Record<string, unknown> = {};
      const live: Session[] = [];
      for (const [i, part] of [op.a, op.b].entries()) {
        const s = started[i]!;
        if (!('ok' in s)) {
          out[`start${i}`] = s.error;
          continue;
        }
        live[i] = s.ok;
        out[`before${i}`] = state(s.ok);
        out[`results${i}`] = await muts(s.ok, part.muts);
        if (part.end === 'login') {
          const r = await attempt(() => sessions.create(requests[i]!, { userId: USERS[i] }));
          out[`end${i}`] = 'ok' in r ? 'ok' : r.error;
          if ('ok' in r) live[i] = r.ok;
        } else if (part.end !== undefined) {
          const r = await attempt(() => (part.end === 'regenerate' ? s.ok.regenerate() : s.ok.destroy()));
          out[`end${i}`] = 'ok' in r ? 'ok' : r.error;
        }
      }
      if (op.between !== undefined) out.between = await step(x, op.between);
      for (const i of op.order === 'ab' ? [0, 1] : [1, 0]) {
        const s = live[i];
        if (s === undefined) continue;
        Object.assign(
          out,
          Object.fromEntries(Object.entries(await committed(x, op.client, s)).map(([k, v]) => [k + i, v])),
        );
        out[`after${i}`] = state(s);
      }
      return out;
    }
    case 'count': {
      const r = await attempt(() => sessions.count());
      return { count: 'ok' in r ? r.ok : r.error };
    }
    case 'destroyAll': {
      const r = await attempt(() => sessions.destroyAll());
      return { destroyAll: 'ok' in r ? 'ok' : r.error };
    }
  }
}

/**
 * The documented differences, applied to a store's observation before it is compared with memory's. Each is
 * named after the README's words.
 */
function normalise(kind: Kind, observed: Record<string, unknown>): Record<string, unknown> {
  // "A session larger than one cookie is split over numbered cookies: `__Host-sid=<n>.<part>`, `__Host-sid.1`, …"
  // (the cookie store): the chunk cookies' lines are not compared, the main cookie's are.
  if (kind === 'sealed' || kind === 'signed') {
    const unchunked = (o: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(o).map(([k, v]) => [
          k,
          k.startsWith('setCookie')
            ? (v as string[]).filter((line) => !/^__Host-sid\.\d+ /.test(line))
            : v !== null && typeof v === 'object' && !Array.isArray(v) && k === 'between'
              ? unchunked(v as Record<string, unknown>)
              : v,
        ]),
      );
    observed = unchunked(observed);
  }
  // "`expired` comes when an expired session's cookie comes back while the store still holds its record (memory,
  // SQL until purged); Redis [...] delete[s] a record at its expiry [...] and a cookie that comes back after that is
  // `rejected` `unknown`." The memory store drops an expired record at the first read that finds it (a getById, a
  // listing, a count's sweep, a sweep as the map grows); SQL keeps it until purged; Redis here until its padded TTL.
  // So whether an expired session's cookie (or a getById of it) gives `expired` or `rejected unknown` (or, for
  // getById, nothing) depends on the store: these events are not compared. What the request does is.
  const events = (observed.events as string[]).filter((e) => !/^expired:|^rejected:unknown/.test(e));
  return { ...observed, events };
}

// ---------------------------------------------------------------------------------------------------------------
// Running and comparing a sequence

/** What the reference's observations were, counted, to see what the sequences reach (DIFF_STATS=1). */
function tally(counts: Map<string, number>, op: Op, o: Record<string, unknown>): void {
  const facts: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (/^(start|commit|create|destroy|shift|updateExpiration|getById|get|end)\d?$/.test(k)) facts.push(`${k}=${v}`);
    if (/^before\d?$/.test(k)) facts.push(`${k}.isNew=${(v as { isNew: boolean }).isNew}`);
    if (/^results\d?$/.test(k)) for (const r of v as unknown[]) if (/^[A-Z_]+$/.test(String(r))) facts.push(String(r));
    if (/^setCookie\d?$/.test(k)) facts.push(`${k}=${(v as string[]).join(',') || 'none'}`);
  }
  for (const e of o.events as string[]) facts.push(e.split(' ')[0]!);
  if (op.op === 'overlap' && op.between !== undefined) facts.push(`between ${op.between.op}`);
  for (const f of facts) counts.set(`${op.op}: ${f}`, (counts.get(`${op.op}: ${f}`) ?? 0) + 1);
}
interface Difference {
  readonly step: number;
  readonly kind: Kind;
  readonly op: Op;
  readonly memory: unknown;
  readonly other: unknown;
}

/** How a runtime's file runs the model: its stores, how many sequences, and the documented differences it adds. */
export interface Campaign {
  readonly title: string;
  readonly groups: readonly Group[];
  readonly factory: StoreFactory;
  /** Sequences per group, steps per sequence, and the first seed (DIFF_RUNS, DIFF_STEPS, DIFF_SEED). */
  readonly runs: number;
  readonly steps: number;
  readonly seed: number;
  /** DIFF_STATS=1: print what the reference observed, counted. */
  readonly stats?: boolean;
  /** Per group, in ms. */
  readonly timeout: number;
  /** The runtime's own documented differences, applied after `normalise`'s to a store's observation. */
  readonly normalise?: (kind: Kind, observed: Record<string, unknown>, op: Op) => Record<string, unknown>;
}

async function run(
  c: Campaign,
  group: Group,
  seq: Sequence,
  counts?: Map<string, number>,
): Promise<Difference | undefined> {
  const xs = await Promise.all(group.kinds.map((k) => subject(k, seq, c.factory)));
  try {
    for (const [i, op] of seq.ops.entries()) {
      const seen: string[] = [];
      for (const x of xs) {
        const before = x.events.length;
        const observed = await step(x, op);
        observed.events = x.events.slice(before);
        const common = normalise(x.kind, observed);
        seen.push(JSON.stringify(c.normalise === undefined ? common : c.normalise(x.kind, common, op)));
      }
      if (counts !== undefined) tally(counts, op, JSON.parse(seen[0]!) as Record<string, unknown>);
      for (let k = 1; k < xs.length; k++) {
        // "A session that would need more than `maxChunks` cookies makes `commit()` fail with `COOKIE_TOO_LARGE`":
        // the memory store has no such limit, so from there on the two hold different sessions. The sequence ends.
        if (seen[k] !== seen[0] && seen[k]!.includes('"COOKIE_TOO_LARGE"') && !seen[0]!.includes('COOKIE_TOO_LARGE')) {
          return undefined;
        }
        if (seen[k] !== seen[0]) {
          return { step: i, kind: xs[k]!.kind, op, memory: JSON.parse(seen[0]!), other: JSON.parse(seen[k]!) };
        }
      }
    }
    return undefined;
  } finally {
    for (const x of xs) x.close();
  }
}

/** A shorter sequence that still shows a difference on the same store: drops chunks of steps, then single ones. */
async function shrink(
  c: Campaign,
  group: Group,
  seq: Sequence,
  found: Difference,
): Promise<{ seq: Sequence; found: Difference }> {
  let best = { seq: { ...seq, ops: seq.ops.slice(0, found.step + 1) }, found };
  for (let chunk = Math.max(1, Math.floor(best.seq.ops.length / 2)); chunk >= 1; chunk = Math.floor(chunk / 2)) {
    for (let at = 0; at < best.seq.ops.length;) {
      const ops = [...best.seq.ops.slice(0, at), ...best.seq.ops.slice(at + chunk)];
      const candidate = { ...best.seq, ops };
      const again = ops.length === 0 ? undefined : await run(c, group, candidate);
      if (again !== undefined && again.kind === found.kind) {
        best = { seq: { ...candidate, ops: ops.slice(0, again.step + 1) }, found: again };
      } else {
        at += chunk;
      }
    }
    if (chunk === 1) break;
  }
  return best;
}

/**
 * One test per group: `runs` sequences of `steps` steps; a failing sequence is shrunk (a delta loop) and reported
 * with its `replay` variables (with `-t <group>`).
 */
export function describeDifferential(c: Campaign): void {
  describe(c.title, () => {
    const counts = c.stats === true ? new Map<string, number>() : undefined;
    afterAll(() => {
      if (counts !== undefined)
        console.log(
          [...counts]
            .sort()
            .map(([k, n]) => `${n}\t${k}`)
            .join('\n'),
        );
    });
    for (const [g, group] of c.groups.entries()) {
      it(`${group.name}: ${c.runs} sequences of ${c.steps} steps`, { timeout: c.timeout }, async () => {
        for (let r = 0; r < c.runs; r++) {
          const seed = (c.seed + g * 1_000_003 + r * 7919) >>> 0;
          const seq = randomSequence(seed, group, c.steps);
          const found = await run(c, group, seq, counts);
          if (found === undefined) continue;
          const shrunk = await shrink(c, group, seq, found);
          const report = {
            replay: `DIFF_SEED=${seed - g * 1_000_003} DIFF_RUNS=1 DIFF_STEPS=${c.steps}`,
            seed,
            settings: shrunk.seq.settings,
            ops: shrunk.seq.ops,
            step: shrunk.found.step,
            store: shrunk.found.kind,
            memory: shrunk.found.memory,
            [shrunk.found.kind]: shrunk.found.other,
          };
          const lines = Object.entries(report).map(([k, v]) =>
            k === 'ops'
              ? `ops:\n${(v as Op[]).map((o) => `  ${JSON.stringify(o)}`).join('\n')}`
              : `${k}: ${JSON.stringify(v)}`,
          );
          const text = lines.join('\n').replace(/(long ){20,}/g, '<long string>');
          expect.fail(`the ${found.kind} store differs from memory:\n${text}`);
        }
      });
    }
  });
}
