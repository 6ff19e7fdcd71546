import { subtle } from 'uncrypto';
import {
  commitAll,
  createSessions,
  SessionError,
  type Session,
  type SessionChanges,
  type SessionEvent,
  type Sessions,
  type SessionsOptions,
  type SessionStore,
} from '../src/index.js';
import { toBase64Url } from '../src/lib/encoding.js';
import { maskId } from '../src/lib/ids.js';
import { HmacKey } from '../src/lib/hmac-sha256.js';
import { signerFor } from '../src/lib/signer.js';
import { createCookieStore } from '../src/cookie-store.js';
import { createMemoryStore } from '../src/memory.js';
import { createCookieJar } from '../src/testing.js';
import { describe, expect, it, vi } from './harness.js';
import {
  cookiePair,
  cookieValue,
  countingStore,
  createClock,
  failingStore,
  memoryAndCookie,
  OLD_SECRET,
  request,
  SECRET,
  T0,
  type TestClock,
  webHmacKey,
} from './helpers.js';

/** The kid in a signed value or cookie pair: the 2 characters after the dot. */
const kidIn = (value: string) => value.slice(value.indexOf('.') + 1, value.indexOf('.') + 3);
/** The kid of each secret, read from a value it signed. */
const kidsOf = (secrets: readonly string[]) =>
  Promise.all(secrets.map(async (secret) => kidIn(await signerFor([secret], '__Host-sid').sign('A'.repeat(24)))));

function setup(options: Partial<SessionsOptions> = {}) {
  const clock = createClock();
  const counted = countingStore(createMemoryStore({ now: clock.now }));
  const events: SessionEvent[] = [];
  const sessions = createSessions({
    store: counted.store,
    secrets: [SECRET],
    now: clock.now,
    expires: 3600,
    onEvent: (event) => events.push(event),
    ...options,
  });
  /** A stored session with `n = 1`, and its cookie pair. */
  async function login() {
    const s = await sessions.start(request());
    s.set('n', 1);
    return { session: s, cookie: cookiePair(await s.commit()) };
  }
  return { clock, counted, events, sessions, login };
}

describe('start', () => {
  it('gives every manager of one cookie name the same session of a request, and separate names their own', async () => {
    const { sessions, login, counted, clock } = setup();
    const { cookie } = await login();
    // Built again, as a Workers handler would: the same options, new functions (functions are not compared).
    const again = createSessions({ store: counted.store, secrets: [SECRET], now: () => clock.now(), expires: 3600 });
    const other = createSessions({ store: createMemoryStore(), secrets: [SECRET], cookie: { name: '__Host-cart' } });
    const req = request(cookie);
    const first = await sessions.start(req);
    expect(await again.start(req)).toBe(first);
    expect(await other.start(req)).not.toBe(first);
    // A login through the second manager inside the first one's handle() is the session committed.
    const response = await sessions.handle(async (r) => {
      await again.create(r, { data: { user: 'ada' } });
      return new Response('ok');
    })(request(cookie));
    const lines = response.headers.getSetCookie();
    expect(lines).toHaveLength(1);
    expect((await sessions.start(request(lines[0]!.split(';')[0]))).get('user')).toBe('ada');
  });

  it('keeps apart the sessions of managers of one cookie name with another store kind or secrets', async () => {
    // A move to another store: the new manager first, the old one as a fallback, on one request.
    const before = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const after = createSessions({ store: createMemoryStore(), secrets: [SECRET] });
    const old = await before.start(request());
    old.set('user', 'ada');
    const req = request(cookiePair(await old.commit()));
    expect(await after.get(req)).toBeNull();
    expect((await before.get(req))?.get('user')).toBe('ada');
    // Another secret does not open the cookie the same way either.
    const store = createMemoryStore();
    const signed = createSessions({ store, secrets: [SECRET] });
    const session = await signed.start(request());
    session.set('user', 'ada');
    const cookie = cookiePair(await session.commit());
    const rotated = createSessions({ store, secrets: [OLD_SECRET] });
    const both = request(cookie);
    expect(await rotated.get(both)).toBeNull();
    expect((await signed.get(both))?.get('user')).toBe('ada');
  });

  it('keeps apart managers of one cookie with another form of the cookie store', async () => {
    // A move from the signed-only form of the cookie store to the sealed one, falling back to the old form.
    const signedOnly = createSessions({ store: createCookieStore({ encrypt: false }), secrets: [SECRET] });
    const sealed = createSessions({ store: createCookieStore(), secrets: [SECRET] });
    const s = await signedOnly.start(request());
    s.set('theme', 'dark');
    const req = request(cookiePair(await s.commit()));
    expect(((await sealed.get(req)) ?? (await signedOnly.get(req)))?.get('theme')).toBe('dark');
    // And its maxChunks: a session of three chunks is no session to a store that allows two.
    const three = createSessions({ store: createCookieStore({ maxChunks: 3 }), secrets: [SECRET] });
    const two = createSessions({ store: createCookieStore({ maxChunks: 2 }), secrets: [SECRET] });
    const big = await three.start(request());
    big.set('blob', Array.from({ length: 6000 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join(''));
    const jar = createCookieJar();
    jar.apply(await big.commit());
    expect(jar.get('__Host-sid.2')).toBeDefined();
    const both = request(jar.header());
    expect(await three.get(both)).not.toBeNull();
    expect(await two.get(both)).toBeNull();
  });

  it('shares a request between managers of one cookie name, store kind and form, and secrets', async () => {
    const store = createMemoryStore();
    const base = { store, secrets: [SECRET], cookie: { name: 'sid' }, expires: 3600 };
    const req = request();
    const first = await createSessions(base).start(req);
    // Other options are not compared (README): the session is the one the first manager loaded.
    const alike: Partial<SessionsOptions>[] = [
      { now: () => Date.now(), serializer: JSON, generateId: undefined },
      { expires: 7200, idleTimeout: 600, absoluteTimeout: 900, touchAfter: 30, storeTimeout: 5 },
      { cookie: { name: 'sid', path: '/app', sameSite: 'strict' } },
      { store: createMemoryStore() }, // another backend of the same kind
    ];
    for (const options of alike) expect(await createSessions({ ...base, ...options }).start(req)).toBe(first);
    const apart: [string, Partial<SessionsOptions>][] = [
      ['the cookie name', { cookie: { name: 'other' } }],
      ['the store name', { store: { ...store, name: 'elsewhere' } }],
      ['secrets', { secrets: [OLD_SECRET] }],
    ];
    for (const [what, options] of apart) {
      expect(await createSessions({ ...base, ...options }).start(req), what).not.toBe(first);
    }
    const forms = [{}, { encrypt: false }, { maxChunks: 2 }, { encrypt: false, maxChunks: 2 }] as const;
    const byForm = await Promise.all(
      forms.map((form) => createSessions({ ...base, store: createCookieStore(form) }).start(req)),
    );
    expect(new Set([first, ...byForm]).size).toBe(5);
  });

  it('gives a new unsaved session without a cookie, the same object when called twice', async () => {
    const { sessions } = setup();
    const req = request();
    const a = await sessions.start(req);
    expect(a.isNew).toBe(true);
    expect(await sessions.start(req)).toBe(a);
  });

  it('never adopts an ID the server did not issue', async () => {
    const { sessions, counted, events } = setup();
    const forged = `${'A'.repeat(24)}.${'B'.repeat(44)}A`;
    const s = await sessions.start(request(`__Host-sid=${forged}`));
    expect(s.isNew).toBe(true);
    expect(s.id).not.toBe('A'.repeat(24));
    expect(counted.calls.get).toBe(0);
    expect(events).toEqual([{ type: 'rejected', reason: 'signature', at: expect.any(Number) }]);
  });

  it('rejects a tampered cookie before any store I/O, and answers it with nothing', async () => {
    const { sessions, login, counted, events } = setup();
    const { cookie } = await login();
    counted.calls.get = 0;
    const tampered = cookie.slice(0, -2) + (cookie.at(-2) === 'A' ? 'B' : 'A') + cookie.at(-1);
    const s = await sessions.start(request(tampered));
    expect(s.isNew).toBe(true);
    expect(counted.calls.get).toBe(0);
    const headers = await s.commit();
    expect(headers.getSetCookie()).toEqual([]); // the same as for a visitor without a cookie
    const rejected = events.find((e) => e.type === 'rejected');
    expect(rejected).toEqual({ type: 'rejected', reason: 'signature', at: expect.any(Number) });
    // Events may carry the ID, never the cookie: its tag is what makes an ID a credential.
    expect(JSON.stringify(events)).not.toContain(cookie.split('.')[1]!.slice(2, 22));
  });

  it('rejects malformed values as malformed, without crypto or I/O', async () => {
    const { sessions, counted, events } = setup();
    for (const value of [
      '',
      'garbage',
      '.',
      'short.tag',
      `${'a'.repeat(24)}`,
      `${'a'.repeat(24)}.`,
      `a b c d e f g h i j k l m.${'A'.repeat(45)}`,
    ]) {
      expect((await sessions.start(request(`__Host-sid=${value}`))).isNew).toBe(true);
    }
    expect(counted.total()).toBe(0);
    expect(events.map((e) => (e.type === 'rejected' ? e.reason : e.type))).toEqual(Array(7).fill('malformed'));
  });

  it("binds the signature to the cookie name: a value moved to another manager's cookie is refused", async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    const a = createSessions({ store, secrets: [SECRET], now: clock.now, cookie: { name: 'a' } });
    const b = createSessions({ store, secrets: [SECRET], now: clock.now, cookie: { name: 'b' } });
    const s = await a.start(request());
    s.set('n', 1);
    const value = cookieValue(await s.commit());
    expect((await a.start(request(`a=${value}`))).isNew).toBe(false);
    expect((await b.start(request(`b=${value}`))).isNew).toBe(true);
  });

  it('treats a signed cookie for a record the store no longer has as no session', async () => {
    const { sessions, login, events } = setup();
    const { session, cookie } = await login();
    await sessions.destroyById(session.id);
    const s = await sessions.start(request(cookie));
    expect(s.isNew).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'rejected', reason: 'unknown' });
  });

  it('rejects a corrupt record from the store as corrupt', async () => {
    const clock = createClock();
    const inner = createMemoryStore({ now: clock.now });
    const store: SessionStore = { ...inner, get: async () => ({ data: 'not an object' }) as never };
    const events: SessionEvent[] = [];
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, onEvent: (e) => events.push(e) });
    const s = await sessions.start(request());
    s.set('a', 1);
    const cookie = cookiePair(await s.commit());
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'rejected', reason: 'corrupt' });
  });
});

