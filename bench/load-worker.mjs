// A/B Worker for bench/load.mjs under `wrangler dev -c bench/wrangler.bench.toml`: the same route shape with
// and without the session layer (memory store: the session is in this isolate, so only the library is measured).
//   GET /without            → text body, no session
//   GET /with               → start, read `user`, commit (returning visitor: nothing to write)
//   GET /with?write=1       → start, read `user`, increment `n`, commit (store write, Set-Cookie)
//   GET /login              → a new session with `user` set (the load script takes its cookie from here)
import { createSessions } from '../src/index.ts';
import { createMemoryStore } from '../src/memory.ts';

const sessions = createSessions({
  store: createMemoryStore(),
  secrets: ['bench-secret-0123456789abcdef-0123456789abcd'],
});
const page = (user) => `<!doctype html><p>hello ${user ?? 'stranger'}</p>`;
const html = { 'Content-Type': 'text/html; charset=utf-8' };

const withSession = sessions.handle(async (request, session) => {
  const url = new URL(request.url);
  if (url.pathname === '/login') session.set('user', 'u-42');
  else if (url.searchParams.has('write')) session.increment('n');
  return new Response(page(session.get('user')), { headers: html });
});

export default {
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/without') return new Response(page('u-42'), { headers: html });
    return withSession(request);
  },
};
