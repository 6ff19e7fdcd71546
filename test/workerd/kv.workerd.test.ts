// The KV store inside workerd, on the real SESSIONS_KV binding (Miniflare's KV), wrapped only to count calls
// and to inject the failures KV produces.
import { env } from 'cloudflare:workers';
import { createSessions, SessionError, type SessionEvent } from '../../src/index.js';
import { createKVStore, type KVListPage, type KVNamespaceLike, type KVStoreOptions } from '../../src/kv.js';
import { describeStoreConformance } from '../conformance.js';
import { describe, expect, it } from '../harness.js';
import {
  cookiePair,
  createClock,
  expectUnparsableRecordIsCorrupt,
  record,
  request,
  SECRET,
  times,
} from '../helpers.js';
import { codes, wrapKV, type KVCall } from './bindings.js';
import {
  describeLifecycleRaces,
  describeOverlappingRequests,
  LONG_WRITES,
  expectDestroyedMeanwhileStaysDestroyed,
} from '../races.js';

let prefixes = 0;
/** Each store gets its own prefix: KV storage is shared by every test in this file. */
function uniquePrefix(label: string): string {
  return `${label}-${++prefixes}:`;
}

describeStoreConformance(
  'kv (workerd)',
  (clock) => createKVStore(env.SESSIONS_KV, { now: clock.now, prefix: uniquePrefix('conformance') }),
  { refusesTakenIds: false, perUser: true },
);
describeOverlappingRequests('kv (workerd)', (clock) =>
  createKVStore(env.SESSIONS_KV, { now: clock.now, prefix: uniquePrefix('overlap') }),
);
describeLifecycleRaces(
  'kv (workerd)',
  (clock) => createKVStore(env.SESSIONS_KV, { now: clock.now, prefix: uniquePrefix('races') }),
  { exact: false },
);

function setup(
  options: Omit<KVStoreOptions, 'now'> & {
    idleTimeout?: number;
    failPut?: (key: string, value: string) => Error | undefined;
  } = {},
) {
  const { idleTimeout, failPut, ...storeOptions } = options;
  const clock = createClock();
  const kv = wrapKV(env.SESSIONS_KV, failPut);
  const prefix = storeOptions.prefix ?? uniquePrefix('kv');
  const store = createKVStore(kv.ns, { ...storeOptions, prefix, now: clock.now });
  const events: SessionEvent[] = [];
  const sessions = createSessions({
    store,
    secrets: [SECRET],
    now: clock.now,
    expires: 3600,
    onEvent: (event) => events.push(event),
    ...(idleTimeout === undefined ? {} : { idleTimeout, touchAfter: 60 }),
  });
  return { clock, kv, prefix, store, sessions, events };
}

async function login(
  sessions: ReturnType<typeof setup>['sessions'],
  data: Record<string, unknown> = { n: 1 },
): Promise<string> {
  const session = await sessions.start(request());
  for (const [k, v] of Object.entries(data)) session.set(k, v);
  return cookiePair(await session.commit());
}

describe('kv store: operation budget on the real binding', () => {
  it('makes no KV operation for an anonymous request', async () => {
    const { kv, sessions } = setup();
    const session = await sessions.start(request('theme=dark'));
    expect((await session.commit()).getSetCookie()).toEqual([]);
    expect(kv.reads() + kv.writes()).toBe(0);
  });

  it('makes 1 read and no write for a returning read-only request', async () => {
    const { kv, sessions } = setup();
    const cookie = await login(sessions);
    kv.calls.put.length = 0;
    kv.calls.get.length = 0;
    const session = await sessions.start(request(cookie));
    expect(session.get('n')).toBe(1);
    await session.commit();
    expect(kv.calls.get).toHaveLength(1);
    expect(kv.writes()).toBe(0);
  });

  it('makes no write for read-only requests inside touchAfter; the touch then due costs 1 read + 1 write', async () => {
    const { kv, sessions, clock } = setup({ idleTimeout: 600 });
    const cookie = await login(sessions);
    expect(kv.calls.put).toHaveLength(1);
    kv.calls.get.length = 0;
    for (const seconds of [10, 20, 25]) {
      clock.advanceSec(seconds);
      await (await sessions.start(request(cookie))).commit();
    }
    expect(kv.calls.get).toHaveLength(3);
    expect(kv.writes()).toBe(1);

    clock.advanceSec(10); // 65 s after the write
    await (await sessions.start(request(cookie))).commit();
    expect(kv.calls.get).toHaveLength(5); // the request's read, then touch's read
    expect(kv.calls.put).toHaveLength(2);
    expect(kv.calls.put[1]?.options.expirationTtl).toBe(600);
  });
});

