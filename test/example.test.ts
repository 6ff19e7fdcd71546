// The example app's own guards, called as a fetch handler (the browser flows are in test/e2e).
import { createCookieStore } from '../src/cookie-store.js';
import { createMemoryStore } from '../src/memory.js';
import { createSessions } from '../src/index.js';
import { createCookieJar, sessionCookie } from '../src/testing.js';
import { createApp } from '../worker-example/app.js';
import { deviceLabel, timeInWords } from '../worker-example/devices.js';
import { fromLongBase64Url, toBase64Url } from '../src/lib/encoding.js';
import { signerFor } from '../src/lib/signer.js';
import { DEV_ONLY_SECRET } from '../worker-example/dev-secret.js';
import { describe, expect, it } from './harness.js';
import { SECRET } from './helpers.js';

const ORIGIN = 'https://app.example';
const app = () => createApp({ store: createMemoryStore(), secrets: [SECRET], runtime: 'test' });
const post = (path: string, init: { origin?: string; body?: BodyInit; type?: string } = {}) => {
  const headers = new Headers();
  if (init.origin !== undefined) headers.set('Origin', init.origin);
  if (init.type !== undefined) headers.set('Content-Type', init.type);
  return new Request(`${ORIGIN}${path}`, { method: 'POST', headers, body: init.body ?? null });
};

describe('example app', () => {
  it('refuses a form posted from another site, or with no Origin (login CSRF)', async () => {
    const form = new URLSearchParams({ name: 'mallory' });
    for (const origin of ['https://evil.example', undefined]) {
      const response = await app()(post('/login', { origin, body: form }));
      expect(response.status).toBe(403);
      expect(response.headers.getSetCookie()).toEqual([]);
    }
  });

  it('answers 400, not a crash, to a login that is not a form', async () => {
    const json = await app()(post('/login', { origin: ORIGIN, body: '{"name":"x"}', type: 'application/json' }));
    expect(json.status).toBe(400);
    expect((await app()(post('/login', { origin: ORIGIN }))).status).toBe(400);
  });

  it('refuses the public dev-only secret on any host but localhost, where anyone could sign a cookie', async () => {
    // A Worker deployed without `wrangler secret put SESSION_SECRET` runs on DEV_ONLY_SECRET, which is in this
    // repository: with a session ID (a store dump, a log) anyone signs a cookie the app accepts.
    const store = createMemoryStore();
    const victim = await createSessions({ store, secrets: [SECRET] }).create(new Request(`${ORIGIN}/`), {
      data: { user: 'Ada', count: 0 },
    });
    await victim.commit();
    const forged = `__Host-sid=${signerFor([DEV_ONLY_SECRET], '__Host-sid').sign(victim.id)}`;
    const fetch = createApp({ store, secrets: [DEV_ONLY_SECRET], runtime: 'test' });

    const page = await fetch(new Request(`${ORIGIN}/`, { headers: { Cookie: forged } }));
    expect(await page.text()).not.toContain('<strong id="user">Ada</strong>');
    expect(page.status).toBe(500);
    const login = await fetch(post('/login', { origin: ORIGIN, body: new URLSearchParams({ name: 'ada' }) }));
    expect(login.status).toBe(500);
    expect(login.headers.getSetCookie()).toEqual([]);
    // On this machine it is what it is for: `npm start` with no setup.
    for (const local of ['http://localhost:8787', 'http://127.0.0.1:8000', 'http://[::1]:3000']) {
      expect((await fetch(new Request(`${local}/`))).status).toBe(200);
    }
  });

  it('answers HEAD as GET does, without a body or touching the session; other methods 405', async () => {
    const b = browser(app(), UA.chromeLinux);
    await b.post('/login', { name: 'ada' });
    for (const path of ['/', '/api/state']) {
      const head = await b.send(path, undefined, 'HEAD');
      expect(head.status).toBe(200);
      expect(head.headers.get('Cache-Control')).toBe('no-store');
      expect(await head.text()).toBe('');
    }
    expect(await b.page()).toContain('Welcome, ada!'); // the flash is still there for the page
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const response = await b.send('/', undefined, method);
      expect(response.status).toBe(405);
      expect(response.headers.get('Allow')).toBe('GET, HEAD, POST');
    }
  });

  it('forbids framing and sniffing of its pages (clickjacking of the sign-out buttons)', async () => {
    const fetch = app();
    for (const path of ['/', '/api/state']) {
      const response = await fetch(new Request(`${ORIGIN}${path}`));
      expect(response.status).toBe(200);
      const policy = response.headers.get('Content-Security-Policy') ?? '';
      expect(policy.split(/;\s*/)).toEqual(expect.arrayContaining(["frame-ancestors 'none'", "default-src 'none'"]));
      expect(response.headers.get('X-Frame-Options')).toBe('DENY');
      expect(response.headers.get('X-Content-Type-Options')).toBe('nosniff');
    }
  });

  it('signs in from its own page', async () => {
    const response = await app()(post('/login', { origin: ORIGIN, body: new URLSearchParams({ name: 'ada' }) }));
    expect(response.status).toBe(303);
    expect(response.headers.getSetCookie()[0]).toMatch(/^__Host-sid=/);
  });
});

