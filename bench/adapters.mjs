// Every library under test, behind one shape: `make()` resolves to `{ s1, read, rw }`, three
// `(request) => Promise<Response>` handlers doing the same application work with each library's documented API:
//   s1   — start a session, set `user` = 'u-42' and `n` = 1, commit (a Set-Cookie must come back)
//   read — start, read `user` into the body, commit only if the library's idiom does (no write expected)
//   rw   — start, read `n`, set `n` = n + 1, commit (Set-Cookie or store write)
// Settings are as equivalent as each API allows: signed or sealed cookies, one secret of 44 bytes, HttpOnly,
// SameSite=Lax, Path=/, Secure, a 14-day lifetime. Framework-bound peers (Hono, h3) run inside their
// framework's `fetch`; the `hono (no session)` and `h3 (no session)` rows measure that framework alone.

import { createSessions } from '../src/index.ts';
import { createMemoryStore } from '../src/memory.ts';
import { createCookieStore } from '../src/cookie-store.ts';
import { HmacKey } from '../src/lib/hmac-sha256.ts';
import { createCookie, createCookieSessionStorage, createMemorySessionStorage } from 'react-router';
import { createCookie as createRemixCookie } from '@remix-run/cookie';
import { createCookieSessionStorage as remixCookieStorage } from '@remix-run/session/cookie-storage';
import { createMemorySessionStorage as remixMemoryStorage } from '@remix-run/session/memory-storage';
import { getIronSession, webCookies } from 'iron-session';
import { Hono } from 'hono';
import { useSession as honoUseSession } from '@hono/session';
import { sessionMiddleware, CookieStore as HonoSessionsCookieStore } from 'hono-sessions';
import { H3, useSession as h3UseSession, getSession as h3GetSession } from 'h3';

export const SECRET = 'bench-secret-0123456789abcdef-0123456789abcd'; // 44 bytes
const DAY = 86_400;
const TTL = 14 * DAY;
const text = (body, headers) => new Response(body ?? '', headers === undefined ? undefined : { headers });

// ------------------------------------------------------------------------------------------------ edge-sessions

function edge(store) {
  // The README's way: handle() starts the session, runs the handler, commits, and appends only what changed.
  return async () => {
    const sessions = createSessions({ store, secrets: [SECRET] });
    return {
      s1: sessions.handle((_req, s) => {
        s.set('user', 'u-42');
        s.set('n', 1);
        return text('ok');
      }),
      read: sessions.handle((_req, s) => text(s.get('user'))),
      rw: sessions.handle((_req, s) => {
        s.set('n', s.get('n') + 1);
        return text('ok');
      }),
    };
  };
}

// The same work without `handle()`: start, commit, and the handler builds its Response with the commit's
// headers (a page read from a live session then gets no `Cache-Control: private` unless the app adds it). Not the
// README's default; it shows what `handle()`'s copy of the handler's Response costs on each runtime.
function edgeDirect(store) {
  return async () => {
    const sessions = createSessions({ store, secrets: [SECRET] });
    return {
      async s1(req) {
        const s = await sessions.start(req);
        s.set('user', 'u-42');
        s.set('n', 1);
        return new Response('ok', { headers: await s.commit() });
      },
      async read(req) {
        const s = await sessions.start(req);
        const user = s.get('user');
        return new Response(user ?? '', { headers: await s.commit() });
      },
      async rw(req) {
        const s = await sessions.start(req);
        s.set('n', s.get('n') + 1);
        return new Response('ok', { headers: await s.commit() });
      },
    };
  };
}

// ------------------------------------------------------------------------------------------------ floor
// The least a correct signed-ID session can do: HMAC-SHA256 key imported once, 1 subtle.verify per read of a
// cookie, 1 subtle.sign per write (a write re-sends the cookie to slide its Max-Age), a Map of JSON records.
// `js`: the same with the HMAC edge-sessions computes in JavaScript (src/lib/hmac-sha256.ts) instead of WebCrypto's,
// to show what the library itself adds once the HMAC costs the same (a row for context; the floor stays the
// WebCrypto one).

const te = new TextEncoder();
const b64u = (bytes) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const unb64u = (s) => {
  try {
    return Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
};

/** The floors' cookie parser: the value of `sid` in a Cookie header. */
function cookieValue(header) {
  if (header === null) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (part.slice(0, eq).trim() === 'sid') return part.slice(eq + 1).trim();
  }
  return undefined;
}