describe('kv store: keys, TTLs and limits', () => {
  it("clamps expirationTtl to KV's 60 s minimum; the record still ends at its expiresAt", async () => {
    const { kv, store, clock, prefix } = setup();
    const now = clock.now();
    await store.create('short'.padEnd(24, 'x'), record({ expiresAt: now + 10_000 }, now));
    await store.create('long'.padEnd(24, 'x'), record({}, now));
    await store.create('odd'.padEnd(24, 'x'), record({ expiresAt: now + 90_500 }, now));
    expect(kv.calls.put.map((p) => p.options)).toEqual([
      { expirationTtl: 60, metadata: { expiresAt: now + 10_000, createdAt: now } },
      { expirationTtl: 3600, metadata: { expiresAt: now + 3_600_000, createdAt: now } },
      { expirationTtl: 91, metadata: { expiresAt: now + 90_500, createdAt: now } },
    ]);
    clock.advance(10_000);
    // KV keeps it up to 60 s; get returns it visibly expired (the manager reports `expired`), update refuses it.
    expect(await env.SESSIONS_KV.get(`${prefix}${'short'.padEnd(24, 'x')}`)).not.toBeNull();
    expect((await store.get('short'.padEnd(24, 'x')))?.expiresAt).toBe(clock.now());
    expect(
      await store.update('short'.padEnd(24, 'x'), { set: { a: '1' } }, times(clock.now(), clock.now() + 60_000)),
    ).toBeNull();
  });

  it('keeps sessions under prefix + id, invisible to a store with another prefix', async () => {
    const { store, clock } = setup({ prefix: 'tenant-a:' });
    const other = createKVStore(env.SESSIONS_KV, { prefix: 'tenant-b:', now: clock.now });
    const id = 'prefixed'.padEnd(24, 'x');
    await store.create(id, record({ expiresAt: clock.now() + 120_000 }, clock.now()));
    expect(JSON.parse((await env.SESSIONS_KV.get(`tenant-a:${id}`))!)).toMatchObject({ data: { name: '"alice"' } });
    expect(await other.get(id)).toBeNull();
    expect(await other.count()).toBe(0);
    expect(await store.count()).toBe(1);
  });

  it('passes cacheTtl to the reads of get, but reads before a write use the shortest cache KV allows', async () => {
    const { kv, store, clock } = setup({ cacheTtl: 300 });
    const id = 'cached'.padEnd(24, 'x');
    await store.create(id, record({ expiresAt: clock.now() + 120_000 }, clock.now()));
    kv.calls.get.length = 0;
    expect(await store.get(id)).not.toBeNull();
    await store.update(id, {}, times(clock.now(), clock.now() + 600_000));
    expect(kv.calls.get.map((g) => g.options)).toEqual([
      { type: 'text', cacheTtl: 300 },
      { type: 'text', cacheTtl: 30 },
    ]);
    expect((await store.get(id))?.expiresAt).toBe(clock.now() + 600_000);
  });

  it('refuses at construction: cacheTtl under 30 s, pageSize outside 1–1000, prefix empty or over 376 bytes', () => {
    for (const options of [
      { cacheTtl: 10 },
      { cacheTtl: 45.5 },
      { pageSize: 0 },
      { pageSize: 1001 },
      { prefix: 'p'.repeat(377) },
      { prefix: '' },
      { maxOperations: 0 },
    ]) {
      expect(() => createKVStore(env.SESSIONS_KV, options)).toThrow(SessionError);
    }
    expect(() => createKVStore(env.SESSIONS_KV, { cacheTtl: 10 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/cacheTtl/) }),
    );
    expect(createKVStore(env.SESSIONS_KV, { cacheTtl: 30, prefix: 'p'.repeat(376) }).name).toBe('kv');
  });

  it('rejects a key over 512 bytes and a value over 25 MiB with STORE_LIMIT, before writing', async () => {
    const { kv, store, clock } = setup({ prefix: 'p'.repeat(376) });
    const now = clock.now();
    await expect(store.create('k'.repeat(129), record({}, now))).rejects.toMatchObject({
      name: 'SessionError',
      code: 'STORE_LIMIT',
      message: "edge-sessions: kv store: key of 513 bytes exceeds KV's 512",
    });
    const huge = record({ data: { blob: 'x'.repeat(25 * 1024 * 1024) } }, now);
    await expect(store.create('k'.repeat(24), huge)).rejects.toMatchObject({
      code: 'STORE_LIMIT',
      message: expect.stringMatching(/25 MiB/),
    });
    expect(kv.calls.put).toHaveLength(0);
  });

  it('a session over 25 MiB fails its commit with STORE_LIMIT in the error chain and writes nothing', async () => {
    const { kv, sessions } = setup();
    const session = await sessions.start(request());
    session.set('blob', 'x'.repeat(25 * 1024 * 1024));
    const error = await session.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(codes(error)).toContain('STORE_LIMIT');
    expect(kv.calls.put).toHaveLength(0);
  });
});

