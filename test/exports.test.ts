import * as core from '../src/index.js';
import * as cookie from '../src/cookie-store.js';
import * as hono from '../src/hono.js';
import * as memory from '../src/memory.js';
import * as redis from '../src/redis.js';
import * as sql from '../src/sql.js';
import * as testing from '../src/testing.js';
import pkg from '../package.json' with { type: 'json' };
import { describe, expect, it } from './harness.js';

describe('public surface', () => {
  it('exports exactly the documented names', () => {
    // mergeChanges: for people who write their own stores (the store contract's merge).
    expect(Object.keys(core).sort()).toEqual([
      'Session',
      'SessionError',
      'commitAll',
      'createSessions',
      'mergeChanges',
    ]);
    expect(Object.keys(memory).sort()).toEqual(['createMemoryStore']);
    expect(Object.keys(cookie).sort()).toEqual(['createCookieStore']);
    expect(Object.keys(sql).sort()).toEqual(['createSqlStore']);
    expect(Object.keys(hono).sort()).toEqual(['sessionMiddleware']);
    expect(Object.keys(redis).sort()).toEqual(['createRedisStore']);
    expect(Object.keys(testing).sort()).toEqual([
      'createCookieJar',
      'describeLifecycleRaces',
      'describeOverlappingRequests',
      'describeStoreConformance',
      'sessionCookie',
    ]);
  });

  it('package.json: ESM only, side-effect free, typed exports, Node >= 20, uncrypto as the only dependency', () => {
    expect(pkg.name).toBe('edge-sessions');
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.engines.node).toBe('>=20');
    expect(Object.keys(pkg.dependencies)).toEqual(['uncrypto']);
    // Hono only for edge-sessions/hono, and only if the app uses it: never installed for the core.
    expect(pkg.peerDependencies).toEqual({ hono: '^4.0.0' });
    expect(pkg.peerDependenciesMeta).toEqual({ hono: { optional: true } });
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (entry === './package.json') continue;
      expect(target, entry).toMatchObject({
        types: expect.stringMatching(/^\.\/dist\/.*\.d\.ts$/),
        default: expect.stringMatching(/^\.\/dist\/.*\.js$/),
      });
    }
    expect(Object.keys(pkg.exports)).toEqual([
      '.',
      './memory',
      './cookie',
      './kv',
      './deno-kv',
      './durable-object',
      './redis',
      './sql',
      './hono',
      './testing',
      './package.json',
    ]);
  });
});
