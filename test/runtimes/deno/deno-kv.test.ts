// edge-sessions/deno-kv on the real Deno KV (`deno test --unstable-kv`): an in-memory database for the suites,
// a database file for what must survive a reopen. Run only by `npm run test:deno` (test/runtimes/run.mjs).
import { createSessions } from '../../../src/index.js';
import { createDenoKvStore, type DenoKvKey, type DenoKvLike } from '../../../src/deno-kv.js';
import { describeStoreConformance } from '../../conformance.js';
import { describeLifecycleRaces, describeOverlappingRequests } from '../../races.js';
import { describe, expect, it } from '../../harness.js';
import {
  cookiePair,
  createClock,
  expectUnparsableRecordIsCorrupt,
  request,
  SECRET,
  sessionAboutToIdleOut,
} from '../../helpers.js';

declare const Deno: {
  openKv(path?: string): Promise<DenoKvLike & { close(): void }>;
  makeTempDir(): Promise<string>;
};

const memoryKv = () => Deno.openKv(':memory:');

/** `db`, with each atomic operation passed through `wrap` (to watch or hold it) before the store uses it. */
function withAtomic(db: DenoKvLike, wrap: (op: ReturnType<DenoKvLike['atomic']>) => void): DenoKvLike {
  return {
    get: (key) => db.get(key),
    list: (selector) => db.list(selector),
    atomic() {
      const op = db.atomic();
      wrap(op);
      return op;
    },
  };
}

/**
 * A fresh in-memory Deno KV whose next atomic commit first runs what `beforeNextCommit` was given: another request
 * landing between a store's read and its write.
 */
async function withGate() {
  let before: (() => Promise<void>) | undefined;
  const kv = withAtomic(await memoryKv(), (op) => {
    const commit = op.commit.bind(op);
    op.commit = async () => {
      const run = before;
      before = undefined;
      await run?.();
      return commit();
    };
  });
  return { kv, beforeNextCommit: (run: () => Promise<void>) => void (before = run) };
}

/** A manager over `kv` on a test clock. */
function sessionsOn(kv: DenoKvLike, clock = createClock(), expires = 3600) {
  return {
    clock,
    sessions: createSessions({
      store: createDenoKvStore(kv, { now: clock.now }),
      secrets: [SECRET],
      now: clock.now,
      expires,
    }),
  };
}
const store = async (clock: { now(): number }) => createDenoKvStore(await memoryKv(), { now: clock.now });

describeStoreConformance('deno-kv', store, { perUser: true });
describeOverlappingRequests('deno-kv', store);
describeLifecycleRaces('deno-kv', store, { exact: true });