const UA = {
  chromeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36',
  safariIPhone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
    'Version/18.5 Mobile/15E148 Safari/604.1',
  firefoxWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 Firefox/141.0',
};

describe('example app: device labels and times in words', () => {
  it('names the browser and the system in a few words', () => {
    expect(deviceLabel(UA.chromeLinux)).toBe('Chrome on Linux');
    expect(deviceLabel(UA.safariIPhone)).toBe('Safari on iOS');
    expect(deviceLabel(UA.firefoxWindows)).toBe('Firefox on Windows');
    expect(deviceLabel(`${UA.chromeLinux.replace('X11; Linux x86_64', 'Windows NT 10.0; Win64; x64')} Edg/140.0`)).toBe(
      'Edge on Windows',
    );
    expect(deviceLabel(UA.chromeLinux.replace('Chrome/', 'HeadlessChrome/'))).toBe('Chrome on Linux');
    expect(deviceLabel('Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 Chrome/140.0 Mobile')).toBe(
      'Chrome on Android',
    );
    expect(deviceLabel('curl/8.14.1')).toBe('curl');
    expect(deviceLabel(null)).toBe('Unknown device');
  });

  it('says how long ago, or how long until, in words', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(timeInWords(now, now)).toBe('just now');
    expect(timeInWords(now - 59_000, now)).toBe('just now');
    expect(timeInWords(now - 60_000, now)).toBe('1 minute ago');
    expect(timeInWords(now - 5 * 60_000 - 30_000, now)).toBe('5 minutes ago');
    expect(timeInWords(now - 3 * 3600_000, now)).toBe('3 hours ago');
    expect(timeInWords(now - 2 * 86400_000, now)).toBe('2 days ago');
    expect(timeInWords(now + 30 * 86400_000, now)).toBe('in 30 days');
  });
});

/** One browser: its own cookies and User-Agent, following redirects by hand. */
function browser(fetch: ReturnType<typeof createApp>, userAgent: string) {
  const jar = createCookieJar();
  const send = async (path: string, form?: Record<string, string>, method = form ? 'POST' : 'GET') => {
    const headers = new Headers({ 'User-Agent': userAgent });
    const cookie = jar.header();
    if (cookie !== undefined) headers.set('Cookie', cookie);
    if (form !== undefined) headers.set('Origin', ORIGIN);
    const body = form === undefined ? null : new URLSearchParams(form);
    const response = await fetch(new Request(`${ORIGIN}${path}`, { method, headers, body }));
    jar.apply(response);
    return response;
  };
  return {
    jar,
    send,
    post: (path: string, form: Record<string, string> = {}) => send(path, form),
    page: async () => (await send('/')).text(),
  };
}

