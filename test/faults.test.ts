// Faults: a store that throws, hangs past storeTimeout, or answers 429. Nothing is lost, nothing hangs.
import { createSessions, SessionError, type SessionEvent, type SessionStore } from '../src/index.js';
import { applyChanges } from '../src/lib/changes.js';
import { createMemoryStore } from '../src/memory.js';
import { describe, expect, it } from './harness.js';
import { cookiePair, createClock, request, SECRET } from './helpers.js';

type Mode = 'ok' | 'throw' | 'hang' | '429';

/** A memory store whose operations can be switched to fail in each way. */
function faultyStore(clock: { now(): number }) {
  const memory = createMemoryStore({ now: clock.now });
  const modes: Record<'get' | 'set' | 'touch' | 'delete', Mode> = { get: 'ok', set: 'ok', touch: 'ok', delete: 'ok' };
  const wrap =
    <A extends unknown[], R>(op: keyof typeof modes, fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      switch (modes[op]) {
        case 'throw':
          return Promise.reject(new Error(`${op} exploded`));
        case 'hang':
          return new Promise<R>(() => {});
        case '429':
          return Promise.reject(new Error('KV PUT failed: 429 Too Many Requests'));
        default:
          return fn(...args);
      }
    };
  const store: SessionStore = {
    name: 'faulty',
    get: wrap('get', memory.get),
    set: wrap('set', memory.set),
    touch: wrap('touch', memory.touch),
    delete: wrap('delete', memory.delete),
  };
  return { store, memory, modes };
}

async function setup() {
  const clock = createClock();
  const { store, memory, modes } = faultyStore(clock);
  const events: SessionEvent[] = [];
  const sessions = createSessions({
    store,
    secrets: [SECRET],
    now: clock.now,
    idleTimeout: 600,
    storeTimeout: 0.05,
    onEvent: (e) => events.push(e),
  });
  const s = await sessions.start(request());
  s.set('n', 1);
  const cookie = cookiePair(await s.commit());
  return { clock, memory, modes, events, sessions, cookie, id: s.id };
}

describe('store faults', () => {
  it('a read that hangs fails with STORE_TIMEOUT after storeTimeout; the cookie is left alone', async () => {
    const { sessions, modes, cookie } = await setup();
    modes.get = 'hang';
    const started = Date.now();
    const error = await sessions
      .handle(() => new Response('never'))(request(cookie))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(error).toMatchObject({
      code: 'STORE_TIMEOUT',
      message: 'edge-sessions: faulty store: get took longer than 50 ms',
    });
    expect(Date.now() - started).toBeLessThan(5000);
    modes.get = 'ok';
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  it('a data write that hangs fails with STORE_TIMEOUT; the old record stays readable', async () => {
    const { sessions, modes, cookie } = await setup();
    const s = await sessions.start(request(cookie));
    s.set('n', 2);
    modes.set = 'hang';
    await expect(s.commit()).rejects.toMatchObject({ code: 'STORE_TIMEOUT' });
    modes.set = 'ok';
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  it('a data write that throws fails with STORE_WRITE and its cause; nothing half-written', async () => {
    const { sessions, modes, cookie, memory, id } = await setup();
    const before = await memory.get(id);
    const s = await sessions.start(request(cookie));
    s.set('n', 2);
    s.setFlash('f', 'x');
    modes.set = 'throw';
    await expect(s.commit()).rejects.toMatchObject({ code: 'STORE_WRITE', cause: new Error('set exploded') });
    expect(await memory.get(id)).toEqual(before);
  });

  it('a touch-only write that answers 429, throws or hangs: the request succeeds and onEvent hears of it', async () => {
    const { sessions, modes, cookie, clock, events } = await setup();
    for (const mode of ['429', 'throw', 'hang'] as const) {
      modes.touch = mode;
      clock.advanceSec(120);
      const response = await sessions.handle((_req, session) => new Response(String(session.get('n'))))(
        request(cookie),
      );
      expect(await response.text()).toBe('1');
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(events.at(-1)).toMatchObject({
        type: 'error',
        operation: 'touch',
        error: { code: mode === 'hang' ? 'STORE_TIMEOUT' : 'STORE_WRITE' },
      });
    }
  });

  it('a failing delete on destroy rejects, and the session is still there to retry', async () => {
    const { sessions, modes, cookie } = await setup();
    modes.delete = 'throw';
    await expect(sessions.destroy(request(cookie))).rejects.toMatchObject({ code: 'STORE_DELETE' });
    modes.delete = 'ok';
    expect((await sessions.start(request(cookie))).isNew).toBe(false);
    await sessions.destroy(request(cookie));
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it('a regenerate whose new record cannot be written leaves the old record exactly as it was', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    let failSet = false;
    // A store with update(), as KV and Durable Objects have: the old-session check must not write through it.
    const store: SessionStore = {
      name: 'atomic',
      get: memory.get,
      delete: memory.delete,
      set: (key, record, expiresAt) =>
        failSet ? Promise.reject(new Error('set exploded')) : memory.set(key, record, expiresAt),
      async update(key, changes, record, expiresAt) {
        const stored = await memory.get(key);
        if (stored === null) return null;
        const merged = applyChanges(stored, changes, record, expiresAt);
        await memory.set(key, merged, expiresAt);
        return merged;
      },
    };
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, expires: 3600, idleTimeout: 600 });
    const first = await sessions.start(request());
    first.set('n', 1);
    const cookie = cookiePair(await first.commit());
    const before = JSON.stringify(await memory.get(first.id));
    clock.advance(300_000);
    const s = await sessions.start(request(cookie));
    s.persistent = false;
    s.regenerate();
    failSet = true;
    await expect(s.commit()).rejects.toMatchObject({
      code: 'STORE_WRITE',
      cause: expect.objectContaining({ message: 'set exploded' }),
    });
    expect(JSON.stringify(await memory.get(first.id))).toBe(before);
    failSet = false;
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  it('a failing delete of the old ID after regenerate rejects the commit (the old cookie must not live on silently)', async () => {
    const { sessions, modes, cookie } = await setup();
    const s = await sessions.start(request(cookie));
    s.regenerate();
    modes.delete = 'throw';
    await expect(s.commit()).rejects.toMatchObject({ code: 'STORE_DELETE' });
  });
});
