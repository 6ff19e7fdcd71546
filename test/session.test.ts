import {
  createSessions,
  mergeChanges,
  SessionError,
  type Serializer,
  type SessionChanges,
  type SessionStore,
} from '../src/index.js';
import { createCookieStore } from '../src/cookie-store.js';
import { createMemoryStore } from '../src/memory.js';
import { describe, expect, it } from './harness.js';
import { gatedStore } from './races.js';
import { cookiePair, countingStore, createClock, memoryAndCookie, record, request, SECRET } from './helpers.js';

function setup(serializer?: Serializer) {
  const clock = createClock();
  const store = createMemoryStore({ now: clock.now });
  const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, ...(serializer ? { serializer } : {}) });
  /** Commit `session`, then start the next request with its cookie. */
  async function next(session: Awaited<ReturnType<typeof sessions.start>>, cookie?: string) {
    const headers = await session.commit();
    const pair = headers.getSetCookie().length > 0 ? cookiePair(headers) : cookie;
    return { session: await sessions.start(request(pair)), cookie: pair };
  }
  return { clock, store, sessions, next };
}

describe('session data', () => {
  it('gets, sets, has, deletes, lists keys', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.set('a', 1);
    s.set('b', 'two');
    expect(s.get('a')).toBe(1);
    expect(s.has('b')).toBe(true);
    expect(s.keys()).toEqual(['a', 'b']);
    s.delete('a');
    expect(s.has('a')).toBe(false);
    expect(s.get('a')).toBeUndefined();
  });

  it('deletes on set(null) and set(undefined)', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.set('a', 1);
    s.set('a', null);
    expect(s.has('a')).toBe(false);
    s.set('b', 1);
    s.set('b', undefined);
    expect(s.keys()).toEqual([]);
  });

  it('clear removes values but keeps constants and flashes', async () => {
    const { sessions, next } = setup();
    const s = await sessions.create(request(), { constants: { tenant: 'acme' } });
    s.set('a', 1);
    s.setFlash('f', 'x');
    s.clear();
    expect(s.keys()).toEqual([]);
    expect(s.constant('tenant')).toBe('acme');
    expect(s.peekFlash('f')).toBe('x');
    const { session } = await next(s);
    expect(session.keys()).toEqual([]);
    expect(session.constant('tenant')).toBe('acme');
  });

  it('returns copies of objects: changing one changes nothing until set again', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    const cart = { items: [1] };
    s.set('cart', cart);
    cart.items.push(2);
    expect(s.get('cart')).toEqual({ items: [1] });
    const copy = s.get('cart') as { items: number[] };
    copy.items.push(3);
    expect(s.get('cart')).toEqual({ items: [1] });
  });

  it('getAll returns a copy; visitAll visits every value', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.set('a', { n: 1 });
    s.set('b', true);
    const all = s.getAll() as Record<string, unknown>;
    expect(all).toEqual({ a: { n: 1 }, b: true });
    (all.a as { n: number }).n = 99;
    all.c = 1;
    expect(s.get('a')).toEqual({ n: 1 });
    expect(s.has('c')).toBe(false);
    const seen: [string, unknown][] = [];
    s.visitAll((k, v) => seen.push([k, v]));
    expect(seen).toEqual([
      ['a', { n: 1 }],
      ['b', true],
    ]);
  });

  it('refuses values that would not survive JSON, at set()', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const cases: [unknown, RegExp][] = [
      [() => 1, /function/],
      [10n, /bigint/],
      [circular, /circular/],
      [{ deep: { fn: () => 1 } }, /"v\.deep\.fn".*function/],
      [Number.NaN, /finite/],
      [new Date(0), /Date is not JSON data/],
      [new Map(), /Map is not JSON data/],
      [[1, undefined], /undefined in an array/],
      [Symbol('s'), /symbol/],
    ];
    for (const [value, message] of cases) {
      let caught: unknown;
      try {
        s.set('v', value);
      } catch (error) {
        caught = error;
      }
      expect(caught, String(message)).toBeInstanceOf(SessionError);
      expect(caught).toMatchObject({ code: 'UNSERIALIZABLE' });
      expect((caught as Error).message).toMatch(message);
    }
    expect(s.keys()).toEqual([]);
  });

  it('treats JSON itself, passed as the serializer, as the default: the same refusals', async () => {
    const { sessions } = setup(JSON);
    const s = await sessions.start(request());
    expect(() => s.set('d', new Date(0))).toThrow(expect.objectContaining({ code: 'UNSERIALIZABLE' }));
    expect(() => s.set('n', { a: Number.NaN })).toThrow(expect.objectContaining({ code: 'UNSERIALIZABLE' }));
  });

  it('keeps insertion order within a request; after a reload integer-like keys come first (JSON objects)', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    for (const k of ['b', '2', 'a']) s.set(k, k);
    expect(s.keys()).toEqual(['b', '2', 'a']);
    const { session } = await next(s);
    expect(session.keys()).toEqual(['2', 'b', 'a']);
  });

  it('accepts shared (non-circular) references and null-prototype objects', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    const shared = { x: 1 };
    s.set('v', { a: shared, b: shared });
    const bare = Object.create(null) as Record<string, unknown>;
    bare.k = 'v';
    s.set('w', bare);
    expect(s.get('v')).toEqual({ a: { x: 1 }, b: { x: 1 } });
    expect(s.get('w')).toEqual({ k: 'v' });
  });

  it('uses a custom serializer for values JSON cannot keep', async () => {
    const dates: Serializer = {
      stringify: (v) => (v instanceof Date ? `D${v.getTime()}` : `J${JSON.stringify(v)}`),
      parse: (t) => (t.startsWith('D') ? new Date(Number(t.slice(1))) : JSON.parse(t.slice(1))),
    };
    const { sessions, next } = setup(dates);
    const s = await sessions.start(request());
    s.set('when', new Date(5));
    s.set('n', 1);
    const { session } = await next(s);
    expect(session.get('when')).toEqual(new Date(5));
    expect(session.increment('n')).toBe(2);
    const throwing: Serializer = {
      stringify: () => {
        throw new Error('nope');
      },
      parse: JSON.parse,
    };
    const other = await setup(throwing).sessions.start(request());
    expect(() => other.set('x', 1)).toThrow(
      expect.objectContaining({ code: 'UNSERIALIZABLE', cause: expect.any(Error) }),
    );
  });

  it('stores __proto__ and constructor keys as data, never as prototypes', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.set('__proto__', { polluted: true });
    s.set('constructor', 'c');
    s.set('payload', JSON.parse('{"__proto__":{"polluted":true}}'));
    const { session } = await next(s);
    expect(session.get('__proto__')).toEqual({ polluted: true });
    expect(session.get('constructor')).toBe('c');
    const all = session.getAll() as Record<string, unknown>;
    expect(Object.keys(all).sort()).toEqual(['__proto__', 'constructor', 'payload']);
    expect(Object.getPrototypeOf(all)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((all as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

describe('add', () => {
  it('sets only when the key holds no value, says whether it did, and the value persists', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    expect(s.add('role', 'guest')).toBe(true);
    expect(s.add('role', 'admin')).toBe(false);
    expect(s.get('role')).toBe('guest');
    const { session } = await next(s);
    expect(session.add('role', 'admin')).toBe(false);
    expect(session.get('role')).toBe('guest');
    session.delete('role');
    expect(session.add('role', 'admin')).toBe(true);
    expect(session.get('role')).toBe('admin');
  });
});

describe('typed getters', () => {
  it('parse numeric and boolean strings', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.set('n', '42');
    s.set('f', ' 4.5 ');
    s.set('t', 'TRUE');
    s.set('z', '0');
    s.set('num', 7);
    expect(s.getNumber('n')).toBe(42);
    expect(s.getInt('n')).toBe(42);
    expect(s.getNumber('f')).toBe(4.5);
    expect(s.getBoolean('t')).toBe(true);
    expect(s.getBoolean('z')).toBe(false);
    expect(s.getString('num')).toBe('7');
    expect(s.getString('t')).toBe('TRUE');
  });

  it('throw TYPE_MISMATCH for unparsable values, and return undefined when missing', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.set('word', 'abc');
    s.set('float', 4.5);
    s.set('obj', { a: 1 });
    expect(() => s.getNumber('word')).toThrow(
      expect.objectContaining({ code: 'TYPE_MISMATCH', message: 'edge-sessions: "word" is not a number' }),
    );
    expect(() => s.getInt('float')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    expect(() => s.getBoolean('word')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    expect(() => s.getString('obj')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    expect(s.getNumber('missing')).toBeUndefined();
  });

  it('parse decimal notation only, not hex, binary or octal literals', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.set('sci', '1e3');
    s.set('neg', '-.5');
    for (const [k, v] of [
      ['hex', '0x10'],
      ['bin', '0b101'],
      ['oct', '0o7'],
      ['inf', 'Infinity'],
      ['dots', '1.2.3'],
      ['blank', '  '],
    ] as const)
      s.set(k, v);
    expect(s.getNumber('sci')).toBe(1000);
    expect(s.getInt('sci')).toBe(1000);
    expect(s.getNumber('neg')).toBe(-0.5);
    for (const k of ['hex', 'bin', 'oct', 'inf', 'dots', 'blank']) {
      expect(() => s.getNumber(k)).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
      expect(s.getInt(k, 0)).toBe(0);
    }
  });

  it('default forms give the default even for a stored value failing to parse; plain ones say STORE_READ', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    // The store answers with what another program left there: a value the serializer cannot parse.
    const store: SessionStore = {
      ...memory,
      get: async (id) => {
        const stored = await memory.get(id);
        return stored === null ? null : { ...stored, data: { page: '{bad' } };
      },
    };
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
    const s = await sessions.start(request());
    s.set('page', 3);
    const cookie = cookiePair(await s.commit());
    const broken = await sessions.start(request(cookie));
    expect(broken.isNew).toBe(false);
    expect(broken.getInt('page', 1)).toBe(1);
    expect(broken.getString('page', 'x')).toBe('x');
    expect(() => broken.getInt('page')).toThrow(expect.objectContaining({ code: 'STORE_READ' }));
  });

  it('default forms return the default when missing or unparsable, never throw', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.set('word', 'abc');
    expect(s.getNumber('word', 3)).toBe(3);
    expect(s.getInt('missing', 9)).toBe(9);
    expect(s.getBoolean('word', true)).toBe(true);
    expect(s.getString('missing', 'none')).toBe('none');
  });
});

describe('getBigInt and integers past 2^53', () => {
  it('reads exact integers from decimal strings of any length, safe numbers and bigints', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.set('big', (2n ** 64n + 1n).toString());
    s.set('small', 42);
    s.set('negative', ' -9007199254740993 ');
    s.set('float', 4.5);
    s.set('huge', 2 ** 60);
    const { session } = await next(s);
    expect(session.getBigInt('big')).toBe(18446744073709551617n);
    expect(session.getBigInt('small')).toBe(42n);
    expect(session.getBigInt('negative')).toBe(-9007199254740993n);
    expect(session.getBigInt('missing')).toBeUndefined();
    expect(session.getBigInt('missing', 7n)).toBe(7n);
    expect(session.getBigInt('float', 7n)).toBe(7n);
    expect(() => session.getBigInt('float')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    // A number past 2^53 may have been rounded before it was stored: not taken as exact.
    expect(() => session.getBigInt('huge')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
  });

  it('getBigInt reads every string getInt reads, in any notation; past 2^53 only exact ones', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    const ints = ['1e3', '4.0', ' +12 ', '-7.000', '2.5e1', '-9.007199254740991e15'];
    const others = { exact: '9.007199254740992e15', inexact: '9007199254740993.0', half: '4.5', hex: '0x10' };
    ints.forEach((v, i) => s.set(`k${i}`, v));
    for (const [k, v] of Object.entries(others)) s.set(k, v);
    const { session } = await next(s);
    ints.forEach((v, i) => expect(session.getBigInt(`k${i}`), v).toBe(BigInt(session.getInt(`k${i}`)!)));
    expect(session.getBigInt('k0')).toBe(1000n);
    expect(session.getBigInt('k1')).toBe(4n);
    expect(session.getBigInt('exact')).toBe(2n ** 53n); // past getInt's range; getNumber reads it too
    for (const k of ['inexact', 'half', 'hex']) {
      expect(() => session.getBigInt(k), k).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    }
  });

  it('getBigInt takes bigints from a serializer that keeps them', async () => {
    const tagged: Serializer = {
      stringify: (v) => (typeof v === 'bigint' ? `n${v}` : JSON.stringify(v)),
      parse: (t) => (t.startsWith('n') ? BigInt(t.slice(1)) : JSON.parse(t)),
    };
    const { sessions, next } = setup(tagged);
    const s = await sessions.start(request());
    s.set('id', 2n ** 70n);
    expect((await next(s)).session.getBigInt('id')).toBe(2n ** 70n);
  });

  it('getNumber and increment refuse a digit string no number equals, rather than round it', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.set('inexact', '9007199254740993');
    s.set('exact', '9007199254740992');
    const { session } = await next(s);
    expect(() => session.getNumber('inexact')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    expect(() => session.increment('inexact')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    expect(session.getNumber('inexact', 0)).toBe(0);
    expect(session.getNumber('exact')).toBe(9007199254740992);
    expect(session.get('inexact')).toBe('9007199254740993');
  });

  it('getNumber, increment and store merges: an integer past 2^53 must be exact, in any notation', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    // Strings no number equals, though Number() would round them to one past 2^53.
    const refused = [
      '9007199254740993.0',
      '9.007199254740993e15',
      ' -9007199254740993 ',
      '9007199254740992.5',
      '9007199254740991.6',
      '9007199254740991.5',
      '90071992547409930e-1',
      '1e23',
      '-1e23',
      '1.7976931348623157e308',
    ];
    // Exact integers in any notation, and everything under 2^53 or not an integer, read as Number() reads it.
    const read: [string, number][] = [
      ['9007199254740992', 2 ** 53],
      ['9.007199254740992e15', 2 ** 53],
      ['-9007199254740992.000', -(2 ** 53)],
      ['90071992547409920e-1', 2 ** 53],
      ['18014398509481984.00e0', 2 ** 54],
      ['1e22', 1e22],
      ['4503599627370495.5', 4503599627370495.5],
      ['0.1', 0.1],
      ['1.5e3', 1500],
      ['.5', 0.5],
      ['5.', 5],
      ['123456789.123456789', 123456789.123456789],
    ];
    refused.forEach((v, i) => s.set(`r${i}`, v));
    read.forEach(([v], i) => s.set(`n${i}`, v));
    const { session } = await next(s);
    refused.forEach((v, i) => {
      expect(() => session.getNumber(`r${i}`), v).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
      expect(() => session.increment(`r${i}`), v).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
      expect(session.getNumber(`r${i}`, 7)).toBe(7);
    });
    read.forEach(([v, n], i) => expect(session.getNumber(`n${i}`), v).toBe(n));
    // A number, not a string, is taken as it is: it was rounded before it was stored, if ever.
    session.set('big', 1e23);
    expect(session.getNumber('big')).toBe(1e23);
    // The store's merge refuses the same strings when another request stored one meanwhile.
    const stored = record({ data: { a: '"9.007199254740993e15"', b: '"9.007199254740992e15"' } });
    const times = { accessedAt: 0, endsAt: 1, expiresAt: 1, persistent: true };
    expect(() => mergeChanges(stored, { increment: { a: 1 } }, times)).toThrow(
      expect.objectContaining({ code: 'TYPE_MISMATCH' }),
    );
    expect(mergeChanges(stored, { increment: { b: -2 } }, times).data.b).toBe('9007199254740990');
    // A sum past MAX_SAFE_INTEGER would be rounded: refused, as increment() refuses it.
    expect(() => mergeChanges(stored, { increment: { b: 2 } }, times)).toThrow(
      expect.objectContaining({ code: 'TYPE_MISMATCH' }),
    );
  });
});

describe('immutable values and constants', () => {
  it('setImmutable cannot be overwritten by set, and get returns a copy', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.setImmutable('role', { name: 'admin' });
    expect(() => s.set('role', { name: 'root' })).toThrow(expect.objectContaining({ code: 'IMMUTABLE' }));
    expect(() => s.increment('role')).toThrow(expect.objectContaining({ code: 'IMMUTABLE' }));
    (s.get('role') as { name: string }).name = 'changed';
    expect(s.get('role')).toEqual({ name: 'admin' });
    const { session } = await next(s);
    expect(session.isImmutable('role')).toBe(true);
    expect(() => session.set('role', 'x')).toThrow(/immutable/);
    session.delete('role');
    session.set('role', 'user');
    expect(session.get('role')).toBe('user');
  });

  it('constants given at create are read-only for the session life', async () => {
    const { sessions, next } = setup();
    const s = await sessions.create(request(), { constants: { userId: 7, org: { id: 1 } } });
    s.constant<{ id: number }>('org')!.id = 2;
    expect(s.constant('org')).toEqual({ id: 1 });
    s.set('userId', 8); // data, not the constant
    const { session } = await next(s);
    expect(session.constant('userId')).toBe(7);
    expect(session.get('userId')).toBe(8);
    expect('setConstant' in session).toBe(false);
  });
});

