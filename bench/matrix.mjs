// `npm run bench`: bundles the harness once (esbuild), runs it on Node, Bun and Deno (the npm binaries) and
// inside workerd (Miniflare), writes bench/.tmp/results.json and prints the Markdown tables of RESULTS.md.
//   node bench/matrix.mjs [node] [bun] [deno] [workerd]     (default: all four)
//   ROUNDS=31 TARGET_MS=4 WORKERD_TARGET_MS=20 ONLY=<regexp on library name>
// Modes (each writes its own results file, so the default run's results.json stays as it is):
//   INFLIGHT=16  each sample's requests as 16 concurrent chains; µs = the sample's wall time / its requests
//   GC=1         a full collection before every timed sample (Node --expose-gc, Deno's V8 flag, Bun.gc(true),
//                workerd through its inspector's HeapProfiler.collectGarbage)
//   V8_FLAGS='--no-flush-bytecode'   extra V8 flags for Node and Deno
//   ALLOC=1      JS heap bytes allocated per request in S1, S2, S3 (ALLOC_SCENARIOS), no timing; Node, Deno and
//                workerd (Bun has no allocation profiler). ALLOC_ROUNDS=5 ALLOC_WINDOW_MS=100, and ALLOC_INTERVAL=512:
//                V8's mean sampling interval in bytes
//   PIN=1        Node, Bun and Deno on one CPU core (Linux `taskset -c 0`), every thread of theirs included, so no
//                request waits for work done on the other core (here, pinned, Node's HMAC floor took a fifth to a
//                half less time; RESULTS.md, "Fourth session"). Writes results-pinned.json. workerd is not pinned:
//                pinned, Miniflare's dispatch shares its core.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import './ensure-deps.mjs'; // before anything resolves a peer
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { collectGarbage, inspect } from './inspector.mjs';
import { median, profileBytes, SAMPLING, shuffle } from './stats.mjs';
import { renderAllocation, renderTables } from './report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const tmp = join(here, '.tmp');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const ROUNDS = Number(process.env.ROUNDS ?? 31);
const WORKERD_TARGET_MS = Number(process.env.WORKERD_TARGET_MS ?? 20);
const COMPATIBILITY_DATE = '2026-04-01';
const INFLIGHT = Math.max(1, Number(process.env.INFLIGHT ?? 1));
const GC = process.env.GC === '1';
const PIN = process.env.PIN === '1';
if (PIN && process.platform !== 'linux') throw new Error('PIN=1 needs Linux (taskset -c 0)');
const ALLOC = process.env.ALLOC === '1';
const ALLOC_ROUNDS = Number(process.env.ALLOC_ROUNDS ?? 5);
const ALLOC_WINDOW_MS = Number(process.env.ALLOC_WINDOW_MS ?? 100);
const ALLOC_SCENARIOS = (process.env.ALLOC_SCENARIOS ?? 'S1,S2,S3').split(',');
const SAMPLING_PARAMS = {
  ...SAMPLING,
  samplingInterval: Number(process.env.ALLOC_INTERVAL ?? SAMPLING.samplingInterval),
};
const RESULTS = ALLOC
  ? 'results-alloc.json'
  : `results${INFLIGHT > 1 ? `-inflight${INFLIGHT}` : ''}${GC ? '-gc' : ''}${PIN ? '-pinned' : ''}.json`;
const everywhere = ALLOC ? ['node', 'deno', 'workerd'] : ['node', 'bun', 'deno', 'workerd'];
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : everywhere;
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