async function floor({ js = false } = {}) {
  const raw = te.encode(SECRET);
  const hmac = js ? new HmacKey(raw) : undefined;
  const key = js
    ? undefined
    : await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const verify = (tag, data) => (js ? hmac.verify(tag, data) : crypto.subtle.verify('HMAC', key, tag, data));
  const sign = async (data) => (js ? hmac.mac(data) : new Uint8Array(await crypto.subtle.sign('HMAC', key, data)));
  const store = new Map();
  const NAME = 'sid';
  async function load(req) {
    const value = cookieValue(req.headers.get('cookie'));
    if (value === undefined) return null;
    const dot = value.indexOf('.');
    const id = value.slice(0, dot);
    const tag = unb64u(value.slice(dot + 1));
    if (dot < 1 || tag === null || !(await verify(tag, te.encode(`${NAME}=${id}`)))) return null;
    const text = store.get(id);
    return text === undefined ? null : { id, value, data: JSON.parse(text) };
  }
  // The cookie of an existing session is re-sent as it came (HMAC is deterministic: signing again would only
  // reproduce the tag just verified); a new session's ID is signed once.
  async function save(id, data, value) {
    store.set(id, JSON.stringify(data));
    const cookie = value ?? `${id}.${b64u(await sign(te.encode(`${NAME}=${id}`)))}`;
    return { 'Set-Cookie': `${NAME}=${cookie}; Max-Age=${TTL}; Path=/; HttpOnly; Secure; SameSite=Lax` };
  }
  return {
    async s1(req) {
      await load(req);
      return text('ok', await save(b64u(crypto.getRandomValues(new Uint8Array(18))), { user: 'u-42', n: 1 }));
    },
    async read(req) {
      const s = await load(req);
      return text(s?.data.user);
    },
    async rw(req) {
      const s = await load(req);
      s.data.n += 1;
      return text('ok', await save(s.id, s.data, s.value));
    },
  };
}

/** The scenarios' handlers over a cookie floor's `load(request)` (data or null) and `save(data)` (headers). */
function cookieFloorHandlers(load, save) {
  return {
    async s1(req) {
      await load(req);
      return text('ok', await save({ user: 'u-42', n: 1 }));
    },
    async read(req) {
      const s = await load(req);
      return text(s?.user);
    },
    async rw(req) {
      const s = await load(req);
      s.n += 1;
      return text('ok', await save(s));
    },
  };
}

// The least a correct sealed-cookie session can do (what a stateless, encrypted store must pay): an AES-256-GCM key
// imported once, 1 subtle.decrypt per read of a cookie, 1 subtle.encrypt per write, the cookie name bound as
// associated data, the expiry inside the seal (Max-Age is the client's to change) and checked on every read.

async function sealedFloor() {
  const raw = new Uint8Array(await crypto.subtle.digest('SHA-256', te.encode(SECRET)));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  const NAME = 'sid';
  const ad = te.encode(NAME);
  const td = new TextDecoder();
  async function load(req) {
    const value = cookieValue(req.headers.get('cookie'));
    if (value === undefined) return null;
    const bytes = unb64u(value);
    if (bytes === null || bytes.length < 28) return null;
    try {
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: ad },
        key,
        bytes.subarray(12),
      );
      const data = JSON.parse(td.decode(plain));
      return data.exp > Date.now() ? data : null;
    } catch {
      return null;
    }
  }
  async function save(data) {
    data.exp = Date.now() + TTL * 1000;
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: ad }, key, te.encode(JSON.stringify(data))),
    );
    const out = new Uint8Array(12 + sealed.length);
    out.set(iv);
    out.set(sealed, 12);
    return { 'Set-Cookie': `${NAME}=${b64u(out)}; Max-Age=${TTL}; Path=/; HttpOnly; Secure; SameSite=Lax` };
  }
  return cookieFloorHandlers(load, save);
}

// The least a correct signed-cookie session can do (what a stateless store that signs without encrypting must
// pay): an HMAC-SHA256 key imported once, the data as base64url JSON in the clear, 1 subtle.verify per read of a
// cookie over the cookie name and that text, 1 subtle.sign per write, the expiry inside the signed data (Max-Age
// is the client's to change) and checked on every read.

