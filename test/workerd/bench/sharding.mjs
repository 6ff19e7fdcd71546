// Durable Object sharding measurement in plain Miniflare (workerd), outside the test pool:
//   node test/workerd/bench/sharding.mjs [sessions=300]
// Compares one object per session (idFromName(id), what createDurableObjectStore does) with 16 shard objects
// (idFromName('shard-' + hash(id) % 16)), both on SessionDurableObject. Each run gets a fresh Miniflare.
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';

const n = Number(process.argv[2] ?? 300);
const { outputFiles } = await build({
  entryPoints: [new URL('./worker.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  write: false,
  external: ['cloudflare:workers'],
});
const script = outputFiles[0].text;

const rows = [];
for (const design of ['sharded', 'per-session']) {
  for (const parallel of [1, 50]) {
    const mf = new Miniflare({
      modules: true,
      script,
      compatibilityDate: '2026-04-01',
      durableObjects: { SESSIONS_DO: { className: 'SessionDurableObject', useSQLite: true } },
    });
    const started = Date.now();
    const res = await mf.dispatchFetch(`http://bench/?design=${design}&n=${n}&parallel=${parallel}`);
    const result = await res.json();
    await mf.dispose();
    if (result.found !== n) throw new Error(`${design}: read back ${result.found} of ${n}`);
    rows.push({
      design,
      parallel,
      'set ms/op': result.setMsPerOp.toFixed(2),
      'get ms/op': result.getMsPerOp.toFixed(2),
      'wall s': ((Date.now() - started) / 1000).toFixed(1),
    });
  }
}
console.log(`${n} sessions per run`);
console.table(rows);