describe('cookies and keys', () => {
  it('sets ID.kid+tag with secure defaults, Max-Age and Expires, and Cache-Control: private', async () => {
    const { sessions, clock } = setup();
    const s = await sessions.start(request());
    s.set('x', 1);
    const headers = await s.commit();
    const line = headers.getSetCookie()[0]!;
    expect(line).toMatch(
      new RegExp(
        String.raw`^__Host-sid=[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{45}; Path=/; Max-Age=3600; ` +
          'Expires=Thu, 01 Jan 2026 01:00:00 GMT; HttpOnly; Secure; SameSite=Lax$',
      ),
    );
    expect(line.startsWith(`__Host-sid=${s.id}.`)).toBe(true);
    expect(headers.get('Cache-Control')).toBe('private');
    expect([...headers.keys()].sort()).toEqual(['cache-control', 'set-cookie']);
    expect(s.createdAt).toBe(clock.now());
  });

  it('signs with secrets[0], verifies with every secret, and re-signs old cookies', async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    const before = createSessions({ store, secrets: [OLD_SECRET], now: clock.now });
    const s = await before.start(request());
    s.set('n', 1);
    const oldCookie = cookiePair(await s.commit());

    const counted = countingStore(store);
    const rotated = createSessions({ store: counted.store, secrets: [SECRET, OLD_SECRET], now: clock.now });
    const again = await rotated.start(request(oldCookie));
    expect(again.isNew).toBe(false);
    const resigned = await again.commit();
    expect(counted.calls).toMatchObject({ get: 1, update: 1 }); // the touch that says it still lives
    const newCookie = cookiePair(resigned);
    expect(newCookie).not.toBe(oldCookie);
    expect(newCookie.split('.')[0]).toBe(oldCookie.split('.')[0]);

    const retired = createSessions({ store, secrets: [SECRET], now: clock.now });
    expect((await retired.start(request(oldCookie))).isNew).toBe(true);
    expect((await retired.start(request(newCookie))).get('n')).toBe(1);
  });

  it('a signed-ID session makes no WebCrypto call but for its random ID, and one HMAC per new value', async () => {
    const secret = `no-webcrypto-${Math.random()}-padding-to-32-bytes`;
    const store = createMemoryStore();
    const subtleSpies = (['verify', 'sign', 'digest', 'importKey', 'deriveKey', 'deriveBits'] as const).map((m) =>
      vi.spyOn(subtle, m),
    );
    const mac = vi.spyOn(HmacKey.prototype, 'tagInto');
    let cookie = '';
    try {
      for (let i = 0; i < 5; i++) {
        const sessions = createSessions({ store, secrets: [secret] }); // a manager per request, as on Workers
        const s = await sessions.start(request(cookie || undefined));
        s.increment('n');
        cookie = cookiePair(await s.commit()) || cookie;
      }
      expect((await createSessions({ store, secrets: [secret] }).start(request(cookie))).get('n')).toBe(5);
      const forged = cookie.slice(0, -2) + (cookie.at(-2) === 'A' ? 'B' : 'A') + cookie.at(-1);
      expect((await createSessions({ store, secrets: [secret] }).start(request(forged))).isNew).toBe(true);
      // One HMAC signs the new ID, two check the cookie the first two times it comes back (the second sighting
      // caches it), one refuses the forgery.
      expect(mac).toHaveBeenCalledTimes(4);
      for (const spy of subtleSpies) expect(spy).not.toHaveBeenCalled();
      // The keys are prepared once per list of secrets and cookie name, whatever the number of managers.
      expect(signerFor([secret], '__Host-sid')).toBe(signerFor([secret], '__Host-sid'));
      expect(signerFor([secret], '__Host-sid')).not.toBe(signerFor([secret], 'sid'));
    } finally {
      for (const spy of subtleSpies) spy.mockRestore();
      mac.mockRestore();
    }
  });

  it('checks a cookie value twice per isolate and list of secrets, and remembers forgeries apart', async () => {
    const secret = `verify-once-${Math.random()}-padding-to-32-bytes`;
    const store = createMemoryStore();
    const s = await createSessions({ store, secrets: [secret] }).start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    const forged = cookie.slice(0, -2) + (cookie.at(-2) === 'A' ? 'B' : 'A') + cookie.at(-1);
    const spy = vi.spyOn(HmacKey.prototype, 'tagInto');
    try {
      for (let i = 0; i < 3; i++) {
        const sessions = createSessions({ store, secrets: [secret] }); // a manager per request, as on Workers
        expect((await sessions.start(request(cookie))).get('n')).toBe(1);
        expect((await sessions.start(request(forged))).isNew).toBe(true);
      }
      // Each value is checked on its first and second sighting, which caches it; the third is free.
      expect(spy).toHaveBeenCalledTimes(4);
      const fresh = cookie.slice(0, -3) + (cookie.at(-3) === 'A' ? 'B' : 'A') + cookie.slice(-2);
      expect((await createSessions({ store, secrets: [secret] }).start(request(fresh))).isNew).toBe(true);
      expect(spy).toHaveBeenCalledTimes(5); // a new forgery pays its verify
      // 1,000 new forgeries cannot push the valid value out: they are kept apart.
      for (let i = 0; i < 1000; i++) {
        // The valid value's ID and kid: each forgery names the secret, so each pays its verify.
        const forgery = `${cookie.slice(0, cookie.indexOf('.') + 3)}${i.toString().padStart(42, 'A')}A`;
        await createSessions({ store, secrets: [secret] }).start(request(forgery));
      }
      const [oldKid] = await kidsOf([OLD_SECRET]); // signs a value: before counting
      const callsBefore = spy.mock.calls.length;
      expect((await createSessions({ store, secrets: [secret] }).start(request(cookie))).get('n')).toBe(1);
      expect(spy).toHaveBeenCalledTimes(callsBefore);
      const rotated = createSessions({ store, secrets: [OLD_SECRET, secret] });
      expect((await rotated.start(request(cookie))).get('n')).toBe(1);
      // Another list of secrets verifies afresh, with the secret the kid names (and OLD_SECRET only if it shares
      // that kid: `secret` is random, so 1 time in 4096 it does).
      expect(spy).toHaveBeenCalledTimes(callsBefore + (oldKid === kidIn(cookie) ? 2 : 1));
      await store.destroy(s.id, Date.now() + 60_000);
      // still read from the store
      expect((await createSessions({ store, secrets: [secret] }).start(request(cookie))).isNew).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses at construction a cookie name, path and domain leaving no room for a value in 4096 bytes', async () => {
    for (const cookie of [
      { name: 'n'.repeat(4000) },
      { name: 'n'.repeat(2000), path: `/${'p'.repeat(1000)}`, domain: `${'d'.repeat(60)}.example.com` },
    ]) {
      expect(() => setup({ cookie })).toThrow(
        expect.objectContaining({
          code: 'INVALID_COOKIE_OPTION',
          message: expect.stringMatching(/leave less than 1 KB/),
        }),
      );
    }
    // Nothing was stored before the error (it used to come at commit, after the store write).
    const { sessions, counted } = setup({ cookie: { name: 'n'.repeat(2800) } });
    const s = await sessions.start(request());
    s.set('a', 1);
    const line = (await s.commit()).getSetCookie()[0]!;
    expect(new TextEncoder().encode(line).length).toBeLessThanOrEqual(4096);
    expect(await counted.store.count!()).toBe(1);
  });

  it('writes Domain only when configured, Partitioned and SameSite as asked', async () => {
    const { sessions } = setup({
      cookie: { domain: 'example.com', sameSite: 'strict', partitioned: true, httpOnly: false },
    });
    const s = await sessions.start(request());
    s.set('a', 1);
    const line = (await s.commit()).getSetCookie()[0]!;
    expect(line).toMatch(
      /^sid=.*; Path=\/; Domain=example\.com; Max-Age=3600; Expires=[^;]+; Secure; SameSite=Strict; Partitioned$/,
    );
  });
});

describe('managers with different secrets', () => {
  it('stay apart whatever the secrets contain (a secret holding NUL is not two secrets)', async () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(32);
    const store = createMemoryStore();
    createSessions({ store, secrets: [a, b] });
    const joined = createSessions({ store, secrets: [`${a}\u0000${b}`] });
    const s = await joined.start(request());
    s.set('x', 1);
    const cookie = cookiePair(await s.commit());
    expect((await joined.start(request(cookie))).get('x')).toBe(1);
    expect((await createSessions({ store, secrets: [a] }).start(request(cookie))).isNew).toBe(true);
  });

  it('copy the secrets: changing the array after construction changes no manager', async () => {
    const a = 'c'.repeat(32);
    const b = 'd'.repeat(32);
    const store = createMemoryStore();
    const array = [a];
    const first = createSessions({ store, secrets: array });
    array[0] = b;
    const s = await createSessions({ store, secrets: [a] }).start(request());
    s.set('x', 1);
    const cookie = cookiePair(await s.commit());
    expect((await first.start(request(cookie))).get('x')).toBe(1);
    expect((await createSessions({ store, secrets: [b] }).start(request(cookie))).isNew).toBe(true);
  });
});

