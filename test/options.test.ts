import { createSessions, SessionError, type SessionsOptions } from '../src/index.js';
import { createCookieStore } from '../src/cookie-store.js';
import { createDenoKvStore, type DenoKvLike } from '../src/deno-kv.js';
import { sessionMiddleware } from '../src/hono.js';
import { createKVStore, type KVNamespaceLike } from '../src/kv.js';
import { createMemoryStore } from '../src/memory.js';
import { createRedisStore, type RedisClientLike } from '../src/redis.js';
import { createSqlStore, type SqlDatabase } from '../src/sql.js';
import { createCookieJar, describeLifecycleRaces, describeStoreConformance, sessionCookie } from '../src/testing.js';
import { describe, expect, it } from './harness.js';
import { request, SECRET } from './helpers.js';

function build(overrides: Partial<SessionsOptions> & Record<string, unknown>) {
  return () => createSessions({ store: createMemoryStore(), secrets: [SECRET], ...overrides } as SessionsOptions);
}

function expectError(fn: () => unknown, code: string, message: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SessionError);
  expect(caught).toMatchObject({ name: 'SessionError', code });
  expect((caught as Error).message).toMatch(message);
}

describe('createSessions validates every option at construction', () => {
  it('accepts the defaults and picks __Host-sid', () => {
    expect(build({})().cookieName).toBe('__Host-sid');
  });

  it('falls back to "sid" when __Host- rules cannot hold', () => {
    expect(build({ cookie: { secure: false } })().cookieName).toBe('sid');
    expect(build({ cookie: { domain: 'example.com' } })().cookieName).toBe('sid');
    expect(build({ cookie: { path: '/app' } })().cookieName).toBe('sid');
  });

  it('requires a store', () => {
    expectError(build({ store: undefined }), 'MISSING_STORE', /store is required/);
    expectError(
      build({ store: { get: () => null } as never }),
      'MISSING_STORE',
      /get, create, update, regenerate and destroy/,
    );
    // A store written for the old contract (get/set/delete) is refused, not half used.
    const { get } = createMemoryStore();
    const legacy = { get, set: async () => {}, delete: async () => {} };
    expectError(build({ store: legacy as never }), 'MISSING_STORE', /store is required/);
    const { create, update, destroy } = createMemoryStore();
    expectError(build({ store: { get, create, update, destroy } as never }), 'MISSING_STORE', /store is required/);
  });

  it('requires secrets', () => {
    expectError(build({ secrets: undefined }), 'MISSING_SECRET', /secrets is required/);
    expectError(build({ secrets: [] }), 'MISSING_SECRET', /secrets is required/);
    expectError(build({ secrets: [42] as never }), 'MISSING_SECRET', /secrets\[0\] must be a string/);
    // A hole in a sparse array is a missing secret, not one to skip (it would become an empty HMAC key).
    // eslint-disable-next-line no-sparse-arrays
    expectError(build({ secrets: [SECRET, , SECRET] as never }), 'MISSING_SECRET', /secrets\[1\] must be a string/);
  });

  it('refuses a secret under 32 bytes, naming which one', () => {
    expectError(build({ secrets: ['short'] }), 'WEAK_SECRET', /secrets\[0\] must be at least 32 bytes, got 5/);
    expectError(build({ secrets: [SECRET, 'x'.repeat(31)] }), 'WEAK_SECRET', /secrets\[1\].*got 31/);
    // 11 three-byte characters are 33 bytes.
    expect(() => build({ secrets: ['€'.repeat(11)] })()).not.toThrow();
  });

  it('refuses a cookie name that is not a token', () => {
    expectError(build({ cookie: { name: 'my session' } }), 'INVALID_COOKIE_NAME', /cookie.name must be a token/);
    expectError(build({ cookie: { name: 'a;b' } }), 'INVALID_COOKIE_NAME', /token/);
    expectError(build({ cookie: { name: '' } }), 'INVALID_COOKIE_NAME', /token/);
    expectError(build({ cookie: { name: 'sïd' } }), 'INVALID_COOKIE_NAME', /token/);
  });

  it('enforces the __Host- prefix rules, case-insensitively', () => {
    expectError(
      build({ cookie: { name: '__Host-s', domain: 'example.com' } }),
      'INVALID_COOKIE_OPTION',
      /__Host- prefix forbids cookie.domain/,
    );
    expectError(
      build({ cookie: { name: '__Host-s', secure: false } }),
      'INVALID_COOKIE_OPTION',
      /__Host- prefix requires secure/,
    );
    expectError(
      build({ cookie: { name: '__host-s', path: '/app' } }),
      'INVALID_COOKIE_OPTION',
      /__Host- prefix requires cookie.path/,
    );
  });

  it('enforces the __Secure- prefix rule', () => {
    expectError(
      build({ cookie: { name: '__Secure-s', secure: false } }),
      'INVALID_COOKIE_OPTION',
      /__Secure- prefix requires secure/,
    );
    expect(build({ cookie: { name: '__Secure-s', domain: 'example.com' } })().cookieName).toBe('__Secure-s');
  });

  it('requires Secure for SameSite=None and for Partitioned', () => {
    expectError(
      build({ cookie: { sameSite: 'none', secure: false } }),
      'INVALID_COOKIE_OPTION',
      /sameSite 'none' requires secure/,
    );
    expectError(
      build({ cookie: { partitioned: true, secure: false } }),
      'INVALID_COOKIE_OPTION',
      /partitioned requires secure/,
    );
    expectError(build({ cookie: { sameSite: 'sometimes' as 'lax' } }), 'INVALID_COOKIE_OPTION', /sameSite must be/);
    // Names an object literal inherits are not SameSite values either.
    for (const inherited of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expectError(build({ cookie: { sameSite: inherited as 'lax' } }), 'INVALID_COOKIE_OPTION', /sameSite must be/);
    }
    expect(() => build({ cookie: { sameSite: 'STRICT' as 'strict' } })()).not.toThrow();
    // Only a string names a SameSite value: String(['lax']) is 'lax'.
    for (const sameSite of [['lax'], { toString: () => 'lax' }, 0]) {
      expectError(build({ cookie: { sameSite: sameSite as never } }), 'INVALID_COOKIE_OPTION', /sameSite must be/);
    }
  });

  it('refuses a secure, httpOnly or partitioned that is not a boolean, naming it', () => {
    // Truthiness would decide otherwise: 'false' kept Secure and set Partitioned, 0 dropped HttpOnly.
    for (const name of ['secure', 'httpOnly', 'partitioned']) {
      for (const value of ['false', 'true', 0, 1, {}]) {
        expectError(
          build({ cookie: { [name]: value } }),
          'INVALID_COOKIE_OPTION',
          new RegExp(`cookie\\.${name} must be true or false, got `),
        );
      }
      for (const value of [true, false, undefined, null]) {
        const secure = name === 'secure' ? {} : { secure: true };
        expect(() => build({ cookie: { ...secure, [name]: value } })()).not.toThrow();
      }
    }
    expectError(build({ cookie: { httpOnly: 'false' as never } }), 'INVALID_COOKIE_OPTION', /got "false"$/);
  });

  it('refuses CR, LF, ";" and other controls in Path and Domain', () => {
    expectError(build({ cookie: { path: '/a\r\nSet-Cookie: x=1' } }), 'INVALID_COOKIE_OPTION', /cookie.path/);
    expectError(build({ cookie: { path: '/a;Domain=evil.com' } }), 'INVALID_COOKIE_OPTION', /cookie.path/);
    expectError(build({ cookie: { path: 'relative' } }), 'INVALID_COOKIE_OPTION', /must start with/);
    expectError(build({ cookie: { domain: 'example.com;x' } }), 'INVALID_COOKIE_OPTION', /cookie.domain/);
    expectError(build({ cookie: { domain: 'example.com\n' } }), 'INVALID_COOKIE_OPTION', /cookie.domain/);
  });

  it('refuses a Path outside printable ASCII (no valid header value could carry it)', () => {
    for (const path of ['/日本', '/caf\u00e9', '/a\u00a0b']) {
      expectError(build({ cookie: { path } }), 'INVALID_COOKIE_OPTION', /printable ASCII/);
    }
    expect(() => build({ cookie: { path: "/a b/~!$&'()*+,=:@%7E" } })()).not.toThrow();
  });

  it('refuses non-finite, negative and zero durations, naming the option', () => {
    expectError(build({ idleTimeout: Number.POSITIVE_INFINITY }), 'INVALID_DURATION', /idleTimeout/);
    expectError(build({ absoluteTimeout: -5 }), 'INVALID_DURATION', /absoluteTimeout/);
    expectError(build({ touchAfter: -1 }), 'INVALID_DURATION', /touchAfter/);
  });

  it('refuses a lifetime that is not a positive number up to 400 days (RFC 6265bis Max-Age cap) or Infinity', () => {
    expect(() => build({ expires: 400 * 86400 })()).not.toThrow();
    expect(() => build({ expires: Infinity })()).not.toThrow();
    const refused: [unknown, string][] = [
      [400 * 86400 + 1, '34560001'],
      [0, '0'],
      [-1, '-1'],
      [Number.NaN, 'NaN'],
      [-Infinity, '-Infinity'],
      ['60', '"60"'],
      [null, 'null'],
    ];
    for (const [expires, shown] of refused) {
      const message =
        'edge-sessions: expires must be a positive number of seconds up to 34560000 (400 days, the longest ' +
        `Max-Age browsers keep), or Infinity for an unlimited lifetime, got ${shown}`;
      expectError(build({ expires: expires as number }), 'INVALID_DURATION', /^edge-sessions: expires must be/);
      expect(build({ expires: expires as number })).toThrow(message);
    }
  });

  it('refuses a storeTimeout longer than a timer can wait (it would fire at once)', () => {
    expectError(build({ storeTimeout: 3_000_000 }), 'INVALID_DURATION', /storeTimeout must be at most 2147483 seconds/);
    expect(() => build({ storeTimeout: 2_147_483 })()).not.toThrow();
  });

  it('refuses touchAfter at or above idleTimeout', () => {
    expectError(build({ idleTimeout: 60, touchAfter: 60 }), 'INVALID_DURATION', /touchAfter must be below idleTimeout/);
  });

  it('refuses non-function hooks and a serializer without stringify/parse', () => {
    expectError(build({ now: 5 as unknown as () => number }), 'INVALID_OPTION', /now must be a function/);
    // Go's time.Now() habit: a Date would make every cookie `Max-Age=NaN`.
    expectError(
      build({ now: (() => new Date()) as unknown as () => number }),
      'INVALID_OPTION',
      /createSessions: now must return epoch milliseconds \(a finite number\), got a Date \(use date.getTime\(\)\)/,
    );
    expectError(build({ generateId: 'x' as unknown as () => string }), 'INVALID_OPTION', /generateId/);
    expectError(build({ onEvent: {} as unknown as () => void }), 'INVALID_OPTION', /onEvent/);
    expectError(build({ serializer: { stringify: JSON.stringify } as never }), 'INVALID_OPTION', /serializer/);
  });
});

