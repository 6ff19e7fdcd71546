// The example app: one fetch handler, the same on Workers, Deno and Bun. The entry points (worker.ts, deno.ts,
// bun.ts) only choose a store and serve it. Plain HTML forms, no build step, no client script.
import {
  commitAll,
  createSessions,
  SessionError,
  type BackgroundContext,
  type SessionInfo,
  type Sessions,
  type SessionsOptions,
} from '../src/index.js';
import { createCookieStore } from '../src/cookie-store.js';
import { DEV_ONLY_SECRET } from './dev-secret.js';
import { deviceLabel, timeInWords } from './devices.js';

export interface AppOptions {
  /** Any store; "Your devices" needs one with a per-user index (not the stateless cookie store). */
  store: SessionsOptions['store'];
  secrets: string[];
  /** Shown on the page, e.g. "Workers + KV". */
  runtime: string;
}

interface Data extends Record<string, unknown> {
  user: string;
  count: number;
}

/** The visitor's display preference: kept apart from the session, signed but readable, whoever is signed in. */
interface Prefs extends Record<string, unknown> {
  theme: Theme;
}
type Theme = 'light' | 'dark';

const PERSISTENT_SEC = 30 * 86400;
/** The feedback after "Keep me signed in": a new lifetime of 30 days from now; unused for 7 days, it ends. */
const KEPT = 'Done: you stay signed in for 30 more days, as long as you come back within 7 days.';
/** The same for a browser-session cookie (Remember me unchecked): the browser drops it when it closes. */
const KEPT_UNTIL_CLOSED =
  'Done: you stay signed in until you close this browser, for 30 more days at most, if you come back within 7 days.';