describe('signed values name their secret: id.kid+tag', () => {
  const NAME = '__Host-sid';
  const ID = 'A'.repeat(24);
  const FIVE = [0, 1, 2, 3, 4].map((i) => `five-secrets-${i}-0123456789-abcdefghijklmnop`);
  /** A 2-character kid that names none of `kids`. */
  const unknownKid = (kids: readonly string[]) => ['AA', 'AB', 'AC', 'AD', 'AE', 'AF'].find((k) => !kids.includes(k))!;

  it('a forgery costs one HMAC with 5 secrets, and none when its kid names no secret', async () => {
    const kids = await kidsOf(FIVE);
    expect(new Set(kids).size).toBe(5); // fixed secrets with distinct kids: each kid names exactly one of them
    const unknown = unknownKid(kids);
    const events: SessionEvent[] = [];
    const counted = countingStore(createMemoryStore());
    const sessions = createSessions({ store: counted.store, secrets: FIVE, onEvent: (e) => events.push(e) });
    const mac = vi.spyOn(HmacKey.prototype, 'tagInto');
    const hmacs = () => mac.mock.calls.length;
    try {
      // The first value this signer sees: no HMAC runs for a kid that names no secret.
      expect((await sessions.start(request(`${NAME}=${ID}.${unknown}${'B'.repeat(42)}A`))).isNew).toBe(true);
      expect(hmacs()).toBe(0);
      for (const [i, kid] of kids.entries()) {
        const before = hmacs();
        const forged = `${ID}.${kid}${i.toString().padStart(42, 'B')}A`;
        expect((await sessions.start(request(`${NAME}=${forged}`))).isNew).toBe(true);
        expect(hmacs() - before, `kid of secrets[${i}]`).toBe(1);
      }
      const before = hmacs();
      for (let i = 0; i < 100; i++) {
        const forged = `${ID}.${unknown}${i.toString().padStart(42, 'C')}A`;
        expect((await sessions.start(request(`${NAME}=${forged}`))).isNew).toBe(true);
      }
      expect(hmacs()).toBe(before);
      expect(counted.total()).toBe(0);
      expect(new Set(events.map((e) => (e.type === 'rejected' ? e.reason : e.type)))).toEqual(new Set(['signature']));
    } finally {
      mac.mockRestore();
    }
  });

  it('the cookie format is fixed: a value signed before any change of code still opens, byte for byte', () => {
    // Computed apart from the library (node:crypto): kid = base64url(SHA-256("edge-sessions signer kid\0" +
    // secret))[0..2], tag = base64url(HMAC-SHA256(secret, "__Host-sid=" + ID)). Cookies in browsers carry this.
    const secret = 'test-secret-0123456789abcdef-0123456789';
    const id = 'AAAABBBBCCCCDDDDEEEEFFFF';
    const value = 'AAAABBBBCCCCDDDDEEEEFFFF.rgPx6vNZCwsxPxFbGclLmJx4yxY-TGtytuhVnVRytEUog';
    expect(signerFor([secret], NAME).sign(id)).toBe(value);
    expect(signerFor([`another-${secret}`, secret], NAME).open(value)).toEqual({ id, secret: 1 });
    expect(signerFor([secret], 'sid').open(value)).toBe('signature');
  });

  it('signs name=id for every ID length and cookie names of any length, as WebCrypto does', async () => {
    // The signer writes `name=id` into one buffer of its own and reuses it: each ID and name length must be signed
    // whole, with nothing left over from a longer ID before, and the tag must cover the ID's last character.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const idOf = (n: number, seed: number) =>
      Array.from({ length: n }, (_, i) => alphabet[(i * 7 + seed) % 64]).join('');
    for (const name of ['s', '__Host-sid', 'n'.repeat(54), 'x'.repeat(1000)]) {
      const secret = `every-length-${name.length}-0123456789abcdef-0123456789`;
      const key = await webHmacKey(secret);
      const signer = signerFor([secret], name);
      const kid = kidIn(signer.sign(ID));
      // Longest first: the bytes of a longer ID are still in the buffer past a shorter one.
      for (let n = 128; n >= 22; n--) {
        const id = idOf(n, name.length + n);
        const tag = toBase64Url(
          new Uint8Array(await subtle.sign('HMAC', key, new TextEncoder().encode(`${name}=${id}`))),
        );
        const value = `${id}.${kid}${tag}`;
        expect(signer.sign(id), `name of ${name.length}, ID of ${n}`).toBe(value);
        for (let k = 0; k < 3; k++) expect(signer.open(value)).toEqual({ id, secret: 0 });
        const last = id.at(-1) === 'A' ? 'B' : 'A';
        expect(signer.open(`${id.slice(0, -1)}${last}.${kid}${tag}`), `ID of ${n}, last character`).toBe('signature');
      }
    }
  });

  it('a flood of forgeries between two visits of a valid cookie does not keep it out of the cache', () => {
    // A fixed secret: the outcome is then the same on every run (a flood this long leaves any one slot of 2,048
    // untouched with a chance of 1 in 10^4 at most, which would let a shared table pass too).
    const signer = signerFor(['flood-of-forgeries-0123456789-padding'], NAME);
    const value = signer.sign(ID);
    const kid = kidIn(value);
    const mac = vi.spyOn(HmacKey.prototype, 'tagInto');
    try {
      expect(signer.open(value)).toEqual({ id: ID, secret: 0 });
      // More forgeries naming the secret than the valid values' table of sightings has slots (2,048), each paying
      // its HMAC: the table of sightings of forgeries is another one.
      for (let i = 0; i < 20_000; i++)
        expect(signer.open(`${ID}.${kid}${i.toString().padStart(42, 'B')}A`)).toBe('signature');
      const before = mac.mock.calls.length;
      expect(signer.open(value)).toEqual({ id: ID, secret: 0 }); // the second sighting: checked and cached
      expect(signer.open(value)).toEqual({ id: ID, secret: 0 });
      expect(mac.mock.calls.length - before).toBe(1);
    } finally {
      mac.mockRestore();
    }
  });

  it('remembers only forgeries that cost an HMAC: unknown kids cannot push them out', () => {
    const signer = signerFor([`forged-cache-${Math.random()}-padding-to-32-bytes`], NAME);
    const kid = kidIn(signer.sign(ID));
    const unknown = ['AA', 'AB'].find((k) => k !== kid)!;
    const mac = vi.spyOn(HmacKey.prototype, 'tagInto');
    try {
      const costly = `${ID}.${kid}${'B'.repeat(42)}A`;
      expect(signer.open(costly)).toBe('signature');
      expect(signer.open(costly)).toBe('signature'); // the second sighting is remembered
      expect(mac).toHaveBeenCalledTimes(2);
      // More forgeries naming no secret than the cache of forgeries holds (256): each refused without an HMAC.
      for (let i = 0; i < 300; i++)
        expect(signer.open(`${ID}.${unknown}${String(i).padStart(42, 'C')}A`)).toBe('signature');
      expect(signer.open(costly)).toBe('signature');
      expect(mac).toHaveBeenCalledTimes(2); // still remembered
    } finally {
      mac.mockRestore();
    }
  });

  it('rotation: a value signed with secrets[1] opens once with index 1 and is re-signed with secrets[0]', async () => {
    const [kid0, kid1] = await kidsOf(FIVE);
    const old = await signerFor([FIVE[1]!], NAME).sign(ID);
    expect(kidIn(old)).toBe(kid1);
    const signer = signerFor(FIVE, NAME);
    const mac = vi.spyOn(HmacKey.prototype, 'tagInto');
    try {
      expect(signer.open(old)).toEqual({ id: ID, secret: 1 });
      expect(mac).toHaveBeenCalledTimes(1); // only the secret its kid names
      expect(signer.open(old)).toEqual({ id: ID, secret: 1 }); // the second sighting: checked, then cached
      expect(mac).toHaveBeenCalledTimes(2);
      expect(signer.open(old)).toEqual({ id: ID, secret: 1 }); // answered from the cache
      expect(mac).toHaveBeenCalledTimes(2);
    } finally {
      mac.mockRestore();
    }
    const fresh = await signer.sign(ID);
    expect(kidIn(fresh)).toBe(kid0);
    expect(await signer.open(fresh)).toEqual({ id: ID, secret: 0 });

    // Through a manager: the session is found and its next cookie is signed with secrets[0].
    const store = createMemoryStore();
    const before = createSessions({ store, secrets: [FIVE[1]!] });
    const s = await before.start(request());
    s.set('n', 1);
    const oldCookie = cookiePair(await s.commit());
    const rotated = createSessions({ store, secrets: FIVE });
    const again = await rotated.start(request(oldCookie));
    expect(again.get('n')).toBe(1);
    const newCookie = cookiePair(await again.commit());
    expect(newCookie.split('.')[0]).toBe(oldCookie.split('.')[0]);
    expect(kidIn(newCookie)).toBe(kid0);
    expect(await signer.open(newCookie.slice(NAME.length + 1))).toEqual({ id: again.id, secret: 0 });
  });

  it('malformed kid and tag shapes are malformed, synchronously and without crypto', async () => {
    const signer = signerFor([SECRET], NAME);
    const value = await signer.sign(ID);
    const suffix = value.slice(ID.length + 1);
    const kid = suffix.slice(0, 2);
    const tag = suffix.slice(2);
    const spies = [
      ...(['verify', 'sign', 'digest', 'importKey'] as const).map((m) => vi.spyOn(subtle, m)),
      vi.spyOn(HmacKey.prototype, 'tagInto'),
    ];
    try {
      for (const bad of [
        `${ID}.${tag}`, // no kid (the format before kids): 43 characters
        `${ID}.${kid.slice(0, 1)}${tag}`, // a 1-character kid
        `${ID}.${kid}${tag.slice(0, -1)}`, // a 42-character tag
        `${ID}.${kid}${tag}A`, // a 44-character tag
        `${ID}.!${kid.slice(1)}${tag}`, // a kid outside base64url
        `${ID}.+/${tag}`, // standard base64, not base64url
        `${ID}.${kid}${tag.slice(0, -1)}=`, // padding
        `${ID}.${kid}${tag.slice(0, -1)}B`, // non-zero unused bits in the tag's last character
        `${ID}.${kid}${tag.slice(0, 20)} ${tag.slice(21)}`, // a space inside
        `${ID}..${tag.slice(1)}`, // a second dot where the kid goes
        `${ID}${kid}${tag}A`, // no dot at all
        `.${'A'.repeat(45)}`, // an empty ID
        `${'A'.repeat(21)}.${kid}${tag}`, // an ID too short
        `a.b.${kid}${tag}`, // a dot inside the ID
      ]) {
        expect(signer.open(bad), bad).toBe('malformed');
      }
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(await signer.open(value)).toEqual({ id: ID, secret: 0 });
  });
});

describe('create, shiftExpiration, updateExpiration, destroy', () => {
  it("create always gives a fresh ID and destroys the request's session", async () => {
    const { sessions, login, events } = setup();
    const { session: old, cookie } = await login();
    const fresh = await sessions.create(request(cookie), { data: { user: 'ada' } });
    expect(fresh.isNew).toBe(true);
    expect(fresh.id).not.toBe(old.id);
    const pair = cookiePair(await fresh.commit());
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect((await sessions.start(request(pair))).get('user')).toBe('ada');
    expect(events.map((e) => e.type)).toEqual(['created', 'destroyed', 'created', 'rejected']);
  });

  it('create checks the new values before it ends the current session', async () => {
    const { sessions, login, counted } = setup();
    const { cookie } = await login();
    await expect(sessions.create(request(cookie), { data: { when: new Date(0) } })).rejects.toMatchObject({
      code: 'UNSERIALIZABLE',
    });
    expect(await counted.store.count!()).toBe(1);
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  it('shiftExpiration and updateExpiration act on a session create() made in the same request', async () => {
    const { sessions, counted } = setup();
    const req = request();
    await sessions.create(req, { data: { user: 'ada' } });
    const line = (await sessions.updateExpiration(req, 120)).getSetCookie()[0]!;
    expect(line).toMatch(/Max-Age=120;/);
    expect((await sessions.start(request(line.split(';')[0]))).get('user')).toBe('ada');
    expect(await counted.store.count!()).toBe(1);
    await expect(sessions.shiftExpiration(request())).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('create stores even an empty session (login), and remember-me off gives a browser-session cookie', async () => {
    const { sessions } = setup();
    const s = await sessions.create(request(), { persistent: false });
    const line = (await s.commit()).getSetCookie()[0]!;
    expect(line).not.toMatch(/Max-Age|Expires/);
    expect((await sessions.start(request(line.split(';')[0]))).persistent).toBe(false);
  });

  it('create refuses a non-boolean persistent and non-object data or constants, naming the option', async () => {
    const { sessions } = setup();
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ persistent: 'false' }, /^edge-sessions: create: persistent must be true or false, got "false"$/],
      [{ persistent: 0 }, /create: persistent must be true or false, got 0/],
      [{ persistent: null }, /create: persistent must be true or false, got null/],
      [{ data: null }, /create: data must be an object, got null/],
      [{ data: 'ab' }, /create: data must be an object, got "ab"/],
      [{ data: [1] }, /create: data must be an object, got an array/],
      [{ constants: 5 }, /create: constants must be an object, got 5/],
      [{ constants: null }, /create: constants must be an object, got null/],
    ];
    for (const [options, message] of refusals) {
      const error: unknown = await sessions.create(request(), options as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'SessionError', code: 'INVALID_OPTION' });
      expect((error as Error).message).toMatch(message);
    }
    // Booleans, objects and undefined are fine; the setter checks too.
    const s = await sessions.create(request(), { persistent: true, data: {}, constants: {} });
    expect(s.persistent).toBe(true);
    expect(() => {
      s.persistent = 'false' as never;
    }).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: 'edge-sessions: persistent must be true or false, got "false"',
      }),
    );
    expect(s.persistent).toBe(true);
    s.persistent = false;
    expect((await s.commit()).getSetCookie()[0]).not.toMatch(/Max-Age/);
    expect((await sessions.create(request(), { persistent: undefined, data: undefined })).persistent).toBe(true);
  });

  it('shiftExpiration extends by expires from now and re-sends the cookie', async () => {
    const { sessions, login, clock } = setup();
    const { cookie } = await login();
    clock.advanceSec(3000);
    const headers = await sessions.shiftExpiration(request(cookie));
    expect(headers.getSetCookie()[0]).toMatch(/Max-Age=3600;/);
    clock.advanceSec(3000); // 6000 s after creation, 3000 after the shift
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  it('shiftExpiration never passes absoluteTimeout', async () => {
    const { sessions, login, clock, events } = setup({ absoluteTimeout: 5000 });
    const { cookie } = await login();
    clock.advanceSec(3000);
    const headers = await sessions.shiftExpiration(request(cookie));
    expect(headers.getSetCookie()[0]).toMatch(/Max-Age=2000;/);
    clock.advanceSec(2000);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'expired', reason: 'absolute' });
  });

  it('idle and absolute timeouts: the earlier wins', async () => {
    const { sessions, login, clock, events } = setup({ idleTimeout: 600, absoluteTimeout: 1000, touchAfter: 10 });
    const { cookie } = await login();
    for (let t = 0; t < 900; t += 300) {
      clock.advanceSec(300);
      expect((await sessions.start(request(cookie))).isNew).toBe(false);
      await (await sessions.start(request(cookie))).commit();
    }
    clock.advanceSec(100); // 1000 s after creation, touched 100 s ago
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'expired', reason: 'absolute' });
  });

  it('shiftExpiration and updateExpiration need a session', async () => {
    const { sessions } = setup();
    await expect(sessions.shiftExpiration(request())).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(sessions.updateExpiration(request(), 60)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('updateExpiration sets a new lifetime; -1 makes a browser-session cookie', async () => {
    const { sessions, login, clock } = setup();
    const { cookie } = await login();
    expect((await sessions.updateExpiration(request(cookie), 120)).getSetCookie()[0]).toMatch(/Max-Age=120;/);
    const session = (await sessions.updateExpiration(request(cookie), -1)).getSetCookie()[0]!;
    expect(session).not.toMatch(/Max-Age|Expires/);
    clock.advanceSec(119); // -1 keeps the server-side lifetime (120 s from the update above)
    expect((await sessions.start(request(cookie))).persistent).toBe(false);
    clock.advanceSec(1);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    await expect(sessions.updateExpiration(request(), 0)).rejects.toMatchObject({ code: 'INVALID_DURATION' });
    await expect(sessions.updateExpiration(request(), 401 * 86400)).rejects.toMatchObject({ code: 'INVALID_DURATION' });
  });

  it('destroy without a cookie is a no-op; with one it expires the cookie with the same Path and Domain', async () => {
    const { sessions, login } = setup({ cookie: { domain: 'example.com', path: '/app' } });
    expect([...(await sessions.destroy(request()))]).toEqual([]);
    const { cookie } = await login();
    const line = (await sessions.destroy(request(cookie))).getSetCookie()[0]!;
    expect(line).toBe(
      'sid=; Path=/app; Domain=example.com; Max-Age=0; ' +
        'Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
    );
  });

  it('destroy with a cookie whose session moved on (regenerated elsewhere) ends it under its new ID too', async () => {
    const { sessions, login, events } = setup();
    const { session, cookie } = await login();
    const moved = await sessions.start(request(cookie));
    moved.regenerate();
    const newCookie = cookiePair(await moved.commit());
    events.length = 0;
    const lines = (await sessions.destroy(request(cookie))).getSetCookie();
    expect(lines).toEqual([expect.stringMatching(/^__Host-sid=; .*Max-Age=0/)]);
    expect((await sessions.start(request(newCookie))).isNew).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['rejected', 'destroyed', 'rejected']);
    // Named by the ID the session was live under (its new one), not the one the cookie carried.
    expect(events[1]).toMatchObject({ id: moved.id, maskedId: moved.maskedId });
    expect(moved.id).not.toBe(session.id);
  });

  it('destroy with the cookie of an expired session clears it and reports no destroyed', async () => {
    const { sessions, login, events, clock } = setup();
    const { cookie } = await login();
    clock.advanceSec(3600);
    events.length = 0;
    const lines = (await sessions.destroy(request(cookie))).getSetCookie();
    expect(lines).toEqual([expect.stringMatching(/^__Host-sid=; .*Max-Age=0/)]);
    expect(events.map((e) => e.type)).toEqual(['expired']);
  });

  it('destroy then start in the same request gives a new session', async () => {
    const { sessions, login } = setup();
    const { session, cookie } = await login();
    const req = request(cookie);
    await sessions.destroy(req);
    const after = await sessions.start(req);
    expect(after.isNew).toBe(true);
    expect(after.id).not.toBe(session.id);
  });

  it('destroyById, destroyAll and count', async () => {
    const { sessions, login } = setup();
    await login();
    const { session } = await login();
    expect(await sessions.count()).toBe(2);
    await sessions.destroyById(session.id);
    expect(await sessions.count()).toBe(1);
    await expect(sessions.destroyById('../../etc')).rejects.toMatchObject({ code: 'INVALID_ID' });
    await sessions.destroyAll();
    expect(await sessions.count()).toBe(0);
  });

  it('admin calls on a store without count/clear reject naming the store', async () => {
    const { get, create, update, regenerate, destroy } = createMemoryStore();
    const sessions = createSessions({
      store: { name: 'tiny', get, create, update, regenerate, destroy },
      secrets: [SECRET],
    });
    await expect(sessions.count()).rejects.toThrow('edge-sessions: count: the tiny store has no count()');
    await expect(sessions.destroyAll()).rejects.toThrow('edge-sessions: destroyAll: the tiny store has no clear()');
  });
});

describe('request functions given something other than a Request', () => {
  /** Each function of the manager that takes a Request, called with `r`. */
  const callsOf = (sessions: ReturnType<typeof createSessions>) => ({
    start: (r: Request) => sessions.start(r),
    get: (r: Request) => sessions.get(r),
    create: (r: Request) => sessions.create(r, { data: { user: 'bob' } }),
    shiftExpiration: (r: Request) => sessions.shiftExpiration(r),
    updateExpiration: (r: Request) => sessions.updateExpiration(r, 60),
    destroy: (r: Request) => sessions.destroy(r),
    handle: (r: Request) => sessions.handle(() => new Response('ok'))(r),
  });

  it('refuse it with INVALID_OPTION saying what to pass, and store nothing', async () => {
    for (const store of ['memory', 'cookie'] as const) {
      const memory = createMemoryStore();
      const sessions = createSessions({ store: store === 'memory' ? memory : createCookieStore(), secrets: [SECRET] });
      const raw = request();
      // Hono's c.req: the Request is its `raw`; it has `url` and `header()`, no `headers`.
      const honoRequest = { raw, url: raw.url, path: '/', header: (name: string) => raw.headers.get(name) };
      const given: [unknown, string][] = [
        [honoRequest, ' (with Hono, pass c.req.raw)'],
        [new URL('https://example.com/'), ', got a URL'],
        ['https://example.com/', ', got a string'],
        [undefined, ', got undefined'],
        [{ url: '/', headers: { cookie: 'a=b' } }, ', got an object'], // the shape of Node's IncomingMessage
      ];
      for (const [name, call] of Object.entries(callsOf(sessions))) {
        for (const [value, tail] of given) {
          await expect(call(value as Request)).rejects.toMatchObject({
            code: 'INVALID_OPTION',
            message: `edge-sessions: ${name}: expected a Request${tail}`,
          });
        }
      }
      expect(await memory.count()).toBe(0);
    }
  });

  it('accept a Request of another realm or class: a string url and headers with get()', async () => {
    for (const store of ['memory', 'cookie'] as const) {
      const sessions = createSessions({
        store: store === 'memory' ? createMemoryStore() : createCookieStore(),
        secrets: [SECRET],
      });
      const login = await sessions.start(request());
      login.set('user', 'ada');
      const cookie = cookiePair(await login.commit());
      // What a polyfill or another realm gives: not `instanceof Request`, nor its headers `instanceof Headers`.
      const foreign = () => ({ url: 'https://example.com/', method: 'GET', headers: new Map([['cookie', cookie]]) });
      const calls = callsOf(sessions);
      expect((await calls.get(foreign() as unknown as Request))?.get('user')).toBe('ada');
      expect((await calls.start(foreign() as unknown as Request)).get('user')).toBe('ada');
      expect((await calls.shiftExpiration(foreign() as unknown as Request)).getSetCookie()).toHaveLength(1);
      expect((await calls.handle(foreign() as unknown as Request)).status).toBe(200);
      expect((await calls.create(foreign() as unknown as Request)).get('user')).toBe('bob');
      expect((await calls.destroy(foreign() as unknown as Request)).getSetCookie()).toHaveLength(1);
    }
  });
});