describe('sessions without flashes, constants or immutables', () => {
  it('get collections of their own on first write: nothing leaks into another session', async () => {
    const { sessions, next } = setup();
    const a0 = await sessions.start(request());
    a0.set('n', 1);
    const b0 = await sessions.start(request());
    b0.set('n', 2);
    const { session: a, cookie: aCookie } = await next(a0);
    const { session: b, cookie: bCookie } = await next(b0);
    a.setFlash('notice', 'for a');
    a.setImmutable('role', 'admin');
    expect(b.hasFlash('notice')).toBe(false);
    expect(b.isImmutable('role')).toBe(false);
    b.set('role', 'user'); // not immutable in b
    const fresh = await sessions.start(request());
    expect(fresh.getFlashes()).toEqual({});
    expect(fresh.isImmutable('role')).toBe(false);
    expect(fresh.constant('anything')).toBeUndefined();
    await a.commit();
    await b.commit();
    const a2 = await sessions.start(request(aCookie));
    const b2 = await sessions.start(request(bCookie));
    expect(a2.getFlash('notice')).toBe('for a');
    expect(a2.isImmutable('role')).toBe(true);
    expect(b2.hasFlash('notice')).toBe(false);
    expect(b2.get('role')).toBe('user');
    expect(b2.isImmutable('role')).toBe(false);
  });
});

