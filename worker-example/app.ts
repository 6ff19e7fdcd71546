// The example app: one fetch handler, the same on Workers, Deno and Bun. The entry points (worker.ts, deno.ts,
// bun.ts) only choose a store and serve it. Plain HTML forms, no build step, no client script.
import { createSessions, type BackgroundContext, type SessionStore } from '../src/index.js';

export interface AppOptions {
  store: SessionStore;
  secrets: string[];
  /** Shown on the page, e.g. "Workers + KV". */
  runtime: string;
}

interface Data extends Record<string, unknown> {
  user: string;
  count: number;
}

const PERSISTENT_SEC = 30 * 86400;

export function createApp({ store, secrets, runtime }: AppOptions) {
  const sessions = createSessions<Data>({
    store,
    secrets,
    expires: PERSISTENT_SEC,
    idleTimeout: 7 * 86400,
    touchAfter: 3600,
  });

  return async function fetch(request: Request, ctx?: BackgroundContext): Promise<Response> {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;

    // Forms are posted from this page only: a browser sends Origin with every POST, so a cross-site form
    // (login CSRF, which SameSite=Lax does not stop for a top-level POST) is refused.
    if (request.method === 'POST' && request.headers.get('Origin') !== url.origin) {
      return new Response('Cross-site form refused', { status: 403 });
    }

    if (route === 'POST /login') {
      const form = await request.formData().catch(() => null);
      if (form === null) return new Response('Expected a form', { status: 400 });
      const name =
        String(form.get('name') ?? '')
          .trim()
          .slice(0, 40) || 'guest';
      const remember = form.get('remember') === 'on';
      // create() gives a fresh ID and destroys any session the request had (no session fixation).
      const session = await sessions.create(request, { data: { user: name, count: 0 }, persistent: remember });
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

    if (route === 'POST /keep') {
      const headers = await sessions.shiftExpiration(request).catch(() => new Headers());
      return redirect(headers);
    }

    const session = await sessions.start(request, ctx);
    const user = session.get('user');

    if (route === 'POST /count' && user !== undefined) {
      session.increment('count');
      return redirect(await session.commit());
    }
    if (route === 'POST /renew' && user !== undefined) {
      session.regenerate();
      session.setFlash('notice', 'Your session ID was renewed.');
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
      return withHeaders(Response.json(state, { headers: { 'Cache-Control': 'no-store' } }), await session.commit());
    }
    if (route !== 'GET /') return new Response('Not found', { status: 404 });

    const notice = session.getFlash<string>('notice');
    const body = page(
      runtime,
      notice,
      user === undefined ? loginForm() : signedIn(user, session.getInt('count', 0), session),
    );
    return withHeaders(
      new Response(body, { headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' } }),
      await session.commit(),
    );
  };
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

function page(runtime: string, notice: string | undefined, content: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>edge-sessions example</title>
<style>body{font:16px system-ui;max-width:36rem;margin:2rem auto;padding:0 1rem}form{display:inline}
.notice{background:#e8f5e9;padding:.5rem 1rem;border-radius:.25rem}button{margin:.25rem}dt{font-weight:600}</style>
</head><body>
<h1>edge-sessions</h1>
<p>Running on <strong id="runtime">${escape(runtime)}</strong>.</p>
${notice === undefined ? '' : `<p class="notice" id="notice">${escape(notice)}</p>`}
${content}
</body></html>`;
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
  session: { maskedId: string; expiresAt: number; persistent: boolean },
): string {
  return `<p>Signed in as <strong id="user">${escape(user)}</strong>.</p>
<p>Counter: <strong id="count">${count}</strong></p>
<dl><dt>Session</dt><dd id="session-id">${escape(session.maskedId)}</dd>
<dt>Expires</dt><dd id="expires">${new Date(session.expiresAt).toISOString()}</dd>
<dt>Cookie</dt><dd id="cookie-kind">${session.persistent ? 'persistent (remember me)' : 'browser session'}</dd></dl>
<form method="post" action="/count"><button id="increment">Count +1</button></form>
<form method="post" action="/renew"><button id="renew">Renew session ID</button></form>
<form method="post" action="/keep"><button id="keep">Keep me signed in</button></form>
<form method="post" action="/logout"><button id="logout">Sign out</button></form>`;
}