describe('kv store: failures', () => {
  it('a failing data write rejects the commit with the cause, and the old record stays readable', async () => {
    let failing = false;
    const kvError = new Error('KV PUT failed: 500 Internal Server Error');
    const { sessions } = setup({ failPut: () => (failing ? kvError : undefined) });
    const cookie = await login(sessions, { n: 1 });
    failing = true;
    const session = await sessions.start(request(cookie));
    session.set('n', 2);
    await expect(session.commit()).rejects.toMatchObject({ name: 'SessionError', code: 'STORE_WRITE', cause: kvError });
    failing = false;
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  // The move is made once the forward is written; the deletes after it only free keys. A KV 429 there (the old key
  // was written less than a second ago) must not leave the client with the old cookie, which the forward ended.
  for (const which of ['old session key', 'old index entry'] as const) {
    it(`a regenerate whose delete of the ${which} fails leaves the client a cookie that works`, async () => {
      const clock = createClock();
      const kv = wrapKV(env.SESSIONS_KV);
      const prefix = uniquePrefix('regen-delete');
      const tooMany = new Error('KV DELETE failed: 429 Too Many Requests');
      let failing: string | undefined;
      const ns: KVNamespaceLike = {
        ...kv.ns,
        delete: (key) => (key === failing ? ((failing = undefined), Promise.reject(tooMany)) : kv.ns.delete(key)),
      };
      const sessions = createSessions({
        store: createKVStore(ns, { prefix, now: clock.now }),
        secrets: [SECRET],
        now: clock.now,
      });
      const created = await sessions.create(request(), { userId: 'ada', data: { n: 1 } });
      const cookie = cookiePair(await created.commit());
      const renewing = await sessions.start(request(cookie));
      failing = which === 'old session key' ? prefix + renewing.id : `${prefix}user:ada:${renewing.id}`;
      renewing.regenerate();
      const held = await renewing.commit().then(
        (response) => cookiePair(response),
        (error: unknown) => {
          expect(error).toMatchObject({ name: 'SessionError', cause: tooMany });
          return cookie; // the commit failed: the client keeps the cookie it had
        },
      );
      expect((await sessions.start(request(held))).get('n')).toBe(1);
      expect((await sessions.listByUser('ada')).map((i) => i.id)).toEqual([renewing.id]);
    });
  }

  it('a touch-only write failing with a KV 429 does not fail the request; onEvent receives the error', async () => {
    let failing = false;
    const tooMany = new Error('KV PUT failed: 429 Too Many Requests');
    const { sessions, events, clock, kv } = setup({ idleTimeout: 600, failPut: () => (failing ? tooMany : undefined) });
    const cookie = await login(sessions);
    clock.advanceSec(120);
    failing = true;
    const handler = sessions.handle(async (_request, session) => new Response(`n=${String(session.get('n'))}`));
    const response = await handler(request(cookie));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('n=1');
    expect(kv.calls.put).toHaveLength(2); // the create, then the touch that failed
    const error = events.find((e) => e.type === 'error');
    expect(error).toMatchObject({
      type: 'error',
      operation: 'touch',
      error: { name: 'SessionError', code: 'STORE_WRITE', cause: tooMany },
    });
    failing = false;
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });
});

describe('kv store: count and clear', () => {
  async function seed(
    store: ReturnType<typeof setup>['store'],
    now: number,
    live: number,
    expired: number,
  ): Promise<void> {
    for (let i = 0; i < live; i++)
      await store.create(`live-${i}`.padEnd(24, 'x'), record({ expiresAt: now + 120_000 }, now));
    for (let i = 0; i < expired; i++)
      await store.create(`gone-${i}`.padEnd(24, 'x'), record({ expiresAt: now + 1000 }, now));
  }

  it('count pages through list and skips keys whose expiresAt has passed', async () => {
    const { store, kv, clock, prefix } = setup({ pageSize: 2 });
    await seed(store, clock.now(), 5, 2);
    kv.calls.get.length = 0;
    expect(await store.count()).toBe(7);
    clock.advance(1000);
    kv.calls.list.length = 0;
    expect(await store.count()).toBe(5);
    expect(kv.calls.list).toHaveLength(4); // 7 keys in pages of 2
    expect(kv.calls.list[1]).toMatchObject({ limit: 2, cursor: expect.any(String) });
    expect(kv.calls.get.map((g) => g.keys)).toEqual([[`${prefix}:cleared`], [`${prefix}:cleared`]]); // once each
  });

  it('clear deletes every key under its prefix, page by page, and no other', async () => {
    const { store, kv, clock, sessions } = setup({ pageSize: 3 });
    const neighbour = createKVStore(env.SESSIONS_KV, { prefix: uniquePrefix('neighbour'), now: clock.now });
    await neighbour.create('keep'.padEnd(24, 'x'), record({ expiresAt: clock.now() + 120_000 }, clock.now()));
    await seed(store, clock.now(), 7, 1);
    await sessions.destroyAll();
    expect(kv.calls.list).toHaveLength(3);
    expect(kv.calls.delete).toHaveLength(8);
    expect(await store.count()).toBe(0);
    expect(await neighbour.count()).toBe(1);
  });

  it('count and clear leave alone keys under the prefix that cannot be session IDs', async () => {
    const { store, clock, sessions, prefix } = setup();
    await env.SESSIONS_KV.put(`${prefix}-config`, 'not a session');
    await env.SESSIONS_KV.put(`${prefix}short`, 'not a session');
    await seed(store, clock.now(), 2, 0);
    expect(await store.count()).toBe(2);
    await sessions.destroyAll();
    expect(await store.count()).toBe(0);
    expect(await env.SESSIONS_KV.get(`${prefix}-config`)).toBe('not a session');
    expect(await env.SESSIONS_KV.get(`${prefix}short`)).toBe('not a session');
  });

  /** A gate at destroyAll's first write (`put` or `delete`): it has listed the sessions, and written nothing. */
  const firstWrite = (c: KVCall) => c.method === 'put' || c.method === 'delete';

  it('destroyAll ends a session that a regenerate here moves after its listing, before it writes', async () => {
    const { kv, sessions, clock } = setup();
    const cookie = await login(sessions);
    clock.advance(1000); // destroyAll ends the sessions created before it ran
    const mover = await sessions.start(request(cookie));
    mover.regenerate();
    const held = kv.hold(firstWrite, 'before');
    const clearing = sessions.destroyAll();
    await held.reached;
    const moved = cookiePair(await mover.commit()); // listed under its old ID, now under a new one
    held.release();
    await clearing;
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect((await sessions.start(request(moved))).isNew).toBe(true);
    expect(await sessions.count()).toBe(0);
  });

  it('destroyAll ends a session whose commit here read it before destroyAll wrote, and writes after', async () => {
    const { kv, sessions, prefix, clock } = setup();
    const cookie = await login(sessions);
    clock.advance(1000);
    const writer = await sessions.start(request(cookie));
    writer.set('late', true);
    const key = prefix + writer.id;
    const clearingHeld = kv.hold(firstWrite, 'before');
    const clearing = sessions.destroyAll();
    await clearingHeld.reached;
    // The commit reads the session while destroyAll has written nothing; its write lands after destroyAll returns.
    const writing = kv.hold((c) => c.method === 'put' && c.keys[0] === key, 'before');
    const commit = writer.commit();
    await writing.reached;
    clearingHeld.release();
    await clearing;
    writing.release();
    await commit;
    expect(await env.SESSIONS_KV.get(key)).not.toBeNull(); // the write did land: the session is what stays ended
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(await sessions.count()).toBe(0);
  });

  it('clear past maxOperations ends every session, deleting what the budget leaves room for', async () => {
    const { store, kv, clock, sessions } = setup({ pageSize: 2, maxOperations: 6 });
    await seed(store, clock.now(), 5, 0);
    clock.advance(1000);
    kv.calls.put.length = 0;
    // The marker, then a list and 2 deletes, a list and 1 delete: 6 operations, 2 of the 5 keys left.
    await sessions.destroyAll();
    expect(kv.calls.put.map((p) => p.key)).toEqual([expect.stringMatching(/:cleared$/)]);
    expect(kv.calls.list).toHaveLength(2);
    expect(kv.calls.delete).toHaveLength(3);
    expect(await store.count()).toBe(0);
    const left = await env.SESSIONS_KV.list({ prefix: kv.calls.list[0]!.prefix });
    const ids = left.keys.map((k) => k.name.slice(kv.calls.list[0]!.prefix.length)).filter((id) => !id.includes(':'));
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(await store.get(id)).toBeNull(); // kept by KV until its TTL, ended all the same
  });

  it('count rejects with STORE_LIMIT when it would exceed maxOperations', async () => {
    const { store, clock } = setup({ pageSize: 2, maxOperations: 6 });
    await seed(store, clock.now(), 5, 0);
    // count: 6 lists allowed; 13 keys need 7
    await seed(store, clock.now() + 1, 0, 8);
    await expect(store.count()).rejects.toMatchObject({
      code: 'STORE_LIMIT',
      message: expect.stringMatching(/count\(\).*maxOperations \(6/),
    });
  });
});

describe('kv store: concurrency is last-writer-wins (update re-reads and merges just before writing)', () => {
  it('last writer wins: 100 parallel increments of one counter keep between 1 and 100 of them', async () => {
    const { sessions } = setup();
    const cookie = await login(sessions, { visits: 0 });
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        const session = await sessions.start(request(cookie));
        session.increment('visits');
        await session.commit();
      }),
    );
    const visits = (await sessions.start(request(cookie))).getNumber('visits')!;
    expect(visits).toBeGreaterThanOrEqual(1);
    expect(visits).toBeLessThanOrEqual(100);
  });

  it('two commits that change different keys: both survive when one writes before the other re-reads', async () => {
    const { sessions } = setup();
    const cookie = await login(sessions);
    const [a, b] = await Promise.all([sessions.start(request(cookie)), sessions.start(request(cookie))]);
    a.set('a', 1);
    b.set('b', 2);
    await a.commit();
    await b.commit(); // b read the session before a wrote, but its update re-reads and merges
    const after = await sessions.start(request(cookie));
    expect([after.get('a'), after.get('b')]).toEqual([1, 2]);
  });

  it('two exactly concurrent commits that change different keys keep at least the last one', async () => {
    const { sessions } = setup();
    const cookie = await login(sessions);
    const [a, b] = await Promise.all([sessions.start(request(cookie)), sessions.start(request(cookie))]);
    a.set('a', 1);
    b.set('b', 2);
    await Promise.all([a.commit(), b.commit()]);
    const after = await sessions.start(request(cookie));
    expect([after.get('a'), after.get('b')].filter((v) => v !== undefined).length).toBeGreaterThanOrEqual(1);
  });

  it('a commit that read the session before a destroy at this location does not bring it back', async () => {
    const { sessions } = setup();
    const cookie = await login(sessions);
    await expectDestroyedMeanwhileStaysDestroyed(sessions, cookie, (stale) => stale.set('late', true));
  });

  it('rejects the old cookie as soon as destroy returns, at the location that destroyed it', async () => {
    const { sessions } = setup();
    const cookie = await login(sessions);
    await sessions.destroy(request(cookie));
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });
});