describe('destroyById', () => {
  it('reports destroyed only when it ended a live session', async () => {
    const { sessions, login, events, clock } = setup();
    const { session } = await login();
    const other = await login();
    events.length = 0;
    await sessions.destroyById('Z'.repeat(24)); // never issued
    expect(events).toEqual([]);
    await sessions.destroyById(session.id);
    expect(events).toEqual([{ type: 'destroyed', id: session.id, maskedId: session.maskedId, at: clock.now() }]);
    await sessions.destroyById(session.id); // already ended
    expect(events).toHaveLength(1);
    clock.advanceSec(3600); // the other one has expired: there is nothing live to end
    await sessions.destroyById(other.session.id);
    expect(events).toHaveLength(1);
    expect((await sessions.start(request(other.cookie))).isNew).toBe(true);
  });
});

describe('get and getById', () => {
  it('get gives the valid session or null, and creates, stores and sets nothing', async () => {
    const { sessions, login, counted } = setup();
    const anonymous = request();
    expect(await sessions.get(anonymous)).toBeNull();
    // Nothing was made for the request: committing what start() now returns sets no cookie and stores nothing.
    expect((await (await sessions.start(anonymous)).commit()).getSetCookie()).toEqual([]);
    expect(counted.calls.create).toBe(0);
    const { session, cookie } = await login();
    const req = request(cookie);
    const found = await sessions.get(req);
    expect(found?.id).toBe(session.id);
    expect(found?.get('n')).toBe(1);
    expect(await sessions.start(req)).toBe(found); // one session per request
  });

  it('get gives null for a forged or expired cookie, and the session create() made in this request', async () => {
    const { sessions, login, clock } = setup();
    const { cookie } = await login();
    expect(await sessions.get(request(cookie.slice(0, -3) + 'AAA'))).toBeNull();
    clock.advanceSec(3600);
    expect(await sessions.get(request(cookie))).toBeNull();
    const req = request();
    const made = await sessions.create(req, { data: { user: 'ada' } });
    expect(await sessions.get(req)).toBe(made);
  });

  it('getById gives the live session with its values; its commit stores changes and sends no cookie', async () => {
    const { sessions, login, counted } = setup();
    const { session, cookie } = await login();
    const admin = await sessions.getById(session.id);
    expect(admin?.isNew).toBe(false);
    expect(admin?.get('n')).toBe(1);
    admin!.set('role', 'banned');
    admin!.increment('n');
    const headers = await admin!.commit();
    expect([...headers]).toEqual([]);
    expect(counted.calls.update).toBe(1);
    const seen = await sessions.start(request(cookie));
    expect(seen.getAll()).toEqual({ n: 2, role: 'banned' });
  });

  it("getById: regenerate() is refused, so the user's cookie keeps finding the session", async () => {
    const { sessions, login, counted } = setup();
    const { session, cookie } = await login();
    const admin = (await sessions.getById(session.id))!;
    expect(() => admin.regenerate()).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
    admin.set('role', 'audited');
    expect([...(await admin.commit())]).toEqual([]);
    expect(counted.calls.regenerate).toBe(0);
    expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: 1, role: 'audited' });
  });

  it('getById checks expiry, never touches, and its destroy() ends the session without a cookie', async () => {
    const { sessions, login, counted, clock, events } = setup({ idleTimeout: 600 });
    const { session, cookie } = await login();
    clock.advanceSec(300);
    const admin = (await sessions.getById(session.id))!;
    expect([...(await admin.commit())]).toEqual([]);
    expect(counted.calls.update).toBe(0); // reading by ID is not the user's activity
    admin.destroy();
    expect([...(await admin.commit())]).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'destroyed', maskedId: session.maskedId });
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(await sessions.getById(session.id)).toBeNull();

    const other = await login();
    clock.advanceSec(600);
    expect(await sessions.getById(other.session.id)).toBeNull();
    expect(events.at(-1)).toMatchObject({ type: 'expired', reason: 'idle', maskedId: other.session.maskedId });
  });

  it('getById: a commit that stores changes is a write: it restarts the idle timeout', async () => {
    const { sessions, login, clock } = setup({ idleTimeout: 600 });
    const { session, cookie } = await login();
    clock.advanceSec(500);
    const admin = (await sessions.getById(session.id))!;
    admin.set('role', 'audited');
    await admin.commit();
    clock.advanceSec(500); // 1000 s after the login, 500 s after the admin's write
    const seen = await sessions.start(request(cookie));
    expect(seen.isNew).toBe(false);
    expect(seen.get('role')).toBe('audited');
  });

  it('getById: a commit after the session moved, ended or expired is NOT_FOUND and stores nothing', async () => {
    const { sessions, login, counted, clock } = setup();
    const gone = { code: 'NOT_FOUND', message: 'edge-sessions: commit: the session ended or moved since getById' };
    /** A by-ID session of a fresh login, changed after `meanwhile` ended or moved it. */
    async function lateAdmin(meanwhile: (id: string, cookie: string) => Promise<void>) {
      const { session, cookie } = await login();
      const admin = (await sessions.getById(session.id))!;
      await meanwhile(session.id, cookie);
      admin.set('role', 'banned');
      await expect(admin.commit()).rejects.toMatchObject(gone);
      // Ended for good: nothing more is committed from it, and a change is refused.
      expect([...(await admin.commit())]).toEqual([]);
      expect(() => admin.set('role', 'banned')).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
      return session.id;
    }

    // Moved by the user's regenerate: the old ID is not written back, the new one keeps what it had.
    let movedTo = '';
    const moved = await lateAdmin(async (_id, cookie) => {
      const user = await sessions.start(request(cookie));
      user.regenerate();
      await user.commit();
      movedTo = user.id;
    });
    expect(await counted.store.get(moved)).toBeNull();
    expect((await counted.store.get(movedTo))?.data).toEqual({ n: '1' });
    expect((await sessions.getById(movedTo))?.getAll()).toEqual({ n: 1 });

    // Destroyed (by ID here; a logout is the same): no record comes back.
    const destroyed = await lateAdmin((id) => sessions.destroyById(id));
    expect(await counted.store.get(destroyed)).toBeNull();
    expect(await sessions.getById(destroyed)).toBeNull();

    // Expired: no write reaches the store (the commit sees the expiry before any), and it is no session.
    const creates = counted.calls.create;
    const updates = counted.calls.update;
    const expired = await lateAdmin(async () => clock.advanceSec(3600));
    expect(counted.calls.create).toBe(creates + 1); // the login's own, no other
    expect(counted.calls.update).toBe(updates);
    expect(await sessions.getById(expired)).toBeNull();
  });

  it('getById refuses a non-ID with INVALID_ID, and gives null for an ID never issued', async () => {
    const { sessions } = setup();
    await expect(sessions.getById('../../etc')).rejects.toMatchObject({ code: 'INVALID_ID' });
    await expect(sessions.getById(42 as unknown as string)).rejects.toMatchObject({ code: 'INVALID_ID' });
    expect(await sessions.getById('Z'.repeat(24))).toBeNull();
  });
});

describe('per-session lifetime and idle timeout', () => {
  it('create({ expires }) gives this session its own Max-Age, and shiftExpiration extends by it later', async () => {
    const { sessions, clock, counted } = setup();
    const s = await sessions.create(request(), { expires: 600 });
    const line = (await s.commit()).getSetCookie()[0]!;
    expect(line).toMatch(/Max-Age=600;/);
    const cookie = line.split(';')[0]!;
    expect(counted.calls.create).toBe(1);
    clock.advanceSec(300);
    expect((await sessions.shiftExpiration(request(cookie))).getSetCookie()[0]).toMatch(/Max-Age=600;/);
    clock.advanceSec(599);
    expect((await sessions.get(request(cookie)))?.isNew).toBe(false);
    clock.advanceSec(1);
    expect(await sessions.get(request(cookie))).toBeNull();
    // Other sessions keep the manager's 3600 s.
    expect((await (await sessions.create(request(), {})).commit()).getSetCookie()[0]).toMatch(/Max-Age=3600;/);
  });

  it('create({ idleTimeout }) ends this session when idle and throttles its touches to its own timeout', async () => {
    const { sessions, clock, counted } = setup();
    const s = await sessions.create(request(), { idleTimeout: 100 });
    const cookie = cookiePair(await s.commit());
    clock.advanceSec(5); // under a tenth of 100 s: no write
    expect((await (await sessions.start(request(cookie))).commit()).getSetCookie()).toEqual([]);
    expect(counted.calls.update).toBe(0);
    clock.advanceSec(10);
    const touched = (await (await sessions.start(request(cookie))).commit()).getSetCookie()[0]!;
    expect(touched).toMatch(/Max-Age=100;/);
    expect(counted.calls.update).toBe(1);
    clock.advanceSec(100);
    expect(await sessions.get(request(cookie))).toBeNull();
  });

  it("create({ idleTimeout }) longer than the manager's: touches follow the session's own timeout", async () => {
    // The manager's idle minute makes its default touchAfter 6 s; a day's idle timeout of its own makes 60 s.
    const { sessions, clock, counted } = setup({ idleTimeout: 60, expires: 7 * 86_400 });
    const cookie = cookiePair(await (await sessions.create(request(), { idleTimeout: 86_400 })).commit());
    for (let i = 0; i < 5; i++) {
      clock.advanceSec(10);
      expect((await (await sessions.start(request(cookie))).commit()).getSetCookie()).toEqual([]);
    }
    expect(counted.calls.update).toBe(0);
    clock.advanceSec(10); // 60 s since the write
    expect((await (await sessions.start(request(cookie))).commit()).getSetCookie()[0]).toMatch(/Max-Age=86400;/);
    expect(counted.calls.update).toBe(1);
  });

  it("create({ idleTimeout }): a touchAfter the app set holds while below the session's own timeout", async () => {
    const { sessions, clock, counted } = setup({ idleTimeout: 3600, touchAfter: 120, expires: 7 * 86_400 });
    const long = cookiePair(await (await sessions.create(request(), { idleTimeout: 86_400 })).commit());
    const short = cookiePair(await (await sessions.create(request(), { idleTimeout: 60 })).commit());
    clock.advanceSec(30);
    // 120 s is kept for the day-long session; the minute-long one falls back to a tenth of its timeout (6 s).
    expect((await (await sessions.start(request(long))).commit()).getSetCookie()).toEqual([]);
    expect((await (await sessions.start(request(short))).commit()).getSetCookie()[0]).toMatch(/Max-Age=60;/);
    expect(counted.calls.update).toBe(1);
    clock.advanceSec(90);
    expect((await (await sessions.start(request(long))).commit()).getSetCookie()[0]).toMatch(/Max-Age=86400;/);
    expect(counted.calls.update).toBe(2);
  });

  it('refuses a per-session expires over 400 days or not positive, and an idleTimeout that is not', async () => {
    const { sessions } = setup();
    for (const expires of [0, -1, 400 * 86_400 + 1, Number.NaN]) {
      // The manager's `expires` gets the same message, naming the whole range.
      await expect(sessions.create(request(), { expires })).rejects.toMatchObject({
        code: 'INVALID_DURATION',
        message:
          'edge-sessions: create: expires must be a positive number of seconds up to 34560000 (400 days, the ' +
          `longest Max-Age browsers keep), or Infinity for an unlimited lifetime, got ${String(expires)}`,
      });
    }
    await expect(sessions.create(request(), { idleTimeout: 0 })).rejects.toMatchObject({ code: 'INVALID_DURATION' });
  });

  it('expires: Infinity never ends by lifetime; the cookie is re-sent daily, with no write per request', async () => {
    const { sessions, clock, counted } = setup({ expires: Infinity });
    const s = await sessions.start(request());
    s.set('n', 1);
    const line = (await s.commit()).getSetCookie()[0]!;
    expect(line).toMatch(/Max-Age=34560000;/); // 400 days, what browsers keep
    let cookie = line.split(';')[0]!;
    for (let day = 0; day < 3 * 365; day++) {
      clock.advanceSec(86_400);
      const visit = await sessions.start(request(cookie));
      expect(visit.get('n')).toBe(1);
      const headers = await visit.commit();
      if (headers.getSetCookie().length > 0) cookie = cookiePair(headers);
      clock.advanceSec(600);
      expect((await (await sessions.start(request(cookie))).commit()).getSetCookie()).toEqual([]);
    }
    expect(counted.calls.update).toBe(3 * 365); // one touch a day, none for the second visit of each day
    clock.advanceSec(400 * 86_400); // no visit for 400 days: the browser has dropped the cookie; so has the store
    expect(await sessions.get(request(cookie))).toBeNull();
  });

  it('expires: Infinity: a touchAfter set over a day is the least a renewal gains (README: touchAfter)', async () => {
    // The README's touchAfter: "minimum gain before an expiry-only write is made"; a renewal is one.
    const { sessions, clock, counted } = setup({ expires: Infinity, touchAfter: 7 * 86_400 });
    const s = await sessions.start(request());
    s.set('n', 1);
    let cookie = cookiePair(await s.commit());
    const renewals: number[] = [];
    for (let day = 1; day <= 28; day++) {
      clock.advanceSec(86_400);
      const headers = await (await sessions.start(request(cookie))).commit();
      if (headers.getSetCookie().length > 0) {
        cookie = cookiePair(headers);
        renewals.push(day);
      }
    }
    expect(renewals).toEqual([7, 14, 21, 28]);
    expect(counted.calls.update).toBe(4);
    // Even a touchAfter of 400 days leaves the cookie renewed before browsers drop it.
    const never = setup({ expires: Infinity, touchAfter: 400 * 86_400 });
    const t = await never.sessions.start(request());
    t.set('n', 1);
    let other = cookiePair(await t.commit());
    for (let week = 0; week < 120; week++) {
      never.clock.advanceSec(7 * 86_400);
      const live = await never.sessions.get(request(other));
      expect(live, `week ${week + 1}`).not.toBeNull();
      const headers = await live!.commit();
      if (headers.getSetCookie().length > 0) other = cookiePair(headers);
    }
  });

  it('create({ expires: Infinity }) and idleTimeout: the idle timeout still ends it; absoluteTimeout too', async () => {
    const { sessions, clock } = setup({ idleTimeout: 600, absoluteTimeout: 86_400 });
    const s = await sessions.create(request(), { expires: Infinity });
    let cookie = cookiePair(await s.commit());
    clock.advanceSec(500);
    const headers = await (await sessions.start(request(cookie))).commit();
    cookie = cookiePair(headers);
    clock.advanceSec(599);
    expect(await sessions.get(request(cookie))).not.toBeNull();
    clock.advanceSec(1);
    expect(await sessions.get(request(cookie))).toBeNull();
    const t = await sessions.create(request(), { expires: Infinity });
    let other = cookiePair(await t.commit());
    let visits = 0;
    for (let live: Session | null = t; live !== null; live = await sessions.get(request(other))) {
      const h = await live.commit();
      if (h.getSetCookie().length > 0) other = cookiePair(h);
      clock.advanceSec(500);
      visits++;
    }
    expect(visits).toBe(Math.ceil(86_400 / 500)); // ended by absoluteTimeout, visited every 500 s
  });
});

