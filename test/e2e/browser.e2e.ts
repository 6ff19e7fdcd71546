// The example app in a real browser (Debian's Chromium driven by playwright-core), on each runtime.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertChromium, CHROMIUM, startServer, targets, type RunningServer, type Target } from './servers.js';

const COOKIE = '__Host-sid';

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
  await Promise.all([page.waitForURL('**/'), page.click('#login button')]);
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
  });
}

describeBrowserFlow(targets.kv);
describeBrowserFlow(targets.durableObject);
describeBrowserFlow(targets.deno);
describeBrowserFlow(targets.bun);
