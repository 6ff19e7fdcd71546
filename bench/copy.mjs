// `node bench/copy.mjs`: the cost of copying a handler's Response before appending a Set-Cookie line
// (`new Response(response.body, response)`) against appending to the handler's own headers, in Node (in process)
// and inside workerd (Miniflare; a dispatch of n operations minus an empty dispatch, as bench/primitives.mjs).
// The operations are in bench/copy-worker.mjs. Also the JS heap bytes each allocates (V8's sampling heap profiler,
// as ALLOC=1 in bench/matrix.mjs; workerd's Request, Response and Headers live outside the JS heap, in C++).
//   ROUNDS=21 N=2000 node bench/copy.mjs
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { check, loop, OPS } from './copy-worker.mjs';
import { inspect } from './inspector.mjs';
import { median, profileBytes, SAMPLING, shuffle } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 21);
const N = Number(process.env.N ?? 2000);
const names = Object.keys(OPS);

/** Interleaved rounds over every operation: `time(name)` gives µs per operation, `bytes(name)` bytes per one.
 * Keeps each round's times, so a difference between two operations can be taken round by round (less noisy on a
 * shared machine than the difference of two medians). */
async function measure(time, bytes) {
  const us = Object.fromEntries(names.map((n) => [n, []]));
  const b = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = -2; round < ROUNDS; round++) {
    for (const name of shuffle([...names])) {
      const t = await time(name);
      if (round >= 0) us[name].push(t);
    }
  }
  // Fewer rounds for bytes: the estimate is steady to a few bytes over N operations.
  for (let round = 0; round < 3; round++) for (const name of shuffle([...names])) b[name].push(await bytes(name));
  return Object.fromEntries(names.map((n) => [n, { us: median(us[n]), rounds: us[n], bytes: median(b[n]) }]));
}

async function node() {
  await check();
  const session = new Session();
  session.connect();
  const post = (method, params = {}) =>
    new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  const timed = async (name) => {
    let t = performance.now();
    await loop(name, N);
    const full = performance.now() - t;
    t = performance.now();
    await loop(undefined, N);
    return ((full - (performance.now() - t)) * 1000) / N;
  };
  const sampled = async (name) => {
    await post('HeapProfiler.startSampling', SAMPLING);
    await loop(name, N);
    return profileBytes((await post('HeapProfiler.stopSampling')).profile);
  };
  try {
    return await measure(timed, async (name) => ((await sampled(name)) - (await sampled(undefined))) / N);
  } finally {
    session.disconnect();
  }
}

async function workerd() {
  const mf = new Miniflare({
    modules: [{ type: 'ESModule', path: join(here, 'copy-worker.mjs') }],
    compatibilityDate: '2026-04-01',
    inspectorPort: 0,
  });
  const inspector = await inspect(mf);
  try {
    const call = async (path) => {
      const res = await mf.dispatchFetch(`http://bench.local${path}`);
      const body = await res.text();
      if (!res.ok) throw new Error(`${path}: ${res.status} ${body.slice(0, 300)}`);
      return body;
    };
    if (JSON.stringify(JSON.parse(await call('/setup'))) !== JSON.stringify(names)) throw new Error('ops differ');
    const q = (name) => `?op=${encodeURIComponent(name)}&n=${N}`;
    const timed = async (name) => {
      let t = performance.now();
      await call(`/run${q(name)}`);
      const full = performance.now() - t;
      t = performance.now();
      await call(`/empty${q(name)}`);
      return ((full - (performance.now() - t)) * 1000) / N;
    };
    const sampled = async (path) => {
      await inspector.send('HeapProfiler.startSampling', SAMPLING);
      await call(path);
      return profileBytes((await inspector.send('HeapProfiler.stopSampling')).profile);
    };
    return await measure(
      timed,
      async (name) => ((await sampled(`/run${q(name)}`)) - (await sampled(`/empty${q(name)}`))) / N,
    );
  } finally {
    inspector.close();
    await mf.dispose();
  }
}

const workerdVersion = JSON.parse(readFileSync(join(here, '..', 'node_modules', 'workerd', 'package.json'))).version;
const results = { [`node ${process.versions.node}`]: await node(), [`workerd ${workerdVersion}`]: await workerd() };
const us = (x) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
let md = `| operation (median of ${ROUNDS} rounds × ${N}) |`;
md += ` ${Object.keys(results)
  .map((r) => `${r} µs | ${r} JS heap B`)
  .join(' | ')} |\n`;
md += `|---|${Object.keys(results)
  .map(() => '---:|---:')
  .join('|')}|\n`;
for (const name of names)
  md += `| ${name} | ${Object.values(results)
    .map((r) => `${us(r[name].us)} | ${Math.round(r[name].bytes)}`)
    .join(' | ')} |\n`;
md += '\nWhat the copy adds (copy + append − append; µs: the median of the per-round differences):\n\n';
md += `| handler Response | ${Object.keys(results)
  .map((r) => `${r} µs | ${r} JS heap B`)
  .join(' | ')} |\n`;
md += `|---|${Object.keys(results)
  .map(() => '---:|---:')
  .join('|')}|\n`;
for (const [label, a, b] of [
  ['text body', 'text: append', 'text: copy + append'],
  ['text body, read', 'text: append, body read', 'text: copy + append, body read'],
  ['302, no body', 'redirect: append', 'redirect: copy + append'],
])
  md += `| ${label} | ${Object.values(results)
    .map((r) => `${us(median(r[b].rounds.map((t, i) => t - r[a].rounds[i])))} | ${Math.round(r[b].bytes - r[a].bytes)}`)
    .join(' | ')} |\n`;
process.stdout.write(md);
