// A store call that takes longer than storeTimeout fails with STORE_TIMEOUT, its outcome unknown: the library never
// sends what it carried again (not through handle(), nor with a later commit), and ends a login that may land late.
import { createSessions, SessionError, type SessionEvent, type SessionStore } from '../src/index.js';
import { createMemoryStore } from '../src/memory.js';
import { describe, expect, it } from './harness.js';
import { cookiePair, countingStore, request, SECRET } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A memory store whose `op` calls take `ms` once `slow` is on (they still complete, later). */
function slowStore(memory: SessionStore, op: 'update' | 'create', state: { slow: boolean; ms: number }): SessionStore {
  return {
    ...memory,
    [op]: async (...args: unknown[]) => {
      if (state.slow) await sleep(state.ms);
      return (memory[op] as (...a: unknown[]) => Promise<unknown>)(...args);
    },
  } as SessionStore;
}

/** A stored session holding `n = 0`, on a memory store whose updates take 60 ms once `state.slow` is on. */
async function counterWithSlowUpdates() {
  const memory = createMemoryStore();
  const state = { slow: false, ms: 60 };
  const sessions = createSessions({ store: slowStore(memory, 'update', state), secrets: [SECRET], storeTimeout: 0.02 });
  const first = await sessions.create(request(), { data: { n: 0 } });
  return { memory, state, sessions, first, cookie: cookiePair(await first.commit()) };
}

describe('storeTimeout', () => {
  it('an update that timed out and landed is not applied again; changes made meanwhile are', async () => {
    const { memory, state, sessions, first, cookie } = await counterWithSlowUpdates();
    const s = await sessions.start(request(cookie));
    s.increment('n'); // +1
    state.slow = true;
    const p = s.commit();
    s.set('note', 'made during the flight'); // a change of its own
    const error = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as SessionError).code).toBe('STORE_TIMEOUT');
    await sleep(100); // the timed-out update lands (outcome was unknown)
    state.slow = false;
    expect(JSON.parse((await memory.get(s.id))!.data.n!)).toBe(1);
    // The app commits the later change (or handle() does at the end of the request).
    await s.commit();
    // The +1 whose outcome was unknown must not be counted twice.
    expect(JSON.parse((await memory.get(s.id))!.data.n!)).toBe(1);
    expect((await memory.get(s.id))!.data.note).toBe('"made during the flight"');
  });

  it('handle(): a handler that caught a STORE_TIMEOUT from commit() does not get the write sent again', async () => {
    const { memory, state, sessions, first, cookie } = await counterWithSlowUpdates();
    const app = sessions.handle(async (_req, session) => {
      session.increment('n');
      state.slow = true;
      try {
        await session.commit();
      } catch (e) {
        await sleep(100); // it lands meanwhile
        state.slow = false;
        return new Response(`try again: ${(e as SessionError).code}`, { status: 503 });
      }
      return new Response('ok');
    });
    const res = await app(request(cookie));
    expect(await res.text()).toBe('try again: STORE_TIMEOUT');
    // The library never retries a timed-out call (README): n is 1, not 2.
    expect(JSON.parse((await memory.get(first.id))!.data.n!)).toBe(1);
  });

  it('a login whose create timed out is not created again; the record that lands late is ended', async () => {
    const memory = createMemoryStore();
    const state = { slow: false, ms: 60 };
    const sessions = createSessions({
      store: slowStore(memory, 'create', state),
      secrets: [SECRET],
      storeTimeout: 0.02,
    });
    const login = await sessions.create(request(), { userId: 'bob' });
    state.slow = true;
    await expect(login.commit()).rejects.toMatchObject({ code: 'STORE_TIMEOUT' });
    await sleep(100); // the create lands, late
    state.slow = false;
    expect(await sessions.listByUser('bob')).toEqual([]);
    expect([...(await login.commit())]).toEqual([]);
    // The app logs the visitor in again: one login, one session.
    const again = await sessions.create(request(), { userId: 'bob' });
    const cookie = cookiePair(await again.commit());
    expect((await sessions.start(request(cookie))).userId).toBe('bob');
    expect((await sessions.listByUser('bob')).length).toBe(1);
  });

  it('a session whose regenerate timed out commits nothing more: no second move', async () => {
    const memory = createMemoryStore();
    let slow = false;
    let moves = 0;
    const store: SessionStore = {
      ...memory,
      regenerate: async (...args: Parameters<SessionStore['regenerate']>) => {
        moves++;
        if (slow) await sleep(60);
        return memory.regenerate(...args);
      },
    };
    const sessions = createSessions({ store, secrets: [SECRET], storeTimeout: 0.02 });
    const anon = await sessions.start(request());
    anon.set('cart', 1);
    anon.setFlash('notice', 'saved');
    const cookie = cookiePair(await anon.commit());
    const s = await sessions.start(request(cookie));
    s.regenerate();
    slow = true;
    await expect(s.commit()).rejects.toMatchObject({ code: 'STORE_TIMEOUT' });
    await sleep(100);
    slow = false;
    // A change it could never commit is refused, not dropped in silence; so is consuming a flash.
    expect(() => s.set('later', true)).toThrow(expect.objectContaining({ code: 'STORE_TIMEOUT' }));
    for (const read of [() => s.getFlash('notice'), () => s.getFlashes(), () => s.getFlashString('notice')]) {
      expect(read).toThrow(expect.objectContaining({ code: 'STORE_TIMEOUT' }));
    }
    expect(s.peekFlash('notice')).toBe('saved');
    expect(s.getFlash('none')).toBeUndefined();
    expect([...(await s.commit())]).toEqual([]);
    expect(moves).toBe(1);
    // A logout still ends it, under whichever ID it lives: by the old one, following the move that landed.
    s.destroy();
    expect((await s.commit()).getSetCookie()[0]).toMatch(/Max-Age=0/);
    expect(await memory.get(s.id)).toBeNull();
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });
});