describe('kv store: the per-user index', () => {
  async function userLogin(sessions: ReturnType<typeof setup>['sessions'], userId: string, device?: string) {
    const session = await sessions.create(request(), { userId, device, data: { n: 1 } });
    return { id: session.id, cookie: cookiePair(await session.commit()) };
  }

  it('a login writes its index entry before its session: one key per session, TTL to endsAt, no metadata', async () => {
    const { kv, sessions, prefix, clock } = setup();
    const { id } = await userLogin(sessions, 'ada', 'Phone');
    expect(kv.calls.put.map((p) => p.key)).toEqual([`${prefix}user:ada:${id}`, prefix + id]);
    // 3600 s to endsAt, plus KV's 60 s cache; the session key's own TTL is its expiry.
    expect(kv.calls.put[0]!.options).toEqual({ expirationTtl: 3660 });
    expect(kv.calls.put[0]!.value).toBe('');
    expect(kv.calls.put[1]!.options).toEqual({
      expirationTtl: 3600,
      metadata: { expiresAt: clock.now() + 3_600_000, createdAt: clock.now() },
    });
    expect(kv.reads()).toBe(0);
    // An anonymous session has no entry.
    kv.calls.put.length = 0;
    await login(sessions);
    expect(kv.calls.put.map((p) => p.key.startsWith(`${prefix}user:`))).toEqual([false]);
  });

  it('a touch leaves the entry; a longer lifetime rewrites it; regenerate moves it; destroy drops it', async () => {
    const { kv, sessions, prefix, clock } = setup({ idleTimeout: 600 });
    const { id, cookie } = await userLogin(sessions, 'ada');
    const entry = (sessionId: string) => `${prefix}user:ada:${sessionId}`;
    kv.calls.put.length = 0;
    clock.advanceSec(120);
    await (await sessions.start(request(cookie))).commit(); // a touch
    expect(kv.calls.put.map((p) => p.key)).toEqual([prefix + id]);

    kv.calls.put.length = 0;
    await sessions.updateExpiration(request(cookie), 7200); // endsAt moves later
    expect(kv.calls.put.map((p) => p.key)).toEqual([entry(id), prefix + id]);
    expect(kv.calls.put[0]!.options.expirationTtl).toBe(7260);

    kv.calls.put.length = 0;
    kv.calls.delete.length = 0;
    const renewing = await sessions.start(request(cookie));
    renewing.regenerate();
    const renewed = cookiePair(await renewing.commit());
    expect(kv.calls.put.map((p) => p.key)).toEqual([entry(renewing.id), prefix + renewing.id, `${prefix}${id}:moved`]);
    expect(kv.calls.delete).toEqual([prefix + id, entry(id)]);
    expect(await env.SESSIONS_KV.get(entry(id))).toBeNull();
    expect((await sessions.listByUser('ada')).map((i) => i.id)).toEqual([renewing.id]);

    kv.calls.delete.length = 0;
    await sessions.destroy(request(renewed));
    expect(kv.calls.delete).toEqual([prefix + renewing.id, entry(renewing.id)]);
    expect(await env.SESSIONS_KV.get(entry(renewing.id))).toBeNull();
    expect(await sessions.listByUser('ada')).toEqual([]);
  });

  // KV refuses a TTL over 2^31 s, so the entry of a session that never ends by lifetime cannot live to its endsAt;
  // it must still outlive every record the session's writes store (each up to 400 days on), without a write per
  // touch.
  it('an unlimited session: the entry outlives every record its touches store, rewritten per 400 days', async () => {
    const { kv, sessions, prefix, clock } = setup();
    const session = await sessions.create(request(), { userId: 'ada', expires: Infinity });
    const cookie = cookiePair(await session.commit());
    const entry = `${prefix}user:ada:${session.id}`;
    let entryEnd = 0;
    let entries = 0;
    for (let day = 0; day <= 2000; day += 10) {
      if (day > 0) {
        clock.advanceSec(10 * 86_400);
        await (await sessions.start(request(cookie))).commit(); // a touch
      }
      const [recordPut, ...rest] = kv.calls.put.splice(0).reverse();
      expect(recordPut!.key).toBe(prefix + session.id);
      for (const put of rest) {
        expect(put.key).toBe(entry);
        expect(put.options.expirationTtl).toBeLessThan(2 ** 31);
        entryEnd = clock.now() + put.options.expirationTtl * 1000;
        entries++;
      }
      expect(entryEnd).toBeGreaterThanOrEqual(clock.now() + recordPut!.options.expirationTtl * 1000);
    }
    // The login, then the first touch in each later 400-day period: 2000 days span six periods at most.
    expect(entries).toBeLessThanOrEqual(7);
    expect((await sessions.listByUser('ada')).map((i) => i.id)).toEqual([session.id]);
  });

  it('count() and clear() never take an index entry for a session', async () => {
    const { sessions, prefix } = setup();
    const { id } = await userLogin(sessions, 'ada');
    await userLogin(sessions, 'bob');
    await login(sessions);
    expect(await sessions.count()).toBe(3);
    await sessions.destroyAll();
    expect(await sessions.count()).toBe(0);
    // clear() deletes sessions only; the entry it leaves lists nothing and waits for its TTL.
    expect(await env.SESSIONS_KV.get(`${prefix}user:ada:${id}`)).toBe('');
    expect(await sessions.listByUser('ada')).toEqual([]);
  });

  it("a userId with ':' is its own user: ada's listing and logout skip the entries of ada:x", async () => {
    const { sessions } = setup();
    const ada = await userLogin(sessions, 'ada');
    const other = await userLogin(sessions, 'ada:x');
    const nested = await userLogin(sessions, 'ada:x:y');
    expect((await sessions.listByUser('ada')).map((i) => i.id)).toEqual([ada.id]);
    expect((await sessions.listByUser('ada:x')).map((i) => i.id)).toEqual([other.id]);
    expect(await sessions.destroyByUser('ada')).toBe(1);
    expect((await sessions.start(request(other.cookie))).userId).toBe('ada:x');
    expect((await sessions.start(request(nested.cookie))).userId).toBe('ada:x:y');
    expect((await sessions.start(request(ada.cookie))).isNew).toBe(true);
  });

  it('refuses a userId that makes the index key too long with STORE_LIMIT, writing nothing', async () => {
    const { kv, sessions } = setup({ prefix: 'p'.repeat(300) });
    const session = await sessions.create(request(), { userId: 'u'.repeat(180) }); // 300 + 5 + 180 + 1 + 24 + 8
    const error = await session.commit().catch((e: unknown) => e);
    expect(codes(error)).toContain('STORE_LIMIT');
    expect(kv.calls.put).toHaveLength(0);
    // Multi-byte characters count as bytes: 60 of them take 180.
    const wide = await sessions.create(request(), { userId: '€'.repeat(60) });
    expect(codes(await wide.commit().catch((e: unknown) => e))).toContain('STORE_LIMIT');
    expect(kv.calls.put).toHaveLength(0);
    await userLogin(sessions, 'u'.repeat(170)); // 503 bytes with the room for ':revoked': fits
    expect(kv.calls.put).toHaveLength(2);
  });

  it('listByUser: one list and one bulk read per 33 sessions, read past the edge cache', async () => {
    const { kv, sessions } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await userLogin(sessions, 'ada')).id);
    kv.calls.get.length = 0;
    const listed = await sessions.listByUser('ada');
    expect(listed.map((i) => i.id).sort()).toEqual(ids.sort());
    expect(kv.calls.list).toHaveLength(1);
    expect(kv.calls.get.map((g) => g.keys.length)).toEqual([100, 22]); // 33 and 7 sessions, each with the clear marker
    expect(kv.calls.get.every((g) => g.options.cacheTtl === 30)).toBe(true);
    expect(kv.writes()).toBe(40 * 2);
  });

  it('listByUser prunes entries of sessions ended elsewhere or long expired, and keeps the rest', async () => {
    const { kv, sessions, prefix, clock } = setup({ idleTimeout: 600 });
    const entry = (id: string) => `${prefix}user:ada:${id}`;
    const revoked = await userLogin(sessions, 'ada');
    const missing = await userLogin(sessions, 'ada');
    const expired = await userLogin(sessions, 'ada');
    const live = await userLogin(sessions, 'ada');
    // A revocation whose location did not delete the entry (it failed, or ran at another location); a session key
    // gone without a marker (a login whose session write failed, or one KV expired).
    await env.SESSIONS_KV.put(`${prefix}${revoked.id.slice(0, 22)}:revoked`, '1');
    await env.SESSIONS_KV.delete(prefix + missing.id);
    clock.advanceSec(500);
    await (await sessions.start(request(live.cookie))).commit(); // a touch keeps it live

    clock.advanceSec(200); // `expired` expired 100 s ago: not listed, not pruned yet (a touch may be on its way)
    kv.calls.delete.length = 0;
    expect((await sessions.listByUser('ada')).map((i) => i.id)).toEqual([live.id]);
    expect(kv.calls.delete).toEqual([entry(revoked.id)]);

    clock.advanceSec(30); // 130 s after it expired: past KV's 60 s and the 60 s cache
    kv.calls.delete.length = 0;
    expect((await sessions.listByUser('ada')).map((i) => i.id)).toEqual([live.id]);
    expect(kv.calls.delete).toEqual([entry(expired.id)]);
    expect(await env.SESSIONS_KV.get(entry(missing.id))).toBe(''); // left to its TTL: it may be on its way
    expect(await env.SESSIONS_KV.get(entry(live.id))).toBe('');
  });

  it('destroyByUser: per session one read and three writes, by lineage, sparing the lineage of except', async () => {
    const { kv, sessions, prefix } = setup();
    const logins = [];
    for (let i = 0; i < 10; i++) logins.push(await userLogin(sessions, 'ada'));
    const keep = logins[0]!;
    for (const op of ['get', 'put', 'delete', 'list'] as const) kv.calls[op].length = 0;
    expect(await sessions.destroyByUser('ada', { except: keep.id })).toBe(9);
    expect(kv.calls.list).toHaveLength(1);
    expect(kv.calls.get).toHaveLength(9);
    expect(kv.calls.put.map((p) => p.key).sort()).toEqual(
      logins
        .slice(1)
        .map((l) => `${prefix}${l.id.slice(0, 22)}:revoked`)
        .sort(),
    );
    expect(kv.calls.delete).toHaveLength(18);
    expect((await sessions.listByUser('ada')).map((i) => i.id)).toEqual([keep.id]);
    for (const l of logins) expect((await sessions.start(request(l.cookie))).isNew).toBe(l !== keep);
  });

  it('listByUser and destroyByUser reject with STORE_LIMIT over maxOperations, before any read or write', async () => {
    const { kv, sessions, prefix } = setup({ maxOperations: 12 });
    for (let i = 0; i < 3; i++) await userLogin(sessions, 'ada');
    for (const op of ['get', 'put', 'delete', 'list'] as const) kv.calls[op].length = 0;
    // 1 list + 3 × (read + 3 writes) = 13 > 12
    const error = await sessions.destroyByUser('ada').catch((e: unknown) => e);
    expect(codes(error)).toContain('STORE_LIMIT');
    expect(error).toMatchObject({ message: expect.stringMatching(/destroyByUser\(\) needs 13 KV operations.*\(12;/) });
    expect(kv.calls.get.length + kv.writes()).toBe(0);
    expect(await sessions.listByUser('ada')).toHaveLength(3); // 1 list + 1 read + 3 prunes at most = 5

    // 1 list + 1 read + 3 prunes = 5 > 4
    const tight = setup({ maxOperations: 4, prefix });
    const listError = await tight.sessions.listByUser('ada').catch((e: unknown) => e);
    expect(listError).toMatchObject({ code: 'STORE_LIMIT', message: expect.stringMatching(/listByUser\(\) needs 5/) });
    expect(tight.kv.calls.get).toHaveLength(0);
  });

  it('after destroyAll, the index entries it leaves are skipped, not pruned: left to their TTL', async () => {
    const { sessions, prefix } = setup();
    const { id } = await userLogin(sessions, 'ada');
    await sessions.destroyAll();
    expect(await sessions.listByUser('ada')).toEqual([]);
    // No record to judge it by: it may be a login on its way, so it stays (the doc says so).
    expect(await env.SESSIONS_KV.get(`${prefix}user:ada:${id}`)).toBe('');
    expect(await sessions.destroyByUser('ada')).toBe(0);
  });

  it('listByUser stays within maxOperations with 100 entries to prune: 1 list, 4 bulk reads, 100 deletes', async () => {
    const { sessions, prefix } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push((await userLogin(sessions, 'ada')).id);
    // Every session revoked elsewhere: each entry is pruned. 33 sessions a bulk read: 4 reads for 100.
    for (const id of ids) await env.SESSIONS_KV.put(`${prefix}${id.slice(0, 22)}:revoked`, '1');
    const tight = setup({ maxOperations: 104, prefix });
    const listed = await tight.sessions.listByUser('ada').then(
      (found) => found.length,
      (error: unknown) => error,
    );
    // Either it refuses before reading, or it spends no more than it may.
    if (typeof listed === 'number') expect(tight.kv.reads() + tight.kv.writes()).toBeLessThanOrEqual(104);
    else expect(listed).toMatchObject({ code: 'STORE_LIMIT' });
  });
});