describe('example app: your devices', () => {
  const rows = (html: string) =>
    [
      ...html.matchAll(
        /<li( class="current")?><strong class="label">([^<]*)<\/strong> <span class="seen">(.*?)<\/span>/g,
      ),
    ]
      .map(([, current, label, seen]) => ({
        label,
        current: current !== undefined,
        seen: seen!.replace(/<[^>]*>/g, ''),
      }))
      .sort((a, b) => a.label!.localeCompare(b.label!));

  it("lists every browser of the user, marks this one, and signs out only the user's own", async () => {
    const store = createMemoryStore();
    const fetch = createApp({ store, secrets: [SECRET], runtime: 'test' });
    const laptop = browser(fetch, UA.chromeLinux);
    const phone = browser(fetch, UA.safariIPhone);
    const eve = browser(fetch, UA.firefoxWindows);
    await laptop.post('/login', { name: 'Ada' });
    await phone.post('/login', { name: 'Ada' });
    await eve.post('/login', { name: 'Eve' });

    expect(rows(await laptop.page())).toEqual([
      { label: 'Chrome on Linux', current: true, seen: 'this device' },
      { label: 'Safari on iOS', current: false, seen: 'last seen just now' },
    ]);
    expect(rows(await phone.page())).toEqual([
      { label: 'Chrome on Linux', current: false, seen: 'last seen just now' },
      { label: 'Safari on iOS', current: true, seen: 'this device' },
    ]);
    expect(rows(await eve.page())).toEqual([{ label: 'Firefox on Windows', current: true, seen: 'this device' }]);

    // Eve has Ada's phone's session ID (it leaked): it is not in Eve's list, so nothing happens.
    const [adaPhone] = (await store.listByUser('Ada')).filter(({ record }) => record.device === 'Safari on iOS');
    await eve.post('/devices/sign-out', { id: adaPhone!.id });
    expect(await eve.page()).toContain('That device is not signed in.');
    expect(rows(await phone.page())).toHaveLength(2);

    await laptop.post('/devices/sign-out', { id: adaPhone!.id });
    expect(await laptop.page()).toContain('Signed out Safari on iOS.');
    expect(await phone.page()).toContain('id="login"');
    expect(rows(await laptop.page())).toEqual([{ label: 'Chrome on Linux', current: true, seen: 'this device' }]);
  });

  it('says so, instead of failing, on a store without a per-user index (the cookie store)', async () => {
    const laptop = browser(
      createApp({ store: createCookieStore(), secrets: [SECRET], runtime: 'test' }),
      UA.chromeLinux,
    );
    await laptop.post('/login', { name: 'Ada' });
    const page = await laptop.page();
    expect(page).toContain('<strong id="user">Ada</strong>');
    expect(page).toContain('<p id="devices-unavailable">');
    expect(rows(page)).toEqual([]);
  });

  it('shows no list to a session signed in before logins took a userId', async () => {
    const store = createMemoryStore();
    const fetch = createApp({ store, secrets: [SECRET], runtime: 'test' });
    const cookie = await sessionCookie(createSessions({ store, secrets: [SECRET] }), { data: { user: 'Old' } });
    const page = await (await fetch(new Request(`${ORIGIN}/`, { headers: { cookie } }))).text();
    expect(page).toContain('<strong id="user">Old</strong>');
    expect(page).not.toContain('Your devices');
  });

  it('"sign out everywhere else" leaves only this browser, and no other user\'s', async () => {
    const fetch = createApp({ store: createMemoryStore(), secrets: [SECRET], runtime: 'test' });
    const [laptop, phone, tablet, eve] = [UA.chromeLinux, UA.safariIPhone, UA.firefoxWindows, UA.chromeLinux].map(
      (ua) => browser(fetch, ua),
    );
    for (const b of [laptop!, phone!, tablet!]) await b.post('/login', { name: 'Ada' });
    await eve!.post('/login', { name: 'Eve' });

    await phone!.post('/devices/sign-out-others');
    const page = await phone!.page();
    expect(page).toContain('Signed out 2 other devices.');
    expect(rows(page)).toEqual([{ label: 'Safari on iOS', current: true, seen: 'this device' }]);
    expect(page).not.toContain('id="sign-out-others"');
    expect(await laptop!.page()).toContain('id="login"');
    expect(await tablet!.page()).toContain('id="login"');
    expect(await eve!.page()).toContain('<strong id="user">Eve</strong>');
  });
});