/** A memory store whose first create takes 200 ms and every destroy 100 ms (both still complete, late). */
function lateCreateStore(memory: SessionStore): SessionStore {
  let creates = 0;
  return {
    ...memory,
    create: async (...args: Parameters<SessionStore['create']>) => {
      if (creates++ === 0) await sleep(200);
      return memory.create(...args);
    },
    destroy: async (...args: Parameters<SessionStore['destroy']>) => {
      await sleep(100);
      return memory.destroy(...args);
    },
  };
}

describe('a timed-out create, then a later commit of the same login', () => {
  it('manual commit: the cookie it sends names a session the fired destroy then ends', async () => {
    const memory = createMemoryStore();
    const sessions = createSessions({ store: lateCreateStore(memory), secrets: [SECRET], storeTimeout: 0.02 });
    const login = await sessions.create(request(), { userId: 'bob' });
    await expect(login.commit()).rejects.toMatchObject({ code: 'STORE_TIMEOUT' });
    // A change made since is refused: a session whose create timed out commits nothing more.
    expect(() => login.set('retry', true)).toThrow(expect.objectContaining({ code: 'STORE_TIMEOUT' }));
    expect(() => login.setFlash('error', 'try again')).toThrow(expect.objectContaining({ code: 'STORE_TIMEOUT' }));
    expect(() => login.increment('n')).toThrow(expect.objectContaining({ code: 'STORE_TIMEOUT' }));
    expect((await login.commit()).getSetCookie()).toEqual([]);
    await sleep(300); // the late create and the fired destroy have both landed
    expect(await sessions.listByUser('bob')).toEqual([]);
  });

  it('handle(): a handler that caught the timeout is refused a flash on it: no cookie for an ended ID', async () => {
    const memory = createMemoryStore();
    const sessions = createSessions({ store: lateCreateStore(memory), secrets: [SECRET], storeTimeout: 0.02 });
    const refused: unknown[] = [];
    const app = sessions.handle(async (req) => {
      const login = await sessions.create(req, { userId: 'bob' });
      try {
        await login.commit();
      } catch (e) {
        try {
          login.setFlash('error', (e as SessionError).code);
        } catch (refusal) {
          refused.push((refusal as SessionError).code);
        }
        return new Response('try again', { status: 503 });
      }
      return new Response('ok');
    });
    const res = await app(request());
    expect(refused).toEqual(['STORE_TIMEOUT']);
    expect(res.status).toBe(503);
    expect(res.headers.getSetCookie()).toEqual([]);
    await sleep(300);
    expect(await sessions.listByUser('bob')).toEqual([]);
  });

  it('the destroy fired for a timed-out create reports its own failure as an error event', async () => {
    const memory = createMemoryStore();
    const broken = new Error('backend down');
    const store: SessionStore = {
      ...lateCreateStore(memory),
      destroy: async () => {
        throw broken;
      },
    };
    const events: SessionEvent[] = [];
    const onEvent = (e: SessionEvent) => void events.push(e);
    const sessions = createSessions({ store, secrets: [SECRET], storeTimeout: 0.02, onEvent });
    const background: Promise<unknown>[] = [];
    const req = request();
    await sessions.start(req, { waitUntil: (p) => void background.push(p) });
    const login = await sessions.create(req, { userId: 'bob' });
    await expect(login.commit()).rejects.toMatchObject({ code: 'STORE_TIMEOUT' });
    expect(background.length).toBe(1);
    await Promise.all(background);
    const error = events.find((e) => e.type === 'error');
    expect(error).toMatchObject({ type: 'error', operation: 'destroy', id: login.id, userId: 'bob' });
    expect((error as { error: SessionError }).error).toMatchObject({ code: 'STORE_DELETE', cause: broken });
  });

  it('handle(): a browser-session login (persistent = false) is not created again after its timeout', async () => {
    const memory = createMemoryStore();
    let slow = true;
    const store: SessionStore = {
      ...memory,
      create: async (...args: Parameters<SessionStore['create']>) => {
        if (slow) {
          slow = false;
          await sleep(60);
        }
        return memory.create(...args);
      },
    };
    const sessions = createSessions({ store, secrets: [SECRET], storeTimeout: 0.02 });
    const app = sessions.handle(async (req) => {
      const login = await sessions.create(req, { userId: 'bob' });
      login.persistent = false; // "remember me" unticked
      try {
        await login.commit();
      } catch (e) {
        await sleep(100); // the create lands late; the library's destroy ends it
        return new Response(`try again: ${(e as SessionError).code}`, { status: 503 });
      }
      return new Response('ok');
    });
    const res = await app(request());
    expect(await res.text()).toBe('try again: STORE_TIMEOUT');
    // Nothing was changed after the timeout: handle() must not create the login again, under any ID.
    expect(await sessions.listByUser('bob')).toEqual([]);
    expect(res.headers.getSetCookie()).toEqual([]);
  });
});

describe('STORE_TIMEOUT of an update that carried a new lifetime', () => {
  it('handle() does not send the timed-out write again after a handler that caught it', async () => {
    const memory = createMemoryStore();
    const state = { slow: false };
    const slow: SessionStore = {
      ...memory,
      update: async (...args) => {
        if (state.slow) await sleep(60);
        return memory.update(...args);
      },
    };
    const counted = countingStore(slow);
    const sessions = createSessions({ store: counted.store, secrets: [SECRET], storeTimeout: 0.02 });
    const first = await sessions.create(request(), { data: { n: 0 } });
    const cookie = cookiePair(await first.commit());
    const app = sessions.handle(async (req) => {
      state.slow = true;
      try {
        await sessions.updateExpiration(req, 3600);
      } catch {
        await sleep(80); // it lands meanwhile
        state.slow = false;
        return new Response('try again', { status: 503 });
      }
      return new Response('ok');
    });
    const before = counted.calls.update;
    const res = await app(request(cookie));
    expect(res.status).toBe(503);
    // README: the library never retries a timed-out call, and never sends what it carried again, "not through
    // handle() after a handler that caught the error".
    expect(counted.calls.update - before).toBe(1);
  });
});
