// Faults: a store that throws, hangs past storeTimeout, or answers 429, and a merge that refuses. Nothing is
// lost, nothing hangs, nothing is retried.
import {
  createSessions,
  mergeChanges,
  SessionError,
  type SessionEvent,
  type Sessions,
  type SessionStore,
} from '../src/index.js';
import { createMemoryStore } from '../src/memory.js';
import { describe, expect, it } from './harness.js';
import { cookiePair, createClock, record, request, SECRET, T0, times } from './helpers.js';

type Mode = 'ok' | 'throw' | 'hang' | '429';
type Op = 'get' | 'create' | 'update' | 'regenerate' | 'destroy';

/** A memory store whose operations can be switched to fail in each way, counting every call. */
function faultyStore(clock: { now(): number }) {
  const memory = createMemoryStore({ now: clock.now });
  const modes: Record<Op, Mode> = { get: 'ok', create: 'ok', update: 'ok', regenerate: 'ok', destroy: 'ok' };
  const calls: Record<Op, number> = { get: 0, create: 0, update: 0, regenerate: 0, destroy: 0 };
  const wrap =
    <A extends unknown[], R>(op: Op, fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      calls[op]++;
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
    create: wrap('create', memory.create),
    update: wrap('update', memory.update),
    regenerate: wrap('regenerate', memory.regenerate),
    destroy: wrap('destroy', memory.destroy),
  };
  return { store, memory, modes, calls };
}

async function setup() {
  const clock = createClock();
  const { store, memory, modes, calls } = faultyStore(clock);
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
  return { clock, memory, modes, calls, events, sessions, cookie, id: s.id };
}

