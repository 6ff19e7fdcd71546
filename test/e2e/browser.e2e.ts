// The example app in a real browser (Debian's Chromium driven by playwright-core), on each runtime.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertChromium, CHROMIUM, startServer, targets, type RunningServer, type Target } from './servers.js';

const COOKIE = '__Host-sid';
// Chromium's own User-Agent (HeadlessChrome on Linux) is one device; these make two more of one user.
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
  'Version/18.5 Mobile/15E148 Safari/604.1';
const WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 Firefox/141.0';

let browser: Browser;

beforeAll(async () => {
  assertChromium();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

/** Where each server's phone screenshot goes: E2E_SCREENSHOTS, else a folder in the system's temp directory. */
function screenshotPath(name: string): string {
  const dir = process.env['E2E_SCREENSHOTS'] ?? join(tmpdir(), 'edge-sessions-e2e-screenshots');
  return join(dir, `${name.replace(/\W+/g, '-').toLowerCase()}-phone.png`);
}

async function sessionCookie(context: BrowserContext) {
  return (await context.cookies()).find((c) => c.name === COOKIE);
}

/** Put a cookie value back into the browser, as an attacker replaying a stolen value would. */
async function replay(context: BrowserContext, url: string, value: string) {
  await context.clearCookies();
  // CDP refuses a Secure cookie for an http:// URL; the same host-only cookie given for https:// is what the
  // browser stored from the server's own Set-Cookie on http://localhost (a secure context).
  await context.addCookies([
    { name: COOKIE, value, url: url.replace(/^http:/, 'https:'), httpOnly: true, secure: true, sameSite: 'Lax' },
  ]);
}

async function login(page: Page, name: string, remember: boolean) {
  await page.fill('input[name=name]', name);
  if (remember) await page.check('input[name=remember]');
  // The form posts to /login, which redirects (303) to '/'. The page is at '/' already, so waiting for that URL
  // can return before the new page is there: wait for the page that names the user instead.
  await Promise.all([
    page.waitForFunction((user) => document.querySelector('#user')?.textContent === user, name),
    page.click('#login button'),
  ]);
}

/** The "Your devices" list as the page shows it, by label. */
async function devices(page: Page) {
  const unavailable = page.locator('#devices-unavailable');
  expect(await unavailable.count(), 'the store answered listByUser with STORE_UNSUPPORTED').toBe(0);
  const rows = await page.$$eval('#devices li', (items) =>
    items.map((li) => ({
      label: li.querySelector('.label')?.textContent,
      current: li.classList.contains('current'),
      seen: li.querySelector('.seen')?.textContent,
    })),
  );
  return rows.sort((a, b) => String(a.label).localeCompare(String(b.label)));
}

const thisDevice = (label: string) => ({ label, current: true, seen: 'this device' });
const otherDevice = (label: string) => ({
  label,
  current: false,
  seen: expect.stringMatching(/^last seen (just now|\d+ minutes? ago)$/),
});

async function signedOut(page: Page): Promise<boolean> {
  await page.reload();
  return (await page.locator('#login').count()) === 1 && (await page.locator('#user').count()) === 0;
}

function describeBrowserFlow(target: Target) {
  describe(`in Chromium: ${target.name}`, () => {
    let server: RunningServer;
    let context: BrowserContext;
    let page: Page;

    beforeAll(
      async () => {
        server = await startServer(target);
        context = await browser.newContext();
        page = await context.newPage();
      },
      (target.startupSec + 30) * 1000,
    );

    afterAll(async () => {
      await context?.close();
      await server?.stop();
    });

    it('signs in, keeps the session across reloads, counts, and shows the flash once', async () => {
      await page.goto(server.url);
      await expect(page.textContent('#runtime')).resolves.toMatch(target.runtime);
      expect(await sessionCookie(context)).toBeUndefined(); // a visit sets no cookie

      await login(page, 'Ada', false);
      expect(await page.textContent('#user')).toBe('Ada');
      expect(await page.textContent('#notice')).toBe('Welcome, Ada!');

      await page.reload();
      expect(await page.textContent('#user')).toBe('Ada');
      expect(await page.locator('#notice').count()).toBe(0); // shown exactly once

      for (let i = 1; i <= 3; i++) {
        await Promise.all([page.waitForURL('**/'), page.click('#increment')]);
        expect(await page.textContent('#count')).toBe(String(i));
      }
    });

    it('remember-me off gives a browser-session cookie; on gives one with Max-Age', async () => {
      const off = await sessionCookie(context);
      expect(off?.expires).toBe(-1);
      expect(off).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });

      await Promise.all([page.waitForURL('**/'), page.click('#logout')]);
      // The goodbye session keeps the kind of cookie the user chose: still none that outlives the browser.
      expect((await sessionCookie(context))?.expires).toBe(-1);
      await login(page, 'Grace', true);
      const on = await sessionCookie(context);
      expect(on?.expires).toBeGreaterThan(Date.now() / 1000 + 86400);
      expect(await page.textContent('#cookie-kind')).toMatch(/persistent/);
    });

    it('"keep me signed in" re-sends the cookie with a later expiry', async () => {
      const before = await sessionCookie(context);
      await Promise.all([page.waitForURL('**/'), page.click('#keep')]);
      const after = await sessionCookie(context);
      expect(after?.value).toBe(before?.value);
      expect(after!.expires).toBeGreaterThanOrEqual(before!.expires);
      expect(await page.textContent('#user')).toBe('Grace');
      expect(await page.textContent('#notice')).toMatch(/^Done: you stay signed in for 30 more days/);
    });

    it('reads on a phone: no sideways scrolling at 390 px, times in words; screenshot kept for review', async () => {
      const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
      try {
        const small = await phone.newPage();
        await small.goto(server.url);
        await login(small, 'Mobile', true);
        const layout = await small.evaluate(() => ({
          scroll: document.documentElement.scrollWidth,
          width: window.innerWidth,
          buttons: [...document.querySelectorAll('button')].map((b) => b.getBoundingClientRect().right),
        }));
        expect(layout.scroll).toBeLessThanOrEqual(layout.width);
        for (const right of layout.buttons) expect(right).toBeLessThanOrEqual(layout.width);
        expect(await small.textContent('#expires')).toMatch(/^in \d+ days$/);
        const png = await small.screenshot({ fullPage: true, path: screenshotPath(target.name) });
        // A PNG of the rendered page (not a blank one): its header, and more than a few bytes of content.
        expect(png.subarray(1, 4).toString()).toBe('PNG');
        expect(png.length).toBeGreaterThan(10_000);
      } finally {
        await phone.close();
      }
    });

    it('renew changes the cookie, and the old value no longer works', async () => {
      const old = (await sessionCookie(context))!.value;
      await Promise.all([page.waitForURL('**/'), page.click('#renew')]);
      const renewed = (await sessionCookie(context))!.value;
      expect(renewed).not.toBe(old);
      expect(await page.textContent('#user')).toBe('Grace');
      expect(await page.textContent('#notice')).toMatch(/renewed/);

      await replay(context, server.url, old);
      await page.goto(server.url);
      expect(await page.locator('#login').count()).toBe(1);

      await replay(context, server.url, renewed);
      await page.goto(server.url);
      expect(await page.textContent('#user')).toBe('Grace');
    });

    it('logout clears the cookie; replaying the old value gives a fresh anonymous session', async () => {
      const old = (await sessionCookie(context))!.value;
      await Promise.all([page.waitForURL('**/'), page.click('#logout')]);
      expect(await page.textContent('#notice')).toBe('You are signed out.');
      expect((await sessionCookie(context))?.value).not.toBe(old);
      await page.reload();
      expect(await page.locator('#notice').count()).toBe(0);

      await replay(context, server.url, old);
      await page.goto(server.url);
      // Rejected at once on every target. (Deployed KV may accept it at other locations for up to ~60 s;
      // wrangler dev has a single location, and Durable Objects are strongly consistent everywhere.)
      expect(await page.locator('#login').count()).toBe(1);
      expect(await page.locator('#user').count()).toBe(0);
    });

    it("is not shown inside another page's frame (clickjacking), and its own styles still apply", async () => {
      const own = await browser.newContext();
      try {
        const framer = await own.newPage();
        await framer.setContent(`<iframe id="app" src="${server.url}" width="600" height="400"></iframe>`);
        const frame = await (await framer.waitForSelector('#app')).contentFrame();
        await frame!.waitForLoadState();
        // Refused by frame-ancestors 'none': Chromium shows its error page in the frame, not the login form.
        expect(await frame!.locator('#login').count()).toBe(0);

        const tab = await own.newPage();
        await tab.goto(server.url);
        expect(await tab.locator('#login').count()).toBe(1);
        // The inline stylesheet is allowed by the policy: the page keeps its layout.
        expect(await tab.$eval('body', (body) => getComputedStyle(body).maxWidth)).toBe('576px');
      } finally {
        await own.close();
      }
    });

    it('keeps the theme in a signed cookie of its own, through sign-in and sign-out', async () => {
      const own = await browser.newContext();
      try {
        const tab = await own.newPage();
        await tab.goto(server.url);
        expect(await tab.getAttribute('html', 'data-theme')).toBe('light');
        await Promise.all([tab.waitForURL('**/'), tab.click('#toggle-theme')]);
        expect(await tab.getAttribute('html', 'data-theme')).toBe('dark');
        const prefs = (await own.cookies()).find((c) => c.name === '__Host-prefs');
        expect(prefs).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
        expect(prefs!.expires).toBeGreaterThan(Date.now() / 1000 + 300 * 86400);
        await login(tab, 'Theo', false);
        expect(await tab.getAttribute('html', 'data-theme')).toBe('dark');
        await Promise.all([tab.waitForURL('**/'), tab.click('#logout')]);
        expect(await tab.locator('#login').count()).toBe(1);
        expect(await tab.getAttribute('html', 'data-theme')).toBe('dark');
      } finally {
        await own.close();
      }
    });

    if (target.survivesRestart) {
      it('a session survives a restart of the server (its store is a file)', async () => {
        const stateDir = mkdtempSync(join(tmpdir(), 'edge-sessions-e2e-restart-'));
        const own = await startServer(target, { stateDir });
        const visitor = await browser.newContext();
        let again: RunningServer | undefined;
        try {
          const tab = await visitor.newPage();
          await tab.goto(own.url);
          await login(tab, 'Restart', true);
          await Promise.all([tab.waitForURL('**/'), tab.click('#increment')]);
          await own.stop();
          again = await startServer(target, { port: own.port, stateDir });
          await tab.goto(again.url);
          expect(await tab.textContent('#user')).toBe('Restart');
          expect(await tab.textContent('#count')).toBe('1');
        } finally {
          await visitor.close();
          await again?.stop();
          await own.stop();
          rmSync(stateDir, { recursive: true, force: true });
        }
      }, 150_000);
    }

    it('"Your devices": two browsers of one user list each other and sign each other out', async () => {
      const contexts = await Promise.all([
        browser.newContext(),
        browser.newContext({ userAgent: IPHONE }),
        browser.newContext({ userAgent: WINDOWS }),
      ]);
      try {
        const [laptop, phone, desktop] = (await Promise.all(contexts.map((c) => c.newPage()))) as [Page, Page, Page];
        await laptop.goto(server.url);
        await login(laptop, 'Lin', true);
        await phone.goto(server.url);
        await login(phone, 'Lin', false);
        await laptop.reload();
        expect(await devices(laptop)).toEqual([thisDevice('Chrome on Linux'), otherDevice('Safari on iOS')]);
        expect(await devices(phone)).toEqual([otherDevice('Chrome on Linux'), thisDevice('Safari on iOS')]);

        // The laptop signs the phone out: the phone's next request finds no session.
        await Promise.all([laptop.waitForURL('**/'), laptop.click('#devices li:not(.current) button')]);
        expect(await laptop.textContent('#notice')).toBe('Signed out Safari on iOS.');
        expect(await devices(laptop)).toEqual([thisDevice('Chrome on Linux')]);
        expect(await signedOut(phone)).toBe(true);
        expect(await signedOut(laptop)).toBe(false);

        // The phone signs in again, and a desktop too; the phone signs out everywhere else.
        await login(phone, 'Lin', false);
        await desktop.goto(server.url);
        await login(desktop, 'Lin', true);
        await phone.reload();
        expect(await devices(phone)).toEqual([
          otherDevice('Chrome on Linux'),
          otherDevice('Firefox on Windows'),
          thisDevice('Safari on iOS'),
        ]);
        await Promise.all([phone.waitForURL('**/'), phone.click('#sign-out-others')]);
        expect(await phone.textContent('#notice')).toBe('Signed out 2 other devices.');
        expect(await devices(phone)).toEqual([thisDevice('Safari on iOS')]);
        expect(await phone.locator('#sign-out-others').count()).toBe(0);
        expect(await signedOut(laptop)).toBe(true);
        expect(await signedOut(desktop)).toBe(true);
        expect(await signedOut(phone)).toBe(false);
        expect(await devices(phone)).toEqual([thisDevice('Safari on iOS')]);
      } finally {
        await Promise.all(contexts.map((c) => c.close()));
      }
    }, 150_000); // some 25 page loads: 30 s on wrangler dev with KV on a busy 2-core machine
  });
}

describeBrowserFlow(targets.kv);
describeBrowserFlow(targets.durableObject);
describeBrowserFlow(targets.deno);
describeBrowserFlow(targets.bun);
