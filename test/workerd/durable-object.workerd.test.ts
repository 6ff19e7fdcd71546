// The Durable Object store inside workerd, on the real SESSIONS_DO binding (SQLite-backed SessionDurableObject),
// wrapped only to count RPC calls and to inject the failures a stub produces.
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { createDurableObjectStore, type SessionDurableObject } from '../../src/durable-object.js';
import { createSessions, SessionError } from '../../src/index.js';
import { describeStoreConformance } from '../conformance.js';
import { describe, expect, it } from '../harness.js';
import {
  cookiePair,
  createClock,
  expectUnparsableRecordIsCorrupt,
  record,
  request,
  SECRET,
  sessionAboutToIdleOut,
  times,
} from '../helpers.js';
import { codes, retryableError, wrapDO } from './bindings.js';
import {
  describeLifecycleRaces,
  describeOverlappingRequests,
  expectDestroyedMeanwhileStaysDestroyed,
} from '../races.js';

describeStoreConformance(
  'durable-object (workerd)',
  (clock) => createDurableObjectStore(env.SESSIONS_DO, { now: clock.now }),
  { perUser: true },
);
describeOverlappingRequests('durable-object (workerd)', (clock) =>
  createDurableObjectStore(env.SESSIONS_DO, { now: clock.now }),
);
describeLifecycleRaces(
  'durable-object (workerd)',
  (clock) => createDurableObjectStore(env.SESSIONS_DO, { now: clock.now }),
  {
    exact: true,
  },
);

/** RPC calls per method, all zero but those given. */
function calls(counts: Partial<Record<keyof ReturnType<typeof wrapDO>['calls'], number>>) {
  return { get: 0, create: 0, update: 0, destroy: 0, index: 0, cancel: 0, ...counts };
}