describe('increment and decrement', () => {
  it('count from 0, parse numeric strings, refuse non-numbers', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    expect(s.increment('n')).toBe(1);
    expect(s.increment('n', 5)).toBe(6);
    expect(s.decrement('n')).toBe(5);
    expect(s.decrement('n', 10)).toBe(-5);
    s.set('str', '10');
    expect(s.increment('str')).toBe(11);
    s.set('word', 'abc');
    expect(() => s.increment('word')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    expect(() => s.increment('n', Number.NaN)).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
  });

  it('refuse a result that is not finite, changing and writing nothing', async () => {
    const clock = createClock();
    const counted = countingStore(createMemoryStore({ now: clock.now }));
    const sessions = createSessions({ store: counted.store, secrets: [SECRET], now: clock.now });
    const s = await sessions.start(request());
    s.set('big', 1e308);
    s.set('low', -1e308);
    const cookie = cookiePair(await s.commit());
    const again = await sessions.start(request(cookie));
    for (const overflow of [
      () => again.increment('big', 1e308),
      () => again.decrement('big', -1e308),
      () => again.decrement('low', 1e308),
    ]) {
      expect(overflow).toThrow(
        expect.objectContaining({ code: 'TYPE_MISMATCH', message: expect.stringMatching(/would not be exact/) }),
      );
    }
    expect(() => again.increment('big', Number.POSITIVE_INFINITY)).toThrow(
      expect.objectContaining({ code: 'TYPE_MISMATCH' }),
    );
    expect(again.get('big')).toBe(1e308);
    expect(again.get('low')).toBe(-1e308);
    const writes = counted.writes();
    expect((await again.commit()).getSetCookie()).toEqual([]);
    expect(counted.writes()).toBe(writes);
    expect(again.increment('big', -1e308)).toBe(0);
  });

  it('take numbers by the one definition: decimal strings count, "0x10" and "" do not', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.set('dec', ' 1e1 ');
    expect(s.increment('dec')).toBe(11);
    for (const [key, text] of [
      ['hex', '0x10'],
      ['bin', '0b1'],
      ['empty', ''],
      ['inf', 'Infinity'],
    ] as const) {
      s.set(key, text);
      expect(() => s.increment(key), key).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
      expect(s.get(key)).toBe(text);
    }
    expect(s.increment('missing', 2)).toBe(2);
  });

  it("return the value when an addition too small to change it (1 + 1e-20) is a request's only change", async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.set('one', 1);
    const { session } = await next(s);
    expect(session.increment('one', 1e-20)).toBe(1);
    await expect(session.commit()).resolves.toBeInstanceOf(Headers);
  });

  it('refuse a result past MAX_SAFE_INTEGER (2^53 + 1 would be 2^53), and change nothing', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.set('big', 2 ** 53);
    s.set('max', Number.MAX_SAFE_INTEGER);
    s.set('min', -Number.MAX_SAFE_INTEGER);
    const { session, cookie } = await next(s);
    for (const [key, by] of [
      ['big', 1],
      ['max', 1],
      ['min', -1],
    ] as const) {
      expect(() => session.increment(key, by), key).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    }
    expect(session.increment('max', -1)).toBe(Number.MAX_SAFE_INTEGER - 1);
    const { session: after } = await next(session, cookie);
    expect(after.getAll()).toEqual({ big: 2 ** 53, max: Number.MAX_SAFE_INTEGER - 1, min: -Number.MAX_SAFE_INTEGER });
  });
});