/** This machine's own names: the only hosts where the public dev-only secret may sign cookies. */
// Sent with every page: no other site may show it in a frame (a click lured onto "Sign out everywhere else" in an
// invisible iframe would pass the Origin check below, since the form is the page's own), nothing loads but the
// page and its inline stylesheet, and forms post to this origin only.
const PAGE_HEADERS = {
  'Content-Security-Policy': [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; '),
  'X-Frame-Options': 'DENY', // for browsers without frame-ancestors
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};
const LOOPBACK = /^(?:localhost|[\w-]+\.localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;
const NO_SECRET =
  'SESSION_SECRET is not set: this server would sign cookies with the public development-only secret, which ' +
  'only serves localhost. Set SESSION_SECRET (openssl rand -base64 32; on Workers: wrangler secret put).';

export function createApp({ store, secrets, runtime }: AppOptions) {
  const sessions = createSessions<Data>({
    store,
    secrets,
    expires: PERSISTENT_SEC,
    idleTimeout: 7 * 86400,
    touchAfter: 3600,
  });

  // A second manager on the same request (its own cookie): the theme lives in a signed-only cookie store. Nothing
  // in it is secret, the browser may read it, and it outlives sign-out because it is not the session.
  const prefs = createSessions<Prefs>({
    store: createCookieStore({ encrypt: false }),
    secrets,
    cookie: { name: '__Host-prefs' },
    expires: 365 * 86400,
  });

  // Anyone can read DEV_ONLY_SECRET, so with it anyone holding a session ID could sign its cookie: refused loudly
  // anywhere but this machine (a Worker deployed without `wrangler secret put SESSION_SECRET`).
  const devSecret = secrets.includes(DEV_ONLY_SECRET);

  return async function fetch(request: Request, ctx?: BackgroundContext): Promise<Response> {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;

    if (devSecret && !LOOPBACK.test(url.hostname)) {
      return new Response(NO_SECRET, { status: 500, headers: { 'Cache-Control': 'no-store' } });
    }
    // HEAD: the headers GET would send, without reading the session (a HEAD must not use up a flash).
    if (request.method === 'HEAD' && (url.pathname === '/' || url.pathname === '/api/state')) {
      const type = url.pathname === '/' ? 'text/html; charset=utf-8' : 'application/json';
      return new Response(null, { headers: { ...PAGE_HEADERS, 'Content-Type': type } });
    }
    if (request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'POST') {
      return new Response('Method not allowed', { status: 405, headers: { Allow: 'GET, HEAD, POST' } });
    }

    // Forms are posted from this page only: a browser sends Origin with every POST, so a cross-site form
    // (login CSRF, which SameSite=Lax does not stop for a top-level POST) is refused.
    if (request.method === 'POST' && request.headers.get('Origin') !== url.origin) {
      return new Response('Cross-site form refused', { status: 403 });
    }

    if (route === 'POST /login') {
      const form = await request.formData().catch(() => null);
      if (form === null) return new Response('Expected a form', { status: 400 });
      // 40 characters (code points): a cut never leaves half of an emoji, which would show as U+FFFD.
      const name =
        Array.from(String(form.get('name') ?? '').trim())
          .slice(0, 40)
          .join('') || 'guest';
      const remember = form.get('remember') === 'on';
      // create() gives a fresh ID and destroys any session the request had (no session fixation). The name is
      // the user (this demo has no passwords): every browser signed in with it is listed under "Your devices".
      const session = await sessions.create(request, {
        data: { user: name, count: 0 },
        persistent: remember,
        userId: name,
        device: deviceLabel(request.headers.get('User-Agent')),
      });
      session.setFlash('notice', `Welcome, ${name}!`);
      return redirect(await session.commit());
    }

    if (route === 'POST /logout') {
      // The goodbye message rides a fresh anonymous session, with the cookie kind the user chose at login: no
      // lasting cookie for someone who did not ask to be remembered. The old ID is dead.
      const persistent = (await sessions.start(request, ctx)).persistent;
      const cleared = await sessions.destroy(request);
      const next = await sessions.start(request, ctx);
      next.persistent = persistent;
      next.setFlash('notice', 'You are signed out.');
      return redirect(cleared, await next.commit());
    }

    if (route === 'POST /theme') {
      const form = await request.formData().catch(() => null);
      const theme = form?.get('theme');
      if (theme !== 'light' && theme !== 'dark') return new Response('Expected theme=light or dark', { status: 400 });
      const preferences = await prefs.start(request, ctx);
      preferences.set('theme', theme);
      return redirect(await preferences.commit());
    }

    const session = await sessions.start(request, ctx);
    const user = session.get('user');

    if (route === 'POST /count' && user !== undefined) {
      session.increment('count');
      return redirect(await session.commit());
    }
    if (route === 'POST /keep' && user !== undefined) {
      // Signed in only (a tab left open after sign-out keeps nothing). The flash rides the same write as the new
      // lifetime (shiftExpiration commits this request's session); a browser-session cookie stays one.
      session.setFlash('notice', session.persistent ? KEPT : KEPT_UNTIL_CLOSED);
      return redirect(await sessions.shiftExpiration(request).catch(() => new Headers()));
    }
    if (route === 'POST /renew' && user !== undefined) {
      session.regenerate();
      session.setFlash('notice', 'Your session ID was renewed.');
      return redirect(await session.commit());
    }
    const userId = session.userId;
    if (route === 'POST /devices/sign-out' && userId !== undefined) {
      const form = await request.formData().catch(() => null);
      const id = String(form?.get('id') ?? '');
      // Only the user's own sessions: an ID that is not in their list is refused, whoever it belongs to.
      const device = (await devicesOf(sessions, userId))?.find((info) => info.id === id);
      if (device === undefined) session.setFlash('notice', 'That device is not signed in.');
      else {
        await sessions.destroyById(device.id);
        session.setFlash('notice', `Signed out ${device.device ?? 'that device'}.`);
      }
      return redirect(await session.commit());
    }
    if (route === 'POST /devices/sign-out-others' && userId !== undefined) {
      const ended = await sessions.destroyByUser(userId, { except: session.id });
      session.setFlash('notice', `Signed out ${ended} other device${ended === 1 ? '' : 's'}.`);
      return redirect(await session.commit());
    }
    if (request.method === 'POST') return redirect(await session.commit());

    if (route === 'GET /api/state') {
      const state = {
        runtime,
        user: user ?? null,
        count: session.getInt('count', 0),
        isNew: session.isNew,
        persistent: session.persistent,
        flash: session.getFlash<string>('notice') ?? null,
      };
      return withHeaders(Response.json(state, { headers: PAGE_HEADERS }), await session.commit());
    }
    if (route !== 'GET /') return new Response('Not found', { status: 404 });

    const notice = session.getFlash<string>('notice');
    // null: a session from before sign-in took a userId, which belongs to no list.
    const devices = userId === undefined ? null : await devicesOf(sessions, userId);
    const preferences = await prefs.start(request, ctx);
    // Both managers' cookies, as gorilla's sessions.Save(r, w) writes every session of the request; before the
    // page is made, so that "Expires" is the time this visit's renewal (a touch) set, not the one before it.
    const headers = await commitAll(session, preferences);
    const body = page(
      runtime,
      notice,
      preferences.get('theme') ?? 'light',
      user === undefined ? loginForm() : signedIn(user, session.getInt('count', 0), session, devices),
    );
    return withHeaders(
      new Response(body, { headers: { ...PAGE_HEADERS, 'Content-Type': 'text/html; charset=utf-8' } }),
      headers,
    );
  };
}

/** The user's sessions, or undefined on a store without a per-user index (the stateless cookie store). */
async function devicesOf(sessions: Sessions<Data>, userId: string): Promise<SessionInfo[] | undefined> {
  try {
    return await sessions.listByUser(userId);
  } catch (error) {
    if (error instanceof SessionError && error.code === 'STORE_UNSUPPORTED') return undefined;
    throw error;
  }
}

function redirect(...headerSets: Headers[]): Response {
  return withHeaders(
    new Response(null, { status: 303, headers: { Location: '/', 'Cache-Control': 'no-store' } }),
    ...headerSets,
  );
}

/** Append (never set) each Set-Cookie, so the app's own cookies survive. */
function withHeaders(response: Response, ...headerSets: Headers[]): Response {
  for (const headers of headerSets)
    for (const cookie of headers.getSetCookie()) response.headers.append('Set-Cookie', cookie);
  return response;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(runtime: string, notice: string | undefined, theme: Theme, content: string): string {
  return `<!doctype html>
<html lang="en" data-theme="${theme}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>edge-sessions example</title>
<style>
:root{--accent:#2563eb;--muted:#6b7280;--line:#e5e7eb}
body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin-top:2rem}
form{display:inline}input[name=name]{font:inherit;padding:.4rem .6rem;border:1px solid var(--line);border-radius:.4rem}
button{font:inherit;margin:.25rem .25rem .25rem 0;padding:.45rem .9rem;border:0;border-radius:.4rem;
background:var(--accent);color:#fff;cursor:pointer}button:hover{filter:brightness(1.1)}
#logout,li button{background:transparent;color:var(--accent);border:1px solid var(--accent)}
.notice{background:#ecfdf5;color:#065f46;padding:.6rem 1rem;border-radius:.4rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
ul{list-style:none;padding:0}li{padding:.5rem 0;border-bottom:1px solid var(--line)}
.seen{color:var(--muted)}.current .seen{color:#059669}
[data-theme=dark]{--line:#374151;color-scheme:dark}[data-theme=dark] body{background:#111827;color:#f3f4f6}
[data-theme=dark] .notice{background:#064e3b;color:#d1fae5}
#theme{margin-top:2rem;color:var(--muted)}#theme button{background:transparent;color:var(--accent);
border:1px solid var(--accent)}</style>
</head><body>
<h1>edge-sessions</h1>
<p>Running on <strong id="runtime">${escape(runtime)}</strong>.</p>
${notice === undefined ? '' : `<p class="notice" id="notice">${escape(notice)}</p>`}
${content}
${themeForm(theme)}
</body></html>`;
}

/** Kept in its own signed cookie (edge-sessions/cookie with encrypt: false): it survives sign-out. */
function themeForm(theme: Theme): string {
  const other: Theme = theme === 'dark' ? 'light' : 'dark';
  return `<form method="post" action="/theme" id="theme">Theme: ${theme}.
<input type="hidden" name="theme" value="${other}"><button id="toggle-theme">Use the ${other} theme</button></form>`;
}

function loginForm(): string {
  return `<form method="post" action="/login" id="login">
<label>Name <input name="name" required maxlength="40" autofocus></label>
<label><input type="checkbox" name="remember"> Remember me</label>
<button type="submit">Sign in</button>
</form>`;
}

function signedIn(
  user: string,
  count: number,
  session: { id: string; maskedId: string; expiresAt: number; persistent: boolean },
  devices: SessionInfo[] | undefined | null,
): string {
  const now = Date.now();
  return `<p>Signed in as <strong id="user">${escape(user)}</strong>.</p>
<p>Counter: <strong id="count">${count}</strong></p>
<dl><dt>Session</dt><dd id="session-id">${escape(session.maskedId)}</dd>
<dt>Expires</dt><dd id="expires">${time(session.expiresAt, now)}</dd>
<dt>Cookie</dt><dd id="cookie-kind">${session.persistent ? 'persistent (remember me)' : 'browser session'}</dd></dl>
<form method="post" action="/count"><button id="increment">Count +1</button></form>
<form method="post" action="/renew"><button id="renew">Renew session ID</button></form>
<form method="post" action="/keep"><button id="keep">Keep me signed in</button></form>
<form method="post" action="/logout"><button id="logout">Sign out</button></form>
${devices === null ? '' : devicesList(devices, session.id, now)}`;
}

/** "Your devices": "last seen" is the session's last write, so it lags by touchAfter (an hour here) at most. */
function devicesList(devices: SessionInfo[] | undefined, currentId: string, now: number): string {
  if (devices === undefined) {
    return '<h2>Your devices</h2>\n<p id="devices-unavailable">This store keeps no list of a user\'s sessions.</p>';
  }
  const rows = devices.map((device) => {
    const label = `<strong class="label">${escape(device.device ?? 'Unknown device')}</strong>`;
    if (device.id === currentId) return `<li class="current">${label} <span class="seen">this device</span></li>`;
    return `<li>${label} <span class="seen">last seen ${time(device.accessedAt, now)}</span>
<form method="post" action="/devices/sign-out"><input type="hidden" name="id" value="${escape(device.id)}">
<button>Sign out this device</button></form></li>`;
  });
  const others = devices.some((device) => device.id !== currentId)
    ? `<form method="post" action="/devices/sign-out-others">
<button id="sign-out-others">Sign out everywhere else</button></form>`
    : '';
  return `<h2>Your devices</h2>
<ul id="devices">
${rows.join('\n')}
</ul>
${others}`;
}

function time(at: number, now: number): string {
  return `<time datetime="${new Date(at).toISOString()}">${timeInWords(at, now)}</time>`;
}