let ids = 0;
function newId(label: string): string {
  return `${label}-${++ids}-${crypto.randomUUID()}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

function setup(options: { idleTimeout?: number; fault?: Parameters<typeof wrapDO>[1] } = {}) {
  const clock = createClock();
  const rpc = wrapDO(env.SESSIONS_DO, options.fault);
  const store = createDurableObjectStore(rpc.ns, { now: clock.now });
  const sessions = createSessions({
    store,
    secrets: [SECRET],
    now: clock.now,
    expires: 3600,
    ...(options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout, touchAfter: 60 }),
  });
  return { clock, rpc, store, sessions };
}

async function login(sessions: ReturnType<typeof setup>['sessions'], data: Record<string, unknown> = { n: 1 }) {
  const session = await sessions.start(request());
  for (const [k, v] of Object.entries(data)) session.set(k, v);
  const cookie = cookiePair(await session.commit());
  return { cookie, id: session.id };
}

function stubOf(id: string): DurableObjectStub<SessionDurableObject> {
  return env.SESSIONS_DO.get(env.SESSIONS_DO.idFromName(id));
}

/** The object's SQLite rows (but those remembering operations), read inside the object. */
function rows(id: string, columns = 'key, expires_at, deadline'): Promise<Record<string, unknown>[]> {
  return runInDurableObject(stubOf(id), (_instance, state) => {
    const present =
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'sessions'").toArray().length > 0;
    return present ? state.storage.sql.exec(`SELECT ${columns} FROM sessions WHERE state != 'op'`).toArray() : [];
  });
}

/** Moves the `since` of the row of `id` back by `ms`: as if its move (or its last write) began that long before. */
function backdate(id: string, ms: number): Promise<void> {
  return runInDurableObject(stubOf(id), (_instance, state) => {
    state.storage.sql.exec('UPDATE sessions SET since = since - ? WHERE key = ?', ms, id);
  });
}

/** The error a failing object throws (not retryable: the store does not send the call again). */
const DOWN = new Error('internal error');

/**
 * Faults for `setup` that fail the next call of a method once `arm`ed, with DOWN: before it reaches the object, or
 * with `after`, once the object has done it (its answer lost).
 */
function failNext() {
  const armed: { method: string; after: boolean }[] = [];
  return {
    fault(method: string) {
      const i = armed.findIndex((a) => a.method === method);
      if (i < 0) return undefined;
      const { after } = armed.splice(i, 1)[0]!;
      return { error: DOWN, after };
    },
    arm(method: keyof ReturnType<typeof calls>, after = false) {
      armed.push({ method, after });
    },
  };
}

type Sessions = ReturnType<typeof setup>['sessions'];

/** A login, and a request of it about to regenerate (`first`, its `commit()` not made yet). */
async function aboutToRegenerate(sessions: Sessions) {
  const { cookie, id: oldId } = await login(sessions);
  const first = await sessions.start(request(cookie));
  first.regenerate();
  return { cookie, oldId, first };
}

/** The next request of `cookie` regenerates, and the move is made: a new cookie, the session's `n` with it. */
async function expectRegenerateMade(sessions: Sessions, cookie: string): Promise<string> {
  const again = await sessions.start(request(cookie));
  again.regenerate();
  const renewed = cookiePair(await again.commit());
  expect(again.destroyed).toBe(false);
  expect((await sessions.start(request(renewed))).get('n')).toBe(1);
  return renewed;
}

describe('durable-object store: options', () => {
  it('refuses null or a non-object as options (INVALID_OPTION); undefined means the defaults', () => {
    for (const options of [null, [], 'now']) {
      expect(() => createDurableObjectStore(env.SESSIONS_DO, options as never)).toThrow(
        expect.objectContaining({
          code: 'INVALID_OPTION',
          message: expect.stringMatching(/createDurableObjectStore: options must be an object/),
        }),
      );
    }
    expect(() => createDurableObjectStore(env.SESSIONS_DO, undefined)).not.toThrow();
  });

  it('refuses a binding missing from the configuration and a clock that is not a function (INVALID_OPTION)', () => {
    expect(() => createDurableObjectStore(undefined as never)).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(/createDurableObjectStore: the Durable Object namespace needs idFromName/),
      }),
    );
    expect(() => createDurableObjectStore(env.SESSIONS_DO, { now: 5 as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/now must be a function/) }),
    );
  });
});

describe('durable-object store: RPC budget on the real binding', () => {
  it('makes no call for an anonymous request', async () => {
    const { rpc, sessions } = setup();
    const session = await sessions.start(request('theme=dark'));
    expect((await session.commit()).getSetCookie()).toEqual([]);
    expect(rpc.total()).toBe(0);
    expect(rpc.stubs()).toBe(0);
  });

  it('makes 1 read and no write for a returning read-only request', async () => {
    const { rpc, sessions } = setup();
    const { cookie } = await login(sessions);
    const before = { ...rpc.calls };
    const session = await sessions.start(request(cookie));
    expect(session.get('n')).toBe(1);
    await session.commit();
    expect(rpc.calls.get - before.get).toBe(1);
    expect(rpc.total() - Object.values(before).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('makes no write for read-only requests inside touchAfter; the due touch is one call', async () => {
    const { rpc, sessions, clock } = setup({ idleTimeout: 600 });
    const { cookie } = await login(sessions);
    expect(rpc.calls.create).toBe(1);
    for (const seconds of [10, 20, 25]) {
      clock.advanceSec(seconds);
      await (await sessions.start(request(cookie))).commit();
    }
    expect(rpc.calls).toEqual(calls({ get: 3, create: 1 }));
    clock.advanceSec(10);
    await (await sessions.start(request(cookie))).commit();
    expect(rpc.calls).toEqual(calls({ get: 4, create: 1, update: 1 }));
  });

  it('changes an existing session with one update call', async () => {
    const { rpc, sessions } = setup();
    const { cookie } = await login(sessions);
    const session = await sessions.start(request(cookie));
    session.set('m', 2);
    await session.commit();
    expect(rpc.calls).toEqual(calls({ get: 1, create: 1, update: 1 }));
  });

  it('logs out with one destroy call, and regenerates with three', async () => {
    const { rpc, sessions } = setup();
    const { cookie } = await login(sessions);
    const session = await sessions.start(request(cookie));
    session.regenerate();
    const renewed = cookiePair(await session.commit());
    // The move: an update that names the new ID, its create, and a destroy of the old ID (which forwards).
    expect(rpc.calls).toEqual(calls({ get: 1, create: 2, update: 1, destroy: 1 }));
    await sessions.destroy(request(renewed));
    expect(rpc.calls).toEqual(calls({ get: 2, create: 2, update: 1, destroy: 2 }));
  });
});

describe('durable-object store: expiry by alarm', () => {
  it('deletes an expired row without any request, then frees the object', async () => {
    const { store, clock } = setup();
    const id = newId('alarm-expired');
    await store.create(id, record({ expiresAt: clock.now() + 60_000 }, clock.now()));
    expect(await rows(id)).toHaveLength(1);
    // workerd's clock cannot be moved: move the row's deadline (object clock) into the past instead.
    await runInDurableObject(stubOf(id), (_instance, state) => {
      state.storage.sql.exec('UPDATE sessions SET deadline = ?', Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stubOf(id))).toBe(true);
    expect(await rows(id)).toEqual([]);
    expect(await runInDurableObject(stubOf(id), (_instance, state) => state.storage.getAlarm())).toBeNull();
    expect(await store.get(id)).toBeNull();
  });

  it('reschedules, and does not delete, a session refreshed after its alarm was set', async () => {
    const { store, clock } = setup();
    const id = newId('alarm-refreshed');
    const before = Date.now();
    await store.create(id, record({ expiresAt: clock.now() + 120_000 }, clock.now()));
    const first = await runInDurableObject(stubOf(id), (_instance, state) => state.storage.getAlarm());
    expect(first).toBeGreaterThanOrEqual(before + 120_000);
    await store.update(id, {}, times(clock.now(), clock.now() + 3_600_000));

    expect(await runDurableObjectAlarm(stubOf(id))).toBe(true);
    expect(await rows(id)).toHaveLength(1);
    const next = await runInDurableObject(stubOf(id), (_instance, state) => state.storage.getAlarm());
    expect(next).toBeGreaterThanOrEqual(first! + 3_480_000);
    expect((await store.get(id))?.expiresAt).toBe(clock.now() + 3_600_000);
  });

  it('is idempotent: running the alarm twice changes nothing more', async () => {
    const { store, clock } = setup();
    const live = newId('alarm-twice-live');
    const dead = newId('alarm-twice-dead');
    await store.create(live, record({}, clock.now()));
    await store.create(dead, record({}, clock.now()));
    await runInDurableObject(stubOf(dead), (_instance, state) => {
      state.storage.sql.exec('UPDATE sessions SET deadline = ?', Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stubOf(live))).toBe(true);
    expect(await runDurableObjectAlarm(stubOf(live))).toBe(true); // re-armed for the same deadline
    const alarm = await runInDurableObject(stubOf(live), (_instance, state) => state.storage.getAlarm());
    expect(await rows(live)).toHaveLength(1);
    expect(alarm).not.toBeNull();

    expect(await runDurableObjectAlarm(stubOf(dead))).toBe(true);
    expect(await runDurableObjectAlarm(stubOf(dead))).toBe(false); // nothing left to schedule
    await runInDurableObject(stubOf(dead), (instance: SessionDurableObject) => instance.alarm());
    expect(await rows(dead)).toEqual([]);
    expect(await store.get(live)).not.toBeNull();
  });

  it('keeps a record that outlives what an alarm can be set to, re-checking it within a year', async () => {
    const { store, clock } = setup();
    const id = newId('far-future');
    const farAway = clock.now() + 200 * 365 * 24 * 3600 * 1000;
    await store.create(id, record({ endsAt: farAway, expiresAt: farAway }, clock.now()));
    const alarm = await runInDurableObject(stubOf(id), (_instance, state) => state.storage.getAlarm());
    expect(alarm).toBeLessThanOrEqual(Date.now() + 365 * 24 * 3600 * 1000);
    expect(await runDurableObjectAlarm(stubOf(id))).toBe(true);
    expect((await store.get(id))?.expiresAt).toBe(farAway);
  });
});

describe('durable-object store: strong consistency through the manager', () => {
  it('100 parallel increments of one counter, each its own request, end at exactly 100', async () => {
    const { sessions } = setup();
    const { cookie } = await login(sessions, { visits: 0 });
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        const session = await sessions.start(request(cookie));
        session.increment('visits');
        await session.commit();
      }),
    );
    expect((await sessions.start(request(cookie))).get('visits')).toBe(100);
  });

  it('keeps both of two concurrent commits that change different keys', async () => {
    const { sessions } = setup();
    const { cookie } = await login(sessions);
    const [a, b] = await Promise.all([sessions.start(request(cookie)), sessions.start(request(cookie))]);
    a.set('a', 1);
    b.set('b', 2);
    b.delete('n');
    await Promise.all([a.commit(), b.commit()]);
    expect((await sessions.start(request(cookie))).getAll()).toEqual({ a: 1, b: 2 });
  });

  it('never resurrects a session destroyed while another request was committing to it', async () => {
    const { sessions } = setup();
    const { cookie } = await login(sessions);
    await expectDestroyedMeanwhileStaysDestroyed(sessions, cookie, (stale) => stale.set('late', true));

    // And racing, in either order.
    const second = await login(sessions);
    const racer = await sessions.start(request(second.cookie));
    racer.set('late', true);
    await Promise.all([racer.commit(), sessions.destroy(request(second.cookie))]);
    expect((await sessions.start(request(second.cookie))).isNew).toBe(true);
  });

  it('never resurrects through a lifetime-only change (remember-me off) racing a destroy', async () => {
    const { sessions } = setup();
    const { cookie } = await login(sessions);
    // No data change: only times, which still go through update().
    await expectDestroyedMeanwhileStaysDestroyed(sessions, cookie, (stale) => (stale.persistent = false));
  });

  it('never carries a session destroyed meanwhile over to a new ID on regenerate', async () => {
    const { sessions } = setup();
    const { cookie } = await login(sessions);
    const stale = await expectDestroyedMeanwhileStaysDestroyed(sessions, cookie, (s) => s.regenerate());
    expect(stale.destroyed).toBe(true);
  });

  it('rejects the old cookie as soon as destroy returns, from any stub', async () => {
    const { sessions, store } = setup();
    const { cookie, id } = await login(sessions);
    await sessions.destroy(request(cookie));
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(id)).toBeNull();
    expect(await store.get(id)).toBeNull();
  });

  it('does not resurrect on update or touch of a missing or expired record', async () => {
    const { store, clock } = setup();
    const id = newId('missing');
    const now = clock.now();
    expect(await store.update(id, { set: { a: '1' } }, times(now, now + 60_000))).toBeNull();
    expect(await store.update(id, {}, times(now, now + 60_000))).toBeNull();
    expect(await store.get(id)).toBeNull();
    await store.create(id, record({ expiresAt: now + 1000 }, now));
    clock.advance(1000);
    expect(await store.update(id, { set: { a: '1' } }, times(clock.now(), clock.now() + 60_000))).toBeNull();
    expect(await store.update(id, {}, times(clock.now(), clock.now() + 60_000))).toBeNull();
    // Until the alarm deletes it, get returns it as it was: expired (the manager reports `expired`).
    const after = await store.get(id);
    expect(after?.expiresAt).toBe(clock.now());
    expect(after?.data).toEqual(record({}, now).data);
  });
});

describe('durable-object store: ids, limits and failures', () => {
  it('an unknown or foreign id is just no session', async () => {
    const store = createDurableObjectStore(env.SESSIONS_DO);
    expect(await store.get(newId('never-stored'))).toBeNull();
    expect(await store.get('../../etc/passwd ✓ '.repeat(3))).toBeNull();
    await expect(store.destroy(newId('never-stored'), Date.now() + 60_000)).resolves.toBe(false);
  });

  it('leaves an object that holds no session empty: reads, touches and updates make no table', async () => {
    const { store, sessions, clock } = setup();
    const empty = async (id: string) =>
      runInDurableObject(stubOf(id), async (_instance, state) => ({
        tables: state.storage.sql
          .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sessions'")
          .toArray().length,
        alarm: await state.storage.getAlarm(),
      }));
    const id = newId('never-stored');
    const now = clock.now();
    expect(await store.get(id)).toBeNull();
    expect(await store.update(id, {}, times(now, now + 60_000))).toBeNull();
    expect(await store.update(id, { set: { a: '1' } }, times(now, now + 60_000))).toBeNull();
    expect(await empty(id)).toEqual({ tables: 0, alarm: null });
    // A destroyed session keeps only its end (no record) until its deadline; a replayed cookie adds nothing.
    const { cookie, id: loggedIn } = await login(sessions);
    await sessions.destroy(request(cookie));
    expect(await rows(loggedIn, 'value, state')).toEqual([{ value: null, state: 'ended' }]);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(await rows(loggedIn)).toHaveLength(1);
    await runInDurableObject(stubOf(loggedIn), (_instance, state) => {
      state.storage.sql.exec('UPDATE sessions SET deadline = ?', Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stubOf(loggedIn))).toBe(true);
    expect(await empty(loggedIn)).toEqual({ tables: 0, alarm: null });
  });

  it('two commits that together pass 2 MB: the second is STORE_LIMIT, the stored record keeps the first', async () => {
    const { sessions } = setup();
    const { cookie } = await login(sessions);
    const a = await sessions.start(request(cookie));
    const b = await sessions.start(request(cookie));
    a.set('a', 'x'.repeat(1_100_000));
    await a.commit();
    b.set('b', 'y'.repeat(1_100_000));
    await expect(b.commit()).rejects.toMatchObject({
      name: 'SessionError',
      code: 'STORE_LIMIT',
      // The object's refusal, prefixed once.
      message: expect.stringMatching(/^edge-sessions: durable-object store: .*2 MB/),
    });
    const back = await sessions.start(request(cookie));
    expect(back.get('a')).toHaveLength(1_100_000);
    expect(back.has('b')).toBe(false);
  });

  it('refuses a record over 2 MB with STORE_LIMIT (a create before any call); stores one just under it', async () => {
    const { store, rpc, clock } = setup();
    const now = clock.now();
    const id = newId('size');
    const big = record({ data: { blob: 'x'.repeat(2_000_000) } }, now);
    await expect(store.create(id, big)).rejects.toMatchObject({
      name: 'SessionError',
      code: 'STORE_LIMIT',
      message: expect.stringMatching(/2 MB/),
    });
    expect(rpc.total()).toBe(0);
    const fits = record({ data: { blob: 'x'.repeat(1_990_000) } }, now);
    await store.create(id, fits);
    expect((await store.get(id))?.data.blob).toHaveLength(1_990_000);
    await expect(
      store.update(id, { set: { more: '"x"'.repeat(10_000) } }, times(now, now + 60_000)),
    ).rejects.toMatchObject({
      code: 'STORE_LIMIT',
    });
    expect((await store.get(id))?.data.blob).toHaveLength(1_990_000);
  });

  it('a session over 2 MB fails its commit with STORE_LIMIT in the error chain', async () => {
    const { sessions } = setup();
    const session = await sessions.start(request());
    session.set('blob', 'x'.repeat(2_000_000));
    const error = await session.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(codes(error)).toContain('STORE_LIMIT');
  });

  it('retries once on a fresh stub when a call fails with a retryable error', async () => {
    let failures = 1;
    const { sessions, rpc } = setup({
      fault: (method) => (method === 'get' && failures-- > 0 ? { error: retryableError() } : undefined),
    });
    const { cookie } = await login(sessions);
    const stubsBefore = rpc.stubs();
    const session = await sessions.start(request(cookie));
    expect(session.get('n')).toBe(1);
    expect(rpc.calls.get).toBe(2);
    expect(rpc.stubs() - stubsBefore).toBe(2);
  });

  it('does not apply an update twice when the connection drops after the object applied it', async () => {
    let drop = 1;
    const { sessions, rpc } = setup({
      fault: (method) => (method === 'update' && drop-- > 0 ? { error: retryableError(), after: true } : undefined),
    });
    const { cookie } = await login(sessions, { visits: 0 });
    const session = await sessions.start(request(cookie));
    session.increment('visits');
    await session.commit();
    expect(rpc.calls.update).toBe(2);
    expect((await sessions.start(request(cookie))).get('visits')).toBe(1);
  });

  it('gives up after one retry, and never retries an overloaded object', async () => {
    const lost = retryableError();
    const overloaded = Object.assign(new Error('Durable Object is overloaded. Too many requests queued.'), {
      retryable: true,
      overloaded: true,
    });
    let error: Error = lost;
    const { store, rpc } = setup({ fault: (method) => (method === 'get' ? { error } : undefined) });
    await expect(store.get(newId('flaky'))).rejects.toBe(lost);
    expect(rpc.calls.get).toBe(2);
    error = overloaded;
    await expect(store.get(newId('overloaded'))).rejects.toBe(overloaded);
    expect(rpc.calls.get).toBe(3);
  });

  it('through the manager, a failing object surfaces as a SessionError with the cause', async () => {
    const down = new Error('internal error');
    let failing = false;
    const { sessions } = setup({ fault: (method) => (failing && method === 'update' ? { error: down } : undefined) });
    const { cookie } = await login(sessions);
    failing = true;
    const session = await sessions.start(request(cookie));
    session.set('n', 2);
    await expect(session.commit()).rejects.toMatchObject({ name: 'SessionError', code: 'STORE_WRITE', cause: down });
    failing = false;
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });
});

describe('durable-object store: interleavings inside a regenerate (gates on the real binding)', () => {
  it('a regenerate cut short (its create failed) leaves the session its old ID, the ID a destroy names', async () => {
    const down = new Error('internal error');
    let failing = false;
    const { sessions, store, clock } = setup({
      fault: (method) => (failing && method === 'create' ? { error: down } : undefined),
    });
    const { cookie, id: oldId } = await login(sessions);
    const renewing = await sessions.start(request(cookie));
    renewing.regenerate();
    failing = true;
    await expect(renewing.commit()).rejects.toMatchObject({ name: 'SessionError', cause: down });
    failing = false;
    // The old row, live again, still forwards to the ID the move was making, which never held the session.
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
    expect(await store.destroy(oldId, clock.now() + 60_000)).toBe(oldId);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it('a regenerate cut short (its create failed) does not refuse the next request’s regenerate', async () => {
    const down = new Error('internal error');
    let failing = false;
    const { sessions } = setup({ fault: (method) => (failing && method === 'create' ? { error: down } : undefined) });
    const { cookie } = await login(sessions);
    const first = await sessions.start(request(cookie));
    first.regenerate();
    failing = true;
    await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', cause: down });
    failing = false;
    // The client still holds the old cookie, and the session is live under it. It tries again (a login, a role
    // change): the move must be made, or fail, but not be reported as a session that ended meanwhile.
    const again = await sessions.start(request(cookie));
    expect(again.get('n')).toBe(1);
    again.set('role', 'admin');
    again.regenerate();
    const response = await again.commit();
    expect(again.destroyed).toBe(false); // now: true, the change dropped, no cookie sent
    expect((await sessions.start(request(cookiePair(response)))).get('role')).toBe('admin');
  });

  it('a regenerate cut short undoes its move: the new ID ended, the old one live (forwarding to it)', async () => {
    const { fault, arm } = failNext();
    const { rpc, sessions } = setup({ fault });
    const { cookie, oldId, first } = await aboutToRegenerate(sessions);
    arm('create');
    await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', code: 'STORE_WRITE', cause: DOWN });
    // The mark, the failed create, then the end of the new ID and the cancel of the move.
    expect(rpc.calls).toEqual(calls({ get: 1, create: 2, update: 1, destroy: 1, cancel: 1 }));
    expect(await rows(oldId, 'state, forward')).toEqual([{ state: 'live', forward: first.id }]);
    expect(await rows(first.id, 'value, state')).toEqual([{ value: null, state: 'ended' }]);
  });

  it('a create that landed but whose answer was lost leaves no second live copy under the new ID', async () => {
    const { fault, arm } = failNext();
    const { sessions } = setup({ fault });
    const { cookie, oldId, first } = await aboutToRegenerate(sessions);
    arm('create', true);
    await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', cause: DOWN });
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(first.id)).toBeNull(); // now: the record, live
    expect(await rows(oldId, 'state')).toEqual([{ state: 'live' }]);
    await expectRegenerateMade(sessions, cookie);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(first.id)).toBeNull();
  });

  it('a regenerate whose end of the old ID fails before it lands: the old ID stays, the new one ends', async () => {
    const { fault, arm } = failNext();
    const { sessions } = setup({ fault });
    const { cookie, oldId, first } = await aboutToRegenerate(sessions);
    arm('destroy');
    await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', cause: DOWN });
    expect(await rows(first.id, 'state')).toEqual([{ state: 'ended' }]); // now: live, a copy no cookie names
    expect(await rows(oldId, 'state, forward')).toEqual([{ state: 'live', forward: first.id }]);
    await expectRegenerateMade(sessions, cookie);
  });

  it('a regenerate whose end of the old ID landed but whose answer was lost ends the new ID too', async () => {
    const { fault, arm } = failNext();
    const { sessions } = setup({ fault });
    const { cookie, oldId, first } = await aboutToRegenerate(sessions);
    arm('destroy', true);
    await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', cause: DOWN });
    // No cookie names the new ID and the old one is ended: the session is gone, not left live under the new ID.
    expect(await rows(oldId, 'state')).toEqual([{ state: 'ended' }]);
    expect(await rows(first.id, 'state')).toEqual([{ state: 'ended' }]); // now: live
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it('a move whose cancel fails too stays moving until its timeout, and no longer', async () => {
    const { fault, arm } = failNext();
    const { sessions } = setup({ fault });
    const { cookie, oldId, first } = await aboutToRegenerate(sessions);
    arm('create');
    arm('cancel');
    // The create's error, not the cancel's.
    await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', cause: DOWN });
    expect(await rows(oldId, 'state, forward')).toEqual([{ state: 'moving', forward: first.id }]);
    expect(await rows(first.id, 'state')).toEqual([{ state: 'ended' }]);
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
    await backdate(oldId, 60_001);
    await expectRegenerateMade(sessions, cookie);
  });

  it('a commit tried again after its regenerate was cut short fails again; the session keeps its old ID', async () => {
    const { fault, arm } = failNext();
    const { sessions } = setup({ fault });
    const { cookie } = await login(sessions);
    const first = await sessions.start(request(cookie));
    first.increment('n');
    first.regenerate();
    arm('create');
    await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', cause: DOWN });
    // The same new ID again: it was ended, so this attempt cannot move the session, and must not report it ended.
    await expect(first.commit()).rejects.toMatchObject({
      name: 'SessionError',
      code: 'STORE_WRITE',
      cause: { code: 'STORE_WRITE', message: expect.stringMatching(/ended when an earlier attempt failed/) },
    });
    expect(first.destroyed).toBe(false); // now: true, the commit answered as if the session had ended
    const back = await sessions.start(request(cookie));
    // Neither attempt stored the increment: a move's mark stores none of its changes under the old ID.
    expect(back.get('n')).toBe(1);
    back.regenerate();
    const renewed = cookiePair(await back.commit());
    expect((await sessions.start(request(renewed))).get('n')).toBe(1);
  });

  // The failed call: the create of the new ID (before it lands, or landed with its answer lost), the new ID's
  // entry in its user's index, or the end of the old ID (before it lands).
  for (const failed of ['create', 'create, landed', 'index', 'destroy'] as const) {
    it(`a regenerate cut short (${failed} failed) stores none of its changes; others’ stay`, async () => {
      const { fault, arm } = failNext();
      const { rpc, sessions } = setup({ fault });
      const ada = await sessions.create(request(), { userId: newId('ada'), data: { n: 1, name: 'ada' } });
      const cookie = cookiePair(await ada.commit());
      const first = await sessions.start(request(cookie));
      first.increment('n');
      first.set('name', 'bob');
      first.regenerate();
      arm(failed === 'create, landed' ? 'create' : failed, failed === 'create, landed');
      // Another request of the cookie commits once the move's first step has landed.
      const marked = rpc.hold('update', 'after');
      const commit = first.commit().catch((error: unknown) => error);
      await marked.reached;
      const other = await sessions.start(request(cookie));
      other.increment('n', 10);
      other.set('cart', 'book');
      await other.commit();
      marked.release();
      expect(await commit).toMatchObject({ name: 'SessionError', code: 'STORE_WRITE', cause: DOWN });
      expect(first.destroyed).toBe(false);
      // The old cookie names the session as it was, with the other request's commit: none of this request's.
      const back = await sessions.start(request(cookie));
      expect(back.id).toBe(ada.id);
      expect(back.getAll()).toEqual({ n: 11, name: 'ada', cart: 'book' }); // now: n 12, name 'bob'
      expect(await createDurableObjectStore(env.SESSIONS_DO).get(first.id)).toBeNull();
      // The commit tried again is refused (its new ID was ended) and still stores none of it.
      await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', code: 'STORE_WRITE' });
      expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: 11, name: 'ada', cart: 'book' });
    });
  }

  it('a commit during a move: the new ID takes it with the move’s changes merged once, also on a retry', async () => {
    // The end of the old ID lands, but its answer is lost: sent again with the same operation ID, it is answered.
    let drop = 1;
    const { rpc, sessions } = setup({
      fault: (method) => (method === 'destroy' && drop-- > 0 ? { error: retryableError(), after: true } : undefined),
    });
    const { cookie, id: oldId } = await login(sessions, { n: 1 });
    const renewing = await sessions.start(request(cookie));
    renewing.increment('n');
    renewing.set('name', 'bob');
    renewing.regenerate();
    const held = rpc.hold('destroy', 'before');
    const commit = renewing.commit();
    await held.reached;
    // The old ID, marked moving, holds the record as it was.
    expect(JSON.parse((await rows(oldId, 'value'))[0]!.value as string).data).toEqual({ n: '1' });
    const other = await sessions.start(request(cookie));
    other.increment('n', 10);
    other.set('cart', 'book');
    await other.commit();
    held.release();
    const renewed = cookiePair(await commit);
    expect((await sessions.start(request(renewed))).getAll()).toEqual({ n: 12, name: 'bob', cart: 'book' });
    expect(rpc.calls).toEqual(calls({ get: 3, create: 3, update: 2, destroy: 2 }));
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it('a merge refused at the move’s end (a commit meanwhile made it fail) leaves the old ID as it was', async () => {
    const { rpc, sessions } = setup();
    const { cookie, id: oldId } = await login(sessions, { n: 1 });
    const renewing = await sessions.start(request(cookie));
    renewing.increment('n');
    renewing.set('name', 'bob');
    renewing.regenerate();
    const held = rpc.hold('destroy', 'before');
    const commit = renewing.commit().catch((error: unknown) => error);
    await held.reached;
    const other = await sessions.start(request(cookie));
    other.set('n', 'many');
    await other.commit();
    held.release();
    const error = await commit;
    expect(error).toMatchObject({ name: 'SessionError', code: 'TYPE_MISMATCH' });
    expect(renewing.destroyed).toBe(false);
    // The mark, the create, the refused end of the old ID, then the end of the new ID and the cancel.
    expect(rpc.calls).toEqual(calls({ get: 2, create: 2, update: 2, destroy: 2, cancel: 1 }));
    expect(await rows(oldId, 'state, forward')).toEqual([{ state: 'live', forward: renewing.id }]);
    expect(await rows(renewing.id, 'value, state')).toEqual([{ value: null, state: 'ended' }]);
    expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: 'many' });
  });

  it('a move that a commit meanwhile takes over 2 MB is STORE_LIMIT, and leaves the session as it was', async () => {
    const { rpc, sessions } = setup();
    const { cookie } = await login(sessions, { n: 1 });
    const renewing = await sessions.start(request(cookie));
    renewing.set('b', 'y'.repeat(1_100_000));
    renewing.regenerate();
    const held = rpc.hold('destroy', 'before');
    const commit = renewing.commit().catch((error: unknown) => error);
    await held.reached;
    // The old ID does not hold the move's value: this commit fits.
    const other = await sessions.start(request(cookie));
    other.set('a', 'x'.repeat(1_100_000));
    await other.commit();
    held.release();
    expect(await commit).toMatchObject({ name: 'SessionError', code: 'STORE_LIMIT' });
    const back = await sessions.start(request(cookie));
    expect(back.get('a')).toHaveLength(1_100_000);
    expect(back.has('b')).toBe(false);
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(renewing.id)).toBeNull();
  });

  it('an older Worker’s end of a move (a bare version) is refused if a commit changed the record since', async () => {
    const { store, clock } = setup();
    const now = clock.now();
    const oldId = newId('older-worker');
    const t = times(now, now + 60_000, now + 3_600_000);
    await store.create(oldId, record({ data: { n: '1' } }, now));
    const stub = stubOf(oldId);
    const start = await stub.update(oldId, { increment: { n: 1 } }, t, `${oldId}-new`, now, 'op-mark');
    expect(start).toMatchObject({ record: { data: { n: '2' } }, version: 1 });
    await stub.update(oldId, { set: { cart: '"book"' } }, t, null, now, 'op-other');
    const destroy = stub.destroy as unknown as (...args: unknown[]) => Promise<unknown>;
    expect(await destroy(oldId, now + 60_000, 1, now, 'op-end')).toEqual({
      refused: ['STORE_WRITE', expect.stringMatching(/changed during the move/)],
    });
    expect(await store.get(oldId)).toMatchObject({ data: { n: '1', cart: '"book"' } });
    // Unchanged since the mark: it ends the old ID as it did.
    await stub.cancel(oldId, `${oldId}-new`, false, now + 60_000, now, 'op-cancel');
    const again = (await stub.update(oldId, {}, t, `${oldId}-newer`, now, 'op-mark-2')) as { version: number };
    expect(await destroy(oldId, now + 60_000, again.version, now, 'op-end-2')).toMatchObject({ ended: true });
  });

  it('a move begun while the session lived ends even if its old expiry passes meanwhile', async () => {
    const { rpc, sessions, clock } = setup({ idleTimeout: 600 });
    const { cookie } = await login(sessions, { n: 1 });
    clock.advanceSec(599);
    const renewing = await sessions.start(request(cookie));
    renewing.regenerate();
    // Once the new ID holds it: the end of the old ID is sent (with its time) when the create answers.
    const held = rpc.hold('create', 'after');
    const commit = renewing.commit();
    await held.reached;
    clock.advanceSec(2); // past the old record's idle timeout, not the one this request gives it
    held.release();
    const renewed = cookiePair(await commit);
    expect(renewing.destroyed).toBe(false);
    expect((await sessions.start(request(renewed))).get('n')).toBe(1);
  });

  it('a cancel racing a destroyById of the old ID: the session stays destroyed under both IDs', async () => {
    const { fault, arm } = failNext();
    const { rpc, sessions, store, clock } = setup({ fault });
    const { cookie, oldId, first } = await aboutToRegenerate(sessions);
    arm('create');
    const cancel = rpc.hold('cancel', 'before');
    const failed = first.commit().catch((error: unknown) => error);
    await cancel.reached;
    // The destroy names the ID the session was live under: the old one (the new one was ended first).
    expect(await store.destroy(oldId, clock.now() + 60_000)).toBe(oldId);
    cancel.release();
    expect(await failed).toMatchObject({ name: 'SessionError', cause: DOWN });
    expect(await rows(oldId, 'value, state')).toEqual([{ value: null, state: 'ended' }]);
    expect(await rows(first.id, 'state')).toEqual([{ state: 'ended' }]);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it('a cancel that arrives after another regenerate re-marked the session leaves that move alone', async () => {
    const { fault, arm } = failNext();
    const { rpc, sessions } = setup({ fault });
    const { cookie, oldId, first } = await aboutToRegenerate(sessions);
    arm('create');
    const cancel = rpc.hold('cancel', 'before');
    const failed = first.commit().catch((error: unknown) => error);
    await cancel.reached;
    // The first move's window passes (its cancel is slow), and another request's regenerate marks the session.
    await backdate(oldId, 60_001);
    const second = await sessions.start(request(cookie));
    second.set('role', 'admin');
    second.regenerate();
    const create = rpc.hold('create', 'before');
    const moving = second.commit();
    await create.reached;
    cancel.release();
    expect(await failed).toMatchObject({ name: 'SessionError', cause: DOWN });
    expect(await rows(oldId, 'state, forward')).toEqual([{ state: 'moving', forward: second.id }]);
    create.release();
    const renewed = cookiePair(await moving);
    expect(second.destroyed).toBe(false);
    expect((await sessions.start(request(renewed))).get('role')).toBe('admin');
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(first.id)).toBeNull();
  });

  it('a commit during a move does not restart its window: an abandoned move is overtaken, one copy left', async () => {
    const { rpc, sessions } = setup();
    const { cookie, oldId, first } = await aboutToRegenerate(sessions);
    const held = rpc.hold('create', 'before');
    const abandoned = first.commit();
    await held.reached;
    await backdate(oldId, 60_001); // the first move's request looks dead
    const writer = await sessions.start(request(cookie));
    writer.set('cart', 'book');
    await writer.commit();
    const second = await sessions.start(request(cookie));
    second.set('role', 'admin');
    second.regenerate();
    const renewed = cookiePair(await second.commit());
    expect(second.destroyed).toBe(false); // now: true, the commit restarted the first move's window
    // The first move goes on late: its old ID is ended (by the second move), so it ends its own new ID.
    held.release();
    expect((await abandoned).getSetCookie()).toEqual([]);
    expect(first.destroyed).toBe(true);
    expect((await sessions.start(request(renewed))).getAll()).toEqual({ n: 1, cart: 'book', role: 'admin' });
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(first.id)).toBeNull();
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it('a regenerate to an ID another live session holds does not touch it, nor keep the old ID moving', async () => {
    const { store, clock } = setup();
    const now = clock.now();
    const oldId = newId('taken-old');
    const other = newId('taken-other');
    await store.create(oldId, record({}, now));
    await store.create(other, record({ data: { who: '"other"' } }, now));
    await expect(store.regenerate(oldId, other, {}, times(now, now + 3_600_000))).rejects.toMatchObject({
      code: 'STORE_WRITE',
      message: expect.stringMatching(/taken/),
    });
    expect(await rows(oldId, 'state, forward')).toEqual([{ state: 'live', forward: null }]);
    // A destroy of the old ID does not follow a forward to the other session (now: it ends it).
    expect(await store.destroy(oldId, now + 60_000)).toBe(oldId);
    expect((await store.get(other))?.data.who).toBe('"other"');
  });

  it('a destroyById of the old ID while the move is between its steps ends the new ID too', async () => {
    const { rpc, sessions } = setup();
    const { cookie, id: oldId } = await login(sessions);
    const renewing = await sessions.start(request(cookie));
    renewing.regenerate();
    // The move's last step, the destroy of the old ID (the hold takes the next destroy call only).
    const held = rpc.hold('destroy', 'before');
    const commit = renewing.commit();
    await held.reached;
    await sessions.destroyById(oldId);
    held.release();
    expect((await commit).getSetCookie()).toEqual([]);
    expect(renewing.destroyed).toBe(true);
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(renewing.id)).toBeNull();
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it('a destroyById that reaches the new ID before it is created: the create is refused', async () => {
    const { rpc, sessions } = setup();
    const { cookie, id: oldId } = await login(sessions);
    const renewing = await sessions.start(request(cookie));
    renewing.regenerate();
    const held = rpc.hold('create', 'before');
    const commit = renewing.commit();
    await held.reached;
    await sessions.destroyById(oldId);
    held.release();
    expect((await commit).getSetCookie()).toEqual([]);
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(renewing.id)).toBeNull();
  });

  it('a commit to the old ID while the move is between its steps is moved with the session', async () => {
    const { rpc, sessions } = setup();
    const { cookie } = await login(sessions, { n: 1 });
    const renewing = await sessions.start(request(cookie));
    renewing.regenerate();
    const held = rpc.hold('destroy', 'before');
    const commit = renewing.commit();
    await held.reached;
    const other = await sessions.start(request(cookie)); // still readable while moving
    other.increment('n');
    other.set('cart', 'book');
    expect((await other.commit()).getSetCookie()).toHaveLength(1);
    held.release();
    const renewed = cookiePair(await commit);
    expect((await sessions.start(request(renewed))).getAll()).toEqual({ n: 2, cart: 'book' });
    // The login, the new ID, and the new ID taking the record as changed during the move.
    expect(rpc.calls.create).toBe(3);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });
});

describe('durable-object store: retries are idempotent under interleaving', () => {
  it('remembers recent operation IDs, not just the last: a retry after another update is not reapplied', async () => {
    const { store, clock } = setup();
    const id = newId('ops');
    const now = clock.now();
    await store.create(id, record({ data: { n: '0' } }, now));
    const stub = stubOf(id);
    const t = times(now, now + 60_000, now + 3_600_000);
    await stub.update(id, { increment: { n: 1 } }, t, null, now, 'op-a');
    await stub.update(id, { increment: { n: 1 } }, t, null, now, 'op-b');
    // op-a again, as a retry after a lost connection would send it: answered, not applied.
    const retried = await stub.update(id, { increment: { n: 1 } }, t, null, now, 'op-a');
    expect(retried).toMatchObject({ record: { data: { n: '1' } }, version: 1 }); // the first attempt's answer
    expect((await store.get(id))?.data.n).toBe('2');
  });

  it('a destroy retried after a lost connection still reports what it ended', async () => {
    let drop = 1;
    const { sessions, rpc, clock } = setup({
      fault: (method) => (method === 'destroy' && drop-- > 0 ? { error: retryableError(), after: true } : undefined),
    });
    const events: string[] = [];
    const { cookie, id } = await login(sessions);
    const watcher = createSessions({
      store: createDurableObjectStore(rpc.ns, { now: clock.now }),
      secrets: [SECRET],
      now: clock.now,
      onEvent: (e) => events.push(e.type),
    });
    await watcher.destroyById(id);
    expect(rpc.calls.destroy).toBe(2);
    expect(events).toEqual(['destroyed']);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });
});

describe('durable-object store: the per-user index (user objects on the real binding)', () => {
  let users = 0;
  const user = (label: string) => `${label}-${++users}-${crypto.randomUUID()}`;

  /** A login of `userId` through the manager: the new session's ID and cookie. */
  async function signIn(sessions: ReturnType<typeof setup>['sessions'], userId: string) {
    const session = await sessions.create(request(), { userId, device: 'Phone', data: { n: 1 } });
    return { id: session.id, cookie: cookiePair(await session.commit()) };
  }

  const alive = async (sessions: ReturnType<typeof setup>['sessions'], cookie: string) =>
    !(await sessions.start(request(cookie))).isNew;

  /** The IDs the user's object lists, read inside it (its one row's value), or null when it holds none. */
  async function indexed(userId: string): Promise<string[] | null> {
    const [row] = await rows(`user:${userId}`, 'value');
    return row === undefined ? null : (JSON.parse(row.value as string) as string[]).sort();
  }

  it('budget: a login is 2 calls; reads, writes and logouts never call the user object', async () => {
    const { rpc, sessions, clock } = setup({ idleTimeout: 600 });
    const ada = user('ada');
    const { cookie, id } = await signIn(sessions, ada);
    expect(rpc.calls).toEqual(calls({ create: 1, index: 1 }));
    // A read-only request: 1 call, as for an anonymous session.
    await (await sessions.start(request(cookie))).commit();
    expect(rpc.calls).toEqual(calls({ get: 1, create: 1, index: 1 }));
    // A write, and a due touch: 1 update each.
    const writer = await sessions.start(request(cookie));
    writer.set('m', 2);
    await writer.commit();
    clock.advanceSec(120);
    await (await sessions.start(request(cookie))).commit();
    expect(rpc.calls).toEqual(calls({ get: 3, create: 1, update: 2, index: 1 }));
    await sessions.destroy(request(cookie));
    expect(rpc.calls).toEqual(calls({ get: 4, create: 1, update: 2, destroy: 1, index: 1 }));
    // The logout left its entry; the next listing drops it (1 read of the index, 1 per entry, 1 to prune).
    expect(await indexed(ada)).toEqual([id]);
    expect(await sessions.listByUser(ada)).toEqual([]);
    expect(rpc.calls).toEqual(calls({ get: 6, create: 1, update: 2, destroy: 1, index: 2 }));
    expect(await indexed(ada)).toEqual([]);
  });

  it('budget: listByUser and destroyByUser of 10 sessions are 11 and 12 calls', async () => {
    const { rpc, sessions } = setup();
    const ada = user('ada');
    const logins = await Promise.all(Array.from({ length: 10 }, () => signIn(sessions, ada)));
    const before = { ...rpc.calls };
    const since = () =>
      calls(Object.fromEntries(Object.entries(rpc.calls).map(([m, n]) => [m, n - before[m as 'get']])));
    expect((await sessions.listByUser(ada)).map((s) => s.id).sort()).toEqual(logins.map((l) => l.id).sort());
    expect(since()).toEqual(calls({ get: 11 }));
    Object.assign(before, rpc.calls);
    expect(await sessions.destroyByUser(ada)).toBe(10);
    expect(since()).toEqual(calls({ get: 1, destroy: 10, index: 1 }));
    for (const { cookie } of logins) expect(await alive(sessions, cookie)).toBe(false);
    expect(await indexed(ada)).toEqual([]);
  });

  it('lists no expired session, ends it with the others, and frees an emptied user object', async () => {
    const { sessions, clock } = setup({ idleTimeout: 600 });
    const ada = user('ada');
    const stale = await signIn(sessions, ada);
    clock.advanceSec(400);
    const fresh = await signIn(sessions, ada);
    clock.advanceSec(300); // the first one's idle timeout has passed
    expect((await sessions.listByUser(ada)).map((s) => s.id)).toEqual([fresh.id]);
    // Its object has not deleted it yet (the alarm runs on the real clock): it stays indexed until then.
    expect(await indexed(ada)).toEqual([stale.id, fresh.id].sort());
    expect(await sessions.destroyByUser(ada)).toBe(1);
    expect(await indexed(ada)).toEqual([]);
    // Emptied, the index expires at once; its alarm deletes it and frees the object.
    expect(await runDurableObjectAlarm(stubOf(`user:${ada}`))).toBe(true);
    expect(await indexed(ada)).toBeNull();
    expect(await runInDurableObject(stubOf(`user:${ada}`), (_i, state) => state.storage.getAlarm())).toBeNull();
  });

  it('keeps an expired session indexed that an update sent before it expired then extends', async () => {
    const { rpc, sessions, clock } = setup({ idleTimeout: 600 });
    const ada = user('ada');
    const { cookie, id, late } = await sessionAboutToIdleOut(sessions, clock, ada);
    const held = rpc.hold('update', 'before');
    const commit = late.commit(); // sent with the time it was made at, not arrived yet
    await held.reached;
    clock.advanceSec(2);
    expect(await sessions.listByUser(ada)).toEqual([]); // expired by now: not listed
    held.release();
    await commit; // the object takes it: it was live when it was sent
    expect((await sessions.start(request(cookie))).get('late')).toBe(true);
    expect((await sessions.listByUser(ada)).map((s) => s.id)).toEqual([id]);
    expect(await sessions.destroyByUser(ada)).toBe(1);
    expect(await alive(sessions, cookie)).toBe(false);
  });

  it('a record that is not JSON is corrupt: no store error, a login with its cookie works', async () => {
    const clock = createClock();
    await expectUnparsableRecordIsCorrupt(
      createDurableObjectStore(env.SESSIONS_DO, { now: clock.now }),
      clock,
      (id) =>
        runInDurableObject(stubOf(id), (_instance, state) => {
          state.storage.sql.exec('UPDATE sessions SET value = ? WHERE key = ?', '{"data":{"n":"1"', id);
        }),
      async (id) => (await rows(id, 'value'))[0]?.value,
    );
  });

  it('an index write retried after a lost connection is answered, not applied again', async () => {
    const name = `user:${user('ada')}`;
    const stub = stubOf(name);
    const now = Date.now();
    expect(await stub.index(name, ['a', 'b'], true, now, 'op-add')).toEqual(['a', 'b']);
    expect(await stub.index(name, ['a'], false, now, 'op-drop')).toEqual(['b']);
    // op-add again, as a retry would send it: the first answer, and `a` stays dropped.
    expect(await stub.index(name, ['a', 'b'], true, now, 'op-add')).toEqual(['a', 'b']);
    expect(await stub.get(name)).toEqual(['b']);
  });

  it('"everywhere else" keeps the current session even while its old ID, which forwards to it, is listed', async () => {
    const { sessions } = setup();
    const ada = user('ada');
    const phone = await signIn(sessions, ada);
    const laptop = await signIn(sessions, ada);
    const renewing = await sessions.start(request(laptop.cookie));
    renewing.regenerate();
    const current = cookiePair(await renewing.commit());
    expect(await indexed(ada)).toEqual([phone.id, laptop.id, renewing.id].sort());
    expect(await sessions.destroyByUser(ada, { except: renewing.id })).toBe(1);
    expect(await alive(sessions, current)).toBe(true);
    expect(await alive(sessions, phone.cookie)).toBe(false);
    expect((await sessions.listByUser(ada)).map((s) => s.id)).toEqual([renewing.id]);
  });

  it('destroyByUser between a login’s create and its index entry: the login is live, listed afterwards', async () => {
    const { rpc, sessions } = setup();
    const ada = user('ada');
    const earlier = await signIn(sessions, ada);
    const held = rpc.hold('index', 'before');
    const signingIn = signIn(sessions, ada);
    await held.reached;
    expect(await sessions.destroyByUser(ada)).toBe(1);
    held.release();
    const fresh = await signingIn;
    expect(await alive(sessions, earlier.cookie)).toBe(false);
    expect(await alive(sessions, fresh.cookie)).toBe(true);
    expect((await sessions.listByUser(ada)).map((s) => s.id)).toEqual([fresh.id]);
  });

  /**
   * A regenerate of a user's session held before its `method` call (`create` of the new ID, its `index` entry, or
   * the `destroy` of the old ID) while destroyByUser runs to the end: the session ends under both IDs.
   */
  async function regenerateHeldAt(method: 'create' | 'index' | 'destroy') {
    const { rpc, sessions } = setup();
    const ada = user('ada');
    const { cookie } = await signIn(sessions, ada);
    const renewing = await sessions.start(request(cookie));
    renewing.regenerate();
    const held = rpc.hold(method, 'before');
    const commit = renewing.commit();
    await held.reached;
    const ended = await sessions.destroyByUser(ada);
    held.release();
    expect((await commit).getSetCookie()).toEqual([]);
    expect(renewing.destroyed).toBe(true);
    expect(await alive(sessions, cookie)).toBe(false);
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(renewing.id)).toBeNull();
    expect(await sessions.listByUser(ada)).toEqual([]);
    return { ended, ada };
  }

  it('destroyByUser between a regenerate’s first step and the create of the new ID: neither ID works', async () => {
    expect((await regenerateHeldAt('create')).ended).toBe(1);
  });

  it('destroyByUser between the create of the new ID and its index entry: neither ID works', async () => {
    const { ended, ada } = await regenerateHeldAt('index');
    expect(ended).toBe(1);
    expect(await indexed(ada)).toEqual([]); // the new ID, entered late, was dropped by the listing
  });

  it('destroyByUser while both IDs are listed and live (before the old one ends): counted once', async () => {
    expect((await regenerateHeldAt('destroy')).ended).toBe(1);
  });

  it('listByUser overlapping a regenerate (index read before the new entry) lists the session', async () => {
    const { rpc, sessions } = setup();
    const ada = user('ada');
    const phone = await signIn(sessions, ada);
    const laptop = await signIn(sessions, ada);
    const renewing = await sessions.start(request(laptop.cookie));
    renewing.regenerate();
    // The listing's first call, the read of the index, answered before the move starts: it lists the old ID only.
    const held = rpc.hold('get', 'after');
    const listing = sessions.listByUser(ada);
    await held.reached;
    const current = cookiePair(await renewing.commit()); // the whole move: the new ID entered, the old one ended
    held.release();
    expect((await listing).map((s) => s.id).sort()).toEqual([phone.id, renewing.id].sort());
    expect(await alive(sessions, current)).toBe(true);
    expect((await sessions.listByUser(ada)).map((s) => s.id).sort()).toEqual([phone.id, renewing.id].sort());
  });

  for (const after of [false, true]) {
    it(`a regenerate whose index entry fails (${after ? 'after it landed' : 'before'}): old ID, listed`, async () => {
      const { fault, arm } = failNext();
      const { sessions } = setup({ fault });
      const ada = user('ada');
      const { cookie, id } = await signIn(sessions, ada);
      const first = await sessions.start(request(cookie));
      first.regenerate();
      arm('index', after);
      await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', cause: DOWN });
      expect(await rows(first.id, 'state')).toEqual([{ state: 'ended' }]); // now: live
      expect(await rows(id, 'state, forward')).toEqual([{ state: 'live', forward: first.id }]);
      expect((await sessions.listByUser(ada)).map((s) => s.id)).toEqual([id]);
      expect(await indexed(ada)).toEqual([id]);
      const again = await sessions.start(request(cookie));
      again.regenerate();
      const renewed = cookiePair(await again.commit());
      expect(again.destroyed).toBe(false);
      expect((await sessions.listByUser(ada)).map((s) => s.id)).toEqual([again.id]);
      expect(await sessions.destroyByUser(ada)).toBe(1);
      expect(await alive(sessions, renewed)).toBe(false);
    });
  }

  it('a move tried again that finds its own copy taken keeps it ended by a logout, not listed', async () => {
    const { fault, arm } = failNext();
    const { sessions } = setup({ fault });
    const ada = user('ada');
    const { cookie, id } = await signIn(sessions, ada);
    const first = await sessions.start(request(cookie));
    first.regenerate();
    // The new ID's entry lands but its answer is lost; the end of the new ID that undoes the move fails too
    // (the same object, the same trouble): the new ID holds a live copy, listed, and the old ID moves towards it.
    arm('index', true);
    arm('destroy');
    await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', cause: DOWN });
    expect(await rows(first.id, 'state')).toEqual([{ state: 'live' }]);
    await backdate(id, 60_001);
    // The same move tried again after its timeout: the new ID is this session's own copy, answered 'taken'.
    await expect(first.commit()).rejects.toMatchObject({ name: 'SessionError', code: 'STORE_WRITE' });
    // The user logs out with the cookie they hold: every copy of the session ends.
    await sessions.destroy(request(cookie));
    expect(await createDurableObjectStore(env.SESSIONS_DO).get(first.id)).toBeNull(); // now: the record, live
    expect(await sessions.listByUser(ada)).toEqual([]);
  });

  it('destroyByUser while both IDs are listed names the old one, where the cut-short move leaves it', async () => {
    const { rpc, sessions, store, clock } = setup();
    const ada = user('ada');
    const { cookie, id } = await signIn(sessions, ada);
    const renewing = await sessions.start(request(cookie));
    renewing.regenerate();
    const held = rpc.hold('destroy', 'before');
    const commit = renewing.commit();
    await held.reached;
    expect(await store.destroyByUser!(ada, undefined, clock.now() + 60_000)).toEqual([id]);
    held.release();
    expect((await commit).getSetCookie()).toEqual([]);
    expect(await alive(sessions, cookie)).toBe(false);
  });
});