describe('deno-kv store', () => {
  it('keeps sessions in a database file across a reopen (a server restart)', async () => {
    const path = `${await Deno.makeTempDir()}/sessions.sqlite3`;
    const first = await Deno.openKv(path);
    const { clock, sessions: before } = sessionsOn(first);
    const login = await before.create(request(), { userId: 'ada', data: { visits: 1 } });
    const cookie = cookiePair(await login.commit());
    first.close();

    const second = await Deno.openKv(path);
    const { sessions: after } = sessionsOn(second, clock);
    const session = await after.start(request(cookie));
    expect([session.isNew, session.get('visits'), session.userId]).toEqual([false, 1, 'ada']);
    expect((await after.listByUser('ada')).map((i) => i.id)).toEqual([session.id]);
    second.close();
  });

  it('checks expiry itself: a record Deno has not deleted yet is not a session', async () => {
    const { clock, sessions } = sessionsOn(await memoryKv(), createClock(), 60);
    const login = await sessions.create(request(), { userId: 'ada' });
    const cookie = cookiePair(await login.commit());
    clock.advanceSec(61); // the test clock moved; Deno's own clock did not, so the value is still there
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(await sessions.listByUser('ada')).toEqual([]);
  });

  it('refuses values over 64 KiB and user IDs that make keys over 2 KiB, writing nothing', async () => {
    const kv = await memoryKv();
    const { sessions } = sessionsOn(kv);
    const big = await sessions.start(request());
    big.set('blob', 'x'.repeat(70_000));
    await expect(big.commit()).rejects.toMatchObject({ code: 'STORE_LIMIT' });
    const long = await sessions.create(request(), { userId: 'u'.repeat(256) });
    await expect(long.commit()).resolves.toBeDefined(); // 256 characters fit
    let entries = 0;
    for await (const _ of kv.list({ prefix: ['sessions', 's'] })) entries++;
    expect(entries).toBe(1);
  });

  // Deno KV stores a value as V8 serializes it: a string with any character past U+00FF takes two bytes per
  // character, so 40 KB of ASCII and one euro sign are 80 KB to Deno though 40 KB of UTF-8.
  it('refuses a value V8 serializes over 64 KiB though its UTF-8 is under: STORE_LIMIT, nothing written', async () => {
    const kv = await memoryKv();
    const { sessions } = sessionsOn(kv);
    const login = await sessions.create(request(), { userId: 'ada', data: { n: 1 } });
    const cookie = cookiePair(await login.commit());
    const big = await sessions.start(request());
    big.set('blob', `${'x'.repeat(40_000)}\u20ac`);
    await expect(big.commit()).rejects.toMatchObject({ code: 'STORE_LIMIT' });
    const grown = await sessions.start(request(cookie));
    grown.set('blob', `${'x'.repeat(40_000)}\u20ac`);
    await expect(grown.commit()).rejects.toMatchObject({ code: 'STORE_LIMIT' });
    const after = await sessions.start(request(cookie));
    expect([after.isNew, after.get('n'), after.get('blob')]).toEqual([false, 1, undefined]);
    let entries = 0;
    for await (const _ of kv.list({ prefix: ['sessions', 's'] })) entries++;
    expect(entries).toBe(1);
  });

  it('costs one Deno KV get for a returning read-only request, none for an anonymous one', async () => {
    const db = await memoryKv();
    const calls = { get: 0, list: 0, atomic: 0 };
    const kv: DenoKvLike = {
      get: (key) => (calls.get++, db.get(key)),
      list: (selector) => (calls.list++, db.list(selector)),
      atomic: () => (calls.atomic++, db.atomic()),
    };
    const { sessions } = sessionsOn(kv);
    const reset = () => Object.assign(calls, { get: 0, list: 0, atomic: 0 });
    await (await sessions.start(request())).commit();
    expect(calls).toEqual({ get: 0, list: 0, atomic: 0 }); // anonymous, nothing stored
    const cookie = cookiePair(await (await sessions.create(request(), { data: { n: 1 } })).commit());
    expect(calls).toEqual({ get: 0, list: 0, atomic: 1 }); // a login: one atomic operation, no read first
    reset();
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
    expect(calls).toEqual({ get: 1, list: 0, atomic: 0 }); // read-only: one round trip
    reset();
    const writer = await sessions.start(request(cookie));
    writer.increment('n');
    await writer.commit();
    expect(calls).toEqual({ get: 2, list: 0, atomic: 1 }); // the request's read, the write's checked read + commit
  });

  // An unlimited lifetime's end is past any expireIn Deno takes: the index entry must still outlive every record
  // the session's writes store (each up to 400 days on), without a write of its own on every touch.
  it('an unlimited session: its index entry outlives every record its touches store', async () => {
    const db = await memoryKv();
    const sets: { key: DenoKvKey; expireIn: number | undefined }[] = [];
    const kv = withAtomic(db, (op) => {
      const set = op.set.bind(op);
      op.set = (key, value, options) => (sets.push({ key, expireIn: options?.expireIn }), set(key, value, options));
    });
    const { clock, sessions } = sessionsOn(kv);
    const session = await sessions.create(request(), { userId: 'ada', expires: Infinity });
    const cookie = cookiePair(await session.commit());
    let entryEnd = 0;
    let entries = 0;
    for (let day = 0; day <= 2000; day += 10) {
      if (day > 0) {
        clock.advanceSec(10 * 86_400);
        await (await sessions.start(request(cookie))).commit(); // a touch
      }
      const written = sets.splice(0);
      const record = written.find((s) => s.key[1] === 's')!;
      for (const entry of written.filter((s) => s.key[1] === 'u')) {
        entryEnd = clock.now() + entry.expireIn!;
        entries++;
      }
      expect(entryEnd).toBeGreaterThanOrEqual(clock.now() + record.expireIn!);
    }
    expect(entries).toBeLessThanOrEqual(7); // the login, then once per 400-day period
    expect((await sessions.listByUser('ada')).map((i) => i.id)).toEqual([session.id]);
  });

  it('a commit in flight on a session that listByUser found expired and pruned writes nothing', async () => {
    const { kv, beforeNextCommit } = await withGate();
    const clock = createClock();
    const store = createDenoKvStore(kv, { now: clock.now });
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, idleTimeout: 600 });
    const { cookie, late } = await sessionAboutToIdleOut(sessions, clock, 'ada');
    // The commit has read the session live and merged; before its atomic operation commits, it expires and a
    // listing finds it so.
    beforeNextCommit(async () => {
      clock.advanceSec(2);
      expect(await sessions.listByUser('ada')).toEqual([]);
    });
    await late.commit();
    // The listing rewrote the record: the commit read it again, found it expired and wrote nothing.
    expect(late.destroyed).toBe(true);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(await sessions.listByUser('ada')).toEqual([]);
  });

  // Isolates' clocks differ: a listing on one ahead finds the session expired while one behind still reads it live
  // and extends it. Its index entry must stay for that, or "log out everywhere" misses the session for good.
  it('a listing on a clock ahead keeps indexed a session a clock behind still extends', async () => {
    const kv = await memoryKv();
    const behind = createClock();
    const ahead = { now: () => behind.now() + 2000 };
    const on = (clock: { now(): number }) =>
      createSessions({
        store: createDenoKvStore(kv, { now: clock.now }),
        secrets: [SECRET],
        now: clock.now,
        idleTimeout: 600,
      });
    const slow = on(behind);
    const fast = on(ahead);
    const login = await slow.create(request(), { userId: 'ada' });
    const cookie = cookiePair(await login.commit());
    behind.advanceSec(599); // one second left by the slow clock, a second past by the fast one
    expect(await fast.listByUser('ada')).toEqual([]);
    const late = await slow.start(request(cookie));
    expect(late.isNew).toBe(false);
    late.set('late', true);
    await late.commit(); // extended by ten minutes
    behind.advanceSec(60);
    expect((await fast.listByUser('ada')).map((i) => i.id)).toEqual([late.id]);
    expect(await fast.destroyByUser('ada')).toBe(1);
    expect((await slow.start(request(cookie))).isNew).toBe(true);
  });

  it('listByUser lists a session that a regenerate moves while it runs, under its new ID', async () => {
    const db = await memoryKv();
    let after: (() => Promise<void>) | undefined;
    const kv: DenoKvLike = {
      get: (key) => db.get(key),
      async *list(selector) {
        yield* db.list(selector);
        const run = after;
        after = undefined;
        await run?.();
      },
      atomic: () => db.atomic(),
    };
    const { sessions } = sessionsOn(kv);
    const login = await sessions.create(request(), { userId: 'ada' });
    const mover = await sessions.start(request(cookiePair(await login.commit())));
    mover.regenerate();
    // The listing has read the user's index; before it reads the session, a regenerate moves it to a new ID.
    after = async () => void (await mover.commit());
    const listed = await sessions.listByUser('ada');
    expect(mover.id).not.toBe(login.id);
    expect(listed.map((s) => s.id)).toEqual([mover.id]);
    expect((await sessions.listByUser('ada')).map((s) => s.id)).toEqual([mover.id]);
  });

  it('destroyAll ends a session whose commit lands between its listing and its delete', async () => {
    const { kv, beforeNextCommit } = await withGate();
    const { sessions } = sessionsOn(kv);
    const login = await sessions.create(request(), { userId: 'ada', data: { n: 1 } });
    const cookie = cookiePair(await login.commit());
    const writer = await sessions.start(request(cookie));
    writer.set('late', true);
    // destroyAll has listed the session; before its delete commits, a request's commit lands.
    beforeNextCommit(async () => void (await writer.commit()));
    await sessions.destroyAll();
    expect(writer.get('late')).toBe(true);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(await sessions.count()).toBe(0);
    expect(await sessions.listByUser('ada')).toEqual([]);
  });

  it('destroyAll ends a session that a regenerate moves between its listing and its delete', async () => {
    const { kv, beforeNextCommit } = await withGate();
    const { sessions } = sessionsOn(kv);
    const login = await sessions.create(request(), { userId: 'ada' });
    const mover = await sessions.start(request(cookiePair(await login.commit())));
    mover.regenerate();
    // destroyAll has listed the session; before its delete commits, a regenerate moves it to a new ID.
    let moved = '';
    beforeNextCommit(async () => {
      moved = cookiePair(await mover.commit());
    });
    await sessions.destroyAll();
    expect(moved).not.toBe('');
    expect((await sessions.start(request(moved))).isNew).toBe(true);
    expect(await sessions.count()).toBe(0);
  });

  it('a record that is not JSON is corrupt: no store error, a login with its cookie works', async () => {
    const kv = await memoryKv();
    const clock = createClock();
    const key = (id: string) => ['sessions', 's', id];
    await expectUnparsableRecordIsCorrupt(
      createDenoKvStore(kv, { now: clock.now }),
      clock,
      async (id) => {
        const { value } = await kv.get(key(id));
        await kv
          .atomic()
          .set(key(id), { ...(value as object), live: '{"data":{"n":"1"' })
          .commit();
      },
      async (id) => (await kv.get(key(id))).value,
    );
  });

  it('refuses unknown options and a bad prefix with a SessionError', async () => {
    const kv = await memoryKv();
    expect(() => createDenoKvStore(kv, { prefx: 'x' } as never)).toThrow(/unknown option "prefx"/);
    expect(() => createDenoKvStore(kv, { prefix: '' })).toThrow(/prefix/);
  });
});