mkdirSync(tmp, { recursive: true });
// One bundle per entry, identical library code everywhere; the web-standard builds (uncrypto → globalThis.crypto).
for (const entry of ['run', 'worker']) {
  await build({
    // run.mjs imports node:inspector and node:v8 for ALLOC=1; Node, Deno and Bun all resolve node: themselves.
    external: ['node:*'],
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
// V8_FLAGS (e.g. --no-flush-bytecode) go to Node and Deno as they are; workerd gets none (see workerd()).
const v8Flags = [...(GC ? ['--expose-gc'] : []), ...(process.env.V8_FLAGS ?? '').split(' ').filter(Boolean)];
const inProcess = {
  node: [process.execPath, v8Flags],
  bun: [bin('bun'), []],
  // ALLOC=1 opens node:inspector, which Deno guards with sys access.
  deno: [
    bin('deno'),
    [
      'run',
      '--allow-env',
      '--quiet',
      ...(v8Flags.length > 0 ? [`--v8-flags=${v8Flags.join(',')}`] : []),
      ...(ALLOC ? ['--allow-sys'] : []),
    ],
  ],
};
if (ALLOC && wanted.includes('bun')) log('bun: skipped, ALLOC=1 needs V8 (JavaScriptCore has no allocation profiler)');
for (const runtime of wanted.filter((r) => r in inProcess && !(ALLOC && r === 'bun'))) {
  const [runtimeCmd, runtimeArgs] = inProcess[runtime];
  const [cmd, args] = PIN ? ['taskset', ['-c', '0', runtimeCmd, ...runtimeArgs]] : [runtimeCmd, runtimeArgs];
  log(`${runtime}: ${cmd} ${[...args, 'bench/.tmp/run.mjs'].join(' ')}`);
  const out = execFileSync(cmd, [...args, join(tmp, 'run.mjs')], {
    cwd: root,
    env: { ...process.env, ROUNDS: String(ROUNDS), INFLIGHT: String(INFLIGHT), GC: GC ? '1' : '0' },
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
    return JSON.parse(readFileSync(join(tmp, RESULTS), 'utf8'));
  } catch {
    return [];
  }
})();
// A partial run (e.g. `node bench/matrix.mjs bun`) replaces only its runtimes in its results file.
const merged = [
  ...previous.filter((p) => !results.some((r) => r.runtime.split(' ')[0] === p.runtime.split(' ')[0])),
  ...results,
];
writeFileSync(join(tmp, RESULTS), JSON.stringify(merged, null, 1));
log(`wrote bench/.tmp/${RESULTS}`);
process.stdout.write(ALLOC ? renderAllocation(merged) : renderTables(merged));

async function workerd() {
  const t0 = performance.now();
  const mf = new Miniflare({
    // Listed explicitly: react-router's bundle holds a dynamic import() (browser route loading, never run here)
    // that Miniflare's module walker refuses.
    modules: [{ type: 'ESModule', path: join(tmp, 'worker.mjs') }],
    compatibilityDate: COMPATIBILITY_DATE,
    // Miniflare passes no V8 flags to workerd (no --expose-gc), so GC=1 and ALLOC=1 go through the inspector.
    ...(GC || ALLOC ? { inspectorPort: 0 } : {}),
  });
  let inspector;
  try {
    const call = async (path) => {
      const res = await mf.dispatchFetch(`http://bench.local${path}`);
      const body = await res.text();
      if (!res.ok) throw new Error(`${path}: ${res.status} ${body.slice(0, 500)}`);
      return body;
    };
    if (GC || ALLOC) inspector = await inspect(mf);
    // The isolate's used heap before and after each collection is kept as evidence that it ran.
    const gcStats = { collections: 0, requests: 0, before: [], after: [] };
    const collect = async () => {
      const { before, after, requests } = await collectGarbage(inspector, () => call('/ping'));
      gcStats.collections++;
      gcStats.requests += requests;
      gcStats.before.push(before);
      gcStats.after.push(after);
    };
    log('workerd: setup');
    const setup = new URLSearchParams();
    if (process.env.ONLY) setup.set('only', process.env.ONLY);
    if (ALLOC) setup.set('check', '1');
    const entries = JSON.parse(await call(`/setup?${setup}`));
    const libs = Object.fromEntries(entries);
    const cells = [];
    entries.forEach(([name, info], index) => {
      for (const [scenario, s] of Object.entries(info.scenarios))
        if (s.ok && info.errors.length === 0 && (!ALLOC || ALLOC_SCENARIOS.includes(scenario)))
          cells.push({ name, index, scenario, s, samples: [] });
    });
    const inflight = ALLOC ? 1 : INFLIGHT;
    const query = (cell, n) => `?lib=${cell.index}&scenario=${encodeURIComponent(cell.scenario)}&n=${n}`;
    // One timed pair: n operations (`inflight` at a time), then the same dispatch with the n Requests built and
    // nothing run. With GC=1 a full collection precedes each of the two (untimed).
    const pair = async (cell, n, gc = false) => {
      const q = `${query(cell, n)}&inflight=${inflight}`;
      if (gc) await collect();
      let t = performance.now();
      await call(`/run${q}`);
      const full = performance.now() - t;
      if (gc) await collect();
      t = performance.now();
      await call(`/empty${q}`);
      const empty = performance.now() - t;
      return ((full - empty) * 1000) / n;
    };
    const ops = (n) => Math.ceil(n / inflight) * inflight;
    for (const cell of cells) {
      await pair(cell, ops(16));
      cell.us = Math.max(1, median([await pair(cell, ops(32)), await pair(cell, ops(32)), await pair(cell, ops(32))]));
      cell.ops = ops(Math.max(32, Math.min(2048, Math.round((WORKERD_TARGET_MS * 1000) / cell.us))));
    }
    if (ALLOC) {
      // As in run.mjs: the sampling heap profiler over a dispatch of n requests minus a dispatch building the same
      // Requests and running the do-nothing handler (which also takes out the dispatch itself).
      const bytes = async (path) => {
        await inspector.send('HeapProfiler.startSampling', SAMPLING_PARAMS);
        await call(path);
        return profileBytes((await inspector.send('HeapProfiler.stopSampling')).profile);
      };
      for (const cell of cells) cell.n = Math.max(64, Math.min(2048, Math.round((ALLOC_WINDOW_MS * 1000) / cell.us)));
      log(`workerd: ${cells.length} cells x ${ALLOC_ROUNDS} allocation rounds`);
      for (let round = -1; round < ALLOC_ROUNDS; round++) {
        for (const cell of shuffle([...cells])) {
          const base = await bytes(`/noop${query(cell, cell.n)}`);
          const full = await bytes(`/run${query(cell, cell.n)}`);
          if (round >= 0) cell.samples.push((full - base) / cell.n);
        }
      }
      for (const cell of cells)
        Object.assign(cell.s, {
          bytes: median(cell.samples),
          bytesRange: [Math.min(...cell.samples), Math.max(...cell.samples)],
          allocN: cell.n,
          rounds: cell.samples.length,
        });
    } else {
      log(`workerd: ${cells.length} cells x ${ROUNDS} rounds`);
      for (let round = -2; round < ROUNDS; round++) {
        for (const cell of shuffle([...cells])) {
          const us = await pair(cell, cell.ops, GC);
          if (round >= 0) cell.samples.push(us);
        }
      }
      for (const cell of cells)
        Object.assign(cell.s, { us: median(cell.samples), ops: cell.ops, rounds: cell.samples.length });
      if (GC) {
        const mb = (xs) => (median(xs) / 1e6).toFixed(2);
        log(
          `workerd: ${gcStats.collections} collections run by ${gcStats.requests} untimed requests;` +
            ` used heap ${mb(gcStats.before)} MB before, ${mb(gcStats.after)} MB after (medians)`,
        );
      }
    }
    const version = JSON.parse(readFileSync(join(root, 'node_modules', 'workerd', 'package.json'), 'utf8')).version;
    const seconds = (performance.now() - t0) / 1000;
    log(`workerd: ${seconds.toFixed(0)} s`);
    const mode = ALLOC ? { alloc: true } : { inflight: INFLIGHT, gc: GC };
    return { runtime: `workerd ${version}`, rounds: ALLOC ? ALLOC_ROUNDS : ROUNDS, mode, seconds, libs };
  } finally {
    inspector?.close();
    await mf.dispose();
  }
}