describe('flash messages', () => {
  it('are kept for the next request, readable in the same one, and gone after', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.setFlash('notice', 'saved');
    expect(s.getFlash('notice')).toBe('saved'); // consumed, still readable here
    expect(s.getFlash('notice')).toBe('saved');
    let { session, cookie } = await next(s);
    expect(session.hasFlash('notice')).toBe(false);

    session.setFlash('notice', 'again');
    ({ session, cookie } = await next(session, cookie));
    expect(session.peekFlash('notice')).toBe('again');
    expect(session.hasFlash('notice')).toBe(true);
    ({ session, cookie } = await next(session, cookie)); // peek does not consume
    expect(session.getFlash('notice')).toBe('again');
    ({ session } = await next(session, cookie));
    expect(session.getFlash('notice')).toBeUndefined();
  });

  it('getFlashes consumes all; deleteFlash and clearFlashes remove', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.setFlash('a', 1);
    s.setFlash('b', 2);
    s.setFlash('c', 3);
    let { session, cookie } = await next(s);
    session.deleteFlash('c');
    expect(session.getFlashes()).toEqual({ a: 1, b: 2 });
    session.setFlash('d', 4);
    ({ session, cookie } = await next(session, cookie));
    expect(session.getFlashes()).toEqual({ d: 4 });
    session.setFlash('e', 5);
    session.clearFlashes();
    ({ session } = await next(session, cookie));
    expect(session.getFlashes()).toEqual({});
  });

  it('a flash set again after being read in the same request survives', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.setFlash('n', 'one');
    let { session, cookie } = await next(s);
    expect(session.getFlash('n')).toBe('one');
    session.setFlash('n', 'two');
    ({ session } = await next(session, cookie));
    expect(session.getFlash('n')).toBe('two');
  });
});

