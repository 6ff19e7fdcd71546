// `npm run bench:load`: requests/s of the same route with and without the session layer, under `wrangler dev`
// (local workerd, loopback), driven by autocannon. Bounded: LOAD_SECONDS per run (default 8), LOAD_CONNECTIONS
// (default 32), runs interleaved without / with / with+write, REPEAT times (default 2), plus a 2 s warm-up each.
// Both sit on this machine's cores: the figures compare A and B, they are not a capacity estimate.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const PORT = Number(process.env.LOAD_PORT ?? 8799);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 32);
const REPEAT = Number(process.env.LOAD_REPEAT ?? 2);
const base = `http://127.0.0.1:${PORT}`;
const log = (...a) => console.error(`[load ${new Date().toISOString().slice(11, 19)}]`, ...a);

mkdirSync(join(here, '.tmp'), { recursive: true });
const wranglerLog = openSync(join(here, '.tmp', 'wrangler.log'), 'w'); // its shutdown noise stays out of the report
const wrangler = spawn(
  join(root, 'node_modules', '.bin', 'wrangler'),
  ['dev', '-c', join(here, 'wrangler.bench.toml'), '--ip', '127.0.0.1', '--port', String(PORT), '--show-interactive-dev-session=false', '--log-level', 'warn'],
  { cwd: root, detached: true, stdio: ['ignore', wranglerLog, wranglerLog], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
);
const stop = () => {
  try {
    process.kill(-wrangler.pid, 'SIGTERM'); // its process group: wrangler and the workerd it started
  } catch {}
};
process.on('exit', stop);

try {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/without`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error('wrangler dev did not answer within 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  const login = await fetch(`${base}/login`);
  const session = login.headers.getSetCookie().map((l) => l.split(';')[0]);
  const cookie = ['theme=dark', ...session, '_ga=GA1.2.3.4'].join('; ');
  const check = await (await fetch(`${base}/with`, { headers: { cookie } })).text();
  if (!check.includes('u-42')) throw new Error(`the session cookie was not accepted: ${check}`);
  log(`wrangler dev on ${base}; cookie ${session.map((p) => p.split('=')[0]).join(', ')}`);

  const routes = { without: '/without', with: '/with', 'with + write': '/with?write=1' };
  const shoot = (path, duration) =>
    autocannon({ url: base + path, connections: CONNECTIONS, duration, headers: { cookie } }).then((r) => {
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${path}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      return r;
    });
  const runs = Object.fromEntries(Object.keys(routes).map((k) => [k, []]));
  for (let i = 0; i < REPEAT; i++) {
    for (const [name, path] of Object.entries(routes)) {
      await shoot(path, 2);
      const r = await shoot(path, SECONDS);
      runs[name].push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, total: r.requests.total });
      log(`${name}: ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rps = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, mean(v.map((x) => x.rps))]));
  console.log(`| route | req/s (mean of ${REPEAT} × ${SECONDS} s, ${CONNECTIONS} connections) | ÷ without | p50 / p99 latency (ms) |\n|---|---:|---:|---|`);
  for (const [k, v] of Object.entries(runs)) {
    console.log(`| ${routes[k]} | ${rps[k].toFixed(0)} | ${(rps[k] / rps.without).toFixed(3)} | ${v.map((x) => `${x.p50} / ${x.p99}`).join(', ')} |`);
  }
} finally {
  stop();
}