/**
 * A second KV location as the platform behaves: it serves each key from its edge cache once read (until
 * `catchUp()`, the cache's expiry), sees its own writes at once, and writes through to the one namespace.
 */
function laggingLocation(kv: KVNamespace): { ns: KVNamespaceLike; catchUp(): void } {
  const cache = new Map<string, string | null>();
  const ns: KVNamespaceLike = {
    async get(keys, options) {
      const missing = keys.filter((k) => !cache.has(k));
      if (missing.length > 0) for (const [k, v] of await kv.get(missing, options)) cache.set(k, v);
      return new Map(keys.map((k) => [k, cache.get(k) ?? null]));
    },
    async put(key, value, options) {
      cache.set(key, value);
      await kv.put(key, value, options);
    },
    async delete(key) {
      cache.set(key, null);
      await kv.delete(key);
    },
    list: async (options) => (await kv.list(options)) as KVListPage,
  };
  return { ns, catchUp: () => cache.clear() };
}

describe('kv store: revocation across locations (a two-location model)', () => {
  function twoLocations() {
    const clock = createClock();
    const prefix = uniquePrefix('locations');
    const y = laggingLocation(env.SESSIONS_KV);
    const options = { secrets: [SECRET], now: clock.now, expires: 3600 };
    const storeX = createKVStore(env.SESSIONS_KV, { prefix, now: clock.now });
    const storeY = createKVStore(y.ns, { prefix, now: clock.now });
    const atX = createSessions({ ...options, store: storeX });
    const atY = createSessions({ ...options, store: storeY });
    return { atX, atY, y, storeX, storeY, clock };
  }

  it('a revocation that reached a location is never undone by a write from one that had not seen it', async () => {
    const { atX, atY, y } = twoLocations();
    const cookie = await login(atX, { n: 1 });
    expect((await atY.start(request(cookie))).get('n')).toBe(1); // Y caches the session and "no revocation"
    await atX.destroy(request(cookie));
    expect((await atX.start(request(cookie))).isNew).toBe(true);

    // The window: Y has not seen the revocation yet, still serves the session and writes it back.
    const stale = await atY.start(request(cookie));
    expect(stale.isNew).toBe(false);
    stale.set('n', 2);
    expect((await stale.commit()).getSetCookie()).toHaveLength(1);

    // That write never undoes the revocation: X still refuses the session, and so does Y once its cache expires.
    expect((await atX.start(request(cookie))).isNew).toBe(true);
    y.catchUp();
    expect((await atY.start(request(cookie))).isNew).toBe(true);
    expect((await atX.start(request(cookie))).isNew).toBe(true);
  });

  it('destroyAll at X is never undone by writes at Y, which had not seen it: a commit, a regenerate', async () => {
    const { atX, atY, y, clock } = twoLocations();
    const kept = await login(atX, { n: 1 });
    const moving = await login(atX, { n: 1 });
    for (const cookie of [kept, moving]) await atY.start(request(cookie)); // Y caches both and "never cleared"
    clock.advance(1000);
    await atX.destroyAll();
    // The window: Y writes one session back and moves the other to a new ID, serving both meanwhile.
    const stale = await atY.start(request(kept));
    stale.set('n', 2);
    expect((await stale.commit()).getSetCookie()).toHaveLength(1);
    const renewing = await atY.start(request(moving));
    renewing.regenerate();
    const renewed = cookiePair(await renewing.commit());
    for (const cookie of [kept, moving, renewed]) expect((await atX.start(request(cookie))).isNew).toBe(true);
    y.catchUp();
    for (const cookie of [kept, moving, renewed]) expect((await atY.start(request(cookie))).isNew).toBe(true);
    expect(await atX.count()).toBe(0);
    // A login after destroyAll lives, at either location.
    clock.advance(1);
    const after = await login(atY, { n: 3 });
    expect((await atX.start(request(after))).get('n')).toBe(3);
  });

  it('a regenerate at Y before the revocation reached Y cannot carry the session past it', async () => {
    const { atX, atY, y, storeX, storeY, clock } = twoLocations();
    const cookie = await login(atX, { n: 1 });
    await atY.start(request(cookie)); // Y caches the session and "no revocation"
    const oldId = (await atX.start(request(cookie))).id;
    await atX.destroyById(oldId);

    // The window: Y has not seen the revocation, so it moves the session to a new ID (and on again), writing as
    // it goes. Y itself serves the new IDs until the revocation reaches it.
    const renewing = await atY.start(request(cookie));
    expect(renewing.isNew).toBe(false);
    renewing.regenerate();
    const renewed = cookiePair(await renewing.commit());
    const atYRenewed = await atY.start(request(renewed));
    expect(atYRenewed.get('n')).toBe(1);
    atYRenewed.set('n', 2);
    atYRenewed.regenerate();
    const again = cookiePair(await atYRenewed.commit());
    const late = await atY.start(request(again)); // held by a request at Y across the revocation's arrival
    expect(late.get('n')).toBe(2);
    expect(atYRenewed.id.slice(0, 22)).toBe(oldId.slice(0, 22));

    // X holds the revocation already: neither new ID ever lives there.
    for (const c of [cookie, renewed, again]) expect((await atX.start(request(c))).isNew).toBe(true);
    // Once the revocation reaches Y, every ID of the session is dead there too,
    y.catchUp();
    for (const c of [cookie, renewed, again]) expect((await atY.start(request(c))).isNew).toBe(true);
    // and no write from either location revives it: the commit of a request at Y that loaded it before, an
    // update or a regenerate of the new IDs at either location, even a plain create of their keys.
    late.set('n', 3);
    late.regenerate();
    expect((await late.commit()).getSetCookie()).toEqual([]);
    const now = clock.now();
    for (const store of [storeX, storeY]) {
      for (const id of [renewing.id, atYRenewed.id]) {
        expect(await store.update(id, { set: { n: '4' } }, times(now, now + 600_000))).toBeNull();
        expect(await store.regenerate(id, id.slice(0, 22) + 'f'.repeat(24), {}, times(now, now + 600_000))).toBeNull();
        await store.create(id, record({}, now));
      }
    }
    for (const c of [cookie, renewed, again]) {
      expect((await atX.start(request(c))).isNew).toBe(true);
      expect((await atY.start(request(c))).isNew).toBe(true);
    }
  });

  it('destroyByUser at X: what Y writes before the markers arrive never revives a session once they do', async () => {
    const { atX, atY, y, storeX, storeY, clock } = twoLocations();
    const signIn = async (at: typeof atX, device: string) => {
      const session = await at.create(request(), { userId: 'ada', device, data: { n: 1 } });
      return { id: session.id, cookie: cookiePair(await session.commit()) };
    };
    const ids = async (at: typeof atX) => (await at.listByUser('ada')).map((i) => i.id).sort();
    const phone = await signIn(atX, 'phone');
    const laptop = await signIn(atY, 'laptop');
    const tablet = await signIn(atX, 'tablet');
    // Y reads all three (caching each session and "no revocation"); X ends them all.
    for (const c of [phone, laptop, tablet]) expect((await atY.start(request(c.cookie))).isNew).toBe(false);
    expect(await atX.destroyByUser('ada')).toBe(3);
    for (const c of [phone, laptop, tablet]) expect((await atX.start(request(c.cookie))).isNew).toBe(true);
    expect(await ids(atX)).toEqual([]);

    // The window: Y has not seen the markers. It writes the phone back, gives the laptop a longer lifetime
    // (rewriting its index entry), moves the tablet to a new ID (a new entry), and a new login happens there.
    const stale = await atY.start(request(phone.cookie));
    stale.set('n', 2);
    expect((await stale.commit()).getSetCookie()).toHaveLength(1);
    await atY.updateExpiration(request(laptop.cookie), 7200);
    const renewing = await atY.start(request(tablet.cookie));
    renewing.regenerate();
    const moved = cookiePair(await renewing.commit());
    const late = await atY.start(request(moved)); // a request at Y across the markers' arrival
    expect(late.isNew).toBe(false);
    const fresh = await signIn(atY, 'new phone');
    // Y still serves and lists what it wrote; X, which holds the markers, serves and lists only the new login.
    expect(await ids(atY)).toEqual([laptop.id, renewing.id, fresh.id].sort());
    expect(await ids(atX)).toEqual([fresh.id]);
    for (const c of [phone.cookie, laptop.cookie, tablet.cookie, moved]) {
      expect((await atX.start(request(c))).isNew).toBe(true);
    }

    // The markers reach Y: every ended session is dead there too, under every ID, and unlisted (its entries pruned).
    y.catchUp();
    for (const c of [phone.cookie, laptop.cookie, tablet.cookie, moved]) {
      expect((await atY.start(request(c))).isNew).toBe(true);
    }
    expect(await ids(atY)).toEqual([fresh.id]);
    expect(await ids(atX)).toEqual([fresh.id]);
    // No write from either location revives one: the late request's commit, an update, a regenerate, a create.
    late.set('n', 3);
    late.regenerate();
    expect((await late.commit()).getSetCookie()).toEqual([]);
    const now = clock.now();
    for (const store of [storeX, storeY]) {
      for (const id of [phone.id, laptop.id, renewing.id]) {
        expect(await store.update(id, { set: { n: '4' } }, times(now, now + 600_000))).toBeNull();
        expect(await store.regenerate(id, id.slice(0, 22) + 'f'.repeat(24), {}, times(now, now + 600_000))).toBeNull();
        await store.create(id, record({ userId: 'ada' }, now));
      }
    }
    for (const c of [phone.cookie, laptop.cookie, tablet.cookie, moved]) {
      expect((await atX.start(request(c))).isNew).toBe(true);
      expect((await atY.start(request(c))).isNew).toBe(true);
    }
    expect(await ids(atY)).toEqual([fresh.id]);
    // The login made after destroyByUser returned is a session of its own: the next destroyByUser ends it.
    expect(await atY.destroyByUser('ada')).toBe(1);
    expect(await ids(atX)).toEqual([]);
  });

  it('destroyAll goes by clocks: at Y, 5 ms behind, a login in the 5 ms after it ends; a later one lives', async () => {
    const clock = createClock();
    const prefix = uniquePrefix('skew');
    const behind = () => clock.now() - 5;
    const options = { secrets: [SECRET], expires: 3600 };
    const atX = createSessions({
      ...options,
      now: clock.now,
      store: createKVStore(env.SESSIONS_KV, { prefix, now: clock.now }),
    });
    const atY = createSessions({
      ...options,
      now: behind,
      store: createKVStore(env.SESSIONS_KV, { prefix, now: behind }),
    });
    await atX.destroyAll();
    clock.advance(1); // after destroyAll returned, and the marker has reached Y, but Y's clock is still before it
    const early = await login(atY, { n: 3 });
    expect((await atY.start(request(early))).isNew).toBe(true); // the README says so
    clock.advance(4); // Y's clock reaches the marker's time
    const after = await login(atY, { n: 4 });
    expect((await atY.start(request(after))).get('n')).toBe(4);
    expect((await atX.start(request(after))).get('n')).toBe(4);
  });
});