describe('store faults', () => {
  it('a read that hangs fails with STORE_TIMEOUT after storeTimeout; the cookie is left alone', async () => {
    const { sessions, modes, calls, cookie } = await setup();
    modes.get = 'hang';
    const started = Date.now();
    const error = await sessions
      .handle(() => new Response('never'))(request(cookie))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(error).toMatchObject({
      code: 'STORE_TIMEOUT',
      message: 'edge-sessions: faulty store: get took longer than 50 ms; its outcome is unknown',
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(calls.get).toBe(1);
    modes.get = 'ok';
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  it('a data write that hangs fails with STORE_TIMEOUT, its outcome unknown, and is never retried', async () => {
    const { sessions, modes, calls, cookie, memory, id } = await setup();
    const before = await memory.get(id);
    const s = await sessions.start(request(cookie));
    s.set('n', 2);
    modes.update = 'hang';
    const error = await s.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(error).toMatchObject({
      code: 'STORE_TIMEOUT',
      message: 'edge-sessions: faulty store: update took longer than 50 ms; its outcome is unknown',
    });
    expect(calls.update).toBe(1);
    // Nothing else was tried in its place either.
    expect(calls).toEqual({ get: 1, create: 1, update: 1, regenerate: 0, destroy: 0 });
    modes.update = 'ok';
    expect(await memory.get(id)).toEqual(before);
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  it('a create or regenerate that hangs is called once too', async () => {
    const { sessions, modes, calls, cookie } = await setup();
    modes.create = 'hang';
    const fresh = await sessions.start(request());
    fresh.set('a', 1);
    await expect(fresh.commit()).rejects.toMatchObject({ code: 'STORE_TIMEOUT' });
    expect(calls.create).toBe(2); // one from setup(), one here
    modes.regenerate = 'hang';
    const s = await sessions.start(request(cookie));
    s.regenerate();
    await expect(s.commit()).rejects.toMatchObject({ code: 'STORE_TIMEOUT' });
    expect(calls.regenerate).toBe(1);
  });

  it('a data write that throws fails with STORE_WRITE and its cause; nothing half-written', async () => {
    const { sessions, modes, cookie, memory, id } = await setup();
    const before = await memory.get(id);
    const s = await sessions.start(request(cookie));
    s.set('n', 2);
    s.setFlash('f', 'x');
    modes.update = 'throw';
    await expect(s.commit()).rejects.toMatchObject({ code: 'STORE_WRITE', cause: new Error('update exploded') });
    expect(await memory.get(id)).toEqual(before);
  });

  it('a failed write keeps its changes: handle() writes them if the handler caught it, not if it threw', async () => {
    const { sessions, modes, calls, cookie, memory, id } = await setup();
    let failures: unknown[] = [];
    const app = (rethrow: boolean) =>
      sessions.handle(async (_req, session) => {
        session.increment('n');
        modes.update = 'throw';
        try {
          await session.commit();
        } catch (error) {
          failures.push(error);
          modes.update = 'ok';
          if (rethrow) throw error;
          return new Response('try again', { status: 503 });
        }
        return new Response('ok');
      });
    // Let out of the handler: handle() commits nothing, and the wrapper around it answers (README, "Errors").
    await expect(app(true)(request(cookie))).rejects.toMatchObject({ code: 'STORE_WRITE' });
    expect(calls.update).toBe(1);
    expect((await memory.get(id))?.data).toEqual({ n: '1' });
    // Caught: nothing was written, the increment is still pending, and handle()'s own commit writes it.
    failures = [];
    const response = await app(false)(request(cookie));
    expect(response.status).toBe(503);
    expect(failures).toEqual([expect.objectContaining({ code: 'STORE_WRITE' })]);
    expect(calls.update).toBe(3);
    expect((await memory.get(id))?.data).toEqual({ n: '2' });
  });

  it('a touch-only write that answers 429, throws or hangs: the request succeeds and onEvent hears of it', async () => {
    const { sessions, modes, calls, cookie, clock, events } = await setup();
    for (const mode of ['429', 'throw', 'hang'] as const) {
      modes.update = mode;
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
    expect(calls.update).toBe(3);
  });

  it('a failing destroy rejects, and the session is still there to retry', async () => {
    const { sessions, modes, cookie } = await setup();
    modes.destroy = 'throw';
    await expect(sessions.destroy(request(cookie))).rejects.toMatchObject({
      code: 'STORE_DELETE',
      cause: new Error('destroy exploded'),
    });
    modes.destroy = 'ok';
    expect((await sessions.start(request(cookie))).isNew).toBe(false);
    await sessions.destroy(request(cookie));
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it('a regenerate that fails leaves the old record and cookie exactly as they were; a retry moves it', async () => {
    const { sessions, modes, cookie, memory, id, clock } = await setup();
    const before = JSON.stringify(await memory.get(id));
    clock.advance(300_000);
    const s = await sessions.start(request(cookie));
    s.persistent = false;
    s.set('n', 2);
    s.regenerate();
    const newId = s.id;
    modes.regenerate = 'throw';
    await expect(s.commit()).rejects.toMatchObject({
      code: 'STORE_WRITE',
      cause: expect.objectContaining({ message: 'regenerate exploded' }),
    });
    expect(JSON.stringify(await memory.get(id))).toBe(before);
    expect(await memory.get(newId)).toBeNull();
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
    modes.regenerate = 'ok';
    const pair = cookiePair(await s.commit());
    expect((await sessions.start(request(pair))).get('n')).toBe(2);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });
});

describe('a merge that refuses', () => {
  const at = T0 + 1000;
  const t = times(at, T0 + 3_600_000);

  it('mergeChanges refuses an increment onto a stored value that is not a decimal number', () => {
    for (const text of ['"0x10"', '"0b101"', '""', '"abc"', '{"n":1}', 'true', '0x10', '{bad']) {
      const stored = record({ data: { n: text } });
      let caught: unknown;
      try {
        mergeChanges(stored, { increment: { n: 1 } }, t);
      } catch (error) {
        caught = error;
      }
      expect(caught, text).toBeInstanceOf(SessionError);
      expect(caught, text).toMatchObject({ code: 'TYPE_MISMATCH' });
      expect(stored.data.n).toBe(text);
    }
  });

  it('mergeChanges keeps "__proto__" a plain key, reads no inherited one, answers cloneable records', () => {
    const stored = JSON.parse(
      '{"data":{"__proto__":"1","a":"2"},"flash":{"__proto__":"3"},"createdAt":0,"endsAt":9e15,"expiresAt":9e15}',
    );
    const merged = mergeChanges(
      stored,
      { set: JSON.parse('{"__proto__":"\\"x\\"","b":"4"}'), increment: { toString: 2 }, flash: { f: '"y"' } },
      t,
    );
    expect(Object.getPrototypeOf(merged.data)).toBe(Object.prototype);
    expect(Object.keys(merged.data).sort()).toEqual(['__proto__', 'a', 'b', 'toString']);
    expect(merged.data['toString']).toBe('2'); // a missing key counts as 0, never an inherited function
    expect(Object.getOwnPropertyDescriptor(merged.data, '__proto__')?.value).toBe('"x"');
    expect(Object.getOwnPropertyDescriptor(merged.flash, '__proto__')?.value).toBe('3');
    // Durable Object RPC clones records: a prototype-less object would not survive it.
    expect(structuredClone(merged)).toEqual(merged);
    // A commit that leaves flashes alone copies them as they are; "__proto__" incremented, then deleted.
    const counted = mergeChanges(stored, { increment: JSON.parse('{"__proto__":2}') }, t);
    expect(Object.getPrototypeOf(counted.data)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(counted.data, '__proto__')?.value).toBe('3');
    expect(Object.getPrototypeOf(counted.flash)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(counted.flash, '__proto__')?.value).toBe('3');
    const deleted = mergeChanges(counted, { delete: ['__proto__'] }, t);
    expect(Object.keys(deleted.data)).toEqual(['a']);
    expect(Object.getPrototypeOf(deleted.data)).toBe(Object.prototype);
    const again = mergeChanges(deleted, { set: JSON.parse('{"__proto__":"\\"y\\""}') }, t);
    expect(Object.getOwnPropertyDescriptor(again.data, '__proto__')?.value).toBe('"y"');
  });

  it('an enumerable property on Object.prototype (another library polluting it) is not session data', async () => {
    const clock = createClock();
    const sessions = createSessions({
      store: createMemoryStore({ now: clock.now }),
      secrets: [SECRET],
      now: clock.now,
    });
    const s = await sessions.start(request());
    s.set('a', 1);
    const cookie = cookiePair(await s.commit());
    const proto = Object.prototype as Record<string, unknown>;
    for (const polluted of [7, '"x"']) {
      proto['polluted'] = polluted; // enumerable, as a plain assignment makes it
      try {
        const back = await sessions.start(request(cookie));
        expect(back.isNew).toBe(false);
        expect(back.keys()).toEqual(['a']);
        expect(mergeChanges(record({ data: { a: '1' } }), { set: { b: '2' } }, times(T0, T0 + 3_600_000)).data).toEqual(
          {
            a: '1',
            b: '2',
          },
        );
      } finally {
        delete proto['polluted'];
      }
    }
  });

  it('mergeChanges adds to decimal numbers and decimal strings; a missing key counts as 0', () => {
    const stored = record({ data: { a: '41', b: '"10"', c: '"1e2"', keep: '"x"' } });
    expect(mergeChanges(stored, { increment: { a: 1, b: 1, c: -1, d: 2 } }, t).data).toEqual({
      a: '42',
      b: '11',
      c: '99',
      d: '2',
      keep: '"x"',
    });
  });

  it('mergeChanges refuses a result that is not finite or not exact, and a corrupt stored record', () => {
    expect(() => mergeChanges(record({ data: { n: '1e308' } }), { increment: { n: 1e308 } }, t)).toThrow(
      expect.objectContaining({ code: 'TYPE_MISMATCH' }),
    );
    // Another request's increments took the stored value to MAX_SAFE_INTEGER: one more would be rounded.
    const max = String(Number.MAX_SAFE_INTEGER);
    expect(() => mergeChanges(record({ data: { n: max } }), { increment: { n: 1 } }, t)).toThrow(
      expect.objectContaining({ code: 'TYPE_MISMATCH' }),
    );
    expect(mergeChanges(record({ data: { n: max } }), { increment: { n: -1 } }, t).data).toEqual({
      n: String(Number.MAX_SAFE_INTEGER - 1),
    });
    const corrupt = { ...record(), data: { n: 1 } } as unknown as ReturnType<typeof record>;
    expect(() => mergeChanges(corrupt, { set: { m: '1' } }, t)).toThrow(
      expect.objectContaining({ code: 'STORE_READ' }),
    );
  });

  it('mergeChanges removes a consumed flash only while it holds the value read', () => {
    const stored = record({ flash: { a: '"old"', b: '"newer"' } });
    const merged = mergeChanges(stored, { consumed: { a: '"old"', b: '"old"', c: '"gone"' } }, t);
    expect(merged.flash).toEqual({ b: '"newer"' });
    expect(mergeChanges(stored, { consumed: { a: '"old"', b: '"newer"' } }, t).flash).toBeUndefined();
  });

  it('mergeChanges consumes only what was read when an older version reset the flash numbers meanwhile', () => {
    // A request read ["a","b","c"], numbered 2 to 4 (so up to 5). An older version, which keeps no numbers, then
    // wrote the list: counted from 0 again, the numbers below 5 would cover items that request never saw.
    const read = { consumedUpTo: { k: 5 }, consumedItems: { k: '["a","b","c"]' } };
    const appended = record({ flash: { k: '["a","b","c","d"]' } });
    expect(mergeChanges(appended, read, t).flash).toEqual({ k: '["d"]' });
    // It consumed the list and appended "d": nothing the request read is left.
    expect(mergeChanges(record({ flash: { k: '["d"]' } }), read, t).flash).toEqual({ k: '["d"]' });
    // A newer request then numbered a new item 4, where the reset list ended: the number is not what was read.
    const renumbered = record({ flash: { k: '["e"]' }, flashIds: { k: 5 } });
    expect(mergeChanges(renumbered, read, t).flash).toEqual({ k: '["e"]' });
    // With numbers kept, a single value read and then appended to loses only the value read.
    const single = { consumedUpTo: { k: 1 }, consumed: { k: '"a"' } };
    expect(mergeChanges(record({ flash: { k: '["a","b"]' } }), single, t).flash).toEqual({ k: '["b"]' });
  });

  it('mergeChanges keeps an empty flash list stored after the value a request read', () => {
    // A request read "x" (item 0); another then replaced it with an empty list, which takes no number.
    const stored = record({ flash: { k: '[]' }, flashIds: { k: 1 } });
    const read = { consumedUpTo: { k: 1 }, consumed: { k: '"x"' } };
    expect(mergeChanges(stored, read, t).flash).toEqual({ k: '[]' });
    // The request that read the empty list consumes it.
    expect(mergeChanges(stored, { consumedUpTo: { k: 1 }, consumedItems: { k: '[]' } }, t).flash).toBeUndefined();
  });

  it('mergeChanges numbers flashes from 0 again rather than past 2^53', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const stored = record({ flash: { k: '["a"]' }, flashIds: { k: max }, flashNext: max });
    const appended = mergeChanges(stored, { append: { k: ['"b"'], j: ['1'] } }, t);
    expect(appended.flash).toEqual({ k: '["a","b"]', j: '[1]' });
    expect(appended.flashIds).toBeUndefined();
    expect(appended.flashNext).toBeUndefined();
    // Still a valid record, and a read made before the append still consumes exactly its item.
    const read = mergeChanges(appended, { consumedUpTo: { k: max }, consumedItems: { k: '["a"]' } }, t);
    expect(read.flash).toEqual({ k: '["b"]', j: '[1]' });
  });

  it('a commit whose merge refuses rejects with TYPE_MISMATCH and writes nothing', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const sessions = createSessions({ store: memory, secrets: [SECRET], now: clock.now });
    const s = await sessions.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    const counter = await sessions.start(request(cookie));
    // Meanwhile another request stores a hex string where the counter was.
    const other = await sessions.start(request(cookie));
    other.set('n', '0x10');
    await other.commit();
    const before = await memory.get(s.id);
    expect(counter.increment('n')).toBe(2); // by what this request loaded
    counter.set('note', 'written with the increment');
    const error = await counter.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(error).toMatchObject({ code: 'TYPE_MISMATCH' });
    expect(await memory.get(s.id)).toEqual(before);
    expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: '0x10' });
  });
});

type AdminCall = 'listByUser' | 'destroyByUser' | 'count';

describe('a store whose call answers something the contract rules out', () => {
  // A custom store's `update` without its `return` answers undefined; others answer worse.
  const GARBAGE: unknown[] = [undefined, 'garbage', 42, {}, { data: 5 }, [], true];

  function setup(op: 'create' | 'update' | 'regenerate' | 'destroy' | AdminCall, answer: unknown) {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    let armed = false;
    const calls: string[] = [];
    const store: SessionStore = Object.create(memory, {
      [op]: {
        value: (...args: unknown[]) => {
          calls.push(op);
          return armed ? Promise.resolve(answer) : (memory[op] as (...a: unknown[]) => Promise<unknown>)(...args);
        },
      },
    });
    const events: SessionEvent[] = [];
    const sessions = createSessions({
      store,
      secrets: [SECRET],
      now: clock.now,
      idleTimeout: 600,
      onEvent: (e) => events.push(e),
    });
    return { sessions, memory, clock, calls, events, arm: () => (armed = true) };
  }

  for (const answer of GARBAGE) {
    const shown = answer === undefined ? 'undefined' : JSON.stringify(answer);

    it(`update answering ${shown}: STORE_WRITE, no cookie, the request keeps its changes`, async () => {
      const { sessions, memory, arm } = setup('update', answer);
      const s = await sessions.start(request());
      s.set('n', 1);
      const cookie = cookiePair(await s.commit());
      arm();
      const again = await sessions.start(request(cookie));
      again.set('n', 2);
      const error = await again.commit().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'STORE_WRITE', message: expect.stringMatching(/update answered/) });
      expect(again.get('n')).toBe(2);
      expect((await memory.get(s.id))?.data).toEqual({ n: '1' });
    });

    it(`regenerate answering ${shown}: STORE_WRITE, and no cookie for an ID never stored`, async () => {
      const { sessions, arm } = setup('regenerate', answer);
      const s = await sessions.start(request());
      s.set('n', 1);
      const cookie = cookiePair(await s.commit());
      arm();
      const app = sessions.handle((_req, session) => {
        session.regenerate();
        return new Response('ok');
      });
      await expect(app(request(cookie))).rejects.toMatchObject({ code: 'STORE_WRITE' });
      expect((await sessions.start(request(cookie))).get('n')).toBe(1);
    });

    it(`a touch whose update answers ${shown}: an error event, no cookie`, async () => {
      const { sessions, clock, events, arm } = setup('update', answer);
      const s = await sessions.start(request());
      s.set('n', 1);
      const cookie = cookiePair(await s.commit());
      arm();
      clock.advanceSec(120);
      const headers = await (await sessions.start(request(cookie))).commit();
      expect(headers.getSetCookie()).toEqual([]);
      expect(events.at(-1)).toMatchObject({ type: 'error', operation: 'touch', error: { code: 'STORE_WRITE' } });
    });
  }

  it('create answering something not a boolean: STORE_WRITE at once, not three tries under new IDs', async () => {
    const { sessions, calls, arm } = setup('create', undefined);
    arm();
    const s = await sessions.start(request());
    s.set('n', 1);
    await expect(s.commit()).rejects.toMatchObject({
      code: 'STORE_WRITE',
      message: expect.stringMatching(/create answered undefined/),
    });
    expect(calls).toEqual(['create']);
  });

  for (const answer of GARBAGE.filter((a) => typeof a !== 'boolean')) {
    const shown = answer === undefined ? 'undefined' : JSON.stringify(answer);

    it(`destroy answering ${shown}: STORE_DELETE and no destroyed event, also for destroyById`, async () => {
      const { sessions, arm, events } = setup('destroy', answer);
      const s = await sessions.start(request());
      s.set('n', 1);
      const cookie = cookiePair(await s.commit());
      arm();
      const error = await sessions.destroy(request(cookie)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionError);
      expect(error).toMatchObject({ code: 'STORE_DELETE', message: expect.stringMatching(/destroy answered/) });
      await expect(sessions.destroyById(s.id)).rejects.toMatchObject({ code: 'STORE_DELETE' });
      expect(events.some((e) => e.type === 'destroyed')).toBe(false);
    });
  }

  it("destroy answering another session's ID: STORE_DELETE, no destroyed event naming that session", async () => {
    const other = 'Z'.repeat(43); // a valid ID, of no lineage the manager made here
    const { sessions, arm, events } = setup('destroy', other);
    const s = await sessions.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    arm();
    await expect(sessions.destroy(request(cookie))).rejects.toMatchObject({
      code: 'STORE_DELETE',
      message: expect.stringMatching(/destroy answered .*not a boolean or an ID the session had/),
    });
    await expect(sessions.destroyById(s.id)).rejects.toMatchObject({ code: 'STORE_DELETE' });
    expect(events.some((e) => e.type === 'destroyed')).toBe(false);
  });

  const ADMIN: [AdminCall, string, (sessions: Sessions) => Promise<unknown>][] = [
    ['listByUser', 'STORE_READ', (sessions) => sessions.listByUser('ada')],
    ['destroyByUser', 'STORE_DELETE', (sessions) => sessions.destroyByUser('ada')],
    ['count', 'STORE_READ', (sessions) => sessions.count()],
  ];
  for (const [op, code, call] of ADMIN) {
    for (const answer of [undefined, 'garbage', -1, 1.5, {}, [null], [42], true]) {
      if (op === 'count' && Array.isArray(answer)) continue;
      const shown = answer === undefined ? 'undefined' : JSON.stringify(answer);
      it(`${op} answering ${shown}: ${code} naming the answer, not a TypeError`, async () => {
        const { sessions, arm } = setup(op, answer);
        await (await sessions.create(request(), { userId: 'ada' })).commit();
        arm();
        const error = await call(sessions).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SessionError);
        expect(error).toMatchObject({ code, message: expect.stringContaining(`${op} answered`) });
      });
    }
  }
});
