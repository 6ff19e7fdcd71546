// In-process runner for Node, Bun and Deno (bundled to bench/.tmp/run.mjs by bench/matrix.mjs).
// Prints one JSON object on stdout. ROUNDS / TARGET_MS / ONLY come from the environment (see matrix.mjs).

import { createSuite, describe, median, runnable, sample, SCENARIOS, shuffle } from './harness.mjs';

const env = (name, fallback) => globalThis.process?.env?.[name] ?? globalThis.Deno?.env.get(name) ?? fallback;
const ROUNDS = Number(env('ROUNDS', 31));
const TARGET_MS = Number(env('TARGET_MS', 4)); // per sample
const ONLY = env('ONLY', undefined);

// Some peers log every rejected cookie (@hono/session: console.error on a failed JWE decrypt). Logging is not
// what is measured: silence it for everyone.
console.error = console.warn = () => {};

const runtime = globalThis.Bun
  ? `bun ${Bun.version}`
  : globalThis.Deno
    ? `deno ${Deno.version.deno}`
    : `node ${process.versions.node}`;
const t0 = performance.now();
const libs = await createSuite({ only: ONLY ? new RegExp(ONLY) : undefined });
const info = await describe(libs);

const cells = [];
for (const lib of libs)
  for (const scenario of Object.keys(SCENARIOS))
    if (runnable(lib, scenario)) cells.push({ lib, scenario, samples: [] });

// Calibrate: operations per sample so that one sample takes about TARGET_MS (16..512).
for (const cell of cells) {
  await sample(cell.lib, cell.scenario, 8);
  const us = median([
    await sample(cell.lib, cell.scenario, 8),
    await sample(cell.lib, cell.scenario, 8),
    await sample(cell.lib, cell.scenario, 8),
  ]);
  cell.ops = Math.max(16, Math.min(512, Math.round((TARGET_MS * 1000) / us)));
}
for (let round = -2; round < ROUNDS; round++) {
  for (const cell of shuffle([...cells])) {
    const us = await sample(cell.lib, cell.scenario, cell.ops);
    if (round >= 0) cell.samples.push(us);
  }
}
for (const cell of cells) {
  const s = info[cell.lib.name].scenarios[cell.scenario];
  s.us = median(cell.samples);
  s.ops = cell.ops;
  s.rounds = cell.samples.length;
}
const out = { runtime, rounds: ROUNDS, seconds: (performance.now() - t0) / 1000, libs: info };
const text = JSON.stringify(out);
if (globalThis.Deno) await Deno.stdout.write(new TextEncoder().encode(text + '\n'));
else process.stdout.write(text + '\n');