describe('example app: the theme, in a signed-only cookie of its own', () => {
  it('keeps the theme in __Host-prefs, readable by the browser, through sign-in and sign-out', async () => {
    const b = browser(app(), 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0');
    expect(await b.page()).toContain('data-theme="light"');
    await b.post('/login', { name: 'ada' });
    expect((await b.post('/theme', { theme: 'dark' })).status).toBe(303);
    expect(await b.page()).toContain('data-theme="dark"');
    // `1.<kid>.<base64url JSON>.<tag>`: the browser can read it.
    const payload = b.jar.get('__Host-prefs')!.split('.')[2]!;
    const record = JSON.parse(new TextDecoder().decode(fromLongBase64Url(payload)!)) as {
      r: { data: Record<string, string> };
    };
    expect(JSON.parse(record.r.data.theme!)).toBe('dark');
    await b.post('/logout');
    const signedOut = await b.page();
    expect(signedOut).toContain('id="login"');
    expect(signedOut).toContain('data-theme="dark"');
  });

  it('ignores a theme cookie the browser changed, and refuses a theme it does not know', async () => {
    const fetch = app();
    const b = browser(fetch, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0');
    await b.post('/theme', { theme: 'light' });
    const [prefix, kid, payload, tag] = b.jar.get('__Host-prefs')!.split('.') as [string, string, string, string];
    const record = JSON.parse(new TextDecoder().decode(fromLongBase64Url(payload)!)) as {
      r: { data: Record<string, string> };
    };
    record.r.data.theme = JSON.stringify('dark');
    const edited = toBase64Url(new TextEncoder().encode(JSON.stringify(record)));
    const forged = new Request(`${ORIGIN}/`, { headers: { Cookie: `__Host-prefs=${prefix}.${kid}.${edited}.${tag}` } });
    expect(await (await fetch(forged)).text()).toContain('data-theme="light"');
    expect((await b.post('/theme', { theme: 'purple' })).status).toBe(400);
  });
});

describe('example app: what the page says is so', () => {
  const notice = (html: string) => /<p class="notice" id="notice">([^<]*)<\/p>/.exec(html)?.[1];

  it('"keep me signed in" from a page left open after sign-out keeps no one signed in, and says so', async () => {
    const b = browser(app(), UA.chromeLinux);
    await b.post('/login', { name: 'ada' });
    await b.post('/logout');
    expect(notice(await b.page())).toBe('You are signed out.');
    const keep = await b.post('/keep'); // the button on the tab that still shows Ada signed in
    expect(keep.headers.getSetCookie()).toEqual([]);
    const page = await b.page();
    expect(page).toContain('id="login"');
    expect(notice(page) ?? '').not.toMatch(/stay signed in/);
  });

  it('"keep me signed in" on a browser-session cookie does not promise 30 days the cookie will not last', async () => {
    const b = browser(app(), UA.chromeLinux);
    await b.post('/login', { name: 'ada' }); // Remember me unchecked
    const keep = await b.post('/keep');
    const [cookie] = keep.headers.getSetCookie();
    expect(cookie).not.toMatch(/Max-Age/i); // still gone when the browser closes: the choice made at sign-in
    const page = await b.page();
    expect(page).toContain('browser session');
    expect(notice(page)).toMatch(/until you close (the|this) browser/);
  });

  it('cuts a long name at a whole character, never half of an emoji', async () => {
    const fetch = app();
    const smile = browser(fetch, UA.chromeLinux);
    const grin = browser(fetch, UA.firefoxWindows);
    await smile.post('/login', { name: `${'a'.repeat(39)}😀` });
    await grin.post('/login', { name: `${'a'.repeat(39)}😁` });
    const page = await smile.page();
    expect(page).toContain(`<strong id="user">${'a'.repeat(39)}😀</strong>`);
    expect(page).not.toContain('\uFFFD');
    expect(page).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    // Two names, two users: neither lists the other's browser.
    expect(page).not.toContain('Firefox on Windows');
  });

  it('shows when the session expires after this visit renewed it, not before', async () => {
    const realNow = Date.now;
    let now = realNow();
    Date.now = () => now; // before createApp: the managers and the store take Date.now as their clock
    try {
      const b = browser(app(), UA.chromeLinux);
      await b.post('/login', { name: 'ada', remember: 'on' }); // 7 days unused, 30 at most
      now += 6 * 86400_000;
      const visit = await b.send('/');
      expect(visit.headers.getSetCookie()[0]).toMatch(/Max-Age=604800/); // this visit renewed it: 7 more days
      const expires = /<dd id="expires"><time [^>]*>([^<]*)<\/time>/.exec(await visit.text())?.[1];
      expect(expires).toBe('in 7 days');
    } finally {
      Date.now = realNow;
    }
  });
});
