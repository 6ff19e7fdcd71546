// In-process runner for Node, Bun and Deno (bundled to bench/.tmp/run.mjs by bench/matrix.mjs).
// Prints one JSON object on stdout. ROUNDS / TARGET_MS / ONLY / INFLIGHT / GC / ALLOC / PIN come from the
// environment (see matrix.mjs; PIN only labels the results, matrix.mjs does the pinning).

import {
  createSuite,
  describe,
  mark,
  median,
  prepare,
  profileBytes,
  restore,
  roundOps,
  run,
  runnable,
  sample,
  SAMPLING,
  SCENARIOS,
  shuffle,
} from './harness.mjs';

const env = (name, fallback) => globalThis.process?.env?.[name] ?? globalThis.Deno?.env.get(name) ?? fallback;
const ROUNDS = Number(env('ROUNDS', 31));
const TARGET_MS = Number(env('TARGET_MS', 4)); // per sample
const ONLY = env('ONLY', undefined);
const INFLIGHT = Math.max(1, Number(env('INFLIGHT', 1)));
const GC = env('GC', '0') === '1';
const ALLOC = env('ALLOC', '0') === '1';
const ALLOC_ROUNDS = Number(env('ALLOC_ROUNDS', 5));
const ALLOC_WINDOW_MS = Number(env('ALLOC_WINDOW_MS', 100));
const ALLOC_SCENARIOS = env('ALLOC_SCENARIOS', 'S1,S2,S3').split(',');
const SAMPLING_PARAMS = { ...SAMPLING, samplingInterval: Number(env('ALLOC_INTERVAL', SAMPLING.samplingInterval)) };

// Some peers log every rejected cookie (@hono/session: console.error on a failed JWE decrypt). Logging is not
// what is measured: silence it for everyone.
console.error = console.warn = () => {};

const runtime = globalThis.Bun
  ? `bun ${Bun.version}`
  : globalThis.Deno
    ? `deno ${Deno.version.deno}`
    : `node ${process.versions.node}`;

// A full collection: Bun's synchronous one, or V8's gc() (Node --expose-gc, Deno --v8-flags=--expose-gc).
const collect = !GC ? undefined : globalThis.Bun ? () => Bun.gc(true) : globalThis.gc;
if (GC && typeof collect !== 'function') throw new Error('GC=1 needs gc(): run Node with --expose-gc');

const t0 = performance.now();
const libs = await createSuite({ only: ONLY ? new RegExp(ONLY) : undefined, allocationCheck: ALLOC });
const info = await describe(libs);

const cells = [];
for (const lib of libs)
  for (const scenario of Object.keys(SCENARIOS))
    if (runnable(lib, scenario) && (!ALLOC || ALLOC_SCENARIOS.includes(scenario)))
      cells.push({ lib, scenario, samples: [] });

// Calibrate: operations per sample so that one sample takes about TARGET_MS (16..512), in the sample's own mode.
const inflight = ALLOC ? 1 : INFLIGHT;
for (const cell of cells) {
  await sample(cell.lib, cell.scenario, roundOps(8, inflight), { inflight });
  cell.us = median([
    await sample(cell.lib, cell.scenario, roundOps(8, inflight), { inflight }),
    await sample(cell.lib, cell.scenario, roundOps(8, inflight), { inflight }),
    await sample(cell.lib, cell.scenario, roundOps(8, inflight), { inflight }),
  ]);
  cell.ops = roundOps(Math.max(16, Math.min(512, Math.round((TARGET_MS * 1000) / cell.us))), inflight);
}