describe('kv store: interleavings inside its transactions (gates on the real binding)', () => {
  // A destroyById of the old ID landing at each step of a regenerate (before the new record, before the forward,
  // before the delete of the old key): the lineage's revocation ends the session under both IDs, with no check
  // inside regenerate, and destroyById reports that it ended a live session.
  for (const step of ['new record', 'forward', 'delete of the old key'] as const) {
    it(`a destroyById landing before the regenerate's ${step} ends the session under both IDs`, async () => {
      const { kv, sessions, events, prefix } = setup();
      const cookie = await login(sessions);
      const renewing = await sessions.start(request(cookie));
      const oldId = renewing.id;
      renewing.regenerate();
      const newId = renewing.id;
      expect(newId.slice(0, 22)).toBe(oldId.slice(0, 22));
      const gate: Record<typeof step, (c: KVCall) => boolean> = {
        'new record': (c) => c.method === 'put' && c.keys[0] === prefix + newId,
        forward: (c) => c.method === 'put' && c.keys[0] === `${prefix}${oldId}:moved`,
        'delete of the old key': (c) => c.method === 'delete' && c.keys[0] === prefix + oldId,
      };
      const held = kv.hold(gate[step], 'before');
      const commit = renewing.commit();
      await held.reached;
      await sessions.destroyById(oldId);
      held.release();
      const renewed = cookiePair(await commit); // the move completes: the store need not look for the revocation
      expect(events.filter((e) => e.type === 'destroyed')).toHaveLength(1);
      expect((await sessions.start(request(renewed))).isNew).toBe(true);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
      const revocations = kv.calls.put.filter((p) => p.key.endsWith(':revoked')).map((p) => p.key);
      expect(revocations).toEqual([`${prefix}${oldId.slice(0, 22)}:revoked`]);
    });
  }

  it("destroyByUser with except spares the current session's lineage while a regenerate moves it", async () => {
    const { kv, sessions, prefix } = setup();
    const session = await sessions.create(request(), { userId: 'ada' });
    const cookie = cookiePair(await session.commit());
    const other = await sessions.create(request(), { userId: 'ada' });
    const otherCookie = cookiePair(await other.commit());
    const current = await sessions.start(request(cookie));
    const oldId = current.id;
    current.regenerate();
    // Held before the old entry's delete: the index lists the session under both IDs.
    const held = kv.hold((c) => c.method === 'delete' && c.keys[0] === `${prefix}user:ada:${oldId}`, 'before');
    const commit = current.commit();
    await held.reached;
    expect((await sessions.listByUser('ada')).map((i) => i.id).sort()).toEqual([current.id, other.id].sort());
    expect(await sessions.destroyByUser('ada', { except: oldId })).toBe(1);
    held.release();
    const renewed = cookiePair(await commit);
    expect((await sessions.start(request(renewed))).isNew).toBe(false);
    expect((await sessions.start(request(otherCookie))).isNew).toBe(true);
    expect((await sessions.listByUser('ada')).map((i) => i.id)).toEqual([current.id]);
  });

  it('listByUser overlapping a regenerate (listed before the new entry, read after the move) lists it', async () => {
    const { kv, sessions, prefix } = setup();
    const session = await sessions.create(request(), { userId: 'ada' });
    const cookie = cookiePair(await session.commit());
    const current = await sessions.start(request(cookie));
    current.regenerate();
    // The listing's bulk read, held after its `list` (which found the old entry only) until the move is done.
    const held = kv.hold((c) => c.method === 'get' && c.keys.includes(prefix + session.id), 'before');
    const listing = sessions.listByUser('ada');
    await held.reached;
    const renewed = cookiePair(await current.commit());
    held.release();
    expect((await listing).map((i) => i.id)).toEqual([current.id]);
    expect((await sessions.start(request(renewed))).isNew).toBe(false);
  });

  // The same write back, with an expiry past the manager's `expires` (the session's own lifetime, or a new one):
  // the revocation marker must outlive the record it writes, or the session comes back once the marker expires.
  for (const { what, own, write } of LONG_WRITES) {
    it(`the revocation outlives a record written back after it (${what})`, async () => {
      const { kv, sessions, prefix, clock } = setup();
      const created = await sessions.create(request(), { ...own, data: { role: 'user' } });
      const cookie = cookiePair(await created.commit());
      clock.advanceSec(60);
      const key = prefix + created.id;
      const held = kv.hold((c) => c.method === 'put' && c.keys[0] === key, 'before');
      const late = write(sessions, cookie);
      await held.reached;
      await sessions.destroy(request(cookie));
      held.release();
      await late;
      expect(await env.SESSIONS_KV.get(key)).not.toBeNull(); // the late write landed
      const ttl = (k: string) => kv.calls.put.filter((p) => p.key === k).pop()!.options.expirationTtl;
      expect(ttl(`${prefix}${created.id.slice(0, 22)}:revoked`)).toBeGreaterThan(ttl(key));
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
    });
  }

  it('a commit whose read came before a destroy writes the record back, yet the session stays ended', async () => {
    const { kv, sessions } = setup();
    const cookie = await login(sessions);
    const stale = await sessions.start(request(cookie));
    stale.set('late', true);
    const held = kv.hold((c) => c.method === 'put', 'before');
    const commit = stale.commit();
    await held.reached;
    await sessions.destroyById(stale.id);
    held.release();
    await commit;
    const prefix = kv.calls.put[0]!.key.slice(0, -stale.id.length);
    expect(await env.SESSIONS_KV.get(prefix + stale.id)).not.toBeNull(); // the late write landed
    expect((await sessions.start(request(cookie))).isNew).toBe(true); // the revocation marker still wins
  });
});