describe('a session another request ended meanwhile', () => {
  it('a commit with changes writes nothing and sends no cookie at all; the session is then destroyed', async () => {
    const { sessions, login, counted, events } = setup();
    const { cookie } = await login();
    const late = await sessions.start(request(cookie));
    late.set('n', 2);
    const ending = (await sessions.destroy(request(cookie))).getSetCookie();
    expect(ending).toHaveLength(1);
    expect(ending[0]).toMatch(/^__Host-sid=; .*Max-Age=0/);
    const updatesBefore = counted.calls.update;
    const headers = await late.commit();
    expect([...headers]).toEqual([]); // neither Set-Cookie nor Cache-Control
    expect(counted.calls.update).toBe(updatesBefore + 1);
    expect(late.destroyed).toBe(true);
    expect(late.isNew).toBe(true);
    expect(() => late.set('n', 3)).toThrow(expect.objectContaining({ code: 'DESTROYED' }));
    expect(await counted.store.count()).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['created', 'destroyed']);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    // A second commit of the ended session does nothing either.
    expect([...(await late.commit())]).toEqual([]);
  });

  it('through handle(): a late response never overwrites the cookie of the request that regenerated it', async () => {
    const { sessions, login, counted } = setup();
    const { cookie } = await login();
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    const slow = sessions.handle(async (_req, session) => {
      session.set('cart', 'book');
      entered();
      await paused;
      return new Response('ok');
    });
    const pending = slow(request(cookie));
    await inHandler;
    const login2 = await sessions.start(request(cookie));
    login2.regenerate();
    const newCookie = cookiePair(await login2.commit());
    resume();
    const response = await pending;
    expect(response.headers.getSetCookie()).toEqual([]);
    // No cookie, but the page was made from a live session: still private.
    expect(response.headers.get('Cache-Control')).toBe('private');
    const after = await sessions.start(request(newCookie));
    expect(after.getAll()).toEqual({ n: 1 }); // the late request's change was not written anywhere
    expect(await counted.store.count()).toBe(1);
  });

  it('a regenerate that finds the session destroyed creates nothing and sends no cookie', async () => {
    const { sessions, login, counted } = setup();
    const { cookie } = await login();
    const late = await sessions.start(request(cookie));
    late.regenerate();
    await sessions.destroy(request(cookie));
    expect([...(await late.commit())]).toEqual([]);
    expect(counted.calls.regenerate).toBe(1);
    expect(late.destroyed).toBe(true);
    expect(await counted.store.count()).toBe(0);
  });

  it('an expiry-only write (touch) that finds the session destroyed sends no cookie', async () => {
    const { sessions, login, counted, clock } = setup({ idleTimeout: 600 });
    const { cookie } = await login();
    clock.advanceSec(120); // a touch is due
    const late = await sessions.start(request(cookie));
    await sessions.destroy(request(cookie));
    expect([...(await late.commit())]).toEqual([]);
    expect(counted.calls.update).toBe(1);
    expect(late.destroyed).toBe(true);
    expect(await counted.store.count()).toBe(0);
  });
  // Found by review 11: a resend made no store call, so a late read-only response put the ended session's cookie
  // back over the one of the login that ended it.
  it("a read-only request's re-signed cookie does not come back over the login that ended it", async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const before = createSessions({ store: memory, secrets: [OLD_SECRET], now: clock.now });
    const alice = await before.create(request(), { userId: 'alice' });
    const cookie = cookiePair(await alice.commit()); // signed with the secret being rotated out
    const sessions = createSessions({ store: memory, secrets: [SECRET, OLD_SECRET], now: clock.now });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const app = sessions.handle(async (req, session) => {
      if (new URL(req.url).pathname === '/login') {
        await sessions.create(req, { userId: 'bob' }); // switch account: ends alice's session
        return new Response('welcome bob');
      }
      const page = `hello ${session.userId}`; // a slow read-only page, which loaded alice before the login
      await gate;
      return new Response(page);
    });
    const slow = app(request(cookie, 'https://example.com/feed'));
    await new Promise((r) => setTimeout(r, 5));
    const login = await app(request(cookie, 'https://example.com/login'));
    release();
    const feed = await slow; // answered after the login
    expect(feed.headers.getSetCookie()).toEqual([]);
    const jar = createCookieJar();
    jar.apply(login);
    jar.apply(feed);
    expect((await sessions.start(request(jar.header()))).userId).toBe('bob');
  });
});

describe('the idle timeout as configured today', () => {
  it('applies an idleTimeout a deploy added to sessions stored without one, from their last write', async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    const events: SessionEvent[] = [];
    const before = createSessions({ store, secrets: [SECRET], now: clock.now, expires: 3600 });
    const after = createSessions({
      store,
      secrets: [SECRET],
      now: clock.now,
      expires: 3600,
      idleTimeout: 600,
      onEvent: (e) => events.push(e),
    });
    const s = await before.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    clock.advanceSec(300);
    const write = await before.start(request(cookie));
    write.set('n', 2);
    await write.commit(); // the last write, 300 s after creation
    clock.advanceSec(599);
    const read = await after.start(request(cookie));
    expect(read.get('n')).toBe(2);
    expect(read.expiresAt).toBe(clock.now() + 1000);
    clock.advanceSec(1); // 600 s after the last write
    expect((await after.start(request(cookie))).isNew).toBe(true);
    expect(events).toEqual([{ type: 'expired', id: s.id, maskedId: s.maskedId, reason: 'idle', at: clock.now() }]);
    expect((await before.start(request(cookie))).get('n')).toBe(2); // the setting decides, not the record
  });

  it('applies a shortened idleTimeout to sessions stored with the longer one', async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    const events: SessionEvent[] = [];
    const before = createSessions({ store, secrets: [SECRET], now: clock.now, expires: 3600, idleTimeout: 1800 });
    const after = createSessions({
      store,
      secrets: [SECRET],
      now: clock.now,
      expires: 3600,
      idleTimeout: 600,
      onEvent: (e) => events.push(e),
    });
    const s = await before.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    clock.advanceSec(599);
    expect((await after.start(request(cookie))).get('n')).toBe(1);
    clock.advanceSec(1);
    expect((await after.start(request(cookie))).isNew).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'expired', reason: 'idle' });
    expect((await before.start(request(cookie))).get('n')).toBe(1);
  });

  it('measures from createdAt a record written before accessedAt existed', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    // An older record: no accessedAt.
    const store: SessionStore = {
      ...memory,
      get: async (id) => {
        const stored = await memory.get(id);
        if (stored === null) return null;
        const { accessedAt: _, ...older } = stored;
        return older;
      },
    };
    const events: SessionEvent[] = [];
    const sessions = createSessions({
      store,
      secrets: [SECRET],
      now: clock.now,
      expires: 3600,
      idleTimeout: 600,
      touchAfter: 500,
      onEvent: (e) => events.push(e),
    });
    const s = await sessions.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    clock.advanceSec(599);
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
    clock.advanceSec(1);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'expired', reason: 'idle' });
  });
});

describe('timeouts a deploy changed, on memory and the cookie store', () => {
  it("memory: listByUser reports the expiry today's timeouts give, and a loaded session has the same", async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    const managed = (options: Partial<SessionsOptions>) =>
      createSessions({ store, secrets: [SECRET], now: clock.now, expires: 7200, ...options });
    const before = managed({});
    const login = async (idleTimeout?: number) => {
      const s = await before.create(request(), { userId: 'ada', idleTimeout });
      return { id: s.id, cookie: cookiePair(await s.commit()) };
    };
    const plain = await login();
    const own = await login(900); // its own idle timeout: today's manager setting does not replace it
    clock.advanceSec(100);
    /** Each session's listed expiry and the one it has when loaded, in seconds from its creation. */
    const expiries = async (sessions: Sessions) => {
      const listed = await sessions.listByUser('ada');
      const loaded = async (cookie: string) => (await sessions.start(request(cookie))).expiresAt;
      return Promise.all(
        [plain, own].map(async ({ id, cookie }) => [
          (listed.find((info) => info.id === id)!.expiresAt - T0) / 1000,
          ((await loaded(cookie)) - T0) / 1000,
        ]),
      );
    };
    expect(await expiries(before)).toEqual([
      [7200, 7200],
      [900, 900],
    ]);
    expect(await expiries(managed({ idleTimeout: 600 }))).toEqual([
      [600, 600],
      [900, 900],
    ]);
    expect(await expiries(managed({ idleTimeout: 600, absoluteTimeout: 800 }))).toEqual([
      [600, 600],
      [800, 800],
    ]);
  });

  for (const [name, make] of memoryAndCookie) {
    /**
     * Two managers of one store and secret: with the options `before` a deploy, and with those `after` it (its
     * events in `events`); and `storedExpiry(cookie)`, the expiry as stored for a live session's cookie, read by a
     * manager without timeouts (which takes the record's times as they are).
     */
    function deploy(before: Partial<SessionsOptions>, after: Partial<SessionsOptions>) {
      const clock = createClock();
      const store = make(clock.now);
      const events: SessionEvent[] = [];
      const managed = (options: Partial<SessionsOptions>) =>
        createSessions({ store, secrets: [SECRET], now: clock.now, ...options });
      const plain = managed({});
      const storedExpiry = async (cookie: string) => (await plain.start(request(cookie))).expiresAt;
      const managers = { before: managed(before), after: managed({ ...after, onEvent: (e) => events.push(e) }) };
      return { clock, events, storedExpiry, ...managers };
    }

    it(`${name}: an absoluteTimeout a deploy added caps the next write's Max-Age and stored expiry`, async () => {
      const month = 30 * 86_400;
      const { clock, before, after, storedExpiry } = deploy(
        { expires: month },
        { expires: month, absoluteTimeout: 3600 },
      );
      const login = await before.create(request(), { data: { n: 1 } });
      const cookie = cookiePair(await login.commit());
      const end = clock.now() + 3_600_000;
      clock.advanceSec(600);
      const s = await after.start(request(cookie));
      expect(s.expiresAt).toBe(end);
      s.set('n', 2);
      const headers = await s.commit();
      expect(headers.getSetCookie()[0]).toMatch(/Max-Age=3000;/);
      expect(await storedExpiry(cookiePair(headers))).toBe(end);
    });

    it(`${name}: no touch, shiftExpiration or updateExpiration passes an absoluteTimeout a deploy added`, async () => {
      const month = 30 * 86_400;
      const { clock, before, after, storedExpiry } = deploy(
        { expires: month },
        { expires: month, absoluteTimeout: 3600, idleTimeout: 1800 },
      );
      const login = await before.create(request(), { data: { n: 1 } });
      let cookie = cookiePair(await login.commit());
      const end = clock.now() + 3_600_000;
      const send = (headers: Headers) => {
        const line = headers.getSetCookie()[0]!;
        cookie = cookiePair(headers);
        return line;
      };
      clock.advanceSec(1000);
      expect(send(await (await after.start(request(cookie))).commit())).toMatch(/Max-Age=1800;/); // a touch
      clock.advanceSec(1000);
      // A touch 2000 s in: the idle timeout would reach 3800 s, past the absolute timeout.
      expect(send(await (await after.start(request(cookie))).commit())).toMatch(/Max-Age=1600;/);
      expect(await storedExpiry(cookie)).toBe(end);
      clock.advanceSec(100);
      expect(send(await after.shiftExpiration(request(cookie)))).toMatch(/Max-Age=1500;/);
      expect(send(await after.updateExpiration(request(cookie), 86_400))).toMatch(/Max-Age=1500;/);
      expect(await storedExpiry(cookie)).toBe(end);
    });

    it(`${name}: an idleTimeout a deploy removed: a touch, once, and the session lives its lifetime`, async () => {
      const { clock, before, after, events, storedExpiry } = deploy(
        { expires: 7200, idleTimeout: 600 },
        { expires: 7200 },
      );
      const login = await before.create(request(), { data: { n: 1 } });
      const first = cookiePair(await login.commit());
      const end = clock.now() + 7_200_000;
      expect(await storedExpiry(first)).toBe(clock.now() + 600_000);
      clock.advanceSec(300);
      // A read-only request: the stored idle end falls short of the lifetime's end, which is today's expiry.
      const touched = await (await after.start(request(first))).commit();
      expect(touched.getSetCookie()).toEqual([expect.stringMatching(/Max-Age=6900;/)]);
      const cookie = cookiePair(touched);
      expect(await storedExpiry(cookie)).toBe(end);
      clock.advanceSec(60);
      expect((await (await after.start(request(cookie))).commit()).getSetCookie()).toEqual([]); // once
      clock.advanceSec(3000); // long past the idle end the old settings stored
      const later = await after.start(request(cookie));
      expect([later.isNew, later.get('n'), later.expiresAt]).toEqual([false, 1, end]);
      expect((await later.commit()).getSetCookie()).toEqual([]);
      expect(events).toEqual([]);
    });

    it(`${name}: an idleTimeout a deploy lengthened is written on the next read, then slides as usual`, async () => {
      const { clock, before, after, storedExpiry } = deploy(
        { expires: 7200, idleTimeout: 600 },
        { expires: 7200, idleTimeout: 1800 },
      );
      const login = await before.create(request(), { data: { n: 1 } });
      const first = cookiePair(await login.commit());
      clock.advanceSec(300);
      const touched = await (await after.start(request(first))).commit();
      expect(touched.getSetCookie()).toEqual([expect.stringMatching(/Max-Age=1800;/)]);
      const cookie = cookiePair(touched);
      expect(await storedExpiry(cookie)).toBe(clock.now() + 1_800_000);
      clock.advanceSec(1000); // past the idle end the old settings stored
      expect((await after.start(request(cookie))).get('n')).toBe(1);
    });

    it(`${name}: past its stored expiry a session stays ended when a deploy removed idleTimeout`, async () => {
      const { clock, before, after, events } = deploy({ expires: 7200, idleTimeout: 600 }, { expires: 7200 });
      const login = await before.create(request(), { data: { n: 1 } });
      const cookie = cookiePair(await login.commit());
      clock.advanceSec(600);
      const s = await after.start(request(cookie));
      expect([s.isNew, s.get('n')]).toEqual([true, undefined]);
      expect(events).toEqual([expect.objectContaining({ type: 'expired', reason: 'idle', at: clock.now() })]);
      expect((await s.commit()).getSetCookie()).toEqual([expect.stringMatching(/Max-Age=0/)]);
      clock.advanceSec(60);
      expect((await after.start(request(cookie))).isNew).toBe(true); // nothing revived it meanwhile
    });

    // A request that read the session alive and commits after today's settings ended it: the store still holds
    // the old settings' later expiry, and would take the write.
    for (const [what, after] of [
      ['an idleTimeout a deploy shortened', { expires: 7200, idleTimeout: 600 }],
      ['an absoluteTimeout a deploy added', { expires: 7200, idleTimeout: 3600, absoluteTimeout: 600 }],
    ] as const) {
      it(`${name}: a commit landing past ${what} writes nothing and revives nothing`, async () => {
        const { clock, before, after: later } = deploy({ expires: 7200, idleTimeout: 3600 }, after);
        const login = await before.create(request(), { data: { n: 1 } });
        const cookie = cookiePair(await login.commit());
        clock.advanceSec(500);
        const changing = await later.start(request(cookie));
        const reading = await later.start(request(cookie));
        changing.set('n', 2);
        expect([changing.isNew, reading.isNew]).toEqual([false, false]);
        clock.advanceSec(200); // the requests took long: their commits land past today's expiry (600 s)
        expect((await changing.commit()).getSetCookie()).toEqual([]);
        expect((await reading.commit()).getSetCookie()).toEqual([]); // a touch was due: not written either
        clock.advanceSec(100);
        expect((await later.start(request(cookie))).isNew).toBe(true);
        expect((await before.start(request(cookie))).get('n')).not.toBe(2);
      });
    }
  }

  it('a by-ID commit landing past a deploy-shortened idleTimeout is NOT_FOUND and revives nothing', async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    const managed = (idleTimeout: number) =>
      createSessions({ store, secrets: [SECRET], now: clock.now, expires: 7200, idleTimeout });
    const [before, after] = [managed(3600), managed(600)];
    const login = await before.create(request(), { data: { n: 1 } });
    const cookie = cookiePair(await login.commit());
    clock.advanceSec(500);
    const admin = (await after.getById(login.id))!;
    admin.set('role', 'banned');
    clock.advanceSec(200);
    await expect(admin.commit()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await before.start(request(cookie))).get('role')).toBeUndefined();
    expect((await after.start(request(cookie))).isNew).toBe(true);
  });

  it('a commit landing past the expiry it read still writes when another request kept the session alive', async () => {
    const { sessions, login, clock } = setup({ idleTimeout: 600 });
    const { cookie } = await login();
    clock.advanceSec(500);
    const slow = await sessions.start(request(cookie));
    slow.set('n', 2);
    clock.advanceSec(50);
    const touched = await (await sessions.start(request(cookie))).commit(); // a touch: alive until 1150 s
    expect(touched.getSetCookie()).toHaveLength(1);
    clock.advanceSec(150); // 700 s: past the 600 s the slow request read
    expect((await slow.commit()).getSetCookie()).toHaveLength(1);
    expect((await sessions.start(request(cookie))).get('n')).toBe(2);
  });
});