describe('unknown option names are refused, naming the option', () => {
  it('createSessions: a misspelt or foreign option (maxAge, idle_timeout) is INVALID_OPTION', () => {
    expectError(build({ maxAge: 60 }), 'INVALID_OPTION', /^edge-sessions: createSessions: unknown option "maxAge"$/);
    expectError(build({ idle_timeout: 600 }), 'INVALID_OPTION', /createSessions: unknown option "idle_timeout"/);
    // Refused even when undefined: the name is the mistake, not the value.
    expectError(build({ idleTimout: undefined }), 'INVALID_OPTION', /unknown option "idleTimout"/);
    // Every documented name is still accepted.
    expect(() =>
      build({
        cookie: {},
        expires: 60,
        idleTimeout: 30,
        absoluteTimeout: 120,
        touchAfter: 1,
        storeTimeout: 1,
        generateId: undefined,
        now: Date.now,
        serializer: JSON,
        onEvent: () => {},
      })(),
    ).not.toThrow();
  });

  it('createSessions: an unknown cookie option (samesite for sameSite) is INVALID_OPTION', () => {
    expectError(
      build({ cookie: { samesite: 'strict' } as never }),
      'INVALID_OPTION',
      /createSessions: cookie: unknown option "samesite"/,
    );
    expectError(build({ cookie: { maxAge: 60 } as never }), 'INVALID_OPTION', /cookie: unknown option "maxAge"/);
    expect(() =>
      build({
        cookie: { name: 'sid', path: '/', domain: 'example.com', secure: true, httpOnly: true, sameSite: 'lax' },
      })(),
    ).not.toThrow();
    expect(() => build({ cookie: { partitioned: true } })()).not.toThrow();
  });

  it('createMemoryStore: an unknown option is INVALID_OPTION', () => {
    expectError(
      () => createMemoryStore({ ttl: 60 } as never),
      'INVALID_OPTION',
      /createMemoryStore: unknown option "ttl"/,
    );
    expect(() => createMemoryStore({ now: Date.now })).not.toThrow();
    expect(() => createMemoryStore()).not.toThrow();
  });

  it('every factory: null or another non-object as options is INVALID_OPTION; undefined is the defaults', async () => {
    const kv = standIn();
    const factories: [string, (options: never) => unknown][] = [
      ['createMemoryStore', (o) => createMemoryStore(o)],
      ['createCookieStore', (o) => createCookieStore(o)],
      ['createKVStore', (o) => createKVStore(kv, o)],
      ['createDenoKvStore', (o) => createDenoKvStore(kv, o)],
      ['createRedisStore', (o) => createRedisStore(kv, o)],
      ['createSqlStore', (o) => createSqlStore(kv, o)],
      ['sessionMiddleware', (o) => sessionMiddleware(build({})(), o)],
      ['createCookieJar', (o) => createCookieJar(o)],
      ['describeStoreConformance', (o) => describeStoreConformance('x', () => createMemoryStore(), runner, o)],
      ['describeLifecycleRaces', (o) => describeLifecycleRaces('x', () => createMemoryStore(), runner, o)],
    ];
    for (const [where, factory] of factories) {
      expectError(() => factory(null as never), 'INVALID_OPTION', new RegExp(`${where}: options must be an object`));
      expectError(() => factory([] as never), 'INVALID_OPTION', /options must be an object or undefined, got an array/);
      expectError(
        () => factory('ttl' as never),
        'INVALID_OPTION',
        /options must be an object or undefined, got string/,
      );
      if (!where.startsWith('describe')) {
        expect(() => factory(undefined as never), where).not.toThrow();
      }
    }
    expect(registered).toBe(0); // refused before registering any test
    const sessions = build({})();
    for (const call of [
      () => sessions.create(request(), null as never),
      () => sessions.destroyByUser('ada', null as never),
      () => sessionCookie(sessions, null as never),
      () => createSqlStore(kv).purge(null as never),
    ]) {
      const error: unknown = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'SessionError', code: 'INVALID_OPTION' });
      expect((error as Error).message).toMatch(/options must be an object or undefined, got null/);
    }
    expectError(() => createSessions(null as never), 'INVALID_OPTION', /createSessions\(\) needs an options object/);
    expect((await sessions.create(request(), undefined)).isNew).toBe(true);
  });
});

