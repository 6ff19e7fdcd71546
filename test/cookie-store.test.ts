import fc from 'fast-check';
import { subtle } from 'uncrypto';
import { createSessions, type SessionEvent } from '../src/index.js';
import { createCookieStore, type CookieStoreOptions } from '../src/cookie-store.js';
import { readSealedCookies, sealedCookieLines } from '../src/lib/chunk-cookies.js';
import { readCookie, type CookieAttributes } from '../src/lib/cookie.js';
import { HmacKey } from '../src/lib/hmac-sha256.js';
import { SYNC_MAX_BYTES } from '../src/lib/signed-payload.js';
import { fromBase64Url, fromLongBase64Url, toBase64Url } from '../src/lib/encoding.js';
import { createMemoryStore } from '../src/memory.js';
import { describeStoreConformance } from './conformance.js';
import { describe, expect, it, vi } from './harness.js';
import { cookiePair, createClock, createJar, OLD_SECRET, request, SECRET, webHmacKey } from './helpers.js';

describeStoreConformance('cookie', () => createCookieStore(), { stateless: true });
describeStoreConformance('cookie (signed only)', () => createCookieStore({ encrypt: false }), {
  stateless: true,
  encrypts: false,
});

/** The two forms of the store. */
const FORMS = [
  { name: 'sealed', options: {} },
  { name: 'signed only', options: { encrypt: false } },
] as const satisfies readonly { name: string; options: CookieStoreOptions }[];

/**
 * Counts what opens a value: a WebCrypto decryption in the sealed form; in the signed form an HMAC, in JavaScript
 * up to SYNC_MAX_BYTES (256 bytes in workerd, 2 KB elsewhere) and by WebCrypto (a `sign`, compared in full) above.
 */
