// Defects the differential fuzz test in workerd (differential.workerd.test.ts) found, each shrunk to a short
// deterministic case.
import { env } from 'cloudflare:workers';
import { createSessions } from '../../src/index.js';
import { createKVStore } from '../../src/kv.js';
import { describe, expect, it } from '../harness.js';
import { cookiePair, createClock, request, SECRET } from '../helpers.js';

describe('differential fuzzing in workerd: found defects', () => {
  it('kv: count() leaves out a session destroyed by the ID it had before a regenerate', async () => {
    // The destroy of the old ID revokes the session's lineage, so the session is dead under its new ID too; but
    // only the old ID's key was deleted, and count() (which lists keys) still counted the new one as live.
    const clock = createClock();
    const store = createKVStore(env.SESSIONS_KV, { now: clock.now, prefix: `found-${crypto.randomUUID()}:` });
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, expires: 3600 });

    const first = await sessions.start(request());
    first.set('n', 1);
    const cookie = cookiePair(await first.commit());
    const oldId = first.id;
    const second = await sessions.start(request(cookie));
    await second.regenerate();
    const moved = cookiePair(await second.commit());
    expect(second.id).not.toBe(oldId);
    expect(await sessions.count()).toBe(1);

    await sessions.destroyById(oldId);
    expect(await sessions.get(request(moved))).toBeNull(); // ended under its new ID as well
    expect(await sessions.count()).toBe(0);
  });
});