describe('the test kit validates its options', () => {
  it('refuses a suite flag that is not a boolean, and a race suite without exact, before registering a test', () => {
    const store = () => createMemoryStore();
    for (const name of ['stateless', 'encrypts', 'refusesTakenIds', 'perUser']) {
      for (const value of ['true', 'false', 1, null]) {
        expectError(
          () => describeStoreConformance('x', store, runner, { [name]: value }),
          'INVALID_OPTION',
          new RegExp(`describeStoreConformance: ${name} must be true or false, got `),
        );
      }
    }
    for (const options of [{}, { exact: 'false' }, { exact: 0 }, { exact: undefined }]) {
      expectError(
        () => describeLifecycleRaces('x', store, runner, options as never),
        'INVALID_OPTION',
        /describeLifecycleRaces: exact must be true or false, got /,
      );
    }
    expectError(
      () => describeLifecycleRaces('x', store, runner, undefined as never),
      'INVALID_OPTION',
      /describeLifecycleRaces: options \{ exact: true \| false \} are required/,
    );
    expect(registered).toBe(0);
  });

  it('refuses a jar clock that is not a function (a clock object passed for its now)', () => {
    const clock = { now: () => 0 };
    expectError(
      () => createCookieJar({ now: clock as never }),
      'INVALID_OPTION',
      /createCookieJar: now must be a function, got object/,
    );
    expect(createCookieJar({ now: clock.now }).size).toBe(0);
    expect(createCookieJar({ now: undefined }).size).toBe(0);
  });
});

