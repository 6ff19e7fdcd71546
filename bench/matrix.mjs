// `npm run bench`: bundles the harness once (esbuild), runs it on Node, Bun and Deno (the npm binaries) and
// inside workerd (Miniflare), writes bench/.tmp/results.json and prints the Markdown tables of RESULTS.md.
//   node bench/matrix.mjs [node] [bun] [deno] [workerd]     (default: all four)
//   ROUNDS=31 TARGET_MS=4 WORKERD_TARGET_MS=20 ONLY=<regexp on library name>
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { median, shuffle } from './stats.mjs';
import { renderTables } from './report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const tmp = join(here, '.tmp');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const ROUNDS = Number(process.env.ROUNDS ?? 31);
const WORKERD_TARGET_MS = Number(process.env.WORKERD_TARGET_MS ?? 20);
const COMPATIBILITY_DATE = '2026-04-01';
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['node', 'bun', 'deno', 'workerd'];
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

mkdirSync(tmp, { recursive: true });
// One bundle per entry, identical library code everywhere; the web-standard builds (uncrypto → globalThis.crypto).
for (const entry of ['run', 'worker']) {
  await build({
    entryPoints: [join(here, `${entry}.mjs`)],
    outfile: join(tmp, `${entry}.mjs`),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker'],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
}

const results = [];
const inProcess = {
  node: [process.execPath, []],
  bun: [bin('bun'), []],
  deno: [bin('deno'), ['run', '--allow-env', '--quiet']],
};
for (const runtime of wanted.filter((r) => r in inProcess)) {
  const [cmd, args] = inProcess[runtime];
  log(`${runtime}: ${cmd} ${[...args, 'bench/.tmp/run.mjs'].join(' ')}`);
  const out = execFileSync(cmd, [...args, join(tmp, 'run.mjs')], {
    cwd: root,
    env: { ...process.env, ROUNDS: String(ROUNDS) },
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const result = JSON.parse(out.toString());
  log(`${result.runtime}: ${result.seconds.toFixed(0)} s`);
  results.push(result);
}
if (wanted.includes('workerd')) results.push(await workerd());

const previous = (() => {
  try {
    return JSON.parse(readFileSync(join(tmp, 'results.json'), 'utf8'));
  } catch {
    return [];
  }
})();
// A partial run (e.g. `node bench/matrix.mjs bun`) replaces only its runtimes in results.json.
const merged = [
  ...previous.filter((p) => !results.some((r) => r.runtime.split(' ')[0] === p.runtime.split(' ')[0])),
  ...results,
];
writeFileSync(join(tmp, 'results.json'), JSON.stringify(merged, null, 1));
process.stdout.write(renderTables(merged));

async function workerd() {
  const t0 = performance.now();
  const mf = new Miniflare({
    // Listed explicitly: react-router's bundle holds a dynamic import() (browser route loading, never run here)
    // that Miniflare's module walker refuses.
    modules: [{ type: 'ESModule', path: join(tmp, 'worker.mjs') }],
    compatibilityDate: COMPATIBILITY_DATE,
  });
  try {
    const call = async (path) => {
      const res = await mf.dispatchFetch(`http://bench.local${path}`);
      const body = await res.text();
      if (!res.ok) throw new Error(`${path}: ${res.status} ${body.slice(0, 500)}`);
      return body;
    };
    log('workerd: setup');
    const entries = JSON.parse(
      await call(`/setup${process.env.ONLY ? `?only=${encodeURIComponent(process.env.ONLY)}` : ''}`),
    );
    const libs = Object.fromEntries(entries);
    const cells = [];
    entries.forEach(([name, info], index) => {
      for (const [scenario, s] of Object.entries(info.scenarios))
        if (s.ok && info.errors.length === 0) cells.push({ name, index, scenario, s, samples: [] });
    });
    // One timed pair: n operations, then the same dispatch with the n Requests built and nothing run.
    const pair = async (cell, n) => {
      const q = `?lib=${cell.index}&scenario=${encodeURIComponent(cell.scenario)}&n=${n}`;
      let t = performance.now();
      await call(`/run${q}`);
      const full = performance.now() - t;
      t = performance.now();
      await call(`/empty${q}`);
      const empty = performance.now() - t;
      return ((full - empty) * 1000) / n;
    };
    for (const cell of cells) {
      await pair(cell, 16);
      const us = Math.max(1, median([await pair(cell, 32), await pair(cell, 32), await pair(cell, 32)]));
      cell.ops = Math.max(32, Math.min(2048, Math.round((WORKERD_TARGET_MS * 1000) / us)));
    }
    log(`workerd: ${cells.length} cells x ${ROUNDS} rounds`);
    for (let round = -2; round < ROUNDS; round++) {
      for (const cell of shuffle([...cells])) {
        const us = await pair(cell, cell.ops);
        if (round >= 0) cell.samples.push(us);
      }
    }
    for (const cell of cells)
      Object.assign(cell.s, { us: median(cell.samples), ops: cell.ops, rounds: cell.samples.length });
    const version = JSON.parse(readFileSync(join(root, 'node_modules', 'workerd', 'package.json'), 'utf8')).version;
    const seconds = (performance.now() - t0) / 1000;
    log(`workerd: ${seconds.toFixed(0)} s`);
    return { runtime: `workerd ${version}`, rounds: ROUNDS, seconds, libs };
  } finally {
    await mf.dispose();
  }
}