describe('regenerate', () => {
  it('keeps data, changes the ID, kills the old one, and reports it', async () => {
    const { sessions, login, events } = setup();
    const { cookie } = await login();
    const s = await sessions.start(request(cookie));
    const oldId = s.id;
    s.regenerate();
    const pair = cookiePair(await s.commit());
    expect(s.id).not.toBe(oldId);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect((await sessions.start(request(pair))).get('n')).toBe(1);
    expect(events.find((e) => e.type === 'regenerated')).toMatchObject({
      maskedId: s.maskedId,
      previousMaskedId: `${oldId.slice(0, 3)}...${oldId.slice(-3)}`,
    });
  });

  it('regenerate then destroy deletes the stored record', async () => {
    const { sessions, login, counted } = setup();
    const { cookie } = await login();
    const s = await sessions.start(request(cookie));
    s.regenerate();
    s.destroy();
    await s.commit();
    expect(await counted.store.count()).toBe(0);
  });
});

describe('handle', () => {
  it("starts, runs, commits, and appends Set-Cookie without clobbering the app's cookies", async () => {
    const { sessions } = setup();
    const fetch = sessions.handle(async (_req, session, env: { greeting: string }, ctx: { id: number }) => {
      session.set('seen', true);
      const response = new Response(`${env.greeting} ${ctx.id}`);
      response.headers.append('Set-Cookie', 'theme=dark; Path=/');
      return response;
    });
    const response = await fetch(request(), { greeting: 'hi' }, { id: 7 });
    expect(await response.text()).toBe('hi 7');
    const cookies = response.headers.getSetCookie();
    expect(cookies).toHaveLength(2);
    expect(cookies[0]).toBe('theme=dark; Path=/');
    expect(cookies[1]).toMatch(/^__Host-sid=/);
    expect(response.headers.get('Cache-Control')).toBe('private');
  });

  it("takes the runtime's extra arguments (env, ctx) even when the handler declares none: this compiles", async () => {
    const { sessions } = setup();
    const ctx = { waitUntil() {}, passThroughOnException() {} };
    const fetch = sessions.handle(async (_req, session) => {
      session.set('a', 1);
      return new Response('ok');
    });
    const response = await fetch(request(), { SESSION_SECRET: 'x' }, ctx);
    expect(response.headers.getSetCookie()).toHaveLength(1);
  });

  it('adds nothing when the handler leaves the session alone', async () => {
    const { sessions, counted } = setup();
    const response = await sessions.handle(
      () => new Response('ok', { headers: { 'Cache-Control': 'public, max-age=60' } }),
    )(request());
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(response.headers.get('Cache-Control')).toBe('public, max-age=60');
    expect(counted.total()).toBe(0);
  });

  it('marks a page made from a live session private, though it sets no cookie; public pages stay public', async () => {
    const { sessions } = setup();
    const login = await sessions.start(request());
    login.set('user', 'ada');
    const cookie = cookiePair(await login.commit());
    const page = sessions.handle(
      (_req, session) =>
        new Response(String(session.get('user')), { headers: { 'Cache-Control': 'public, max-age=300' } }),
    );
    const known = await page(request(cookie));
    expect(await known.text()).toBe('ada');
    expect(known.headers.getSetCookie()).toEqual([]);
    expect(known.headers.get('Cache-Control')).toBe('public, max-age=300, private');
    // A request that never had a session (or whose cookie is not one) is left alone.
    for (const anonymous of [request(), request('theme=dark'), request('__Host-sid=forged.x')]) {
      const response = await page(anonymous);
      expect(response.headers.get('Cache-Control')).toBe('public, max-age=300');
    }
    // Already private or no-store: nothing appended.
    const noStore = await sessions.handle(() => new Response('x', { headers: { 'Cache-Control': 'no-store' } }))(
      request(cookie),
    );
    expect(noStore.headers.get('Cache-Control')).toBe('no-store');
  });

  it('marks a CDN-targeted Cache-Control private too: a CDN reading it ignores Cache-Control', async () => {
    const { sessions } = setup();
    const login = await sessions.start(request());
    login.set('user', 'ada');
    const cookie = cookiePair(await login.commit());
    // A page cached at the CDN for anonymous visitors: CDN-Cache-Control (RFC 9213), or Cloudflare's own field.
    const page = sessions.handle(
      (_req, session) =>
        new Response(String(session.get('user') ?? 'anonymous'), {
          headers: { 'CDN-Cache-Control': 'max-age=600', 'Cloudflare-CDN-Cache-Control': 'public, max-age=600' },
        }),
    );
    const known = await page(request(cookie));
    expect(await known.text()).toBe('ada');
    expect(known.headers.get('Cache-Control')).toBe('private');
    expect(known.headers.get('CDN-Cache-Control')).toBe('max-age=600, private');
    expect(known.headers.get('Cloudflare-CDN-Cache-Control')).toBe('public, max-age=600, private');
    // One that sets the cookie, likewise; one already private or no-store for the CDN is left as it is.
    const fresh = await sessions.handle((_req, session) => {
      session.set('a', 1);
      return new Response('x', {
        headers: { 'CDN-Cache-Control': 'max-age=60', 'Vercel-CDN-Cache-Control': 'no-store' },
      });
    })(request());
    expect(fresh.headers.getSetCookie()).toHaveLength(1);
    expect(fresh.headers.get('CDN-Cache-Control')).toBe('max-age=60, private');
    expect(fresh.headers.get('Vercel-CDN-Cache-Control')).toBe('no-store');
    // A request that never had a session is left alone: the page stays cacheable at the CDN.
    const anonymous = await page(request());
    expect(anonymous.headers.get('Cache-Control')).toBeNull();
    expect(anonymous.headers.get('CDN-Cache-Control')).toBe('max-age=600');
  });

  it('copies a Response whose headers are immutable (Response.redirect)', async () => {
    const { sessions } = setup();
    const response = await sessions.handle((_req, session) => {
      session.set('a', 1);
      return Response.redirect('https://example.com/next', 303);
    })(request());
    expect(response.status).toBe(303);
    expect(response.headers.get('Location')).toBe('https://example.com/next');
    expect(response.headers.getSetCookie()).toHaveLength(1);
  });

  it('marks a cacheable response private when it sets a cookie, keeping no-store as is', async () => {
    const { sessions } = setup();
    const cacheable = await sessions.handle((_req, session) => {
      session.set('a', 1);
      return new Response('x', { headers: { 'Cache-Control': 'public, max-age=60' } });
    })(request());
    expect(cacheable.headers.get('Cache-Control')).toBe('public, max-age=60, private');
    const noStore = await sessions.handle((_req, session) => {
      session.set('a', 1);
      return new Response('x', { headers: { 'Cache-Control': 'no-store' } });
    })(request());
    expect(noStore.headers.get('Cache-Control')).toBe('no-store');
  });

  it('sends the headers of commits the handler made and did not append: a logout ends the cookie', async () => {
    for (const store of ['memory', 'cookie'] as const) {
      const clock = createClock();
      const sessions = createSessions({
        store: store === 'memory' ? createMemoryStore({ now: clock.now }) : createCookieStore(),
        secrets: [SECRET],
        now: clock.now,
        expires: 3600,
      });
      const login = await sessions.handle((_req, session) => {
        session.set('user', 'ada');
        return new Response('in');
      })(request());
      const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
      const loggedIn = async () => {
        const s = await sessions.start(request());
        s.set('user', 'ada');
        return cookiePair(await s.commit());
      };
      // The handler ends the session through the manager and answers without appending what it returned.
      const logout = await sessions.handle(async (req) => {
        await sessions.destroy(req);
        return new Response('bye');
      })(request(cookie));
      expect(logout.headers.getSetCookie(), store).toEqual([expect.stringMatching(/^__Host-sid=; .*Max-Age=0/)]);
      expect(logout.headers.get('Cache-Control'), store).toBe('private');
      // A handler that did append them gets each line once.
      const appended = await sessions.handle(async (req) => {
        const headers = await sessions.shiftExpiration(req);
        const response = new Response('shifted');
        for (const line of headers.getSetCookie()) response.headers.append('Set-Cookie', line);
        return response;
      })(request(await loggedIn()));
      const lines = appended.headers.getSetCookie();
      expect(lines, store).toHaveLength(1);
      // And one that did not gets the refreshed cookie all the same.
      const shifted = await sessions.handle(async (req) => {
        await sessions.shiftExpiration(req);
        return new Response('shifted');
      })(request(await loggedIn()));
      expect(shifted.headers.getSetCookie(), store).toEqual([
        expect.stringMatching(/^__Host-sid=[^;]+; Path=\/; Max-Age=3600;/),
      ]);
      // An early commit() and commitAll inside the handler: their cookies reach the browser, in order.
      const early = await sessions.handle(async (_req, session) => {
        session.set('step', 1);
        await session.commit();
        session.regenerate();
        await commitAll(session);
        return new Response('ok');
      })(request());
      const sent = early.headers.getSetCookie();
      expect(sent, store).toHaveLength(2);
      const last = await sessions.start(request(sent[1]!.split(';')[0]));
      expect(last.get('step'), store).toBe(1);
      expect(last.isNew, store).toBe(false);
    }
  });

  it('never sends an earlier commit after a later one the handler appended: a logout stays a logout', async () => {
    const sessions = createSessions({ store: createCookieStore(), secrets: [SECRET], expires: 3600 });
    const jar = createCookieJar();
    jar.apply(
      await sessions.handle((_req, session) => {
        session.set('user', 'ada');
        return new Response('in');
      })(request()),
    );
    // An early commit() the handler leaves to handle(), then a logout whose headers it appends itself.
    const logout = await sessions.handle(async (req, session) => {
      session.set('seen', 1);
      await session.commit();
      const response = new Response('bye');
      for (const line of (await sessions.destroy(req)).getSetCookie()) response.headers.append('Set-Cookie', line);
      return response;
    })(request(jar.header()));
    jar.apply(logout);
    expect(jar.size).toBe(0);
    expect((await sessions.start(request(jar.header()))).get('user')).toBeUndefined();
    // The other way round: the early commit's line appended, the logout's left to handle().
    const login = await sessions.handle(async (_req, session) => {
      session.set('user', 'ada');
      return new Response('in');
    })(request());
    jar.apply(login);
    const late = await sessions.handle(async (req, session) => {
      session.set('seen', 1);
      const response = new Response('bye');
      for (const line of (await session.commit()).getSetCookie()) response.headers.append('Set-Cookie', line);
      await sessions.destroy(req);
      return response;
    })(request(jar.header()));
    jar.apply(late);
    expect(jar.size).toBe(0);
  });

  it("never sends the replaced session's earlier commit after the login's line the handler appended", async () => {
    for (const store of ['memory', 'cookie'] as const) {
      const sessions = createSessions({
        store: store === 'memory' ? createMemoryStore() : createCookieStore(),
        secrets: [SECRET],
      });
      const jar = createCookieJar();
      // An early commit() left to handle(), then a login whose cookie the handler appends itself.
      const login = await sessions.handle(async (req, session) => {
        session.set('cart', 1);
        await session.commit();
        const fresh = await sessions.create(req, { data: { user: 'ada' } });
        const response = new Response('in');
        for (const line of (await fresh.commit()).getSetCookie()) response.headers.append('Set-Cookie', line);
        return response;
      })(request());
      jar.apply(login);
      expect((await sessions.start(request(jar.header()))).get('user'), store).toBe('ada');
    }
  });

  it('commits the session a handler logs in with create(), over the one it was given', async () => {
    const { sessions, login, counted } = setup();
    const { cookie } = await login();
    for (const arriving of [undefined, cookie]) {
      const response = await sessions.handle(async (req) => {
        (await sessions.create(req, { data: { user: 'ada' } })).set('role', 'admin');
        return new Response('ok');
      })(request(arriving));
      const lines = response.headers.getSetCookie();
      expect(lines).toHaveLength(1);
      const back = await sessions.start(request(lines[0]!.split(';')[0]));
      expect(back.getAll()).toEqual({ user: 'ada', role: 'admin' });
    }
    expect((await sessions.start(request(cookie))).isNew).toBe(true); // the arriving session was ended
    expect(await counted.store.count!()).toBe(2);
  });

  it('commits a session started after destroy() in the handler, its cookie after the expiring one', async () => {
    const { sessions, login, counted } = setup();
    const { cookie } = await login();
    const response = await sessions.handle(async (req, session) => {
      session.destroy();
      (await sessions.start(req)).set('y', 2);
      return new Response('ok');
    })(request(cookie));
    const lines = response.headers.getSetCookie();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^__Host-sid=; .*Max-Age=0/);
    const back = await sessions.start(request(lines[1]!.split(';')[0]));
    expect(back.getAll()).toEqual({ y: 2 });
    expect(await counted.store.count!()).toBe(1);
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
  });

  it("never changes the Response the handler returns: a shared one never collects a visitor's cookie", async () => {
    const { sessions, login } = setup();
    const shared = new Response(null, { status: 204 }); // module-level in a real app
    const fetch = sessions.handle((_req, session) => {
      session.set('visitor', session.id);
      return shared;
    });
    const first = await fetch(request());
    const second = await fetch(request());
    for (const response of [first, second]) {
      expect(response).not.toBe(shared);
      expect(response.status).toBe(204);
      expect(response.headers.getSetCookie()).toHaveLength(1);
      expect(response.headers.get('Cache-Control')).toBe('private');
    }
    expect(first.headers.getSetCookie()[0]).not.toBe(second.headers.getSetCookie()[0]);
    // A request whose commit only clears a cookie, and one that adds nothing, leave it alone too.
    const { cookie } = await login();
    await sessions.destroy(request(cookie));
    const cleared = await sessions.handle(() => shared)(request(cookie));
    expect(cleared.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=; .*Max-Age=0/)]);
    expect((await sessions.handle(() => shared)(request())).headers.getSetCookie()).toEqual([]);
    expect([...shared.headers]).toEqual([]);
    expect(shared.status).toBe(204);
  });

  it("answers no Response when the handler answers none (Bun's upgrade), committing nothing", async () => {
    const { sessions, login, counted } = setup();
    const { cookie } = await login();
    const writes = counted.writes();
    // As after `if (server.upgrade(req)) return;`: plain JavaScript, so the types do not stop it.
    const upgraded = sessions.handle(((_req: Request, session: Session) => {
      session.set('n', 2);
      return undefined;
    }) as never);
    for (const arriving of [undefined, cookie]) await expect(upgraded(request(arriving))).resolves.toBeUndefined();
    expect(counted.writes()).toBe(writes);
    expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: 1 });
  });

  it('gives back Response.error() as it is, commits nothing and does not throw', async () => {
    const { sessions, login, counted } = setup();
    const { cookie } = await login();
    const writes = counted.writes();
    const acts: ((s: Awaited<ReturnType<typeof sessions.start>>) => void)[] = [
      (s) => s.set('n', 2),
      (s) => s.regenerate(),
      (s) => s.destroy(),
    ];
    for (const arriving of [undefined, cookie]) {
      for (const act of acts) {
        const error = Response.error();
        const response = await sessions.handle((_req, session) => {
          act(session);
          return error;
        })(request(arriving));
        expect(response).toBe(error);
        expect(response.type).toBe('error');
        expect([...response.headers]).toEqual([]);
      }
    }
    // create() in the handler: not committed either (it was never stored).
    const error = Response.error();
    const response = await sessions.handle(async (req) => {
      await sessions.create(req, { data: { user: 'ada' } });
      return error;
    })(request());
    expect(response).toBe(error);
    expect(counted.writes()).toBe(writes);
    expect((await sessions.start(request(cookie))).getAll()).toEqual({ n: 1 });
  });

  it('adds private unless private or no-store is a directive of its own (private="set-cookie" is not)', async () => {
    const { sessions } = setup();
    const cases: [string, string][] = [
      ['private="set-cookie"', 'private="set-cookie", private'],
      ['public, private="set-cookie", max-age=60', 'public, private="set-cookie", max-age=60, private'],
      ['no-store="x", max-age=5', 'no-store="x", max-age=5, private'],
      ['no-cache, private', 'no-cache, private'],
      ['PRIVATE', 'PRIVATE'],
      ['max-age=0 , no-store', 'max-age=0 , no-store'],
    ];
    for (const [given, sent] of cases) {
      const response = await sessions.handle((_req, session) => {
        session.set('a', 1);
        return new Response('x', { headers: { 'Cache-Control': given } });
      })(request());
      expect(response.headers.get('Cache-Control'), given).toBe(sent);
    }
  });

  it('lets a store failure reach the caller as a SessionError', async () => {
    const sessions = createSessions({ store: failingStore(), secrets: [SECRET] });
    const fetch = sessions.handle((_req, session) => {
      session.set('a', 1);
      return new Response('ok');
    });
    await expect(fetch(request())).rejects.toMatchObject({
      code: 'STORE_WRITE',
      cause: expect.objectContaining({ message: 'backend down' }),
    });
  });
});

