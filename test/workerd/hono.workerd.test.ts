// edge-sessions/hono inside workerd: Hono apps as a Worker runs them (app.fetch(request, env, ctx) with the real
// ExecutionContext), on the real KV and Durable Object bindings, wrapped only to count what reaches them.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { Hono, type Context } from 'hono';
import { createDurableObjectStore } from '../../src/durable-object.js';
import { sessionMiddleware, type SessionEnv } from '../../src/hono.js';
import { createSessions, type SessionEvent, type SessionStore } from '../../src/index.js';
import { createKVStore } from '../../src/kv.js';
import { describe, expect, it } from '../harness.js';
import { createJar, SECRET } from '../helpers.js';
import { wrapDO, wrapKV } from './bindings.js';
import { echoUpgrade, expectUpgradedWithCookie } from './websocket.js';

interface Data extends Record<string, unknown> {
  visits: number;
  name: string;
}
type AppEnv = SessionEnv<Data> & { Bindings: Cloudflare.Env };

let prefixes = 0;

/**
 * The app a Worker would export. Bindings reach handlers only through `c.env`, so the manager is built per
 * request from them (construction does no crypto and no I/O).
 */
function createApp(storeFor: (bindings: Cloudflare.Env) => SessionStore, onEvent?: (event: SessionEvent) => unknown) {
  const app = new Hono<AppEnv>();
  app.use(
    sessionMiddleware((c: Context<AppEnv>) =>
      createSessions<Data>({
        store: storeFor(c.env),
        secrets: [SECRET],
        expires: 3600,
        ...(onEvent === undefined ? {} : { onEvent }),
      }),
    ),
  );
  app.get('/visit', async (c) => c.text(`visit ${(await c.var.session).increment('visits')}`));
  app.get('/read', async (c) => c.text(String((await c.var.session).get('visits') ?? 'none')));
  app.get('/static', (c) => c.text('static'));
  app.post('/logout', async (c) => {
    (await c.var.session).destroy();
    return c.text('bye');
  });
  app.get('/fail', async (c) => {
    (await c.var.session).set('name', 'mallory');
    throw new Error('handler failed');
  });
  app.get('/ws', async (c) => {
    (await c.var.session).set('name', 'socket');
    return echoUpgrade();
  });
  app.onError((_error, c) => c.text('sorry', 500));

  const jar = createJar();
  /** One request as workerd delivers it: real env and ExecutionContext; the cookies go back into the jar. */
  async function browse(path: string, init: RequestInit = {}, ctx = createExecutionContext()) {
    const headers = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie !== undefined) headers.set('Cookie', cookie);
    const response = await app.fetch(new Request(`https://app.example${path}`, { ...init, headers }), env, ctx);
    await waitOnExecutionContext(ctx);
    jar.apply(response.headers);
    return response;
  }
  return { app, jar, browse };
}

describe('hono in workerd: KV', () => {
  it('keeps a counter across requests, reads KV only for routes that await the session', async () => {
    const kv = wrapKV(env.SESSIONS_KV);
    const prefix = `hono-${++prefixes}:`;
    const { browse, jar } = createApp(() => createKVStore(kv.ns, { prefix }));

    const first = await browse('/visit');
    expect(await first.text()).toBe('visit 1');
    expect(first.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=/)]);
    expect(first.headers.get('Cache-Control')).toBe('private');
    expect(kv.reads()).toBe(0); // no cookie: nothing to read
    expect(kv.writes()).toBe(1);
    expect(await (await browse('/visit')).text()).toBe('visit 2');

    const reads = kv.reads();
    const writes = kv.writes();
    const untouched = await browse('/static');
    expect(await untouched.text()).toBe('static');
    expect(untouched.headers.getSetCookie()).toEqual([]);
    expect(untouched.headers.get('Cache-Control')).toBeNull();
    expect([kv.reads(), kv.writes()]).toEqual([reads, writes]);

    const read = await browse('/read');
    expect(await read.text()).toBe('2');
    expect(read.headers.get('Cache-Control')).toBe('private');
    expect([kv.reads(), kv.writes()]).toEqual([reads + 1, writes]);
    expect(kv.calls.put.every((put) => put.key.startsWith(prefix))).toBe(true);
    expect(jar.size).toBe(1);
  });

  it("passes a WebSocket upgrade through: status 101, the handler's working socket, the session cookie", async () => {
    const kv = wrapKV(env.SESSIONS_KV);
    const { browse } = createApp(() => createKVStore(kv.ns, { prefix: `hono-${++prefixes}:` }));
    await expectUpgradedWithCookie(await browse('/ws', { headers: { Upgrade: 'websocket' } }));
    expect(kv.writes()).toBe(1);
  });

  it('commits nothing when the handler throws: onError answers and KV keeps what it had', async () => {
    const kv = wrapKV(env.SESSIONS_KV);
    const prefix = `hono-${++prefixes}:`;
    const { browse } = createApp(() => createKVStore(kv.ns, { prefix }));
    await browse('/visit');
    const writes = kv.writes();
    const failed = await browse('/fail');
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe('sorry');
    expect(failed.headers.getSetCookie()).toEqual([]);
    expect(kv.writes()).toBe(writes);
    expect(await (await browse('/read')).text()).toBe('1');
  });

  it('hands async event hooks to the real ExecutionContext', async () => {
    const kv = wrapKV(env.SESSIONS_KV);
    const prefix = `hono-${++prefixes}:`;
    const events: string[] = [];
    const { browse } = createApp(
      () => createKVStore(kv.ns, { prefix }),
      async (event) => {
        await Promise.resolve();
        events.push(event.type);
      },
    );
    const ctx = createExecutionContext();
    const waited: Promise<unknown>[] = [];
    const waitUntil = ctx.waitUntil.bind(ctx);
    ctx.waitUntil = (promise) => {
      waited.push(promise);
      waitUntil(promise);
    };
    await browse('/visit', {}, ctx);
    expect(waited).toHaveLength(1);
    expect(events).toEqual(['created']);
  });
});

describe('hono in workerd: Durable Objects', () => {
  it('logs in, counts, and logs out on the real SessionDurableObject', async () => {
    const rpc = wrapDO(env.SESSIONS_DO);
    const { app, browse, jar } = createApp(() => createDurableObjectStore(rpc.ns));
    app.post('/login', async (c) => {
      const session = await c.var.session;
      session.regenerate(); // a new ID at login, data kept: no session fixation
      session.set('name', 'ada');
      return c.redirect('/read', 303);
    });

    await browse('/visit');
    const anonymous = jar.header();
    expect(rpc.calls.create).toBe(1);
    const login = await browse('/login', { method: 'POST' });
    expect(login.status).toBe(303);
    expect(login.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=/)]);
    expect(jar.header()).not.toBe(anonymous);
    expect(await (await browse('/visit')).text()).toBe('visit 2');

    const before = rpc.total();
    expect((await browse('/static')).headers.getSetCookie()).toEqual([]);
    expect(rpc.total()).toBe(before);

    const logout = await browse('/logout', { method: 'POST' });
    expect(logout.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=; Path=\/; Max-Age=0;/)]);
    expect(jar.size).toBe(0);
    // The logout, after the login's regenerate, whose last step ended the anonymous ID (keeping a forward).
    expect(rpc.calls.destroy).toBe(2);

    // The old cookie, replayed after logout, is "no session": a fresh anonymous visit.
    const replay = await app.fetch(
      new Request('https://app.example/read', { headers: { cookie: anonymous! } }),
      env,
      createExecutionContext(),
    );
    expect(await replay.text()).toBe('none');
  });
});