describe('kv store: a stored record that is not JSON', () => {
  it('is corrupt, as on every other store: no store error, a login with its cookie works', async () => {
    const clock = createClock();
    const prefix = uniquePrefix('corrupt');
    await expectUnparsableRecordIsCorrupt(
      createKVStore(env.SESSIONS_KV, { now: clock.now, prefix }),
      clock,
      (id) => env.SESSIONS_KV.put(prefix + id, '{"data":{"n":"1"'),
      (id) => env.SESSIONS_KV.get(prefix + id),
    );
  });
});

describe('KV, a login retried after its end of the old session failed', () => {
  it('the retried login is stored under an ID that works', async () => {
    const clock = createClock();
    let failKey: string | undefined;
    const kv = wrapKV(env.SESSIONS_KV, (key) => {
      if (key !== failKey) return undefined;
      failKey = undefined; // once
      return new Error('KV PUT failed: 429 Too Many Requests');
    });
    const prefix = `review9c-${Math.random().toString(36).slice(2)}:`;
    const sessions = createSessions({
      store: createKVStore(kv.ns, { now: clock.now, prefix }),
      secrets: [SECRET],
      now: clock.now,
    });
    const anon = await sessions.start(request());
    anon.set('cart', 1);
    const oldCookie = cookiePair(await anon.commit());

    const req = request(oldCookie);
    const login = await sessions.create(req, { userId: 'alice', data: { who: 'alice' } });
    failKey = `${prefix}${anon.id.slice(0, 22)}:revoked`;
    await expect(login.commit()).rejects.toThrow();
    // The visitor keeps the session they had.
    expect((await sessions.start(request(oldCookie))).get('cart')).toBe(1);

    // The app (or handle()'s final commit) commits the login again; the store is fine now.
    const cookie = cookiePair(await login.commit());
    const after = await sessions.start(request(cookie));
    expect([after.isNew, after.get('who')]).toEqual([false, 'alice']);
    expect((await sessions.listByUser('alice')).map((s) => s.id)).toEqual([login.id]);
    expect((await sessions.start(request(oldCookie))).isNew).toBe(true);
  });
});