describe('several sessions on one request', () => {
  /** A manager on `clock` and `store`, with its own cookie name and secret. */
  const onClock = (clock: TestClock, store: SessionsOptions['store'], name?: string, secret = SECRET) =>
    createSessions({ store, secrets: [secret], now: clock.now, ...(name === undefined ? {} : { cookie: { name } }) });

  it('each manager reads its own cookie and adds its own headers', async () => {
    const clock = createClock();
    const auth = onClock(clock, createMemoryStore({ now: clock.now }), '__Host-auth');
    const prefs = onClock(clock, createMemoryStore({ now: clock.now }), 'prefs', OLD_SECRET);
    const first = request();
    const a = await auth.start(first);
    const p = await prefs.start(first);
    a.set('user', 'ada');
    p.set('theme', 'dark');
    const response = new Response('ok');
    for (const headers of [await a.commit(), await p.commit()]) {
      for (const line of headers.getSetCookie()) response.headers.append('Set-Cookie', line);
    }
    const lines = response.headers.getSetCookie();
    expect(lines.map((l) => l.split('=')[0])).toEqual(['__Host-auth', 'prefs']);
    const cookie = lines.map((l) => l.split(';')[0]).join('; ');
    const second = request(cookie);
    expect((await auth.start(second)).get('user')).toBe('ada');
    expect((await prefs.start(second)).get('theme')).toBe('dark');
    expect((await auth.start(second)).get('theme')).toBeUndefined();
  });

  it('commitAll commits a memory and a cookie-store session into one Headers, private once', async () => {
    const clock = createClock();
    const auth = onClock(clock, createMemoryStore({ now: clock.now }));
    const prefs = onClock(clock, createCookieStore(), 'prefs');
    const first = request();
    const a = await auth.start(first);
    const p = await prefs.start(first);
    a.set('user', 'ada');
    p.set('theme', 'dark');
    const headers = await commitAll(a, p, a);
    expect(headers.getSetCookie().map((l) => l.split('=')[0])).toEqual(['__Host-sid', 'prefs']);
    expect(headers.get('Cache-Control')).toBe('private');
    const second = request(cookiePair(headers));
    expect((await auth.start(second)).get('user')).toBe('ada');
    expect((await prefs.start(second)).get('theme')).toBe('dark');
    expect([...(await commitAll())]).toEqual([]);
  });

  it('commitAll commits the rest after a failure, then rejects: an AggregateError with their headers', async () => {
    const clock = createClock();
    const auth = onClock(clock, createMemoryStore({ now: clock.now }));
    const broken = onClock(clock, failingStore(), 'b');
    const req = request();
    const bad = await broken.start(req);
    const good = await auth.start(req);
    bad.set('x', 1);
    good.set('user', 'ada');
    const error = (await commitAll(bad, good).catch((e: unknown) => e)) as AggregateError & { headers: Headers };
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.message).toBe('edge-sessions: commitAll: 1 of 2 commits failed');
    expect(error.errors).toHaveLength(1);
    expect(error.errors[0]).toBeInstanceOf(SessionError);
    expect(error.errors[0]).toMatchObject({ code: 'STORE_WRITE' });
    // The session that did commit is stored, and its cookie is in `headers`.
    expect((await auth.start(request(cookiePair(error.headers)))).get('user')).toBe('ada');
  });
  it('commitAll refuses what is not a Session (a Promise not awaited…) before committing any', async () => {
    for (const store of ['memory', 'cookie'] as const) {
      const memory = createMemoryStore();
      const sessions = createSessions({ store: store === 'memory' ? memory : createCookieStore(), secrets: [SECRET] });
      const req = request();
      const valid = await sessions.start(req);
      valid.set('user', 'ada');
      const refusals: [unknown[], string][] = [
        [[valid, sessions.start(req)], 'argument 2 must be a Session, got a Promise (await it)'],
        [[undefined, valid], 'argument 1 must be a Session, got undefined'],
        [[valid, valid, { id: 'x', commit: () => new Headers() }], 'argument 3 must be a Session, got an object'],
        [[valid, null], 'argument 2 must be a Session, got null'],
        [[valid, 'session'], 'argument 2 must be a Session, got "session"'],
      ];
      for (const [given, message] of refusals) {
        const refused = commitAll(...(given as Session[]));
        await expect(refused).rejects.toThrow(SessionError);
        await expect(refused).rejects.toMatchObject({
          code: 'INVALID_OPTION',
          message: `edge-sessions: commitAll: ${message}`,
        });
      }
      // The valid session given alongside was not committed: its change is still there to commit, once.
      expect(await memory.count()).toBe(0);
      const lines = (await valid.commit()).getSetCookie();
      expect(lines).toHaveLength(1);
      expect((await sessions.start(request(lines[0]!.split(';')[0]))).get('user')).toBe('ada');
    }
  });

  it('two commits of one session at once apply its changes once: the second waits for the first', async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    const sessions = onClock(clock, store);
    // A new session: stored under one ID, one cookie between the two callers.
    const fresh = await sessions.start(request());
    fresh.set('n', 0);
    const [viaAll, direct] = await Promise.all([commitAll(fresh), fresh.commit()]);
    expect([...viaAll.getSetCookie(), ...direct.getSetCookie()]).toHaveLength(1);
    expect(await store.count()).toBe(1);
    const cookie = cookiePair(viaAll.getSetCookie().length > 0 ? viaAll : direct);
    // A stored one: an increment counted once, 20 times over.
    for (let i = 1; i <= 20; i++) {
      const s = await sessions.start(request(cookie));
      s.increment('n');
      await Promise.all([commitAll(s), commitAll(s), s.commit()]);
      expect((await sessions.start(request(cookie))).get('n')).toBe(i);
    }
  });

  it('a commit waiting for a failed one fails with it, and a later commit stores the change once', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    let down = false;
    const store: SessionStore = {
      ...memory,
      update: (...args) => (down ? Promise.reject(new Error('backend down')) : memory.update(...args)),
    };
    const sessions = onClock(clock, store);
    const s0 = await sessions.start(request());
    s0.set('n', 0);
    const cookie = cookiePair(await s0.commit());
    const s = await sessions.start(request(cookie));
    s.increment('n');
    down = true;
    const [first, second] = await Promise.allSettled([s.commit(), s.commit()]);
    expect(first).toMatchObject({ status: 'rejected', reason: { code: 'STORE_WRITE' } });
    expect(second).toMatchObject({ status: 'rejected', reason: { code: 'STORE_WRITE' } });
    expect((await sessions.start(request(cookie))).get('n')).toBe(0);
    down = false;
    await s.commit();
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });
});

