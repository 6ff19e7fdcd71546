// `npm run bench:stores`: edge-sessions on Workers KV, on Durable Objects and on D1 (the SQL store) inside workerd
// (Miniflare, local storage), S1–S4 as in bench/harness.mjs, µs per request (median of interleaved rounds, an
// empty dispatch that builds the same Requests subtracted) next to the store operations each request made. On
// Durable Objects also the per-user operations: a login (`create` with a `userId`), a read-only request, a write
// and a logout of a user's session, and `listByUser` and `destroyByUser` of a user with 10 sessions; then
// per-user sessions on KV (USER_OPS requests per round, default 16). Deno KV: bench/stores-deno.ts.
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { median, shuffle } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const tmp = join(here, '.tmp');
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const N = Number(process.env.OPS ?? 64);
// CELLS=login,listByUser runs only those scenarios (names as in the table).
const only = process.env.CELLS?.split(',');
mkdirSync(tmp, { recursive: true });
await build({
  entryPoints: [join(here, 'stores-worker.mjs')],
  outfile: join(tmp, 'stores-worker.mjs'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  conditions: ['workerd', 'worker'],
  external: ['cloudflare:workers'],
  logLevel: 'warning',
});
const persist = join(tmp, 'stores-state');
rmSync(persist, { recursive: true, force: true });
const mf = new Miniflare({
  modules: [{ type: 'ESModule', path: join(tmp, 'stores-worker.mjs') }],
  compatibilityDate: '2026-04-01',
  kvNamespaces: ['KV'],
  durableObjects: { DO: { className: 'SessionDurableObject', useSQLite: true } },
  d1Databases: ['DB'],
  d1Persist: join(persist, 'd1'),
  kvPersist: join(persist, 'kv'),
  durableObjectsPersist: join(persist, 'do'),
});
const call = async (path) => {
  const res = await mf.dispatchFetch(`http://bench.local${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
};
try {
  const cells = [];
  for (const store of ['kv', 'durable-object', 'sql'])
    for (const scenario of ['S1', 'S2', 'S3', 'S4', 'logout', 'regenerate'])
      cells.push({ store, scenario, samples: [] });
  for (const scenario of ['login', 'user read', 'user write', 'user logout', 'listByUser', 'destroyByUser'])
    // A user logout and destroyByUser need fresh sessions per operation, whose making dwarfs them: timed inside
    // the worker (workerd's clock, ms) rather than as a difference; destroyByUser with fewer operations a round.
    cells.push({
      store: 'durable-object',
      scenario,
      samples: [],
      n: scenario === 'destroyByUser' ? 8 : undefined,
      inside: scenario === 'user logout' || scenario === 'destroyByUser',
    });
  if (only !== undefined) cells.splice(0, cells.length, ...cells.filter((c) => only.includes(c.scenario)));
  for (const cell of cells) {
    const q = `?store=${cell.store}&scenario=${encodeURIComponent(cell.scenario)}&n=8`;
    const { body, perRequest } = await call(`/run${q}`);
    const expected = {
      S1: 'ok',
      S2: 'u-42',
      S3: 'ok',
      S4: '',
      logout: 'ok',
      regenerate: 'ok',
      login: 'ok',
      'user read': 'u-42',
      'user write': 'ok',
      'user logout': 'ok',
      listByUser: '10',
      destroyByUser: '10',
    }[cell.scenario];
    if (body !== expected) throw new Error(`${cell.store} ${cell.scenario}: answered ${JSON.stringify(body)}`);
    cell.ops = perRequest;
  }
  for (let round = -1; round < ROUNDS; round++) {
    for (const cell of shuffle([...cells])) {
      const q = `?store=${cell.store}&scenario=${encodeURIComponent(cell.scenario)}&n=${cell.n ?? N}`;
      let t = performance.now();
      const { elapsedMs } = await call(`/run${q}`);
      const full = performance.now() - t;
      t = performance.now();
      await call(`/empty${q}`);
      const ms = cell.inside ? elapsedMs : full - (performance.now() - t);
      if (round >= 0) cell.samples.push((ms * 1000) / (cell.n ?? N));
    }
  }
  console.log(
    `| store | scenario | µs/request (median of ${ROUNDS} rounds × ${N}) ` +
      `| store operations per request |\n|---|---|---:|---|`,
  );
  for (const c of cells) {
    const ops =
      c.store === 'kv'
        ? `${c.ops.read} read, ${c.ops.write} write`
        : c.store === 'sql'
          ? `${c.ops.sql} D1 round trip${c.ops.sql === 1 ? '' : 's'}`
          : `${c.ops.rpc} RPC call${c.ops.rpc === 1 ? '' : 's'}`;
    const scenario = `${c.scenario}${c.n === undefined ? '' : ` (× ${c.n} a round)`}${c.inside ? ' ¹' : ''}`;
    console.log(`| ${c.store} | ${scenario} | ${median(c.samples).toFixed(1)} | ${ops} |`);
  }
  await perUserTable(call);
} finally {
  await mf.dispose();
  rmSync(persist, { recursive: true, force: true });
}

/** Per-user sessions on KV: login, read-only, write and logout of a user's session; listByUser and destroyByUser of
 * a user with 10 sessions. Measured like the table above, in a table of its own. */
async function perUserTable(call) {
  const n = Number(process.env.USER_OPS ?? 16);
  const expected = { login: 'ok', read: '1', write: 'ok', logout: 'ok', list10: '10', destroy10: '10' };
  const cells = Object.keys(expected).map((scenario) => ({ scenario, samples: [] }));
  for (const cell of cells) {
    const { body, perRequest } = await call(`/user/run?scenario=${cell.scenario}&n=4`);
    if (body !== expected[cell.scenario]) throw new Error(`kv ${cell.scenario}: answered ${JSON.stringify(body)}`);
    cell.ops = perRequest;
  }
  for (let round = -1; round < ROUNDS; round++) {
    for (const cell of shuffle([...cells])) {
      const q = `?scenario=${cell.scenario}&n=${n}`;
      let t = performance.now();
      await call(`/user/run${q}`);
      const full = performance.now() - t;
      t = performance.now();
      await call(`/user/empty${q}`);
      if (round >= 0) cell.samples.push(((full - (performance.now() - t)) * 1000) / n);
    }
  }
  console.log(
    `\n| store | per-user scenario | µs/request (median of ${ROUNDS} rounds × ${n}) | KV operations per request |\n` +
      '|---|---|---:|---|',
  );
  for (const c of cells) {
    const { list, read, write } = c.ops;
    const ops = `${list > 0 ? `${list} list, ` : ''}${read} read, ${write} write (${list + read + write})`;
    console.log(`| kv | ${c.scenario} | ${median(c.samples).toFixed(1)} | ${ops} |`);
  }
}
