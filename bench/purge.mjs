// `npm run bench:purge`: the SQL store's purge on a file database. Node runs better-sqlite3, `bun bench/purge.mjs`
// runs bun:sqlite, both through the README's adapter. ROWS expired rows (a tenth of them ended IDs) next to LIVE
// live ones; one purge with no budget, timed per DELETE batch: with a synchronous driver a batch blocks the
// process for that long, which is what `batchSize` trades against the number of statements.
//   ROWS=100000 LIVE=10000 BATCH=500 node bench/purge.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { median } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = Number(process.env.ROWS ?? 100_000);
const LIVE = Number(process.env.LIVE ?? 10_000);
const BATCH = Number(process.env.BATCH ?? 500);
/** SQLite's journal mode: `delete` (its default: every commit syncs the journal) or `wal`. */
const JOURNAL = process.env.JOURNAL ?? 'delete';

const dir = mkdtempSync(join(tmpdir(), 'edge-sessions-purge-'));
const entry = join(dir, 'sql.mjs');
await build({
  stdin: {
    contents:
      `export { createSqlStore } from ${JSON.stringify(join(here, '../src/sql.ts'))};` +
      `export { fromSyncSqlite } from ${JSON.stringify(join(here, '../worker-example/sqlite-adapter.ts'))};`,
    resolveDir: here,
    loader: 'ts',
  },
  outfile: entry,
  bundle: true,
  format: 'esm',
  logLevel: 'warning',
});
const { createSqlStore, fromSyncSqlite } = await import(entry);
const bun = globalThis.Bun !== undefined;
const Database = bun ? (await import('bun:sqlite')).Database : (await import('better-sqlite3')).default;
const driver = bun ? `bun:sqlite (Bun ${globalThis.Bun.version})` : `better-sqlite3 (Node ${process.version})`;

try {
  const raw = new Database(join(dir, 'sessions.db'));
  raw.prepare(`PRAGMA journal_mode = ${JOURNAL}`).all();
  const now = Date.UTC(2026, 0, 1);
  const batches = [];
  const adapted = fromSyncSqlite(raw);
  // The adapter's statements, timed when a DELETE runs.
  const db = {
    prepare(query) {
      const wrap = (statement) => ({
        bind: (...values) => wrap(statement.bind(...values)),
        async all() {
          const t = performance.now();
          const answer = await statement.all();
          if (query.startsWith('DELETE')) batches.push(performance.now() - t);
          return answer;
        },
        run: () => statement.run(),
      });
      return wrap(adapted.prepare(query));
    },
    batch: (statements) => adapted.batch(statements),
  };
  const store = createSqlStore(db, { now: () => now });
  await store.count(); // creates the table
  const record = (expiresAt, userId) =>
    JSON.stringify({
      data: { user: '"u-42"', n: '7', cart: '[1,2,3]' },
      createdAt: now,
      expiresAt,
      endsAt: expiresAt,
      userId,
    });
  const insert = raw.prepare('INSERT INTO sessions (id, record, version, expires_at, user_id) VALUES (?, ?, 0, ?, ?)');
  raw.transaction(() => {
    for (let i = 0; i < ROWS + LIVE; i++) {
      const live = i >= ROWS;
      const expiresAt = live ? now + 3_600_000 : now - 1 - (i % 1000);
      const userId = i % 2 === 0 ? `user-${i % 5000}` : null;
      // A tenth of the expired rows are ended IDs (no record) past their retention.
      const text = !live && i % 10 === 0 ? null : record(expiresAt, userId);
      insert.run(`id-${String(i).padStart(20, '0')}`, text, expiresAt, userId);
    }
  })();
  const t = performance.now();
  const result = await store.purge({ budgetMs: Infinity, batchSize: BATCH });
  const total = performance.now() - t;
  if (!result.completed || result.deleted !== ROWS) throw new Error(`purge answered ${JSON.stringify(result)}`);
  if ((await store.count()) !== LIVE) throw new Error('purge touched a live session');
  const sorted = [...batches].sort((a, b) => a - b);
  console.log(
    `${driver}: ${ROWS.toLocaleString('en')} expired + ${LIVE.toLocaleString('en')} live rows, ` +
      `batchSize ${BATCH}, journal ${JOURNAL}`,
  );
  console.log(
    `  deleted ${result.deleted.toLocaleString('en')} in ${total.toFixed(0)} ms ` +
      `(${Math.round(result.deleted / (total / 1000)).toLocaleString('en')} rows/s), ${batches.length} batches; ` +
      `ms per batch: median ${median(batches).toFixed(2)}, max ${sorted.at(-1).toFixed(2)}`,
  );
  raw.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