describe('store failures lose nothing', () => {
  it('a failing read rejects start with STORE_READ and its cause; the cookie is not cleared', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    let down = false;
    const store: SessionStore = {
      ...memory,
      get: (k) => (down ? Promise.reject(new Error('read timeout')) : memory.get(k)),
    };
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
    const s = await sessions.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    down = true;
    const handler = sessions.handle(() => new Response('never'));
    const error = await handler(request(cookie)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(error).toMatchObject({
      code: 'STORE_READ',
      message: 'edge-sessions: memory store: get failed',
      cause: new Error('read timeout'),
    });
    down = false;
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  it('a synchronously throwing read is a STORE_READ too; a store verdict like STORE_LIMIT passes as is', async () => {
    const memory = createMemoryStore();
    let failure: unknown;
    const store: SessionStore = {
      ...memory,
      get: (k) => {
        if (failure !== undefined) throw failure;
        return memory.get(k);
      },
    };
    const sessions = createSessions({ store, secrets: [SECRET] });
    const s = await sessions.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    failure = new TypeError('not a function');
    await expect(sessions.start(request(cookie))).rejects.toMatchObject({ code: 'STORE_READ', cause: failure });
    failure = new SessionError('STORE_LIMIT', 'too many reads');
    await expect(sessions.start(request(cookie))).rejects.toBe(failure);
    failure = undefined;
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  it('a failing data write rejects commit with STORE_WRITE; the old record stays readable', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    let down = false;
    const store: SessionStore = {
      ...memory,
      update: (...a) => (down ? Promise.reject(new Error('write failed')) : memory.update(...a)),
    };
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now });
    const s = await sessions.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    down = true;
    const again = await sessions.start(request(cookie));
    again.set('n', 2);
    await expect(again.commit()).rejects.toMatchObject({ code: 'STORE_WRITE', cause: new Error('write failed') });
    down = false;
    expect((await sessions.start(request(cookie))).get('n')).toBe(1);
  });

  /** A memory store whose create or destroy can be made to fail, and a visitor with a stored cart. */
  async function visitorWithCart(failing: 'create' | 'destroy') {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    const fail = { on: false };
    const calls: string[] = [];
    const store: SessionStore = {
      ...memory,
      [failing]: (...a: unknown[]) => {
        calls.push(`${failing} ${String(a[0]).slice(0, 6)}`);
        return fail.on
          ? Promise.reject(new Error(`${failing} failed`))
          : (memory[failing] as (...b: unknown[]) => Promise<unknown>)(...a);
      },
    };
    const events: SessionEvent[] = [];
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, onEvent: (e) => events.push(e) });
    const anon = await sessions.start(request());
    anon.set('cart', [1, 2]);
    const cookie = cookiePair(await anon.commit());
    calls.length = 0;
    events.length = 0;
    return { sessions, memory, fail, calls, events, cookie, anonId: anon.id };
  }

  it('a login whose handler throws after create() leaves the visitor the session they had', async () => {
    const { sessions, memory, cookie, anonId } = await visitorWithCart('create');
    const app = sessions.handle(async (req) => {
      await sessions.create(req, { userId: 'bob' });
      throw new Error('second factor refused');
    });
    await expect(app(request(cookie))).rejects.toThrow('second factor refused');
    expect((await sessions.start(request(cookie))).get('cart')).toEqual([1, 2]);
    expect(await memory.get(anonId)).not.toBeNull();
  });

  it("a login whose new session's write fails rejects with STORE_WRITE and keeps the old session", async () => {
    const { sessions, fail, cookie } = await visitorWithCart('create');
    fail.on = true;
    const app = sessions.handle(async (req) => {
      await sessions.create(req, { userId: 'bob' });
      return new Response('signed in');
    });
    await expect(app(request(cookie))).rejects.toMatchObject({
      code: 'STORE_WRITE',
      cause: new Error('create failed'),
    });
    expect((await sessions.start(request(cookie))).get('cart')).toEqual([1, 2]);
  });

  it('a login whose end of the old session fails stores nothing new; a later commit does it all', async () => {
    const { sessions, memory, fail, calls, events, cookie, anonId } = await visitorWithCart('destroy');
    fail.on = true;
    const login = await sessions.create(request(cookie), { userId: 'bob' });
    const firstId = login.id;
    await expect(login.commit()).rejects.toMatchObject({ code: 'STORE_DELETE', cause: new Error('destroy failed') });
    expect(login.id).not.toBe(firstId); // a retry goes under a fresh ID (KV would store one under the ended ID)
    // The old session and its cookie work. The new record was to go again (here the store fails that too: no
    // cookie ever names it, and it expires).
    expect(calls).toEqual([`destroy ${anonId.slice(0, 6)}`, `destroy ${firstId.slice(0, 6)}`]);
    expect((await sessions.start(request(cookie))).get('cart')).toEqual([1, 2]);
    expect(events.filter((e) => e.type === 'created' || e.type === 'destroyed')).toEqual([]);
    // That the new record could not be removed is reported, not swallowed.
    expect(events).toMatchObject([
      { type: 'error', operation: 'destroy', id: firstId, error: { code: 'STORE_DELETE' } },
    ]);
    fail.on = false;
    const headers = await login.commit(); // under a fresh ID, and the old session ends now
    expect(login.id).not.toBe(firstId);
    expect(cookiePair(headers)).not.toBe(cookie);
    expect((await sessions.start(request(cookiePair(headers)))).userId).toBe('bob');
    expect((await sessions.start(request(cookie))).isNew).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['error', 'destroyed', 'created', 'rejected']);
  });

  it('two logins in one request: the old session ends with the one stored, and only then', async () => {
    const { sessions, memory, cookie, anonId } = await visitorWithCart('create');
    const req = request(cookie);
    const first = await sessions.create(req, { userId: 'bob' });
    const second = await sessions.create(req, { userId: 'ann' });
    expect(first.destroyed).toBe(true);
    expect(await memory.get(anonId)).not.toBeNull();
    expect([...(await first.commit())]).toEqual([]);
    const cookieOfAnn = cookiePair(await second.commit());
    expect(await memory.get(anonId)).toBeNull();
    expect((await sessions.start(request(cookieOfAnn))).userId).toBe('ann');
    expect(await memory.get(first.id)).toBeNull();
  });

  it('a failing touch-only write is reported through onEvent and the request succeeds', async () => {
    const { sessions, events, cookie } = await withFailingTouch(new Error('KV PUT failed: 429 Too Many Requests'));
    const headers = await (await sessions.start(request(cookie))).commit();
    expect(headers.getSetCookie()).toEqual([]);
    const event = events.at(-1);
    expect(event).toMatchObject({ type: 'error', operation: 'touch', error: { code: 'STORE_WRITE' } });
    expect((event as { error: SessionError }).error.cause).toEqual(new Error('KV PUT failed: 429 Too Many Requests'));
  });
});

describe('events', () => {
  it('reports created, updated, destroyed and expired, with the ID, never the cookie', async () => {
    const { sessions, login, clock, events } = setup();
    const { session, cookie } = await login();
    const s = await sessions.start(request(cookie));
    s.set('n', 2);
    await s.commit();
    clock.advanceSec(3600);
    await sessions.start(request(cookie));
    const other = await login();
    await sessions.destroy(request(other.cookie));
    expect(events.map((e) => e.type)).toEqual(['created', 'updated', 'expired', 'created', 'destroyed']);
    const at = clock.now() - 3_600_000;
    expect(events[0]).toEqual({ type: 'created', id: session.id, maskedId: session.maskedId, at });
    const expired = { type: 'expired', id: session.id, maskedId: session.maskedId, reason: 'lifetime' };
    expect(events[2]).toEqual({ ...expired, at: clock.now() });
    expect(JSON.stringify(events)).not.toContain(cookie.split('.')[1]!.slice(2, 22));
  });

  it("carries the session's userId and full ID on each event about it, the previous ID on regenerated", async () => {
    const { sessions, clock, events } = setup({ idleTimeout: 600, touchAfter: 0 });
    const s = await sessions.create(request(), { userId: 'ada' });
    const cookie = cookiePair(await s.commit());
    const first = s.id;
    const again = await sessions.start(request(cookie));
    again.set('n', 1);
    again.regenerate();
    const moved = cookiePair(await again.commit());
    const later = await sessions.start(request(moved));
    later.set('n', 2);
    await later.commit();
    clock.advanceSec(600);
    await sessions.start(request(moved));
    const other = await sessions.create(request(), { userId: 'ada' });
    await other.commit();
    await sessions.destroyByUser('ada');
    const who = { userId: 'ada', at: expect.any(Number) };
    expect(events).toEqual([
      { type: 'created', id: first, maskedId: maskId(first), ...who },
      {
        type: 'regenerated',
        id: again.id,
        maskedId: again.maskedId,
        previousId: first,
        previousMaskedId: maskId(first),
        ...who,
      },
      { type: 'updated', id: again.id, maskedId: again.maskedId, ...who },
      { type: 'expired', id: again.id, maskedId: again.maskedId, reason: 'idle', ...who },
      { type: 'created', id: other.id, maskedId: other.maskedId, ...who },
      { type: 'destroyed', id: other.id, maskedId: other.maskedId, ...who },
    ]);
  });

  it('an onEvent hook that throws does not break the request', async () => {
    const sessions = createSessions({
      store: createMemoryStore(),
      secrets: [SECRET],
      onEvent: () => {
        throw new Error('logger down');
      },
    });
    const s = await sessions.start(request());
    s.set('a', 1);
    expect((await s.commit()).getSetCookie()).toHaveLength(1);
  });
});

describe('background work through ctx.waitUntil', () => {
  function backgroundContext() {
    const pending: Promise<unknown>[] = [];
    return { pending, ctx: { waitUntil: (p: Promise<unknown>) => void pending.push(p) } };
  }

  it('awaits an expiry-only write even with a ctx: no cookie before the store says the session lives', async () => {
    const clock = createClock();
    const memory = createMemoryStore({ now: clock.now });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sent: SessionChanges[] = [];
    const store: SessionStore = {
      ...memory,
      update: async (id, changes, times) => {
        sent.push(changes);
        await gate;
        return memory.update(id, changes, times);
      },
    };
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, idleTimeout: 600 });
    const s = await sessions.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    clock.advanceSec(120);

    const { pending, ctx } = backgroundContext();
    const fetch = sessions.handle(
      (_req, session, _env: unknown, _ctx: typeof ctx) => new Response(String(session.get('n'))),
    );
    let answered = false;
    const response = fetch(request(cookie), {}, ctx).then((r) => ((answered = true), r));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(answered).toBe(false);
    expect(sent).toEqual([{}]); // an expiry-only write: no changes
    release();
    expect((await response).headers.getSetCookie()).toHaveLength(1);
    expect(pending).toHaveLength(0);
    expect((await memory.get(s.id))?.expiresAt).toBe(clock.now() + 600_000);
  });

  it('a touch finding its session moved by a login meanwhile sends no cookie (it would undo the login)', async () => {
    const clock = createClock();
    const sessions = createSessions({
      store: createMemoryStore({ now: clock.now }),
      secrets: [SECRET],
      now: clock.now,
      idleTimeout: 600,
    });
    const s = await sessions.start(request());
    s.set('n', 1);
    const cookie = cookiePair(await s.commit());
    clock.advanceSec(120);
    const { ctx } = backgroundContext();
    const late = await sessions.start(request(cookie), ctx);
    const login = await sessions.start(request(cookie));
    login.regenerate();
    const renewed = cookiePair(await login.commit());
    expect((await late.commit()).getSetCookie()).toEqual([]);
    expect(late.destroyed).toBe(true);
    expect((await sessions.start(request(renewed))).get('n')).toBe(1);
  });

  it('reports a failing touch through onEvent and answers without a cookie, never with an exception', async () => {
    const { sessions, events, cookie } = await withFailingTouch(new Error('429'));
    const { pending, ctx } = backgroundContext();
    expect((await (await sessions.start(request(cookie), ctx)).commit()).getSetCookie()).toEqual([]);
    expect(pending).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'error', operation: 'touch' });
  });

  it('hands a promise returned by onEvent to waitUntil and swallows its rejection', async () => {
    const { pending, ctx } = backgroundContext();
    const sessions = createSessions({
      store: createMemoryStore(),
      secrets: [SECRET],
      onEvent: () => Promise.reject(new Error('log sink down')),
    });
    const s = await sessions.start(request(), ctx);
    s.set('a', 1);
    expect((await s.commit()).getSetCookie()).toHaveLength(1);
    expect(pending).toHaveLength(1);
    await expect(pending[0]).resolves.toBeUndefined();
  });
});

/** A stored session (idle timeout 600 s) on a store whose update fails with `error`, 120 s later: a touch is due. */
async function withFailingTouch(error: Error) {
  const clock = createClock();
  const memory = createMemoryStore({ now: clock.now });
  const store: SessionStore = { ...memory, update: () => Promise.reject(error) };
  const events: SessionEvent[] = [];
  const sessions = createSessions({
    store,
    secrets: [SECRET],
    now: clock.now,
    idleTimeout: 600,
    onEvent: (e) => events.push(e),
  });
  const s = await sessions.start(request());
  s.set('n', 1);
  const cookie = cookiePair(await s.commit());
  clock.advanceSec(120);
  return { sessions, events, cookie };
}