if (ALLOC) await allocation();
else {
  for (let round = -2; round < ROUNDS; round++) {
    for (const cell of shuffle([...cells])) {
      const us = await sample(cell.lib, cell.scenario, cell.ops, { inflight, collect });
      if (round >= 0) cell.samples.push(us);
    }
  }
  for (const cell of cells) {
    const s = info[cell.lib.name].scenarios[cell.scenario];
    s.us = median(cell.samples);
    s.ops = cell.ops;
    s.rounds = cell.samples.length;
  }
}
const mode = ALLOC ? { alloc: true } : { inflight: INFLIGHT, gc: GC, pinned: env('PIN', '0') === '1' };
const out = {
  runtime,
  rounds: ALLOC ? ALLOC_ROUNDS : ROUNDS,
  mode,
  seconds: (performance.now() - t0) / 1000,
  libs: info,
};
const text = JSON.stringify(out);
if (globalThis.Deno) await Deno.stdout.write(new TextEncoder().encode(text + '\n'));
else process.stdout.write(text + '\n');

/**
 * JS heap bytes allocated per request: V8's sampling heap profiler over the window of a cell's requests (built
 * beforehand), minus the same window with the do-nothing handler (the loop and the awaits around the handlers).
 * On Node, a second figure from the same window: the growth of used_heap_size plus what every collection in the
 * window freed (v8.GCProfiler reports the heap statistics before and after each one). It counts the unused tails of
 * allocation buffers too (the 8,048-byte check comes out ~3 % high), so the sampled figure is the one reported; the
 * two agree within ~1 % for the libraries. Deno's used_heap_size moves in allocation-buffer steps (8,192 B for the
 * check), so Deno gets the sampled figure only; Bun (JavaScriptCore) has neither and is not measured.
 */
async function allocation() {
  if (globalThis.Bun) throw new Error('ALLOC=1: JavaScriptCore has no allocation profiler; run node, deno, workerd');
  const { Session } = await import('node:inspector');
  const v8 = globalThis.Deno ? undefined : await import('node:v8');
  const session = new Session();
  session.connect();
  const post = (method, params = {}) =>
    new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  const window = async (lib, scenario, reqs, noop) => {
    const profiler = v8 && new v8.GCProfiler();
    await post('HeapProfiler.startSampling', SAMPLING_PARAMS);
    profiler?.start();
    const used = v8?.getHeapStatistics().used_heap_size;
    await run(lib, scenario, reqs, { noop });
    const grown = v8 && v8.getHeapStatistics().used_heap_size - used;
    const gcs = profiler?.stop().statistics ?? [];
    const { profile } = await post('HeapProfiler.stopSampling');
    const freed = gcs.reduce(
      (n, g) => n + g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize,
      0,
    );
    return { sampled: profileBytes(profile), usedHeap: v8 && grown + freed };
  };
  for (const cell of cells) {
    // About ALLOC_WINDOW_MS of requests: enough samples for a small figure, a bounded time for h3.
    cell.n = Math.max(64, Math.min(2048, Math.round((ALLOC_WINDOW_MS * 1000) / cell.us)));
    cell.usedHeap = [];
  }
  for (let round = -1; round < ALLOC_ROUNDS; round++) {
    for (const cell of shuffle([...cells])) {
      // The baseline sends the same cookies (pool pointers put back), though its handler never reads them.
      const before = mark(cell.lib);
      const base = await window(cell.lib, cell.scenario, prepare(cell.lib, cell.scenario, cell.n), true);
      restore(cell.lib, before);
      const full = await window(cell.lib, cell.scenario, prepare(cell.lib, cell.scenario, cell.n), false);
      if (round < 0) continue;
      cell.samples.push((full.sampled - base.sampled) / cell.n);
      if (v8) cell.usedHeap.push((full.usedHeap - base.usedHeap) / cell.n);
    }
  }
  session.disconnect();
  for (const cell of cells) {
    const s = info[cell.lib.name].scenarios[cell.scenario];
    s.bytes = median(cell.samples);
    s.bytesRange = [Math.min(...cell.samples), Math.max(...cell.samples)];
    if (v8) s.bytesUsedHeap = median(cell.usedHeap);
    s.allocN = cell.n;
    s.rounds = cell.samples.length;
  }
}
