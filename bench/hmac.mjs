// `node bench/hmac.mjs`: one HMAC-SHA256 check by WebCrypto (`await crypto.subtle.verify`) and by the library's
// JavaScript HMAC (src/lib/hmac-sha256.ts, synchronous), per message length, on Node, Bun and Deno (the npm
// binaries) and inside workerd (Miniflare: a dispatch of n checks minus an empty one, its clock being coarse).
// Interleaved rounds, median µs per check. PIN=1 runs Node, Bun and Deno on one CPU core (`taskset -c 0`).
// This is where lib/signed-payload.ts's SYNC_MAX_BYTES comes from.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { median } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const tmp = join(here, '.tmp');
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const PIN = process.env.PIN === '1';
const LENGTHS = [40, 250, 512, 1000, 2048, 4000];
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['node', 'bun', 'deno', 'workerd'];

// The checks, shared by every runtime: `setup()` makes the keys and messages, `run(op, length, n)` does n checks.
const checks = `
import { HmacKey } from ${JSON.stringify(join(root, 'src/lib/hmac-sha256.ts'))};
const LENGTHS = ${JSON.stringify(LENGTHS)};
const secret = new TextEncoder().encode('bench-secret-0123456789abcdef-0123456789abcd');
let web, js;
const messages = {}, tags = {};
export async function setup() {
  web = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify', 'sign']);
  js = new HmacKey(secret);
  for (const length of LENGTHS) {
    messages[length] = crypto.getRandomValues(new Uint8Array(length));
    tags[length] = new Uint8Array(await crypto.subtle.sign('HMAC', web, messages[length]));
  }
}
export async function run(op, length, n) {
  const m = messages[length], t = tags[length];
  let ok = 0;
  if (op === 'webcrypto') for (let i = 0; i < n; i++) ok += (await crypto.subtle.verify('HMAC', web, t, m)) ? 1 : 0;
  else if (op === 'javascript') for (let i = 0; i < n; i++) ok += js.verify(t, m) ? 1 : 0;
  if (op !== 'empty' && ok !== n) throw new Error(op + ': a valid tag did not verify');
}
export const OPS = ['webcrypto', 'javascript'];
export const LIST = LENGTHS;
`;
/** Checks per sample: about 4 ms of the slower of the two, at least 100. */
const countFor = (length) => Math.max(100, Math.round(40_000 / (10 + length / 40)));

const inProcess = `
${checks}
const ROUNDS = ${ROUNDS};
const samples = {};
await setup();
for (let round = -2; round < ROUNDS; round++) {
  const cells = OPS.flatMap((op) => LIST.map((length) => [op, length])).sort(() => Math.random() - 0.5);
  for (const [op, length] of cells) {
    const n = (${countFor.toString()})(length);
    const t = performance.now();
    await run(op, length, n);
    const us = ((performance.now() - t) * 1000) / n;
    if (round >= 0) (samples[op + ' ' + length] ??= []).push(us);
  }
}
console.log(JSON.stringify(samples));
`;

const inWorker = `
${checks}
let ready;
export default {
  async fetch(request) {
    const url = new URL(request.url);
    await (ready ??= setup());
    await run(url.searchParams.get('op'), Number(url.searchParams.get('length')), Number(url.searchParams.get('n')));
    return new Response(null, { status: 204 });
  },
};
`;

mkdirSync(tmp, { recursive: true });
async function bundle(contents, file) {
  await build({
    stdin: { contents, resolveDir: here, loader: 'ts', sourcefile: 'hmac-entry.ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    outfile: join(tmp, file),
    logLevel: 'error',
  });
  return join(tmp, file);
}

const bin = (name) => join(root, 'node_modules', '.bin', name);
const results = {};
const process_ = await bundle(inProcess, 'hmac-run.mjs');
for (const runtime of wanted.filter((r) => r !== 'workerd')) {
  const command = {
    node: [process.execPath, process_],
    bun: [bin('bun'), process_],
    deno: [bin('deno'), 'run', process_],
  }[runtime];
  const [file, ...args] = PIN ? ['taskset', '-c', '0', ...command] : command;
  const samples = JSON.parse(execFileSync(file, args, { encoding: 'utf8' }));
  results[runtime] = Object.fromEntries(Object.entries(samples).map(([cell, list]) => [cell, median(list)]));
}
if (wanted.includes('workerd')) {
  const script = await bundle(inWorker, 'hmac-worker.mjs');
  const mf = new Miniflare({ modules: true, scriptPath: script, compatibilityDate: '2026-04-01' });
  try {
    const call = (op, length, n) => mf.dispatchFetch(`http://bench.local/?op=${op}&length=${length}&n=${n}`);
    await call('empty', 40, 1);
    const samples = {};
    for (let round = -2; round < ROUNDS; round++) {
      for (const op of ['webcrypto', 'javascript']) {
        for (const length of LENGTHS) {
          const n = countFor(length);
          let t = performance.now();
          await call(op, length, n);
          const full = performance.now() - t;
          t = performance.now();
          await call('empty', length, n);
          if (round >= 0) (samples[`${op} ${length}`] ??= []).push(((full - (performance.now() - t)) * 1000) / n);
        }
      }
    }
    results.workerd = Object.fromEntries(Object.entries(samples).map(([cell, list]) => [cell, median(list)]));
  } finally {
    await mf.dispose();
  }
}
writeFileSync(join(tmp, `hmac${PIN ? '-pinned' : ''}.json`), JSON.stringify(results, null, 2));
const header = LENGTHS.map((l) => `${l} B: WebCrypto / JS`).join(' | ');
console.log(`| runtime | ${header} |\n|---|${LENGTHS.map(() => '---:').join('|')}|`);
for (const [runtime, cells] of Object.entries(results)) {
  const row = LENGTHS.map((l) => `${cells[`webcrypto ${l}`].toFixed(2)} / ${cells[`javascript ${l}`].toFixed(2)}`);
  console.log(`| ${runtime}${PIN && runtime !== 'workerd' ? ' (one core)' : ''} | ${row.join(' | ')} |`);
}
