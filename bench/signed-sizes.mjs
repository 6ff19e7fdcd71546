// `node bench/signed-sizes.mjs <other src/>`: the signed-only cookie store of this checkout against the same store
// of another checkout (for example `git worktree add /tmp/before <commit>`, then `/tmp/before/src`), by session
// size, in one process per runtime: a read of a cookie this isolate has not seen (S2-cold) and a read + write of
// one (S3), on Node, Bun and Deno (the npm binaries). Both stores sign sessions of 2 short values (the bench's),
// and of 8 and 37 (about 0.6 and 2 KB of cookie). Interleaved rounds, median µs per request, Requests built before
// the clock starts. PIN=1 runs each runtime on one CPU core (`taskset -c 0`).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const other = process.argv[2];
if (other === undefined) {
  console.error('usage: node bench/signed-sizes.mjs <src/ of another checkout> [node|bun|deno ...]');
  process.exit(2);
}
const wanted = process.argv.length > 3 ? process.argv.slice(3) : ['node', 'bun', 'deno'];
const PIN = process.env.PIN === '1';
const src = (dir, file) => JSON.stringify(join(resolve(dir), file));

const contents = `
import { createSessions as thisSessions } from ${src(join(root, 'src'), 'index.ts')};
import { createCookieStore as thisStore } from ${src(join(root, 'src'), 'cookie-store.ts')};
import { createSessions as otherSessions } from ${src(other, 'index.ts')};
import { createCookieStore as otherStore } from ${src(other, 'cookie-store.ts')};
const SECRET = 'bench-secret-0123456789abcdef-0123456789abcd';
const POOL = 4096, N = 2000, ROUNDS = 9;
function handlers(createSessions, createCookieStore, values) {
  const sessions = createSessions({ store: createCookieStore({ encrypt: false }), secrets: [SECRET] });
  return {
    s1: sessions.handle((_r, s) => {
      s.set('user', 'u-42');
      s.set('n', 1);
      for (let i = 2; i < values; i++) s.set('pref' + i, 'value-' + i + '-abcdefghij');
      return new Response('ok');
    }),
    read: sessions.handle((_r, s) => new Response(s.get('user'))),
    rw: sessions.handle((_r, s) => {
      s.set('n', s.get('n') + 1);
      return new Response('ok');
    }),
  };
}
const out = {};
for (const values of [2, 8, 37]) {
  const libs = { this: handlers(thisSessions, thisStore, values), other: handlers(otherSessions, otherStore, values) };
  const pools = {};
  for (const [name, lib] of Object.entries(libs)) {
    pools[name] = [];
    for (let i = 0; i < POOL; i++) {
      const r = await lib.s1(new Request('https://bench.example/s1'));
      pools[name].push(r.headers.getSetCookie().map((l) => l.split(';')[0]).join('; '));
    }
  }
  const samples = {};
  let next = 0;
  for (let round = -1; round < ROUNDS; round++) {
    for (const scenario of ['read', 'rw']) {
      for (const name of Math.random() < 0.5 ? ['this', 'other'] : ['other', 'this']) {
        const reqs = [];
        for (let i = 0; i < N; i++) {
          reqs.push(new Request('https://bench.example/', { headers: { cookie: pools[name][(next + i) % POOL] } }));
        }
        const t = performance.now();
        for (let i = 0; i < N; i++) {
          const res = await libs[name][scenario](reqs[i]);
          if (i === 0 && scenario === 'read' && (await res.text()) !== 'u-42') throw new Error(name + ': no session');
        }
        if (round >= 0) (samples[scenario + ' ' + name] ??= []).push(((performance.now() - t) * 1000) / N);
      }
      next += N;
    }
  }
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  out[values] = { cookie: pools.this[0].length, ...medians };
}
console.log(JSON.stringify(out));
`;

const tmp = join(here, '.tmp');
mkdirSync(tmp, { recursive: true });
const file = join(tmp, 'signed-sizes-run.mjs');
await build({
  stdin: { contents, resolveDir: here, loader: 'ts', sourcefile: 'signed-sizes-entry.ts' },
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  // The other checkout may have no node_modules of its own: both resolve uncrypto from this one.
  nodePaths: [join(root, 'node_modules')],
  outfile: file,
  logLevel: 'error',
});
const bin = (name) => join(root, 'node_modules', '.bin', name);
console.log(
  '| runtime | values (cookie bytes) | S2-cold: this / other µs | S3: this / other µs |\n|---|---|---:|---:|',
);
for (const runtime of wanted) {
  const command = { node: [process.execPath, file], bun: [bin('bun'), file], deno: [bin('deno'), 'run', file] }[
    runtime
  ];
  const [cmd, ...args] = PIN ? ['taskset', '-c', '0', ...command] : command;
  const result = JSON.parse(execFileSync(cmd, args, { encoding: 'utf8' }));
  for (const [values, r] of Object.entries(result)) {
    const pair = (s) => {
      const [mine, theirs] = [r[`${s} this`], r[`${s} other`]];
      return `${mine.toFixed(1)} / ${theirs.toFixed(1)} (${(mine / theirs).toFixed(2)}×)`;
    };
    console.log(
      `| ${runtime}${PIN ? ' (one core)' : ''} | ${values} (${r.cookie} B) | ${pair('read')} | ${pair('rw')} |`,
    );
  }
}
