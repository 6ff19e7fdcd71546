// `npm run bench:load`: requests/s under `wrangler dev` (local workerd, loopback), driven by autocannon.
//  1. A/B: the same route with and without the session layer (bench/load-worker.mjs, memory store), so the
//     library's own cost shows: /without, /with (read), /with?write=1 (read + write + Set-Cookie).
//  2. The example Worker (worker-example/worker.ts, root wrangler.toml) signed in, on its KV and its Durable
//     Object store: GET / renders the session page (one store read per request, no write).
// Bounded: LOAD_SECONDS per run (default 8), LOAD_CONNECTIONS (default 32), A/B runs interleaved REPEAT times
// (default 2), each after a 2 s warm-up. Everything shares this machine's cores: the figures compare A with B;
// they are not a capacity estimate.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import './ensure-deps.mjs';

// Loaded after ensure-deps has installed it (a static import would resolve before ensure-deps runs).
const { default: autocannon } = await import('autocannon');

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const PORT = Number(process.env.LOAD_PORT ?? 8799);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 32);
const REPEAT = Number(process.env.LOAD_REPEAT ?? 2);
const base = `http://127.0.0.1:${PORT}`;
const log = (...a) => console.error(`[load ${new Date().toISOString().slice(11, 19)}]`, ...a);
mkdirSync(join(here, '.tmp'), { recursive: true });

/** Runs `wrangler dev` with `args` until `body` returns; always stops it (its whole process group). */
async function withWrangler(args, ready, body) {
  const out = openSync(join(here, '.tmp', 'wrangler.log'), 'a'); // its noise stays out of the report
  const wrangler = spawn(
    join(root, 'node_modules', '.bin', 'wrangler'),
    [
      'dev',
      ...args,
      '--ip',
      '127.0.0.1',
      '--port',
      String(PORT),
      '--show-interactive-dev-session=false',
      '--log-level',
      'warn',
    ],
    { cwd: root, detached: true, stdio: ['ignore', out, out], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  );
  const stop = () => {
    try {
      process.kill(-wrangler.pid, 'SIGTERM');
    } catch {}
  };
  process.on('exit', stop);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(base + ready)).ok) break;
      } catch {}
      if (Date.now() > deadline) throw new Error('wrangler dev did not answer within 60 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    return await body();
  } finally {
    stop();
    await new Promise((r) => setTimeout(r, 1500)); // let the port go
  }
}

const shoot = (path, duration, cookie) =>
  autocannon({ url: base + path, connections: CONNECTIONS, duration, headers: { cookie } }).then((r) => {
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${path}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return r;
  });
const pairs = (response) => response.headers.getSetCookie().map((l) => l.split(';')[0]);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

// 1. A/B on the same route.
await withWrangler(['-c', join(here, 'wrangler.bench.toml')], '/without', async () => {
  const cookie = ['theme=dark', ...pairs(await fetch(`${base}/login`)), '_ga=GA1.2.3.4'].join('; ');
  const check = await (await fetch(`${base}/with`, { headers: { cookie } })).text();
  if (!check.includes('u-42')) throw new Error(`the session cookie was not accepted: ${check}`);
  const routes = { without: '/without', with: '/with', 'with + write': '/with?write=1' };
  const runs = Object.fromEntries(Object.keys(routes).map((k) => [k, []]));
  for (let i = 0; i < REPEAT; i++) {
    for (const [name, path] of Object.entries(routes)) {
      await shoot(path, 2, cookie);
      const r = await shoot(path, SECONDS, cookie);
      runs[name].push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 });
      log(`${name}: ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
    }
  }
  const rps = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, mean(v.map((x) => x.rps))]));
  console.log(
    `| route | req/s (mean of ${REPEAT} × ${SECONDS} s, ${CONNECTIONS} connections) | ÷ without ` +
      `| p50 / p99 latency (ms) |\n|---|---:|---:|---|`,
  );
  for (const [k, v] of Object.entries(runs)) {
    console.log(
      `| ${routes[k]} | ${rps[k].toFixed(0)} | ${(rps[k] / rps.without).toFixed(3)} ` +
        `| ${v.map((x) => `${x.p50} / ${x.p99}`).join(', ')} |`,
    );
  }
});

// 2. The example Worker, signed in, on each store.
console.log(
  `\n| example Worker, GET / signed in | req/s (${SECONDS} s, ${CONNECTIONS} connections) ` +
    `| p50 / p99 latency (ms) |\n|---|---:|---|`,
);
for (const store of ['kv', 'durable-object']) {
  await withWrangler(['--var', `SESSION_STORE:${store}`], '/', async () => {
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { Origin: new URL(base).origin },
      body: new URLSearchParams({ name: 'load', remember: 'on' }),
      redirect: 'manual',
    });
    const cookie = pairs(login).join('; ');
    const page = await (await fetch(`${base}/`, { headers: { cookie } })).text();
    if (!page.includes('id="user">load<')) throw new Error(`${store}: not signed in`);
    await shoot('/', 2, cookie);
    const r = await shoot('/', SECONDS, cookie);
    log(`example ${store}: ${r.requests.average.toFixed(0)} req/s`);
    console.log(`| ${store} | ${r.requests.average.toFixed(0)} | ${r.latency.p50} / ${r.latency.p99} |`);
  });
}
