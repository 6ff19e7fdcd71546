// Defects the differential fuzz test (differential.node.test.ts) found in the Redis store, each shrunk to a short
// deterministic case against the test redis-server (started by vitest's global setup).
import { createClient } from 'redis';
import { createSessions } from '../src/index.js';
import { createRedisStore, type RedisClientLike } from '../src/redis.js';
import { afterAll } from 'vitest';
import { describe, expect, it } from './harness.js';
import { cookiePair, createClock, request, SECRET } from './helpers.js';

const url = process.env.EDGE_SESSIONS_REDIS_URL;
if (url === undefined) throw new Error('EDGE_SESSIONS_REDIS_URL is not set: run through vitest.config.ts');
const redis = createClient({ url, disableOfflineQueue: true });
redis.on('error', () => {});
const connected = redis.connect();
const client: RedisClientLike = { send: (c, a) => redis.sendCommand([c, ...a]) };
afterAll(() => redis.destroy());

let n = 0;
const prefix = () => `found-${++n}-${Math.random().toString(36).slice(2, 8)}:`;

describe('differential fuzzing: found defects (redis store)', () => {
  it('a commit whose remembered version is stale merges onto the session as it is, not the guess', async () => {
    // Two processes on one Redis. Here, a slow request read the session (n: 1), then a quick one set n to "x"
    // (this store remembers that write); the other process then stored n: 5. The slow request's increment must
    // count on 5 (all keep their changes, as in the memory store), not fail with TYPE_MISMATCH against the "x"
    // this store remembered.
    await connected;
    const clock = createClock();
    const at = prefix();
    const options = { secrets: [SECRET], now: clock.now };
    const here = createSessions({ store: createRedisStore(client, { prefix: at, now: clock.now }), ...options });
    const there = createSessions({ store: createRedisStore(client, { prefix: at, now: clock.now }), ...options });
    const login = await here.start(request());
    login.set('n', 1);
    const cookie = cookiePair(await login.commit());

    const slow = await here.start(request(cookie));
    const quick = await here.start(request(cookie));
    quick.set('n', 'x');
    await quick.commit();
    const other = await there.start(request(cookie));
    other.set('n', 5);
    await other.commit();
    expect(slow.increment('n')).toBe(2); // the request's own view
    await slow.commit();
    const after = await there.start(request(cookie));
    expect(after.get('n')).toBe(6);
  });

  it('a regenerate of a session a login ended is ended, not a TYPE_MISMATCH from the remembered record', async () => {
    // One process: request A read the session; request C set a = "x" (this store remembers that write); a login
    // on request B ended the session. A's regenerate with an increment of `a` finds the session ended: no cookie,
    // destroyed, as the memory store answers, not a merge error against the record this store remembered.
    await connected;
    const clock = createClock();
    const sessions = createSessions({
      store: createRedisStore(client, { prefix: prefix(), now: clock.now }),
      secrets: [SECRET],
      now: clock.now,
    });
    const first = await sessions.start(request());
    first.set('b', 1);
    const cookie = cookiePair(await first.commit());

    const a = await sessions.start(request(cookie));
    a.increment('a', -2);
    a.regenerate();
    const c = await sessions.start(request(cookie));
    c.set('a', 'x');
    await c.commit();
    const b = await sessions.create(request(cookie), { userId: 'bob' });
    await b.commit(); // ends the session A and C read
    const lines = (await a.commit()).getSetCookie();
    expect([lines, a.destroyed]).toEqual([[], true]);
  });
});