async function signedFloor() {
  const key = await crypto.subtle.importKey('raw', te.encode(SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
  const NAME = 'sid';
  const td = new TextDecoder();
  async function load(req) {
    const value = cookieValue(req.headers.get('cookie'));
    if (value === undefined) return null;
    const dot = value.lastIndexOf('.');
    const payload = value.slice(0, dot);
    const tag = unb64u(value.slice(dot + 1));
    if (dot < 1 || tag === null || !(await crypto.subtle.verify('HMAC', key, tag, te.encode(`${NAME}=${payload}`))))
      return null;
    const data = JSON.parse(td.decode(unb64u(payload)));
    return data.exp > Date.now() ? data : null;
  }
  async function save(data) {
    data.exp = Date.now() + TTL * 1000;
    const payload = b64u(te.encode(JSON.stringify(data)));
    const tag = b64u(new Uint8Array(await crypto.subtle.sign('HMAC', key, te.encode(`${NAME}=${payload}`))));
    return { 'Set-Cookie': `${NAME}=${payload}.${tag}; Max-Age=${TTL}; Path=/; HttpOnly; Secure; SameSite=Lax` };
  }
  return cookieFloorHandlers(load, save);
}

// ------------------------------------------------------------------------------------------------ React Router 7
// Idiom from the docs: getSession(Cookie header) → set/get → commitSession() only when something changed.

function reactRouter(kind) {
  return async () => {
    const cookie = createCookie('__session', {
      secrets: [SECRET],
      httpOnly: true,
      sameSite: 'lax',
      path: '/',
      secure: true,
      maxAge: TTL,
    });
    const storage = kind === 'cookie' ? createCookieSessionStorage({ cookie }) : createMemorySessionStorage({ cookie });
    return {
      async s1(req) {
        const s = await storage.getSession(req.headers.get('Cookie'));
        s.set('user', 'u-42');
        s.set('n', 1);
        return text('ok', { 'Set-Cookie': await storage.commitSession(s) });
      },
      async read(req) {
        const s = await storage.getSession(req.headers.get('Cookie'));
        return text(s.get('user'));
      },
      async rw(req) {
        const s = await storage.getSession(req.headers.get('Cookie'));
        s.set('n', s.get('n') + 1);
        return text('ok', { 'Set-Cookie': await storage.commitSession(s) });
      },
    };
  };
}

// ------------------------------------------------------------------------------------------------ Remix 3
// @remix-run/session storages take the cookie *value*; signing is @remix-run/cookie's job (secrets).

function remix(kind) {
  return async () => {
    const cookie = createRemixCookie('session', {
      secrets: [SECRET],
      httpOnly: true,
      sameSite: 'Lax',
      path: '/',
      secure: true,
      maxAge: TTL,
    });
    const storage = kind === 'cookie' ? remixCookieStorage() : remixMemoryStorage();
    const finish = async (s, body) => {
      const value = await storage.save(s);
      return text(body, value === null ? undefined : { 'Set-Cookie': await cookie.serialize(value) });
    };
    return {
      async s1(req) {
        const s = await storage.read(await cookie.parse(req.headers.get('Cookie')));
        s.set('user', 'u-42');
        s.set('n', 1);
        return finish(s, 'ok');
      },
      async read(req) {
        const s = await storage.read(await cookie.parse(req.headers.get('Cookie')));
        return finish(s, s.get('user'));
      },
      async rw(req) {
        const s = await storage.read(await cookie.parse(req.headers.get('Cookie')));
        s.set('n', s.get('n') + 1);
        return finish(s, 'ok');
      },
    };
  };
}

// ------------------------------------------------------------------------------------------------ iron-session

async function iron() {
  const options = {
    cookieName: 'iron',
    password: SECRET,
    ttl: TTL,
    cookieOptions: { httpOnly: true, sameSite: 'lax', path: '/', secure: true },
  };
  return {
    async s1(req) {
      const headers = new Headers();
      const s = await getIronSession(webCookies(req, headers), options);
      s.user = 'u-42';
      s.n = 1;
      await s.save();
      return text('ok', headers);
    },
    async read(req) {
      const headers = new Headers();
      const s = await getIronSession(webCookies(req, headers), options);
      return text(s.user, headers);
    },
    async rw(req) {
      const headers = new Headers();
      const s = await getIronSession(webCookies(req, headers), options);
      s.n += 1;
      await s.save();
      return text('ok', headers);
    },
  };
}

// ------------------------------------------------------------------------------------------------ Hono peers

function honoApp(middleware, { s1, read, rw }) {
  const app = new Hono();
  if (middleware !== undefined) app.use(middleware);
  app.get('/s1', s1).get('/read', read).get('/rw', rw);
  const fetch = (req) => app.fetch(req);
  return { s1: fetch, read: fetch, rw: fetch };
}

async function honoSession() {
  // Stateless encrypted JWE (dir + A256GCM, key by HKDF from the secret); `duration` gives the cookie a lifetime.
  return honoApp(honoUseSession({ secret: SECRET, duration: { absolute: TTL } }), {
    s1: async (c) => {
      await c.var.session.update({ user: 'u-42', n: 1 });
      return c.text('ok');
    },
    read: async (c) => c.text((await c.var.session.get())?.user ?? ''),
    rw: async (c) => {
      await c.var.session.update((prev) => ({ ...prev, n: prev.n + 1 }));
      return c.text('ok');
    },
  });
}

async function honoSessions() {
  // README setup: CookieStore (iron seal), encryptionKey of 32+ characters.
  const mw = sessionMiddleware({
    store: new HonoSessionsCookieStore(),
    encryptionKey: SECRET,
    expireAfterSeconds: TTL,
    cookieOptions: { sameSite: 'Lax', path: '/', httpOnly: true, secure: true },
  });
  return honoApp(mw, {
    s1: (c) => {
      const s = c.get('session');
      s.set('user', 'u-42');
      s.set('n', 1);
      return c.text('ok');
    },
    read: (c) => c.text(c.get('session').get('user') ?? ''),
    rw: (c) => {
      const s = c.get('session');
      s.set('n', s.get('n') + 1);
      return c.text('ok');
    },
  });
}

async function honoBare() {
  return honoApp(undefined, { s1: (c) => c.text('ok'), read: (c) => c.text('u-42'), rw: (c) => c.text('ok') });
}

// ------------------------------------------------------------------------------------------------ h3 2.x
// Defaults (iron seal, cookie "h3"): useSession() to write, getSession() to read without starting one.

function h3App(handlers) {
  const app = new H3();
  app.get('/s1', handlers.s1).get('/read', handlers.read).get('/rw', handlers.rw);
  const fetch = (req) => app.fetch(req);
  return { s1: fetch, read: fetch, rw: fetch };
}

async function h3() {
  const config = { password: SECRET, maxAge: TTL };
  return h3App({
    s1: async (event) => {
      const s = await h3UseSession(event, config);
      await s.update({ user: 'u-42', n: 1 });
      return 'ok';
    },
    read: async (event) => (await h3GetSession(event, config)).data.user ?? '',
    rw: async (event) => {
      const s = await h3UseSession(event, config);
      await s.update({ n: s.data.n + 1 });
      return 'ok';
    },
  });
}

async function h3Bare() {
  return h3App({ s1: () => 'ok', read: () => 'u-42', rw: () => 'ok' });
}

// kind: 'edge' (the library), 'floor', 'peer', 'framework' (no session: context only, not a peer).
// sealed: the session data travels encrypted in the cookie; signed: in the clear, signed, in the cookie (the
// others keep it in a store).
export const ADAPTERS = [
  { name: 'floor (HMAC + Map)', kind: 'floor', make: () => floor() },
  { name: 'floor (HMAC + Map), HMAC in JavaScript', kind: 'floor', make: () => floor({ js: true }) },
  { name: 'floor (AES-GCM cookie)', kind: 'floor', make: sealedFloor, sealed: true },
  { name: 'floor (HMAC-signed cookie)', kind: 'floor', make: signedFloor, signed: true },
  { name: 'edge-sessions memory', kind: 'edge', make: edge(createMemoryStore()) },
  { name: 'edge-sessions memory, start/commit (no handle)', kind: 'edge', make: edgeDirect(createMemoryStore()) },
  { name: 'edge-sessions cookie', kind: 'edge', make: edge(createCookieStore()), sealed: true },
  {
    name: 'edge-sessions cookie, signed only',
    kind: 'edge',
    make: edge(createCookieStore({ encrypt: false })),
    signed: true,
  },
  { name: 'react-router cookie', kind: 'peer', make: reactRouter('cookie'), signed: true },
  { name: 'react-router memory', kind: 'peer', make: reactRouter('memory') },
  { name: '@remix-run/session cookie', kind: 'peer', make: remix('cookie'), signed: true },
  { name: '@remix-run/session memory', kind: 'peer', make: remix('memory') },
  { name: 'iron-session', kind: 'peer', make: iron, sealed: true },
  { name: '@hono/session', kind: 'peer', make: honoSession, sealed: true },
  { name: 'hono-sessions cookie', kind: 'peer', make: honoSessions, sealed: true },
  { name: 'h3 session', kind: 'peer', make: h3, sealed: true },
  { name: 'hono (no session)', kind: 'framework', make: honoBare },
  { name: 'h3 (no session)', kind: 'framework', make: h3Bare },
];