describe('flash lists and flash helpers', () => {
  it('addFlash appends to a list that reads as an array, in order, across requests', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.addFlash('notice', 'saved');
    s.addFlash('notice', { text: 'and sent' });
    expect(s.peekFlash('notice')).toEqual(['saved', { text: 'and sent' }]);
    let { session, cookie } = await next(s);
    session.addFlash('notice', 'third');
    ({ session, cookie } = await next(session, cookie));
    expect(session.getFlash('notice')).toEqual(['saved', { text: 'and sent' }, 'third']);
    ({ session } = await next(session, cookie));
    expect(session.hasFlash('notice')).toBe(false);
  });

  it('addFlash onto a single flash makes it the first item; after a read it starts a new list', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    s.setFlash('notice', 'one');
    s.addFlash('notice', 'two');
    let { session, cookie } = await next(s);
    expect(session.getFlash('notice')).toEqual(['one', 'two']);
    session.addFlash('notice', 'three');
    ({ session } = await next(session, cookie));
    expect(session.getFlash('notice')).toEqual(['three']);
  });

  it('hasFlash() without a key, flashKeys() without consuming, getFlashString', async () => {
    const { sessions, next } = setup();
    const s = await sessions.start(request());
    expect(s.hasFlash()).toBe(false);
    expect(s.getFlashString('notice')).toBe('');
    s.setFlash('notice', 'saved');
    s.setFlash('count', 3);
    s.addFlash('list', 'x');
    const { session, cookie } = await next(s);
    expect(session.hasFlash()).toBe(true);
    expect(session.flashKeys()).toEqual(['notice', 'count', 'list']);
    expect(() => session.getFlashString('list')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    expect(session.getFlashString('notice')).toBe('saved');
    expect(session.getFlashString('count')).toBe('3');
    const after = (await next(session, cookie)).session;
    expect(after.flashKeys()).toEqual(['list']); // the string flashes were consumed, the refused one was not
  });

  /** Two overlapping requests each `addFlash('notice', …)` onto a session holding `first`: the list after. */
  async function overlappingAppends(serializer?: Serializer, first?: string) {
    const { sessions } = setup(serializer);
    const s = await sessions.start(request());
    s.set('n', 1);
    if (first !== undefined) s.addFlash('notice', first);
    const cookie = cookiePair(await s.commit());
    const [a, b] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
    a.addFlash('notice', 'from a');
    b.addFlash('notice', 'from b');
    await a.commit();
    await b.commit();
    return (await sessions.start(request(cookie))).getFlash('notice');
  }

  it('overlapping addFlash from two requests: both items stay', async () => {
    expect(await overlappingAppends()).toEqual(['from a', 'from b']);
    expect(await overlappingAppends(undefined, 'first')).toEqual(['first', 'from a', 'from b']);
  });

  it('a list read while another request appends: the read items go, the appended one stays', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.addFlash('notice', 'old');
    const cookie = cookiePair(await s.commit());
    const [reader, writer] = [await sessions.start(request(cookie)), await sessions.start(request(cookie))];
    expect(reader.getFlash('notice')).toEqual(['old']);
    writer.addFlash('notice', 'new');
    await writer.commit();
    await reader.commit();
    expect((await sessions.start(request(cookie))).getFlash('notice')).toEqual(['new']);
  });

  it('a custom serializer: addFlash writes the whole list, so of two overlapping appends the later stays', async () => {
    const serializer: Serializer = { stringify: (v) => JSON.stringify(v), parse: (t) => JSON.parse(t) as unknown };
    expect(await overlappingAppends(serializer, 'first')).toEqual(['first', 'from b']);
  });
});

describe('flash consumption across overlapping requests', () => {
  function setupCapture() {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const seen: SessionChanges[] = [];
    const store: SessionStore = {
      ...memory,
      update(id, changes, times) {
        seen.push(changes);
        return memory.update(id, changes, times);
      },
    };
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
    return { sessions, seen };
  }

  it('tells the store which value was read, and removes the flash when it still holds that value', async () => {
    const { sessions, seen } = setupCapture();
    const s = await sessions.start(request());
    s.setFlash('notice', 'saved');
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    const reader = await sessions.start(request(cookie));
    expect(reader.getFlash('notice')).toBe('saved');
    expect(reader.getFlash('notice')).toBe('saved'); // still readable in this request
    await reader.commit();
    // The items read (all below number 1), and the text read for a store with its own merge.
    expect(seen).toEqual([{ consumed: { notice: '"saved"' }, consumedUpTo: { notice: 1 } }]);
    expect((await sessions.start(request(cookie))).hasFlash('notice')).toBe(false);
  });

  it('a list read then appended to is sent as the items read and the items appended', async () => {
    const { sessions, seen } = setupCapture();
    const s = await sessions.start(request());
    s.addFlash('k', 'x');
    const cookie = cookiePair(await s.commit());
    const reader = await sessions.start(request(cookie));
    expect(reader.getFlash('k')).toEqual(['x']);
    reader.addFlash('k', 'a');
    reader.addFlash('k', 'b');
    expect(reader.getFlash('k')).toEqual(['a', 'b']); // read here: never sent
    reader.addFlash('k', 'c');
    await reader.commit();
    expect(seen).toEqual([{ append: { k: ['"c"'] }, consumedItems: { k: '["x"]' }, consumedUpTo: { k: 1 } }]);
    expect((await sessions.start(request(cookie))).getFlash('k')).toEqual(['c']);
  });

  it('keeps a newer value another request stored while this one was reading the old one', async () => {
    const { sessions } = setupCapture();
    const s = await sessions.start(request());
    s.setFlash('notice', 'old');
    const cookie = cookiePair(await s.commit());
    const reader = await sessions.start(request(cookie));
    expect(reader.getFlash('notice')).toBe('old');
    const writer = await sessions.start(request(cookie));
    writer.setFlash('notice', 'new');
    await writer.commit();
    await reader.commit();
    const next = await sessions.start(request(cookie));
    expect(next.getFlash('notice')).toBe('new');
    await next.commit();
    expect((await sessions.start(request(cookie))).hasFlash('notice')).toBe(false);
  });

  it('peekFlash consumes nothing and writes nothing', async () => {
    const { sessions, seen } = setupCapture();
    const s = await sessions.start(request());
    s.setFlash('notice', 'saved');
    const cookie = cookiePair(await s.commit());
    const peeker = await sessions.start(request(cookie));
    expect(peeker.peekFlash('notice')).toBe('saved');
    expect((await peeker.commit()).getSetCookie()).toEqual([]);
    expect(seen).toEqual([]);
    expect((await sessions.start(request(cookie))).getFlash('notice')).toBe('saved');
  });
});