/** A stand-in for every store's backend: the methods each store needs, none of which construction may call. */
function standIn() {
  const never = () => {
    throw new Error('called at construction');
  };
  const methods = ['get', 'put', 'delete', 'list', 'atomic', 'send', 'prepare', 'batch'];
  return Object.fromEntries(methods.map((m) => [m, never])) as unknown as KVNamespaceLike &
    DenoKvLike &
    RedisClientLike &
    SqlDatabase;
}

describe('store factories refuse a clock and a backend of the wrong kind at construction', () => {
  const factories: [string, (backend: never, options?: never) => unknown][] = [
    ['createKVStore', (b, o) => createKVStore(b, o)],
    ['createDenoKvStore', (b, o) => createDenoKvStore(b, o)],
    ['createRedisStore', (b, o) => createRedisStore(b, o)],
    ['createSqlStore', (b, o) => createSqlStore(b, o)],
  ];

  it('now: a function or undefined; anything else is INVALID_OPTION', () => {
    const memory: (typeof factories)[number] = ['createMemoryStore', (_backend, o) => createMemoryStore(o)];
    for (const [where, factory] of [...factories, memory]) {
      for (const now of [5, 'Date.now', null, {}]) {
        expectError(
          () => factory(standIn() as never, { now } as never),
          'INVALID_OPTION',
          new RegExp(`^edge-sessions: ${where}: now must be a function, got `),
        );
      }
      expect(() => factory(standIn() as never, { now: () => 0 } as never), where).not.toThrow();
      // A clock of the wrong kind is called once, so it cannot make every expiry NaN later.
      for (const [value, got] of [
        [new Date(), 'a Date'],
        ['1700000000000', '"1700000000000"'],
        [Number.NaN, 'NaN'],
        [undefined, 'undefined'],
      ] as const) {
        expectError(
          () => factory(standIn() as never, { now: () => value } as never),
          'INVALID_OPTION',
          new RegExp(`^edge-sessions: ${where}: now must return epoch milliseconds \\(a finite number\\), got ${got}`),
        );
      }
    }
  });

  it('a binding missing from the configuration (undefined), or one without the methods, is INVALID_OPTION', () => {
    for (const [where, factory] of factories) {
      for (const backend of [undefined, null, {}, 'SESSIONS_KV']) {
        expectError(
          () => factory(backend as never),
          'INVALID_OPTION',
          new RegExp(`^edge-sessions: ${where}: the .* needs`),
        );
      }
    }
    expectError(
      () => createKVStore({ get() {}, put() {} } as never),
      'INVALID_OPTION',
      /createKVStore: the KV namespace needs get\(\), put\(\), delete\(\), list\(\); got object without delete\(/,
    );
    expectError(
      () => createSqlStore(undefined as never),
      'INVALID_OPTION',
      /createSqlStore: the database needs prepare\(\), batch\(\); got undefined without prepare\(\), batch\(\)$/,
    );
  });
});

/** A runner that counts what a suite would register, for the describe… helpers refused above. */
let registered = 0;
const runner = {
  describe: () => void registered++,
  it: () => void registered++,
  expect,
} as unknown as Parameters<typeof describeStoreConformance>[2];
