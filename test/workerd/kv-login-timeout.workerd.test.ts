// On KV (create writes without a condition), a login whose create timed out: the library revokes its ID, and a later
// commit of the login must not store it again under that ID and send a cookie for it.
import { env } from 'cloudflare:workers';
import { createKVStore } from '../../src/kv.js';
import { createSessions, type SessionError } from '../../src/index.js';
import { describe, expect, it } from '../harness.js';
import { createClock, request, SECRET } from '../helpers.js';
import { wrapKV } from './bindings.js';

describe('kv (workerd): a timed-out login committed again', () => {
  it('a change made after the timeout sends no cookie for the revoked ID', async () => {
    const clock = createClock();
    const w = wrapKV(env.SESSIONS_KV);
    const store = createKVStore(w.ns, { now: clock.now, prefix: `r9e-${Date.now()}:` });
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, storeTimeout: 0.05 });
    const login = await sessions.create(request(), { userId: 'bob' });
    const held = w.hold((c) => c.method === 'put', 'before');
    const error = await login.commit().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as SessionError).code).toBe('STORE_TIMEOUT');
    held.release();
    await new Promise((r) => setTimeout(r, 200)); // the late write and the library's revocation have both landed
    // A change made since is refused; a commit (handle()'s, at the end of the request) sends nothing.
    expect(() => login.set('retry', true)).toThrow(expect.objectContaining({ code: 'STORE_TIMEOUT' }));
    expect((await login.commit()).getSetCookie()).toEqual([]);
    expect(await sessions.listByUser('bob')).toEqual([]);
  });
});