describe('identity', () => {
  it('IDs are 24 base64url characters (144 bits), distinct, masked for logs', async () => {
    const { sessions } = setup();
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await sessions.start(request())).id);
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const s = await sessions.start(request());
    expect(s.maskedId).toBe(`${s.id.slice(0, 3)}...${s.id.slice(-3)}`);
  });

  it('refuses a generateId that returns a weak or malformed ID', async () => {
    const clock = createClock();
    const sessions = createSessions({
      store: createMemoryStore(),
      secrets: [SECRET],
      now: clock.now,
      generateId: () => 'short',
    });
    const s = await sessions.start(request());
    s.set('a', 1);
    await expect(s.commit()).rejects.toMatchObject({ code: 'INVALID_ID' });
  });

  it("a regenerated ID keeps the old one's first 22 characters (its lineage), then a fresh generateId()", async () => {
    const clock = createClock();
    let length = 24;
    const made: string[] = [];
    const generateId = () => {
      let id = '';
      while (id.length < length) id += crypto.randomUUID().replaceAll('-', '');
      made.push(id.slice(0, length));
      return made.at(-1)!;
    };
    const store = createMemoryStore({ now: clock.now });
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, generateId });
    const first = await sessions.start(request());
    first.set('n', 1);
    let cookie = cookiePair(await first.commit());
    const lineage = first.id.slice(0, 22);
    expect(first.id).toBe(made[0]); // a new session's ID is generateId()'s, as it is

    async function regenerate(): Promise<string> {
      const s = await sessions.start(request(cookie));
      const oldId = s.id;
      s.regenerate();
      cookie = cookiePair(await s.commit());
      expect(s.id).not.toBe(oldId);
      expect((await sessions.start(request(cookie))).get('n')).toBe(1);
      return s.id;
    }
    // Two regenerates in a row: each new ID is the lineage, then the whole fresh value.
    for (let i = 0; i < 2; i++) {
      const id = await regenerate();
      expect(id).toBe(lineage + made.at(-1));
      expect(id).toHaveLength(46);
    }
    // A 128-character generateId: the fresh part is cut so the ID stays within 128 (106 fresh characters).
    length = 128;
    const long = await regenerate();
    expect(long).toHaveLength(128);
    expect(long).toBe(lineage + made.at(-1)!.slice(0, 106));
    // And from a 128-character ID, the next keeps only the lineage of it, never more.
    const next = await regenerate();
    expect(next).toBe(lineage + made.at(-1)!.slice(0, 106));
    expect(next).not.toBe(long);
  });

  it('with the default generateId a regenerated ID is the lineage and 24 fresh characters (144 bits)', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    const again = await sessions.start(request(cookie));
    again.regenerate();
    await again.commit();
    expect(again.id).toMatch(/^[A-Za-z0-9_-]{46}$/);
    expect(again.id.slice(0, 22)).toBe(s.id.slice(0, 22));
    expect(again.id.slice(22)).not.toBe(s.id); // fresh, not the old ID carried along
  });

  it('a destroyed session refuses writes', async () => {
    const { sessions } = setup();
    const s = await sessions.start(request());
    s.destroy();
    expect(s.destroyed).toBe(true);
    expect(() => s.set('a', 1)).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
    // Every write, flashes included.
    for (const write of [
      () => s.setFlash('f', 1),
      () => s.deleteFlash('f'),
      () => s.clearFlashes(),
      () => s.increment('n'),
      () => s.clear(),
    ]) {
      expect(write).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
    }
  });
});

describe('changes sent to a store with atomic update()', () => {
  async function capture(act: (s: Awaited<ReturnType<ReturnType<typeof createSessions>['start']>>) => void) {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const seen: SessionChanges[] = [];
    const store: SessionStore = {
      ...memory,
      update(id, changes, times) {
        seen.push(changes);
        return memory.update(id, changes, times);
      },
    };
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
    const first = await sessions.start(request());
    first.set('n', 10);
    first.set('keep', 'x');
    const cookie = cookiePair(await first.commit());
    const s = await sessions.start(request(cookie));
    act(s);
    await s.commit();
    expect(seen).toHaveLength(1);
    return seen[0];
  }

  it('sends increments of untouched keys as additions, accumulated', async () => {
    expect(
      await capture((s) => {
        s.increment('n');
        s.increment('n', 2);
        s.increment('m');
      }),
    ).toEqual({ increment: { n: 3, m: 1 } });
  });

  it('sends a key set, deleted or cleared earlier in the request as its final value', async () => {
    expect(
      await capture((s) => {
        s.set('n', 5);
        s.increment('n');
      }),
    ).toEqual({ set: { n: '6' } });
    expect(
      await capture((s) => {
        s.delete('n');
        s.increment('n');
      }),
    ).toEqual({ set: { n: '1' } });
    expect(
      await capture((s) => {
        s.clear();
        s.increment('n');
      }),
    ).toEqual({ clear: true, set: { n: '1' } });
    expect(
      await capture((s) => {
        s.increment('n');
        s.set('n', 7);
      }),
    ).toEqual({ set: { n: '7' } });
    // Setting the value the increment reached still means "this value", not "+1" on what the store holds.
    expect(
      await capture((s) => {
        s.increment('n');
        s.set('n', 11);
      }),
    ).toEqual({ set: { n: '11' } });
    expect(
      await capture((s) => {
        s.increment('n');
        s.delete('n');
      }),
    ).toEqual({ delete: ['n'] });
  });

  it('sends addFlash items as additions, and none read back in the same request', async () => {
    expect(
      await capture((s) => {
        s.addFlash('a', 1);
        s.addFlash('a', 2);
      }),
    ).toEqual({ append: { a: ['1', '2'] } });
    expect(
      await capture((s) => {
        s.addFlash('a', 1);
        s.setFlash('b', 'x');
        s.addFlash('b', 'y');
        expect(s.getFlash('a')).toEqual([1]);
      }),
    ).toEqual({ flash: { b: '["x","y"]' } }); // items appended and read in this request never reach the store
  });

  it('sends flashes and immutable keys as their full new state', async () => {
    expect(
      await capture((s) => {
        s.setFlash('f', 'hi');
        s.setImmutable('r', 'admin');
      }),
    ).toEqual({
      set: { r: '"admin"' },
      flash: { f: '"hi"' },
      immutable: { r: true },
    });
  });
});

