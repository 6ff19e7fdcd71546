// What copying a handler's Response costs, against appending to its own headers (bench/copy.mjs runs these
// in Node and, as this Worker module, inside workerd). Each operation builds the Response a handler would return
// and then does what the session layer would do to it: append one Set-Cookie line to it, or to a copy made with
// `new Response(response.body, response)` (a copy is what works when the handler's headers are immutable, e.g. a
// Response from fetch()). `body read` variants also read the body, as the runtime does when it sends it: a copy
// turns a string body into a stream.

const COOKIE =
  'sid=yHq2n8X1c0b4Kp9T7wQzLrV3mN6sA5dF8gJ2hE1uC0o.M3yZ6qW9eR2tY5uI8oP1aS4dF7gH0jK3lZ6xC9vB2nM; ' +
  'Max-Age=1209600; Path=/; HttpOnly; Secure; SameSite=Lax';
const text = () => new Response('ok', { headers: { 'content-type': 'text/plain;charset=UTF-8' } });
const redirect = () => new Response(null, { status: 302, headers: { location: '/account' } });
const copy = (res) => new Response(res.body, res);
const appended = (res) => {
  res.headers.append('Set-Cookie', COOKIE);
  return res;
};

export const OPS = {
  'text: build only': async () => text(),
  'text: append': async () => appended(text()),
  'text: copy + append': async () => appended(copy(text())),
  'text: append, body read': async () => appended(text()).text(),
  'text: copy + append, body read': async () => appended(copy(text())).text(),
  'redirect: append': async () => appended(redirect()),
  'redirect: copy + append': async () => appended(copy(redirect())),
};

/** The copy keeps status, headers and body: checked once before any timing. */
export async function check() {
  const res = appended(copy(text()));
  const body = await res.text();
  const r = appended(copy(redirect()));
  const ok =
    body === 'ok' &&
    res.headers.get('content-type') === 'text/plain;charset=UTF-8' &&
    res.headers.getSetCookie().length === 1 &&
    r.status === 302 &&
    r.headers.get('location') === '/account' &&
    r.headers.getSetCookie()[0] === COOKIE;
  if (!ok) throw new Error('copy check failed');
}

const nothing = async () => null;
export async function loop(name, n) {
  const op = name === undefined ? nothing : OPS[name];
  for (let i = 0; i < n; i++) await op();
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/setup') {
      await check();
      return Response.json(Object.keys(OPS));
    }
    if (url.pathname === '/ping') return new Response(null, { status: 204 });
    const n = Number(url.searchParams.get('n'));
    await loop(url.pathname === '/run' ? url.searchParams.get('op') : undefined, n);
    return new Response(null, { status: 204 });
  },
};
