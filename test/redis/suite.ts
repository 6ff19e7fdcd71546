// The Redis store against a real redis-server, through one client: the conformance suite with the per-user index,
// the overlapping-request and lifecycle-race suites (exact), and what only Redis has: commands per request,
// expiry on every key, the prefix, retries under overlap, and a Redis that goes away and comes back. Run for
// node-redis, ioredis and the Upstash stand-in on Node (clients.node.test.ts) and for Bun's RedisClient on Bun
// (clients.bun.test.ts). Never on Deno: these files are outside test/runtimes/run.mjs's Deno file set.
import { afterAll } from 'vitest';
import { createSessions, SessionError } from '../../src/index.js';
import { movedId } from '../../src/lib/ids.js';
import { createRedisStore, type RedisClientLike, type RedisStoreOptions } from '../../src/redis.js';
import { describeStoreConformance } from '../conformance.js';
import { describeLifecycleRaces, describeOverlappingRequests } from '../races.js';
import { describe, expect, it } from '../harness.js';
import {
  cookiePair,
  createClock,
  destroyAfterRenewals,
  expectUnparsableRecordIsCorrupt,
  record,
  request,
  SECRET,
  sessionAboutToIdleOut,
  times,
  type TestClock,
} from '../helpers.js';
import { cuttableProxy } from './proxy.js';

/** A client connected to a Redis, and how to close it. */
export interface Connection {
  readonly client: RedisClientLike;
  close(): Promise<void>;
}

/**
 * Connects a client to the Redis at `url`, set up as the README advises: while Redis is unreachable, a command
 * fails at once with the client's error instead of waiting in an offline queue; the client reconnects by itself.
 */
export type Connect = (url: string) => Promise<Connection>;

/** The test Redis, started for the run by vitest's global setup (Node) or test/runtimes/run.mjs (Bun). */
export function redisUrl(): string {
  const url = process.env.EDGE_SESSIONS_REDIS_URL;
  if (url === undefined) {
    throw new Error('EDGE_SESSIONS_REDIS_URL is not set: run through `npm run test:node` or `npm run test:bun`');
  }
  return url;
}

let unique = 0;
/** A prefix no other store of the run uses, so tests sharing one Redis never see each other's keys. */
function uniquePrefix(): string {
  return `t${++unique}-${Math.random().toString(36).slice(2, 8)}:`;
}

/** A session ID no other test uses. */
function freshId(label: string): string {
  return `${label}-${++unique}-${Math.random().toString(36).slice(2)}`.replace(/[^A-Za-z0-9_-]/g, '_').padEnd(24, 'x');
}

/** The client, recording the name of every command it sends. */
function counting(client: RedisClientLike): { client: RedisClientLike; commands: string[] } {
  const commands: string[] = [];
  return {
    commands,
    client: {
      send(command, args) {
        commands.push(command);
        return client.send(command, args);
      },
    },
  };
}

/**
 * The client, with a gate: `holdNextEval()` stops the next `EVAL` before it reaches Redis (an update or a
 * regenerate that has read the session and merged, and is about to write), until `release()`.
 */
function gated(client: RedisClientLike) {
  let held: { arrive(): void; gate: Promise<void> } | undefined;
  return {
    client: {
      async send(command: string, args: string[]) {
        const hold = command === 'EVAL' ? held : undefined;
        if (hold !== undefined) {
          held = undefined;
          hold.arrive();
          await hold.gate;
        }
        return client.send(command, args);
      },
    } satisfies RedisClientLike,
    holdNextEval() {
      let arrive!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((resolve) => (arrive = resolve));
      held = { arrive, gate: new Promise<void>((resolve) => (release = resolve)) };
      return { reached, release };
    },
  };
}