describe('changes made while a commit of the session is in flight', () => {
  // Memory (a merge in the store) and the cookie store (the whole record sealed): both must keep such changes.
  for (const [name, make] of memoryAndCookie) {
    function setupOn(store: SessionStore | ReturnType<typeof createCookieStore> = make(createClock().now)) {
      const clock = createClock();
      const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
      async function stored(data: Record<string, unknown>) {
        const s = await sessions.create(request(), { data });
        return cookiePair(await s.commit());
      }
      return { sessions, stored };
    }

    it(`${name}: a change made after a commit started is written by the next one, and stays in view`, async () => {
      const { sessions, stored } = setupOn();
      const cookie = await stored({ a: 1 });
      const s = await sessions.start(request(cookie));
      s.set('a', 2);
      const first = s.commit();
      s.set('b', 3);
      s.setFlash('note', 'later');
      const lines = (await first).getSetCookie();
      expect([s.get('a'), s.get('b'), s.peekFlash('note')]).toEqual([2, 3, 'later']);
      lines.push(...(await s.commit()).getSetCookie());
      const next = await sessions.start(request(lines.at(-1)?.split(';')[0] ?? cookie));
      expect([next.getAll(), next.getFlash('note')]).toEqual([{ a: 2, b: 3 }, 'later']);
    });

    it(`${name}: increments racing the session's own commit all count`, async () => {
      const { sessions, stored } = setupOn();
      const cookie = await stored({ n: 1 });
      const s = await sessions.start(request(cookie));
      const results = await Promise.all([
        (async () => {
          s.set('k', 1);
          return s.commit();
        })(),
        (async () => {
          await null;
          s.increment('n');
          return s.commit();
        })(),
      ]);
      const last = results.flatMap((h) => h.getSetCookie()).at(-1);
      const next = await sessions.start(request(last === undefined ? cookie : last.split(';')[0]!));
      expect(next.getAll()).toEqual({ n: 2, k: 1 });
    });
  }

  it('two updateExpiration calls under Promise.all: the later one is written, not dropped', async () => {
    const { sessions, stored } = (() => {
      const clock = createClock();
      const s = createSessions({ store: createMemoryStore({ now: clock.now }), secrets: [SECRET], now: clock.now });
      return { sessions: s, stored: async () => cookiePair(await (await s.create(request(), {})).commit()) };
    })();
    const req = request(await stored());
    const [first, second] = await Promise.all([
      sessions.updateExpiration(req, 60),
      sessions.updateExpiration(req, 120),
    ]);
    expect(first.getSetCookie()[0]).toMatch(/Max-Age=60;/);
    expect(second.getSetCookie()[0]).toMatch(/Max-Age=120;/);
  });

  it('a commit that fails gives its changes back, with those made meanwhile after them', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    let fail = false;
    const store: SessionStore = {
      ...memory,
      update: (...a) => (fail ? Promise.reject(new Error('down')) : memory.update(...a)),
    };
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
    const login = await sessions.create(request(), { data: { n: 1, gone: true, keep: 'x' } });
    const cookie = cookiePair(await login.commit());
    const s = await sessions.start(request(cookie));
    s.increment('n', 2);
    s.delete('gone');
    s.set('a', 1);
    fail = true;
    const failing = s.commit();
    s.increment('n', 3); // meanwhile: an addition on top of the first
    s.set('a', 2); // and a later value
    await expect(failing).rejects.toMatchObject({ code: 'STORE_WRITE' });
    fail = false;
    // Another request adds to the counter before this one commits again: additions, not values, are sent.
    const other = await sessions.start(request(cookie));
    other.increment('n', 10);
    await other.commit();
    await s.commit();
    expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: 16, keep: 'x', a: 2 });
  });
});

describe('two increments in one request near MAX_SAFE_INTEGER', () => {
  it('the store ends with the value the session returned', async () => {
    const { sessions } = setup();
    const a = await sessions.start(request());
    a.set('n', Number.MAX_SAFE_INTEGER);
    const cookie = cookiePair(await a.commit());
    const b = await sessions.start(request(cookie));
    expect(b.increment('n', -Number.MAX_SAFE_INTEGER)).toBe(0);
    const local = b.increment('n', -(Number.MAX_SAFE_INTEGER - 1));
    expect(local).toBe(-(Number.MAX_SAFE_INTEGER - 1)); // exact, accepted
    await b.commit();
    // The journal's addition, -(2^54 - 3), is past what a double holds exactly: the final value is sent instead.
    expect((await sessions.start(request(cookie))).get('n')).toBe(local);
  });
});