function countOpens(form: (typeof FORMS)[number]) {
  const spies =
    form.name === 'sealed'
      ? [vi.spyOn(subtle, 'decrypt')]
      : [vi.spyOn(subtle, 'sign'), vi.spyOn(HmacKey.prototype, 'tagInto')];
  return {
    count: () => spies.reduce((n, spy) => n + spy.mock.calls.length, 0),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

function setupWith(options: CookieStoreOptions) {
  const clock = createClock();
  const events: SessionEvent[] = [];
  const sessions = createSessions({
    store: createCookieStore(options),
    secrets: [SECRET],
    now: clock.now,
    expires: 3600,
    onEvent: (e) => events.push(e),
  });
  return { clock, events, sessions, jar: createJar() };
}

/** 3,000 characters that do not compress: a value that needs about one cookie of its own. */
function noise(seed: number): string {
  let out = '';
  let x = seed;
  for (let i = 0; i < 3000; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out += String.fromCharCode(97 + (x % 26));
  }
  return out;
}

/** Each Set-Cookie line as its cookie name, marked when it expires the cookie. */
function named(headers: Headers): string[] {
  return headers.getSetCookie().map((l) => `${l.split('=')[0]}${l.includes('Max-Age=0;') ? ' Max-Age=0' : ''}`);
}

/** `headers` rewrite the main cookie and expire both chunk cookies of a large session: one cookie is left. */
function applyOneCookieLeft(headers: Headers, jar: ReturnType<typeof createJar>): void {
  expect(named(headers)).toEqual(['__Host-sid', '__Host-sid.1 Max-Age=0', '__Host-sid.2 Max-Age=0']);
  jar.apply(headers);
  expect(jar.size).toBe(1);
}

/** A session of two noise values, three cookies, committed into `jar`. */
async function storeLargeSession(
  sessions: ReturnType<typeof setupWith>['sessions'],
  jar: ReturnType<typeof createJar>,
): Promise<void> {
  const s = await sessions.start(request());
  s.set('a', noise(1));
  s.set('b', noise(2));
  jar.apply(await s.commit());
  expect(jar.size).toBe(3);
}

for (const form of FORMS) {
  describe(`cookie store, ${form.name}`, () => {
    const store = () => createCookieStore(form.options);
    const setup = (maxChunks?: number) =>
      setupWith({ ...form.options, ...(maxChunks === undefined ? {} : { maxChunks }) });

    it('refuses an unknown option, a non-boolean encrypt and a maxChunks outside 1–10 at construction', () => {
      expect(() => createCookieStore({ encrpyt: false } as CookieStoreOptions)).toThrow(
        expect.objectContaining({
          code: 'INVALID_OPTION',
          message: 'edge-sessions: createCookieStore: unknown option "encrpyt"',
        }),
      );
      expect(() => createCookieStore({ encrypt: 'false' as unknown as boolean })).toThrow(
        /cookie store: encrypt must be true or false, got "false"/,
      );
      expect(() => createCookieStore({ maxChunks: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
      expect(() => createCookieStore({ maxChunks: 11 })).toThrow(/maxChunks must be an integer from 1 to 10/);
      expect(() => createCookieStore({ maxChunks: 1.5 })).toThrow(/maxChunks/);
      // Values named as every option message names them: a string quoted, a bigint (no JSON) as itself.
      expect(() => createCookieStore({ maxChunks: '3' as unknown as number })).toThrow(/maxChunks .* got "3"$/);
      expect(() => createCookieStore({ encrypt: 1n as unknown as boolean })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/encrypt .* got 1$/) }),
      );
    });

    if (form.name === 'sealed') {
      it('keeps the data in the cookie, sealed: nothing readable, no server state', async () => {
        const { sessions, jar } = setup();
        const s = await sessions.start(request());
        s.set('email', 'ada@example.com');
        jar.apply(await s.commit());
        expect(jar.header()).toMatch(/^__Host-sid=1\.[A-Za-z0-9_-]{4}\.[A-Za-z0-9_-]+$/);
        // Neither the cookie text nor the bytes it encodes hold the plaintext (a 3-letter check would be flaky).
        const bytes = fromBase64Url(jar.header()!.split('.').at(-1)!)!;
        expect(String.fromCharCode(...bytes)).not.toContain('ada@example.com');
        expect(jar.header()).not.toContain('example');
        const fresh = createSessions({ store: store(), secrets: [SECRET], now: createClock().now });
        expect((await fresh.start(request(jar.header()))).get('email')).toBe('ada@example.com');
      });
    } else {
      it('keeps the data in the cookie, signed: readable by the client, no server state', async () => {
        const { sessions, jar } = setup();
        const s = await sessions.start(request());
        s.set('email', 'ada@example.com');
        jar.apply(await s.commit());
        expect(jar.header()).toMatch(/^__Host-sid=1\.[A-Za-z0-9_-]{4}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
        const payload = jar.header()!.split('.')[2]!;
        const readable = JSON.parse(new TextDecoder().decode(fromLongBase64Url(payload)!)) as {
          i: string;
          r: { data: Record<string, string> };
        };
        expect(readable.i).toBe(s.id);
        expect(JSON.parse(readable.r.data.email!)).toBe('ada@example.com');
        const fresh = createSessions({ store: store(), secrets: [SECRET], now: createClock().now });
        expect((await fresh.start(request(jar.header()))).get('email')).toBe('ada@example.com');
      });

      it('refuses a value the client changed, re-encoded or cut, reading it as no session', async () => {
        const { sessions, jar, events } = setup();
        const s = await sessions.start(request());
        s.set('role', 'guest');
        jar.apply(await s.commit());
        const [prefix, kid, payload, tag] = jar.header()!.split('.') as [string, string, string, string];
        const record = JSON.parse(new TextDecoder().decode(fromLongBase64Url(payload)!)) as {
          r: { data: Record<string, string> };
        };
        record.r.data.role = JSON.stringify('admin');
        const changed = toBase64Url(new TextEncoder().encode(JSON.stringify(record)));
        const forgeries = [
          `${prefix}.${kid}.${changed}.${tag}`, // the client's own edit, old tag
          `${prefix}.${kid}.${payload.slice(0, -1)}.${tag}`, // cut
          `${prefix}.${kid}.${payload}.${tag.slice(0, -1)}${tag.endsWith('A') ? 'E' : 'A'}`, // another tag
          `${prefix}.${kid}.${payload}`, // no tag
        ];
        for (const forged of forgeries) {
          const back = await sessions.start(request(forged));
          expect(back.isNew).toBe(true);
          expect(back.get('role')).toBeUndefined();
        }
        expect(events.filter((e) => e.type === 'rejected')).toHaveLength(forgeries.length);
        expect((await sessions.start(request(jar.header()))).get('role')).toBe('guest');
      });

      it('tries the next secret when two share a kid: only the one that signed opens it', async () => {
        // Two secrets whose signing keys share the 4-character kid q_xf (found by search; 24 bits collide often).
        const x = 'collide-secret-4758-'.padEnd(40, 'z');
        const y = 'collide-secret-7108-'.padEnd(40, 'z');
        const { sealer } = store();
        const value = await sealer.seal('{"n":1}', [x], 'sid');
        expect(value.slice(0, 4)).toBe('q_xf');
        expect((await sealer.seal('{"n":1}', [y], 'sid')).slice(0, 4)).toBe('q_xf');
        expect(await sealer.open(value, [y], 'sid')).toBeNull();
        expect(await sealer.open(value, [y, x], 'sid')).toEqual({ plaintext: '{"n":1}', stale: true });
        expect(await sealer.open(value, [x, y], 'sid')).toEqual({ plaintext: '{"n":1}', stale: false });
      });

      it('signs with a key of its own: a signed ID or a sealed value never opens as a signed one', async () => {
        const clock = createClock();
        const signed = createSessions({ store: store(), secrets: [SECRET], now: clock.now });
        const sealed = createSessions({ store: createCookieStore(), secrets: [SECRET], now: clock.now });
        const byId = createSessions({ store: createMemoryStore(), secrets: [SECRET], now: clock.now });
        for (const other of [sealed, byId]) {
          const s = await other.start(request());
          s.set('n', 1);
          const cookie = cookiePair(await s.commit());
          expect((await signed.start(request(cookie))).isNew).toBe(true);
        }
        const s = await signed.start(request());
        s.set('n', 1);
        expect((await sealed.start(request(cookiePair(await s.commit())))).isNew).toBe(true);
      });

      it("refuses a tag made with the ID signer's key (the raw secret) or under the sealed form's kid", async () => {
        const { sealer } = store();
        const good = await sealer.seal('{"n":1}', [SECRET], 'sid');
        const [kid, text] = good.split('.') as [string, string, string];
        const sealedKid = (await createCookieStore().sealer.seal('{"n":1}', [SECRET], 'sid')).slice(0, 4);
        expect(sealedKid).not.toBe(kid);
        const raw = await webHmacKey(SECRET);
        const rawTag = toBase64Url(
          new Uint8Array(await subtle.sign('HMAC', raw, new TextEncoder().encode(`sid=${text}`))),
        );
        expect(await sealer.open(`${kid}.${text}.${rawTag}`, [SECRET], 'sid')).toBeNull();
        expect(await sealer.open(good, [SECRET], 'sid')).toEqual({ plaintext: '{"n":1}', stale: false });
      });

      it('cuts at 256 signed bytes in workerd and at 2 KB on Node, Deno and Bun', () => {
        // workerd's user agent (the vitest pool has the global navigator): not the mark under test.
        const workerd = globalThis.navigator?.userAgent === 'Cloudflare-Workers';
        expect(SYNC_MAX_BYTES).toBe(workerd ? 256 : 2048);
      });

      it('tags short payloads in JavaScript and long ones with WebCrypto: one key, one HMAC', async () => {
        // The key as WebCrypto's deriveKey makes it from the secret: what signed every cookie so far.
        const base = await subtle.importKey('raw', new TextEncoder().encode(SECRET), { name: 'HKDF' }, false, [
          'deriveKey',
        ]);
        const hkdf = {
          name: 'HKDF',
          hash: 'SHA-256',
          salt: new TextEncoder().encode('edge-sessions/cookie-store/v1'),
          info: new TextEncoder().encode('hmac-sha-256 signed payload'),
        };
        const reference = await subtle.deriveKey(hkdf, base, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, [
          'sign',
        ]);
        const { sealer } = store();
        const sign = vi.spyOn(subtle, 'sign');
        const verify = vi.spyOn(subtle, 'verify');
        const mac = vi.spyOn(HmacKey.prototype, 'tagInto');
        try {
          // `sid=` + base64url of the plaintext: the longest that fits SYNC_MAX_BYTES (JavaScript), then one more
          // byte of plaintext, two more signed (WebCrypto). In workerd, 4 + 252 = 256 bytes, then 4 + 254.
          const longest = Math.floor(((SYNC_MAX_BYTES - 4) * 3) / 4);
          for (const [plaintext, web] of [
            ['x'.repeat(longest), false],
            ['x'.repeat(longest + 1), true],
            ['{"n":1}', false],
          ] as const) {
            sign.mockClear();
            mac.mockClear();
            const value = await sealer.seal(plaintext, [SECRET], 'sid');
            const [, text, tag] = value.split('.') as [string, string, string];
            expect(new TextEncoder().encode(`sid=${text}`).length > SYNC_MAX_BYTES).toBe(web);
            expect(sign.mock.calls.length, `WebCrypto calls for ${plaintext.length} characters`).toBe(web ? 1 : 0);
            expect(mac.mock.calls.length).toBe(web ? 0 : 1);
            const expected = await subtle.sign('HMAC', reference, new TextEncoder().encode(`sid=${text}`));
            expect(tag).toBe(toBase64Url(new Uint8Array(expected)));
            mac.mockClear();
            sign.mockClear();
            expect(await sealer.open(value, [SECRET], 'sid')).toEqual({ plaintext, stale: false });
            // Checking computes the tag by the same rule as signing, and compares it in full.
            expect(sign.mock.calls.length, `WebCrypto tags for ${plaintext.length} characters`).toBe(web ? 1 : 0);
            expect(mac.mock.calls.length).toBe(web ? 0 : 1);
            expect(verify).not.toHaveBeenCalled();
            expect(
              await sealer.open(
                `${value.slice(0, -2)}${value.at(-2) === 'A' ? 'B' : 'A'}${value.at(-1)}`,
                [SECRET],
                'sid',
              ),
            ).toBeNull();
          }
        } finally {
          sign.mockRestore();
          verify.mockRestore();
          mac.mockRestore();
        }
      });
    }

    it('splits a large session over numbered cookies, each line at most 4096 bytes', async () => {
      const { sessions, jar } = setup();
      const s = await sessions.start(request());
      s.set('a', noise(1));
      s.set('b', noise(2));
      const headers = await s.commit();
      const lines = headers.getSetCookie();
      expect(lines.map((l) => l.split('=')[0])).toEqual(['__Host-sid', '__Host-sid.1', '__Host-sid.2']);
      for (const line of lines) expect(new TextEncoder().encode(line).length).toBeLessThanOrEqual(4096);
      expect(lines[0]).toMatch(/^__Host-sid=3\./);
      jar.apply(headers);
      const back = await sessions.start(request(jar.header()));
      expect(back.get('a')).toBe(noise(1));
      expect(back.get('b')).toBe(noise(2));
    });

    it('expires the chunk cookies a shrinking session no longer needs', async () => {
      const { sessions, jar } = setup();
      await storeLargeSession(sessions, jar);
      const next = await sessions.start(request(jar.header()));
      next.delete('a');
      next.delete('b');
      const headers = await next.commit();
      applyOneCookieLeft(headers, jar);
      expect((await sessions.start(request(jar.header()))).isNew).toBe(false);
    });

    it('create() over a large session expires the chunk cookies the new one does not use', async () => {
      const { sessions, jar } = setup();
      await storeLargeSession(sessions, jar);
      const login = await sessions.create(request(jar.header()), { data: { user: 'u-1' } });
      const headers = await login.commit();
      applyOneCookieLeft(headers, jar);
      const back = await sessions.start(request(jar.header()));
      expect(back.get('user')).toBe('u-1');
      expect(back.has('a')).toBe(false);
    });

    it('reads back a session spread over all 10 cookies that maxChunks allows (a two-digit count)', async () => {
      const { sessions, jar } = setup(10);
      const s = await sessions.start(request());
      for (let i = 0; i < 9; i++) s.set(`k${i}`, noise(i + 1));
      jar.apply(await s.commit());
      expect(jar.size).toBe(10);
      const back = await sessions.start(request(jar.header()));
      expect(back.isNew).toBe(false);
      expect(back.get('k8')).toBe(noise(9));
    });

    it("leaves alone cookies named like its chunks when its own is absent (another manager's `sid.1`)", async () => {
      const { sessions } = setup();
      const s = await sessions.start(request('__Host-sid.1=someone-elses; __Host-sid.2=x'));
      expect(s.isNew).toBe(true);
      s.set('a', 1);
      expect(named(await s.commit())).toEqual(['__Host-sid']);
      expect((await (await sessions.start(request('__Host-sid.1=someone-elses'))).commit()).getSetCookie()).toEqual([]);
    });

    it('trusts no changeable secrets array: a cached value needs its secret still listed', async () => {
      const { sealer } = store();
      const secrets = [SECRET];
      const value = await sealer.seal('{"n":1}', secrets, 'sid');
      expect(await sealer.open(value, secrets, 'sid')).toEqual({ plaintext: '{"n":1}', stale: false }); // cached now
      secrets[0] = OLD_SECRET;
      expect(await sealer.open(value, secrets, 'sid')).toBeNull();
    });

    it('answers from its caches only for the secrets and cookie name a value was opened under', async () => {
      const { sealer } = store();
      const mine = Object.freeze([SECRET]);
      const theirs = Object.freeze([OLD_SECRET]);
      const value = await sealer.seal('{"n":1}', mine, 'sid');
      const opened = { plaintext: '{"n":1}', stale: false };
      // Refused for others first (a forgery for them), then opened for its own, in either order and again.
      expect(await sealer.open(value, theirs, 'sid')).toBeNull();
      expect(await sealer.open(value, mine, 'sid')).toEqual(opened);
      expect(await sealer.open(value, theirs, 'sid')).toBeNull();
      expect(await sealer.open(value, mine, 'other')).toBeNull();
      expect(await sealer.open(value, mine, 'sid')).toEqual(opened);
      // Rotation: listed second, its secret opens it marked stale, though the text is cached as current; the order
      // of the list is part of the scope, so the same secrets in the other order are answered afresh.
      expect(await sealer.open(value, Object.freeze([OLD_SECRET, SECRET]), 'sid')).toEqual({ ...opened, stale: true });
      expect(await sealer.open(value, Object.freeze([SECRET, OLD_SECRET]), 'sid')).toEqual(opened);
    });

    it('keeps managers with different secrets apart in its seal cache (a NUL-joined secret is not two)', async () => {
      const a = 'a'.repeat(32);
      const b = 'b'.repeat(32);
      const shared = store();
      const pair = createSessions({ store: shared, secrets: [a, b] });
      const joined = createSessions({ store: shared, secrets: [`${a}\u0000${b}`] });
      const s = await pair.start(request());
      s.set('x', 1);
      const jar = createJar();
      jar.apply(await s.commit());
      expect((await pair.start(request(jar.header()))).get('x')).toBe(1); // now in the cache
      expect((await joined.start(request(jar.header()))).isNew).toBe(true);
    });

    it('fails beyond maxChunks with COOKIE_TOO_LARGE and writes nothing', async () => {
      const { sessions, jar } = setup(2);
      const s = await sessions.start(request());
      s.set('n', 1);
      jar.apply(await s.commit());
      const before = jar.header();
      const next = await sessions.start(request(before));
      next.set('a', noise(1));
      next.set('b', noise(2));
      await expect(next.commit()).rejects.toMatchObject({
        code: 'COOKIE_TOO_LARGE',
        message: expect.stringMatching(/needs 3 cookies.*maxChunks \(2\); nothing was written/),
      });
      expect((await sessions.start(request(before))).get('n')).toBe(1);
    });

    it('rejects a missing, altered or swapped chunk, answering nothing; a next write clears stale chunks', async () => {
      const { sessions, jar, events } = setup();
      const s = await sessions.start(request());
      s.set('a', noise(1));
      s.set('b', noise(2));
      jar.apply(await s.commit());
      const header = jar.header()!;
      const missing = header.replace(/; __Host-sid\.1=[^;]*/, '');
      const altered = header.replace(/(__Host-sid\.1=.)(.)/, (_, a: string, b: string) => a + (b === 'A' ? 'B' : 'A'));
      const swapped = header.replace(
        /__Host-sid\.1=([^;]*); __Host-sid\.2=([^;]*)/,
        '__Host-sid.1=$2; __Host-sid.2=$1',
      );
      for (const cookie of [missing, altered, swapped]) {
        const bad = await sessions.start(request(cookie));
        expect(bad.isNew).toBe(true);
        expect((await bad.commit()).getSetCookie()).toEqual([]); // as for a visitor without a cookie
      }
      const fresh = await sessions.start(request(missing));
      fresh.set('n', 1);
      expect(named(await fresh.commit())).toEqual(['__Host-sid', '__Host-sid.1 Max-Age=0', '__Host-sid.2 Max-Age=0']);
      expect(events.filter((e) => e.type === 'rejected').map((e) => (e as { reason: string }).reason)).toEqual([
        'malformed',
        'signature',
        'signature',
        'malformed',
      ]);
    });

    it('enforces expiry from the sealed times, whatever the cookie says', async () => {
      const { sessions, jar, clock, events } = setup();
      const s = await sessions.start(request());
      s.set('n', 1);
      jar.apply(await s.commit());
      clock.advanceSec(3599);
      expect((await sessions.start(request(jar.header()))).get('n')).toBe(1);
      clock.advanceSec(1);
      expect((await sessions.start(request(jar.header()))).isNew).toBe(true);
      expect(events.at(-1)).toMatchObject({ type: 'expired', reason: 'lifetime' });
    });

    it('opens cookies sealed under an older secret and reseals them under secrets[0]', async () => {
      const clock = createClock();
      const jar = createJar();
      const before = createSessions({ store: store(), secrets: [OLD_SECRET], now: clock.now });
      const s = await before.start(request());
      s.set('n', 1);
      jar.apply(await s.commit());
      const old = jar.header();

      const rotated = createSessions({ store: store(), secrets: [SECRET, OLD_SECRET], now: clock.now });
      const again = await rotated.start(request(old));
      expect(again.get('n')).toBe(1);
      jar.apply(await again.commit()); // nothing changed, but the seal is renewed
      expect(jar.header()).not.toBe(old);

      const retired = createSessions({ store: store(), secrets: [SECRET], now: clock.now });
      expect((await retired.start(request(old))).isNew).toBe(true);
      expect((await retired.start(request(jar.header()))).get('n')).toBe(1);
    });

    it('binds the seal to the cookie name', async () => {
      const clock = createClock();
      const a = createSessions({ store: store(), secrets: [SECRET], now: clock.now, cookie: { name: 'a' } });
      const b = createSessions({ store: store(), secrets: [SECRET], now: clock.now, cookie: { name: 'b' } });
      const s = await a.start(request());
      s.set('n', 1);
      const value = (await s.commit()).getSetCookie()[0]!.split(';')[0]!.slice(2);
      expect((await a.start(request(`a=${value}`))).get('n')).toBe(1);
      expect((await b.start(request(`b=${value}`))).isNew).toBe(true);
    });

    it('opens a value at most twice per isolate, and remembers a forgery too', async () => {
      const { sessions, jar } = setup();
      const s = await sessions.start(request());
      s.set('n', 1);
      jar.apply(await s.commit());
      const forged = jar.header()!.slice(0, -2) + (jar.header()!.at(-2) === 'A' ? 'B' : 'A') + jar.header()!.at(-1);
      const opens = countOpens(form);
      try {
        for (let i = 0; i < 3; i++) {
          expect((await sessions.start(request(jar.header()))).get('n')).toBe(1);
          expect((await sessions.start(request(forged))).isNew).toBe(true);
        }
        // Each value is opened on its first and second sighting, which caches it; the third is free.
        expect(opens.count()).toBe(4);
      } finally {
        opens.restore();
      }
    });

    it('forgeries keep no valid value out of the cache; those naming no secret cost nothing and stay out', async () => {
      const { sessions, jar } = setup();
      const s = await sessions.start(request());
      s.set('n', 1);
      jar.apply(await s.commit());
      const header = jar.header()!;
      const kid = header.slice(header.indexOf('=1.') + 3, header.indexOf('=1.') + 7);
      const unknown = kid === 'ZZZZ' ? 'YYYY' : 'ZZZZ';
      const opens = countOpens(form);
      try {
        expect((await sessions.start(request(header))).get('n')).toBe(1);
        expect(opens.count()).toBe(1);
        // Forgeries that cost crypto, far more than the table of sightings of opened values has slots (256): they
        // have a table of their own.
        const text = header.slice(header.indexOf('=1.') + 8);
        for (let i = 0; i < 3000; i++) {
          // Each its own last 16 characters (what a sighting is told apart by), the last two kept canonical.
          const costly = `__Host-sid=1.${kid}.${text.slice(0, -12)}${String(i).padStart(10, '0')}${text.slice(-2)}`;
          expect((await sessions.start(request(costly))).isNew).toBe(true);
        }
        expect(opens.count()).toBe(3001);
        // More than either table of sightings has slots: none of them costs crypto, none takes a slot.
        for (let i = 0; i < 1000; i++) {
          const junk = `__Host-sid=1.${unknown}.${String(i).padStart(100, 'A')}`;
          expect((await sessions.start(request(junk))).isNew).toBe(true);
        }
        expect(opens.count()).toBe(3001);
        expect((await sessions.start(request(header))).get('n')).toBe(1); // the second sighting: opened, cached
        expect((await sessions.start(request(header))).get('n')).toBe(1);
        expect(opens.count()).toBe(3002);
        // Nor do they push out a forgery that costs crypto, even sent twice each (as one remembered would be).
        const forged = header.slice(0, -2) + (header.at(-2) === 'A' ? 'B' : 'A') + header.at(-1);
        for (let k = 0; k < 2; k++) expect((await sessions.start(request(forged))).isNew).toBe(true);
        expect(opens.count()).toBe(3004);
        for (let i = 0; i < 300; i++) {
          const junk = `__Host-sid=1.${unknown}.${String(i).padStart(100, 'B')}`;
          for (let k = 0; k < 2; k++) expect((await sessions.start(request(junk))).isNew).toBe(true);
        }
        expect((await sessions.start(request(forged))).isNew).toBe(true);
        expect(opens.count()).toBe(3004);
      } finally {
        opens.restore();
      }
    });

    it('a forgery naming no secret costs no crypto however many secrets are listed (70: over 64 kept)', async () => {
      // lib/derived-key.ts keeps 64 derived keys per purpose: a longer list must not derive them all on each request.
      const secrets = Array.from({ length: 70 }, (_, i) => `${String(i).padStart(2, '0')}${SECRET}`);
      const sessions = createSessions({ store: store(), secrets });
      const s = await sessions.start(request());
      s.set('n', 1);
      const pair = cookiePair(await s.commit());
      const kid = pair.slice(pair.indexOf('=1.') + 3, pair.indexOf('=1.') + 7);
      const forged = pair.replace(`=1.${kid}.`, `=1.${kid === 'ZZZZ' ? 'YYYY' : 'ZZZZ'}.`);
      expect((await sessions.start(request(forged))).isNew).toBe(true); // the keys are derived by now
      const derivations = [
        vi.spyOn(subtle, 'importKey'),
        vi.spyOn(subtle, 'deriveKey'),
        vi.spyOn(subtle, 'deriveBits'),
      ];
      const opens = countOpens(form);
      try {
        for (let i = 0; i < 3; i++) expect((await sessions.start(request(forged))).isNew).toBe(true);
        expect((await sessions.start(request(pair))).get('n')).toBe(1);
        expect(derivations.map((spy) => spy.mock.calls.length)).toEqual([0, 0, 0]);
        expect(opens.count()).toBe(1);
      } finally {
        derivations.forEach((spy) => spy.mockRestore());
        opens.restore();
      }
    });

    it('refuses a secret with a lone surrogate, which UTF-8 makes the key of another secret', async () => {
      // TextEncoder writes every lone surrogate as U+FFFD: `…\uD800` would seal and sign as `…\uFFFD` does.
      const mine = createSessions({ store: store(), secrets: [`${SECRET}\uFFFD`] });
      let theirs: ReturnType<typeof createSessions>;
      try {
        theirs = createSessions({ store: store(), secrets: [`${SECRET}\uD800`] });
      } catch (error) {
        expect(error).toMatchObject({ code: 'WEAK_SECRET' });
        return;
      }
      const s = await mine.start(request());
      s.set('n', 1);
      expect((await theirs.start(request(cookiePair(await s.commit())))).isNew).toBe(true);
    });

    it("a write or a logout expires no other manager's cookie named like a chunk of this one (prefs.1)", async () => {
      const prefs = createSessions({
        store: createCookieStore(form.options),
        secrets: [SECRET],
        cookie: { name: 'prefs' },
      });
      const other = createSessions({ store: createMemoryStore(), secrets: [SECRET], cookie: { name: 'prefs.1' } });
      const jar = createJar();
      const p = await prefs.start(request());
      p.set('theme', 'dark');
      jar.apply(await p.commit());
      const o = await other.start(request());
      o.set('user', 'ada');
      jar.apply(await o.commit());
      expect(jar.header()).toMatch(/prefs\.1=/);
      const write = await prefs.start(request(jar.header()));
      write.set('theme', 'light');
      const lines = (await write.commit()).getSetCookie();
      expect(lines.map((l) => l.split('=')[0])).toEqual(['prefs']);
      const logout = (await prefs.destroy(request(jar.header()))).getSetCookie();
      expect(logout.map((l) => l.split('=')[0])).toEqual(['prefs']);
      jar.apply(new Headers(logout.map((l): [string, string] => ['Set-Cookie', l])));
      expect((await other.start(request(jar.header()))).get('user')).toBe('ada');
      // A session this store spread over chunk cookies still expires them when it shrinks (another jar: its chunk
      // would take the other manager's cookie's place, the name clash this rule cannot help).
      const own = createJar();
      const big = await prefs.start(request());
      big.set('blob', 'x'.repeat(6000));
      own.apply(await big.commit());
      expect(own.header()).toMatch(/prefs\.1=/);
      const shrunk = await prefs.start(request(own.header()));
      shrunk.delete('blob');
      const shrinking = (await shrunk.commit()).getSetCookie();
      expect(shrinking[0]).toMatch(/^prefs=1\./);
      expect(shrinking.slice(1).length).toBeGreaterThan(0);
      for (const line of shrinking.slice(1)) expect(line).toMatch(/^prefs\.\d=;.*; Max-Age=0;/);
    });

    /** The Cookie header of a session that a manager with maxChunks 5 wrote in four cookies. */
    async function fourCookies(): Promise<string> {
      const { sessions, jar } = setup(5);
      const s = await sessions.start(request());
      for (let i = 0; i < 3; i++) s.set(`k${i}`, noise(i + 1));
      jar.apply(await s.commit());
      expect(jar.size).toBe(4);
      return jar.header()!;
    }

    it('clears, unopened, a session a larger maxChunks wrote, on its next response (a read-only one too)', async () => {
      // After a deploy that lowered maxChunks to 2. A cookie named like a fifth chunk is not this session's.
      const { sessions, events, jar } = setup(2);
      jar.apply(new Headers([['Set-Cookie', '__Host-sid.4=someone-elses; Path=/; Secure']]));
      const header = `${await fourCookies()}; __Host-sid.4=someone-elses`;
      const app = sessions.handle((_req, session) => new Response(session.isNew ? 'new' : 'known'));
      const opens = countOpens(form);
      let response: Response;
      try {
        response = await app(request(header));
      } finally {
        opens.restore();
      }
      expect(opens.count()).toBe(0);
      expect(await response.text()).toBe('new');
      expect(named(response.headers)).toEqual([
        '__Host-sid Max-Age=0',
        '__Host-sid.1 Max-Age=0',
        '__Host-sid.2 Max-Age=0',
        '__Host-sid.3 Max-Age=0',
      ]);
      expect(events).toEqual([{ type: 'rejected', reason: 'oversized', at: expect.any(Number) }]);
      // The browser then sends only the other cookie: a visit without a session, and no answer.
      jar.apply(response.headers);
      expect(jar.header()).toBe('__Host-sid.4=someone-elses');
      expect(named((await app(request(jar.header()))).headers)).toEqual([]);
      expect(events).toHaveLength(1);
    });

    it('a write or a logout over a session a larger maxChunks wrote expires all of its cookies', async () => {
      const header = await fourCookies();
      const { sessions, events } = setup(2);
      const write = await sessions.start(request(header));
      expect(write.isNew).toBe(true);
      write.set('n', 1);
      expect(named(await write.commit())).toEqual([
        '__Host-sid',
        '__Host-sid.1 Max-Age=0',
        '__Host-sid.2 Max-Age=0',
        '__Host-sid.3 Max-Age=0',
      ]);
      expect(named(await sessions.destroy(request(header)))).toEqual([
        '__Host-sid Max-Age=0',
        '__Host-sid.1 Max-Age=0',
        '__Host-sid.2 Max-Age=0',
        '__Host-sid.3 Max-Age=0',
      ]);
      expect(events.map((e) => (e.type === 'rejected' ? e.reason : e.type))).toEqual([
        'oversized',
        'created',
        'oversized',
      ]);
    });

    it('answers nothing to a main cookie counted `:.`, which is no count (not 10)', async () => {
      const { sessions, events } = setup(3);
      const chunks = Array.from({ length: 9 }, (_, k) => `__Host-sid.${k + 1}=part${k + 1}`).join('; ');
      const app = sessions.handle((_req, session) => new Response(session.isNew ? 'new' : 'known'));
      const response = await app(request(`__Host-sid=:.abcd.e; ${chunks}`));
      expect(await response.text()).toBe('new');
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(events.map((e) => (e.type === 'rejected' ? e.reason : e.type))).toEqual(['malformed']);
    });

    it('opens a session a smaller maxChunks wrote once it is raised (2 to 5), answering nothing', async () => {
      const earlier = setup(2);
      const s = await earlier.sessions.start(request());
      s.set('a', noise(1));
      earlier.jar.apply(await s.commit());
      expect(earlier.jar.size).toBe(2);
      const { sessions, events } = setup(5);
      const back = await sessions.start(request(earlier.jar.header()));
      expect(back.get('a')).toBe(noise(1));
      expect((await back.commit()).getSetCookie()).toEqual([]);
      expect(events).toEqual([]);
    });

    it('answers nothing to a count over 10 or an incomplete cookie over maxChunks: not one it wrote', async () => {
      const header = await fourCookies();
      const { sessions, events } = setup(2);
      const chunks = Array.from({ length: 11 }, (_, k) => `__Host-sid.${k + 1}=part${k + 1}`).join('; ');
      for (const garbage of [
        header.replace(/; __Host-sid\.2=[^;]*/, ''), // a chunk missing
        header.replace(/(__Host-sid\.3=)[^;]*/, '$1!!'), // a chunk of the wrong alphabet
        `__Host-sid=11.x; ${chunks}`,
        `__Host-sid=4.x`,
      ]) {
        const bad = await sessions.start(request(garbage));
        expect(bad.isNew).toBe(true);
        expect((await bad.commit()).getSetCookie()).toEqual([]);
      }
      expect(events.map((e) => (e.type === 'rejected' ? e.reason : e.type))).toEqual([
        'malformed',
        'malformed',
        'malformed',
        'malformed',
      ]);
    });

    it('refuses a forged 100 KB or 1 MB main cookie unopened; a full maxChunks session still opens', async () => {
      const { sessions, jar, events } = setup(10);
      const s = await sessions.start(request());
      s.set('n', 1);
      const kid = cookiePair(await s.commit()).split('.')[1]!; // a valid kid: only the length gives it away
      const opens = countOpens(form);
      try {
        for (const size of [100_000, 1_000_000]) {
          const forged = await sessions.start(request(`__Host-sid=1.${kid}.${'A'.repeat(size)}`));
          expect(forged.isNew).toBe(true);
        }
        // Just past what one line holds, as the main cookie or as a chunk, and a joined text past maxChunks.
        const long = 'A'.repeat(4096 - '__Host-sid='.length);
        for (const header of [`__Host-sid=1.${kid}.${long}`, `__Host-sid=2.${kid}.x; __Host-sid.1=${long}`]) {
          expect((await sessions.start(request(header))).isNew).toBe(true);
        }
        expect(opens.count()).toBe(0);
      } finally {
        opens.restore();
      }
      expect(events.filter((e) => e.type === 'rejected').map((e) => (e as { reason: string }).reason)).toEqual([
        'malformed',
        'malformed',
        'malformed',
        'malformed',
      ]);
      // The longest session this store writes in 10 cookies still opens.
      const full = await sessions.start(request());
      for (let i = 0; i < 9; i++) full.set(`k${i}`, noise(i + 1));
      jar.apply(await full.commit());
      expect(jar.size).toBe(10);
      expect((await sessions.start(request(jar.header()))).get('k8')).toBe(noise(9));
    });

    it('caches only one-cookie values: a chunked session is opened on each read (the cache stays small)', async () => {
      const { sessions, jar } = setup();
      await storeLargeSession(sessions, jar);
      const opens = countOpens(form);
      try {
        for (let i = 0; i < 3; i++) expect((await sessions.start(request(jar.header()))).get('a')).toBe(noise(1));
        expect(opens.count()).toBe(3);
      } finally {
        opens.restore();
      }
    });

    it('get reads the session from the cookie or gives null; getById is STORE_UNSUPPORTED', async () => {
      const { sessions, jar } = setup();
      expect(await sessions.get(request())).toBeNull();
      const s = await sessions.start(request());
      s.set('n', 1);
      jar.apply(await s.commit());
      expect((await sessions.get(request(jar.header())))?.get('n')).toBe(1);
      await expect(sessions.getById(s.id)).rejects.toMatchObject({
        code: 'STORE_UNSUPPORTED',
        message: 'edge-sessions: getById: the cookie store is stateless and keeps no session by ID',
      });
    });

    it("reports events with the session's ID and userId", async () => {
      const { sessions, events, clock } = setup();
      const s = await sessions.create(request(), { userId: 'ada' });
      const cookie = cookiePair(await s.commit());
      clock.advanceSec(3600);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
      const who = { id: s.id, maskedId: s.maskedId, userId: 'ada' };
      expect(events).toEqual([
        { type: 'created', ...who, at: clock.now() - 3_600_000 },
        { type: 'expired', ...who, reason: 'lifetime', at: clock.now() },
      ]);
    });

    it('keeps add, flash lists and exact big integers in the sealed cookie', async () => {
      const { sessions, jar } = setup();
      const s = await sessions.start(request());
      expect(s.add('role', 'guest')).toBe(true);
      expect(s.add('role', 'admin')).toBe(false);
      s.addFlash('notice', 'saved');
      s.addFlash('notice', 'sent');
      s.set('id', (2n ** 64n).toString());
      jar.apply(await s.commit());
      const next = await sessions.start(request(jar.header()));
      expect(next.get('role')).toBe('guest');
      expect(next.hasFlash()).toBe(true);
      expect(next.flashKeys()).toEqual(['notice']);
      expect(next.getBigInt('id')).toBe(18446744073709551616n);
      expect(() => next.getNumber('id')).not.toThrow(); // 2^64 is a number exactly
      next.addFlash('notice', 'third');
      jar.apply(await next.commit());
      const last = await sessions.start(request(jar.header()));
      expect(last.getFlash('notice')).toEqual(['saved', 'sent', 'third']);
      expect(last.getFlashString('missing')).toBe('');
      jar.apply(await last.commit());
      expect((await sessions.start(request(jar.header()))).hasFlash()).toBe(false);
    });

    it('keeps a per-session expires and idleTimeout, and expires: Infinity, in the sealed record', async () => {
      const { sessions, clock, jar } = setup();
      const s = await sessions.create(request(), { expires: Infinity, idleTimeout: 7200 });
      jar.apply(await s.commit());
      clock.advanceSec(3000); // past the manager's 3600 s lifetime in two steps, inside the session's idle timeout
      jar.apply(await (await sessions.start(request(jar.header()))).commit());
      clock.advanceSec(3000);
      const later = await sessions.start(request(jar.header()));
      expect(later.isNew).toBe(false);
      const line = (await sessions.shiftExpiration(request(jar.header()))).getSetCookie()[0]!;
      expect(line).toMatch(/Max-Age=7200;/);
      clock.advanceSec(7200);
      expect(await sessions.get(request(jar.header()))).toBeNull();
    });

    it('count and destroyAll say the store cannot', async () => {
      const { sessions } = setup();
      await expect(sessions.count()).rejects.toThrow('edge-sessions: count: the cookie store has no count()');
      await expect(sessions.destroyAll()).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
    });
  });
}

/**
 * readSealedCookies as it was before it walked the header once (one readCookie per chunk cookie), kept as the
 * reference the single pass must agree with (with `present` taken from the main cookie's count since, and
 * `oversized` for a count over maxChunks that a larger one could have written).
 */
function readSealedCookiesBefore(header: string | null, name: string, maxChunks: number) {
  const main = readCookie(header, name);
  if (main === undefined) return { sealed: undefined, present: 0 };
  const d0 = main.charCodeAt(0) - 48;
  const d1 = main.charCodeAt(1) - 48;
  let count = d0 <= 9 ? d0 : NaN;
  let from = 2;
  if (d1 !== -2) {
    count = d0 >= 1 && d1 >= 0 && d1 <= 9 && main.charCodeAt(2) === 46 ? d0 * 10 + d1 : NaN;
    from = 3;
  }
  // What the main cookie says the session spans, never what other `name.k` cookies the header carries.
  const present = count >= 1 && count <= 10 ? count : 1;
  if (!(count >= 1 && count <= 10)) return { sealed: null, present };
  let sealed = main.slice(from);
  for (let k = 1; k < count; k++) {
    const part = readCookie(header, `${name}.${k}`);
    if (part === undefined || !/^[A-Za-z0-9._-]+$/.test(part)) return { sealed: null, present };
    sealed += part;
  }
  if (count <= maxChunks) return { sealed, present };
  return /^[A-Za-z0-9._-]{4}\.[A-Za-z0-9._-]*$/.test(sealed)
    ? { sealed: null, present, oversized: true }
    : { sealed: null, present };
}

describe('readSealedCookies: one pass over the Cookie header', () => {
  const NAME = '__Host-sid';
  const MAX = [1, 2, 3, 5, 9, 10];

  it('a header of many chunk-like and unrelated cookies gives the same result as before', () => {
    // Look-alikes of every kind (other names, a 0 or two-digit index, a prefix, a case change, no "="),
    // duplicates of each chunk after the first, spaces, tabs and quotes, 1,000 unrelated pairs around them.
    const lookAlikes = [
      `${NAME}.0=zero`,
      `${NAME}.10=ten`,
      `${NAME}.01=leading`,
      `${NAME}.x=letter`,
      `${NAME}.=empty-index`,
      `${NAME}.1.1=nested`,
      `x${NAME}.1=prefixed`,
      `__HOST-sid.1=case`,
      `${NAME}x=suffixed`,
      `${NAME}.2`,
      `${NAME}.3 = "q3" `,
    ];
    const chunks = Array.from({ length: 9 }, (_, k) => `${NAME}.${k + 1}=part${k + 1}`);
    const copies = chunks.map((pair) => `${pair}-copy`);
    const unrelated = Array.from({ length: 1000 }, (_, i) => `c${i}=${i % 7 === 0 ? `"v${i}"` : `v${i}`}`);
    const headers: string[] = [];
    for (const main of ['10.p0', '3.p0', '9.', '1.only', '0.bad', '11.x', '01.x', ':.x', '"4.quoted"', '']) {
      const all = [...unrelated.slice(0, 400), ...lookAlikes, ...chunks.slice(0, 5), `\t${NAME} =${main}`];
      all.push(...unrelated.slice(400, 700), ...copies, ...chunks.slice(5), `${NAME}=second`, ...unrelated.slice(700));
      headers.push(all.join('; '), all.reverse().join(';'), all.filter((_, i) => i % 3 !== 1).join(' ;  '));
    }
    headers.push(
      [...unrelated, ...lookAlikes, ...chunks].join('; '), // chunks without the main cookie
      `${unrelated.join('; ')}; ${NAME}=3.a; ${NAME}.1; ${NAME}.2=c`, // a chunk without "="
    );
    let read = 0;
    for (const header of headers) {
      for (const max of MAX) {
        const result = readSealedCookies(header, NAME, max);
        expect(result, `${header.slice(0, 60)}… maxChunks ${max}`).toEqual(readSealedCookiesBefore(header, NAME, max));
        if (typeof result.sealed === 'string') read++;
      }
    }
    expect(read).toBeGreaterThan(10); // the comparison covers sessions that are read, not only refusals
    // First occurrences win: the spaced and quoted `.3` look-alike, and the copies that come before parts 6 to 9.
    expect(readSealedCookies(headers[0]!, NAME, 10)).toEqual({
      sealed: 'p0part1part2q3part4part5part6-copypart7-copypart8-copypart9-copy',
      present: 10,
    });
  });

  it('counts the cookies to expire by the main cookie alone', () => {
    const read = (header: string, max = 3) => readSealedCookies(header, NAME, max);
    expect(read(`${NAME}=1.abc; ${NAME}.1=other; ${NAME}.2=other`)).toEqual({ sealed: 'abc', present: 1 });
    expect(read(`${NAME}=2.abc; ${NAME}.5=other`)).toEqual({ sealed: null, present: 2 }); // its chunk .1 missing
    // A count a larger maxChunks wrote before a deploy lowered it: still this store's cookies, cleared when they
    // have the shape it writes (all of its chunks, a kid), refused with no answer otherwise.
    expect(read(`${NAME}=10.abc; ${NAME}.9=x`)).toEqual({ sealed: null, present: 10 });
    expect(read(`${NAME}=4.abcd.e; ${NAME}.1=f; ${NAME}.2=g; ${NAME}.3=h; ${NAME}.4=other`)).toEqual({
      sealed: null,
      present: 4,
      oversized: true,
    });
    for (const main of ['4.abcde', '4.abc.e', '4.', '4.ab!d.e']) {
      expect(read(`${NAME}=${main}; ${NAME}.1=f; ${NAME}.2=g; ${NAME}.3=h`), main).toEqual({
        sealed: null,
        present: 4,
      });
    }
    // No count this store could have written, or a main cookie longer than it writes: only the main cookie.
    // `:` is no digit (its code follows 9's): `:.` is not a spelling of 10.
    for (const main of ['11.abc', '0.abc', ':.abcd.e', '1x', 'abc', '', `1.${'A'.repeat(5000)}`]) {
      expect(read(`${NAME}=${main}; ${NAME}.1=x; ${NAME}.9=y`), main.slice(0, 10)).toEqual({
        sealed: null,
        present: 1,
      });
    }
    expect(read(`${NAME}.1=x; ${NAME}.2=y`)).toEqual({ sealed: undefined, present: 0 });
  });

  it('reads back the longest text sealedCookieLines writes in 1 to 10 cookies, and refuses one more character', () => {
    // The fewest attributes give the longest chunks: the length bounds hold whatever the attributes were.
    const bare: CookieAttributes = {
      path: '/',
      domain: undefined,
      secure: false,
      httpOnly: false,
      sameSite: 'Lax',
      partitioned: false,
    };
    const secure: CookieAttributes = { ...bare, secure: true, httpOnly: true, sameSite: 'Strict', partitioned: true };
    for (const max of [1, 2, 3, 10]) {
      let length = max * 4096;
      let lines: string[] | undefined;
      // The longest text that still fits `max` cookies (the writer throws COOKIE_TOO_LARGE above it).
      while (lines === undefined) {
        try {
          lines = sealedCookieLines(NAME, 'A'.repeat(length), bare, undefined, 0, max, 0).lines;
        } catch {
          length--;
        }
      }
      const header = lines.map((l) => l.split(';')[0]).join('; ');
      expect(readSealedCookies(header, NAME, max).sealed).toBe('A'.repeat(length));
      // One character more in the main cookie, in the first chunk or in the last one.
      for (const at of [0, 1, lines.length - 1]) {
        const pairs = header.split('; ');
        if (at >= pairs.length) continue;
        pairs[at] += 'A';
        expect(readSealedCookies(pairs.join('; '), NAME, max).sealed, `maxChunks ${max}, cookie ${at}`).toBeNull();
      }
      // Longer attributes leave less room: what the writer makes with them is read back too.
      const fits = length - 100 * max;
      const shorter = sealedCookieLines(NAME, 'A'.repeat(fits), secure, 3600, 0, max, 0).lines;
      expect(shorter.length).toBe(max);
      expect(readSealedCookies(shorter.map((l) => l.split(';')[0]).join('; '), NAME, max).sealed).toHaveLength(fits);
    }
  });

  it('random headers of chunk-like pairs give the same result as before', () => {
    const pairName = fc.oneof(
      fc.constantFrom(NAME, 'theme', `x${NAME}`, `${NAME}x`, '__HOST-sid', `${NAME}.1.1`, `${NAME}.`),
      fc.integer({ min: 0, max: 12 }).map((k) => `${NAME}.${k}`),
      fc.integer({ min: 1, max: 9 }).map((k) => `${NAME}.0${k}`),
    );
    const pairValue = fc.oneof(
      fc.constantFrom('', 'p', 'a-b_c.d', '"q"', '"', 'a b', 'x=y', '!!'),
      fc.integer({ min: 0, max: 12 }).map((n) => `${n}.s`),
      fc.constantFrom('01.s', ':.s', '1.', '10.', '2..'),
    );
    const space = fc.constantFrom('', ' ', '\t', '  ');
    const pair = fc
      .tuple(space, pairName, space, fc.boolean(), space, pairValue, space)
      .map(([a, name, b, eq, c, value, d]) => (eq ? `${a}${name}${b}=${c}${value}${d}` : `${a}${name}${d}`));
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 30 }), fc.constantFrom(';', '; ', ' ;'), (pairs, sep) => {
        const header = pairs.join(sep);
        for (const max of MAX) {
          expect(readSealedCookies(header, NAME, max)).toEqual(readSealedCookiesBefore(header, NAME, max));
        }
      }),
      { numRuns: 500 },
    );
  });
});