/** `check()`'s value once it stops throwing, trying every 100 ms for up to 10 s (a client reconnecting). */
async function eventually<T>(check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Registers every Redis suite for the clients `connect` makes. */
export function describeRedisStore(name: string, connect: Connect): void {
  const url = redisUrl();
  const opened: Connection[] = [];
  let shared: Promise<Connection> | undefined;
  async function open(at: string): Promise<Connection> {
    const connection = await connect(at);
    opened.push(connection);
    return connection;
  }
  /** One client for the file's tests, as an app has one. */
  const client = async () => (await (shared ??= open(url))).client;
  const store = async (clock: TestClock, options: RedisStoreOptions = {}) =>
    createRedisStore(await client(), { now: clock.now, prefix: uniquePrefix(), ...options });
  /** Sessions over a store whose client records every command. */
  async function countedSessions() {
    const clock = createClock();
    const counted = counting(await client());
    const redis = createRedisStore(counted.client, { now: clock.now, prefix: uniquePrefix() });
    return { counted, sessions: createSessions({ store: redis, secrets: [SECRET], now: clock.now }) };
  }
  afterAll(async () => {
    for (const connection of opened) await connection.close();
  });

  describeStoreConformance(`redis via ${name}`, (clock) => store(clock), { perUser: true });
  describeOverlappingRequests(`redis via ${name}`, (clock) => store(clock));
  describeLifecycleRaces(`redis via ${name}`, (clock) => store(clock), { exact: true });

  describe(`redis store via ${name}`, () => {
    it('a returning read-only request is 1 command, a visitor who stores nothing 0, a write 2', async () => {
      const { counted, sessions } = await countedSessions();

      const visitor = await sessions.start(request());
      visitor.get('cart');
      expect((await visitor.commit()).getSetCookie()).toEqual([]);
      expect(counted.commands).toEqual([]);

      const login = await sessions.start(request());
      login.set('n', 1);
      const cookie = cookiePair(await login.commit());
      expect(counted.commands).toEqual(['EVAL']);

      counted.commands.length = 0;
      const reader = await sessions.start(request(cookie));
      expect(reader.get('n')).toBe(1);
      expect((await reader.commit()).getSetCookie()).toEqual([]);
      expect(counted.commands).toEqual(['HMGET']);

      counted.commands.length = 0;
      const writer = await sessions.start(request(cookie));
      writer.increment('n');
      await writer.commit();
      // The write's script checks the version the read saw: no second read.
      expect(counted.commands).toEqual(['HMGET', 'EVAL']);

      counted.commands.length = 0;
      await sessions.destroy(request(cookie)); // it starts the session (a read), then ends it (a script)
      expect(counted.commands).toEqual(['HMGET', 'EVAL']);
    });

    it('destroy of a session’s first ID ends it after 20 regenerates, each forward still kept', async () => {
      const clock = createClock();
      const redis = await store(clock);
      const { answer, last } = await destroyAfterRenewals(redis, clock, 20);
      expect(answer).toBe(last);
      expect(await redis.get(last)).toBeNull();
    });

    it('destroy ends a cycle of forwards another program wrote, rather than looping', async () => {
      const clock = createClock();
      const c = await client();
      const prefix = uniquePrefix();
      const [a, b] = [freshId('cycle-a'), freshId('cycle-b')];
      await c.send('HSET', [prefix + a, 'to', b]);
      await c.send('HSET', [prefix + b, 'to', a]);
      const redis = createRedisStore(c, { now: clock.now, prefix });
      expect(await redis.destroy(a, clock.now() + 60_000)).toBe(false);
      expect(await c.send('HGET', [prefix + b, 'e'])).toBe('1');
    });

    it('puts a PX expiry on every key it writes: session, user index, forward, end marker', async () => {
      const clock = createClock();
      const c = await client();
      const prefix = uniquePrefix();
      const redis = createRedisStore(c, { now: clock.now, prefix });
      const now = clock.now();
      const pttl = async (key: string) => Number(await c.send('PTTL', [key]));
      // Each within 5 s below what was asked: the test machine is slow and shared.
      const near = async (key: string, ms: number) => {
        const left = await pttl(key);
        expect(left <= ms && left > ms - 5000).toBe(true);
      };
      const a = freshId('a');
      await redis.create(a, record({ userId: 'ada', expiresAt: now + 60_000, endsAt: now + 600_000 }, now));
      await near(prefix + a, 60_000);
      await near(`${prefix}user:ada`, 60_000);

      // A touch moves both on: the index lives as long as its longest session.
      await redis.update(a, {}, times(now, now + 120_000, now + 600_000));
      await near(prefix + a, 120_000);
      await near(`${prefix}user:ada`, 120_000);

      const b = movedId(a, freshId('b'));
      await redis.regenerate(a, b, {}, times(now, now + 90_000, now + 600_000));
      await near(prefix + b, 90_000);
      await near(prefix + a, 90_000); // the forward, as long as the session it points to
      expect(await c.send('HGET', [prefix + a, 'to'])).toBe(b);
      await near(`${prefix}user:ada`, 120_000); // never shortened

      expect(await redis.destroy(a, now + 3_600_000)).toBe(b); // the ID it was live under
      await near(prefix + a, 3_600_000);
      await near(prefix + b, 3_600_000); // the end marker under the ID the forward led to
      expect(await c.send('HGET', [prefix + b, 'r'])).toBeNull();
      expect(await c.send('SISMEMBER', [`${prefix}user:ada`, b])).toBe(0);
    });

    it('a commit whose write meets a newer version merges onto it: both changes kept, one more EVAL', async () => {
      const clock = createClock();
      const counted = counting(await client());
      const gate = gated(counted.client);
      const redis = createRedisStore(gate.client, { now: clock.now, prefix: uniquePrefix() });
      const sessions = createSessions({ store: redis, secrets: [SECRET], now: clock.now });
      const login = await sessions.start(request());
      login.set('n', 1);
      const cookie = cookiePair(await login.commit());
      const [a, b] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
      a.set('x', 'from a');
      a.increment('n');
      b.set('y', 'from b');
      b.increment('n');
      // `a` has read version 1 and merged; `b` commits in full before `a` writes.
      const held = gate.holdNextEval();
      const commit = a.commit();
      await held.reached;
      await b.commit();
      counted.commands.length = 0;
      held.release();
      await commit;
      // The held script found version 2, answered it, and `a` merged onto it and wrote again.
      expect(counted.commands).toEqual(['EVAL', 'EVAL']);
      expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: 3, x: 'from a', y: 'from b' });
      expect(a.getAll()).toEqual({ n: 3, x: 'from a', y: 'from b' });
    });

    it('a commit whose write meets a destroy writes nothing and sends no cookie', async () => {
      const clock = createClock();
      const gate = gated(await client());
      const redis = createRedisStore(gate.client, { now: clock.now, prefix: uniquePrefix() });
      const sessions = createSessions({ store: redis, secrets: [SECRET], now: clock.now });
      const login = await sessions.start(request());
      login.set('n', 1);
      const cookie = cookiePair(await login.commit());
      const stale = await sessions.start(request(cookie));
      stale.set('late', true);
      const held = gate.holdNextEval();
      const commit = stale.commit();
      await held.reached;
      await sessions.destroyById(stale.id);
      held.release();
      expect((await commit).getSetCookie()).toEqual([]);
      expect(stale.destroyed).toBe(true);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
    });

    it('a commit in flight that extends a session listByUser found expired keeps it in the index', async () => {
      const clock = createClock();
      const gate = gated(await client());
      const redis = createRedisStore(gate.client, { now: clock.now, prefix: uniquePrefix() });
      const sessions = createSessions({ store: redis, secrets: [SECRET], now: clock.now, idleTimeout: 600 });
      const userId = freshId('user');
      const { id, cookie, late } = await sessionAboutToIdleOut(sessions, clock, userId);
      const held = gate.holdNextEval();
      const commit = late.commit(); // checked live, merged; its script not run yet
      await held.reached;
      clock.advanceSec(2);
      expect(await sessions.listByUser(userId)).toEqual([]); // expired by now: dropped from the index
      held.release();
      await commit; // the script finds the version it read, and writes: the session lives on
      expect((await sessions.start(request(cookie))).get('late')).toBe(true);
      expect((await sessions.listByUser(userId)).map((s) => s.id)).toEqual([id]);
      expect(await sessions.destroyByUser(userId)).toBe(1);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
    });

    it('a version remembered from a read is a guess: another process writing meanwhile loses nothing', async () => {
      const clock = createClock();
      const c = await client();
      const prefix = uniquePrefix();
      const counted = counting(c);
      const here = createRedisStore(counted.client, { now: clock.now, prefix });
      const there = createRedisStore(c, { now: clock.now, prefix }); // another process, the same Redis
      const now = clock.now();
      const id = freshId('guess');
      await here.create(id, record({ data: { n: '1' }, expiresAt: now + 60_000, endsAt: now + 600_000 }, now));

      await here.get(id); // remembers version 1, expiring at now + 60 s
      await there.update(id, { set: { b: '"there"' } }, times(now, now + 120_000, now + 600_000));
      clock.advance(90_000); // expired by what `here` remembers, live in Redis
      counted.commands.length = 0;
      const t = clock.now();
      const first = await here.update(id, { increment: { n: 1 } }, times(t, t + 120_000, now + 600_000));
      expect(first?.data).toEqual({ n: '2', b: '"there"' });
      expect(counted.commands).toEqual(['HMGET', 'EVAL']); // a guess never says "gone": it read again

      await here.get(id); // remembers version 3
      await there.update(id, { set: { c: '"there"' } }, times(t, t + 120_000, now + 600_000));
      counted.commands.length = 0;
      const second = await here.update(id, { increment: { n: 1 } }, times(t, t + 120_000, now + 600_000));
      expect(second?.data).toEqual({ n: '3', b: '"there"', c: '"there"' });
      expect(counted.commands).toEqual(['EVAL', 'EVAL']); // refused at version 3, merged onto 4
      expect(await here.get(id)).toEqual(second);
    });

    it('keeps every change of 30 overlapping commits, merging again onto each that landed first', async () => {
      const { counted, sessions } = await countedSessions();
      const login = await sessions.start(request());
      login.set('n', 0);
      const cookie = cookiePair(await login.commit());
      const loaded = await Promise.all(Array.from({ length: 30 }, () => sessions.start(request(cookie))));
      loaded.forEach((s, i) => {
        s.increment('n');
        s.set(`k${i}`, i);
      });
      counted.commands.length = 0;
      await Promise.all(loaded.map((s) => s.commit()));
      const after = await sessions.start(request(cookie));
      expect(after.get('n')).toBe(30);
      expect(after.keys().length).toBe(31);
      // More scripts than commits: some commits found another had landed first, merged again and retried.
      const evals = counted.commands.filter((c) => c === 'EVAL').length;
      expect(evals).toBeGreaterThan(30);
    });

    it('a record that is not JSON is corrupt: no store error, a login with its cookie works', async () => {
      const clock = createClock();
      const c = await client();
      const prefix = uniquePrefix();
      await expectUnparsableRecordIsCorrupt(
        createRedisStore(c, { now: clock.now, prefix }),
        clock,
        async (id) => void (await c.send('HSET', [prefix + id, 'r', '{"data":{"n":"1"'])),
        (id) => c.send('HGET', [prefix + id, 'r']),
      );
    });

    it('a session whose stored expiry field is not a number can still be listed and logged out', async () => {
      const clock = createClock();
      const c = await client();
      const prefix = uniquePrefix();
      const sessions = createSessions({
        store: createRedisStore(c, { now: clock.now, prefix }),
        secrets: [SECRET],
        now: clock.now,
      });
      const userId = freshId('user');
      const logins = [];
      for (let i = 0; i < 3; i++) {
        const login = await sessions.create(request(), { userId, data: { i } });
        logins.push({ id: login.id, cookie: cookiePair(await login.commit()) });
      }
      for (const { id } of logins.slice(0, 2)) await c.send('HSET', [prefix + id, 'x', 'not a number']);
      // The record itself is intact: the sessions work, and are listed (their record says when they expire).
      expect((await sessions.listByUser(userId)).map((s) => s.id).sort()).toEqual(logins.map((l) => l.id).sort());
      await sessions.destroyById(logins[0]!.id);
      expect((await sessions.start(request(logins[0]!.cookie))).isNew).toBe(true);
      await sessions.destroyByUser(userId);
      for (const { cookie } of logins) expect((await sessions.start(request(cookie))).isNew).toBe(true);
      expect(await sessions.listByUser(userId)).toEqual([]);
    });

    it('keeps to its prefix: a store with another prefix sees none of its sessions', async () => {
      const clock = createClock();
      const c = await client();
      const [prefixA, prefixB] = [uniquePrefix(), uniquePrefix()];
      const a = createRedisStore(c, { now: clock.now, prefix: prefixA });
      const b = createRedisStore(c, { now: clock.now, prefix: prefixB });
      const id = freshId('shared');
      expect(await a.create(id, record({ data: { from: '"a"' } }, clock.now()))).toBe(true);
      expect(await c.send('EXISTS', [prefixA + id])).toBe(1);
      expect(await b.get(id)).toBeNull();
      expect(await b.create(id, record({ data: { from: '"b"' } }, clock.now()))).toBe(true);
      expect((await a.get(id))?.data).toEqual({ from: '"a"' });
    });

    it('refuses to regenerate onto a taken ID, and leaves both sessions as they were', async () => {
      const clock = createClock();
      const redis = await store(clock);
      const now = clock.now();
      const [from, taken] = [freshId('from'), freshId('taken')];
      await redis.create(from, record({ data: { who: '"from"' } }, now));
      await redis.create(taken, record({ data: { who: '"taken"' } }, now));
      await expect(redis.regenerate(from, taken, {}, times(now, now + 60_000))).rejects.toThrow(/new ID is taken/);
      expect((await redis.get(from))?.data).toEqual({ who: '"from"' });
      expect((await redis.get(taken))?.data).toEqual({ who: '"taken"' });
    });

    // Redis does not roll a script back when a command in it fails: a script must fail before its first write.
    it('a user index key of another type: create, update and regenerate fail and write nothing', async () => {
      const clock = createClock();
      const c = await client();
      const prefix = uniquePrefix();
      const redis = createRedisStore(c, { now: clock.now, prefix });
      const now = clock.now();
      const [kept, refused, moved] = [freshId('kept'), freshId('refused'), freshId('moved')];
      const at = { expiresAt: now + 60_000, endsAt: now + 600_000 };
      expect(await redis.create(kept, record({ userId: 'ada', data: { n: '1' }, ...at }, now))).toBe(true);
      await c.send('DEL', [`${prefix}user:ada`]);
      await c.send('SET', [`${prefix}user:ada`, 'another program']);

      await expect(redis.create(refused, record({ userId: 'ada', ...at }, now))).rejects.toThrow(/WRONGTYPE/);
      expect(await c.send('EXISTS', [prefix + refused])).toBe(0);

      const later = times(now, now + 120_000, now + 600_000);
      await expect(redis.update(kept, { set: { n: '2' } }, later)).rejects.toThrow(/WRONGTYPE/);
      await expect(redis.regenerate(kept, movedId(kept, moved), {}, later)).rejects.toThrow(/WRONGTYPE/);
      expect(await c.send('EXISTS', [prefix + movedId(kept, moved)])).toBe(0);
      expect(await redis.get(kept)).toMatchObject({ data: { n: '1' }, expiresAt: now + 60_000 });
    });

    it('Redis down: start rejects STORE_READ with the client error within storeTimeout; the cookie stays', async () => {
      const plug = await cuttableProxy(Number(new URL(url).port));
      try {
        const { client: c } = await open(`redis://127.0.0.1:${plug.port}`);
        const clock = createClock();
        const redis = createRedisStore(c, { now: clock.now, prefix: uniquePrefix() });
        const sessions = createSessions({ store: redis, secrets: [SECRET], now: clock.now, storeTimeout: 2 });
        const login = await sessions.start(request());
        login.set('n', 1);
        const cookie = cookiePair(await login.commit());

        await plug.cut();
        /** A request with the cookie: it must fail with the client's error, not wait for `storeTimeout`. */
        const refused = async () => {
          const started = Date.now();
          const error = await sessions
            .handle(() => new Response('never'))(request(cookie))
            .catch((e: unknown) => e);
          expect(Date.now() - started).toBeLessThan(2000);
          expect(error).toBeInstanceOf(SessionError);
          expect(error).toMatchObject({ code: 'STORE_READ', message: 'edge-sessions: redis store: get failed' });
          // The client's own error, not the manager's timeout.
          const cause = (error as SessionError).cause;
          expect(cause).toBeInstanceOf(Error);
          expect(cause instanceof SessionError).toBe(false);
        };
        // At once (the command meets the closing connection), then once the client knows it is disconnected
        // and is trying to reconnect (the command meets its offline queue, which the README says to turn off).
        await refused();
        await new Promise((resolve) => setTimeout(resolve, 500));
        await refused();

        // Nothing was cleared: once Redis is back, the same cookie opens the same session.
        await plug.restore();
        expect(await eventually(async () => (await sessions.start(request(cookie))).get('n'))).toBe(1);
      } finally {
        await plug.close();
      }
    });
  });
}