describe('what cannot change while a commit of the session is in flight', () => {
  function setupFlight() {
    const { sessions } = setup();
    return { sessions };
  }

  it('regenerate() is COMMIT_IN_FLIGHT (the write sends the ID it started with); after it, it works', async () => {
    const { sessions } = setupFlight();
    const s = await sessions.start(request());
    s.set('a', 1);
    const first = s.commit();
    expect(() => s.regenerate()).toThrow(expect.objectContaining({ code: 'COMMIT_IN_FLIGHT' }));
    const cookie = cookiePair(await first);
    s.regenerate();
    const moved = cookiePair(await s.commit());
    expect(moved).not.toBe(cookie);
    expect((await sessions.start(request(moved))).get('a')).toBe(1);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it('a flash the write carries cannot be read or appended to meanwhile; other flashes can', async () => {
    const { sessions } = setupFlight();
    const s = await sessions.start(request());
    s.setFlash('msg', 'welcome');
    s.setFlash('other', 'kept');
    const cookie = cookiePair(await s.commit());
    const next = await sessions.start(request(cookie));
    expect(next.getFlash('msg')).toBe('welcome');
    const writing = next.commit();
    expect(() => next.addFlash('msg', 'saved')).toThrow(expect.objectContaining({ code: 'COMMIT_IN_FLIGHT' }));
    expect(() => next.getFlash('msg')).toThrow(expect.objectContaining({ code: 'COMMIT_IN_FLIGHT' }));
    next.addFlash('note', 'one');
    expect(next.getFlash('other')).toBe('kept');
    await writing;
    next.addFlash('msg', 'saved');
    await next.commit();
    const after = await sessions.start(request(cookie));
    expect([after.getFlash('msg'), after.getFlash('note'), after.getFlash('other')]).toEqual([
      ['saved'],
      ['one'],
      undefined,
    ]);
  });
});

describe('flash read after a commit that returned with changes pending', () => {
  it('items another request appended meanwhile are not consumed unseen', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    let gate: Promise<void> | undefined;
    const store: SessionStore = {
      ...memory,
      name: 'memory',
      async update(id, changes, times) {
        if (gate !== undefined) {
          const g = gate;
          gate = undefined;
          await g;
        }
        return memory.update(id, changes, times);
      },
    };
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
    const first = await sessions.create(request(), { data: { n: 0 } });
    first.addFlash('msg', 'x');
    const cookie = cookiePair(await first.commit());

    // Request R loads the session (flash msg = ["x"]).
    const r = await sessions.start(request(cookie));
    expect(r.peekFlash('msg')).toEqual(['x']);
    let release!: () => void;
    gate = new Promise((res) => (release = res));
    r.set('k', 1);
    const inFlight = r.commit(); // update, held at the gate
    r.set('j', 2); // a change made while the commit is in flight: pending

    // Request Q appends to the same flash meanwhile, and its commit lands first.
    const q = await sessions.start(request(cookie));
    q.addFlash('msg', 'y');
    await q.commit();

    release();
    await inFlight;
    // R reads the flash now: whatever it is shown, only what it was shown may be consumed.
    const shown = r.getFlash('msg') as string[];
    await r.commit();

    const next = await sessions.start(request(cookie));
    const left = (next.peekFlash('msg') as string[] | undefined) ?? [];
    // every item is delivered exactly once: shown to R, or left for the next request
    expect([...shown, ...left].sort()).toEqual(['x', 'y']);
  });
});

describe('getFlashes() refused during a commit in flight', () => {
  it('consumes nothing when it throws', async () => {
    const { sessions } = setup();
    const first = await sessions.create(request());
    first.setFlash('a', 'hello');
    const cookie = cookiePair(await first.commit());

    const s = await sessions.start(request(cookie));
    s.setFlash('b', 'other');
    const inFlight = s.commit(); // carries flash b
    let error: unknown;
    try {
      s.getFlashes();
    } catch (e) {
      error = e;
    }
    expect((error as SessionError).code).toBe('COMMIT_IN_FLIGHT');
    await inFlight;
    await s.commit(); // the app gave up reading; whatever it never received must stay
    const next = await sessions.start(request(cookie));
    expect(next.peekFlash('a')).toBe('hello');
  });
});

/** A stored session holding `key = 0`, on a memory store whose calls a test can hold (`gated.hold`). */
async function gatedCounter(key: string) {
  const clock = createClock();
  const memory = createMemoryStore({ now: clock.now });
  const gated = gatedStore(memory);
  const sessions = createSessions({ store: gated.store, secrets: [SECRET], now: clock.now });
  const first = await sessions.create(request(), { data: { [key]: 0 } });
  return { memory, gated, sessions, first, cookie: cookiePair(await first.commit()) };
}

describe('a set() made while a commit carrying an increment of that key is in flight', () => {
  it('is written by the next commit (the app said "a is 1" last)', async () => {
    const { memory, gated, sessions, first, cookie } = await gatedCounter('a');

    const mine = await sessions.start(request(cookie));
    mine.increment('a'); // view 1, journal +1
    const held = gated.hold('update', 'before');
    const inFlight = mine.commit();
    await held.reached;
    // Another request increments meanwhile, and its write lands first.
    const other = await sessions.start(request(cookie));
    other.increment('a');
    await other.commit();
    // This request now sets the value it wants: a is 1, whatever the store holds.
    mine.set('a', 1);
    held.release();
    await inFlight;
    await mine.commit(); // "changes made while it is in flight ... go with the next" (README)
    // Sequentially (set before any commit) the store would hold 1; a set is not an addition.
    expect(mine.get('a')).toBe(1);
    expect(JSON.parse((await memory.get(first.id))!.data.a!)).toBe(1);
  });
});

describe('a commit that finds its session ended by another request (it writes nothing, sends no cookie)', () => {
  it('leaves no commit "in flight": reading the flash again is no COMMIT_IN_FLIGHT', async () => {
    const sessions = createSessions({ store: createMemoryStore({ now: createClock().now }), secrets: [SECRET] });
    const first = await sessions.create(request());
    first.setFlash('notice', 'saved');
    const cookie = cookiePair(await first.commit());

    const mine = await sessions.start(request(cookie));
    expect(mine.getFlash('notice')).toBe('saved'); // consumed by this request's commit
    await sessions.destroy(request(cookie)); // a logout in another tab
    expect([...(await mine.commit())]).toEqual([]); // awaited: nothing is in flight any more
    expect(mine.destroyed).toBe(true);
    // README: a flash is "still readable in this one"; COMMIT_IN_FLIGHT is only for a commit in flight.
    let thrown: unknown;
    try {
      mine.getFlash('notice');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeUndefined();
  });
});

describe('increment(key, 0) while a commit carrying an increment of that key is in flight', () => {
  it("does not turn into a set that undoes another request's increment", async () => {
    const { memory, gated, sessions, first, cookie } = await gatedCounter('n');

    const mine = await sessions.start(request(cookie));
    mine.increment('n'); // +1
    const held = gated.hold('update', 'before');
    const inFlight = mine.commit();
    await held.reached;
    expect(mine.increment('n', 0)).toBe(1); // adds nothing (e.g. a computed amount that is 0)
    held.release();
    await inFlight;
    const other = await sessions.start(request(cookie)); // another request, after this one's +1 landed
    other.increment('n');
    await other.commit(); // n = 2
    await mine.commit(); // must add nothing
    // README (increment): "Atomic on every server-side store: overlapping increments all count."
    expect(JSON.parse((await memory.get(first.id))!.data.n!)).toBe(2);
  });

  it('the same without a commit in flight: increment(), then increment(key, 0), stays an addition', async () => {
    const memory = createMemoryStore();
    const sessions = createSessions({ store: memory, secrets: [SECRET] });
    const first = await sessions.create(request(), { data: { n: 0 } });
    const cookie = cookiePair(await first.commit());
    const mine = await sessions.start(request(cookie));
    const other = await sessions.start(request(cookie));
    mine.increment('n');
    mine.increment('n', 0);
    other.increment('n');
    await other.commit();
    await mine.commit();
    expect(JSON.parse((await memory.get(first.id))!.data.n!)).toBe(2);
  });
});

describe('increment(key, 0) on a key the request does not hold', () => {
  it("is an addition, not a set of 0 that undoes another request's increment", async () => {
    const memory = createMemoryStore();
    const sessions = createSessions({ store: memory, secrets: [SECRET] });
    const first = await sessions.create(request(), { data: { who: 'alice' } });
    const cookie = cookiePair(await first.commit());
    const mine = await sessions.start(request(cookie)); // loaded without 'n'
    const other = await sessions.start(request(cookie));
    other.increment('n'); // an overlapping request counts one
    await other.commit();
    expect(mine.increment('n', 0)).toBe(0); // a computed amount that is 0 (or the "read as a counter" idiom)
    await mine.commit();
    // README: "Atomic on every server-side store: overlapping increments all count" (+1 and +0 make 1).
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
    expect((await memory.get(first.id))?.data.n).toBe('1');
  });
});
