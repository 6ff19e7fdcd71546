// The SQL store on better-sqlite3 (Node only: Bun has bun:sqlite, see sql.bun.test.ts), through the README's
// adapter, each store on a fresh in-memory database. Also checks that the README shows the adapter and the
// migration SQL that run here.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { createSqlStore } from '../src/sql.js';
import { describe, expect, it } from './harness.js';
import { record } from './helpers.js';
import { describeSqlStore } from './sql/suite.js';
import { fromSyncSqlite } from '../worker-example/sqlite-adapter.js';

describeSqlStore('better-sqlite3', () => fromSyncSqlite(new Database(':memory:')));

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The body of the README's code block that follows `marker`. */
function block(marker: string): string {
  const at = readme.indexOf(marker);
  expect(at).toBeGreaterThanOrEqual(0);
  const body = /```[^\n]*\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  return body ?? '';
}

describe('sql store: the README', () => {
  it('shows the adapter and the node:sqlite wrapper the tests run, verbatim', () => {
    const source = readFileSync(new URL('../worker-example/sqlite-adapter.ts', import.meta.url), 'utf8');
    for (const part of ['sync adapter', 'node:sqlite']) {
      const code = new RegExp(`// --- README: ${part}\\n([\\s\\S]*?)// --- end`).exec(source)?.[1] ?? '';
      expect(code.length).toBeGreaterThan(200);
      expect(block(`<!-- sql: ${part} -->`)).toContain(code);
    }
  });

  it('purges on a timer only with a catch: a failed purge (a locked file) must not end the server', () => {
    // Bun and Node end the process on an unhandled rejection, and a purge can fail like any statement.
    const example = readFileSync(new URL('../worker-example/bun.ts', import.meta.url), 'utf8');
    const timers = [...readme.split('\n'), ...example.split('\n')].filter((line) =>
      /setInterval\(.*\.purge\(/.test(line),
    );
    expect(timers.length).toBeGreaterThanOrEqual(3);
    for (const line of timers) expect(line).toMatch(/\.purge\([^)]*\)\.catch\(/);
  });

  it('shows a migration that makes the schema the store makes, which the store then uses as it is', async () => {
    const migrated = new Database(':memory:');
    for (const statement of block('<!-- sql: migration -->')
      .split(';')
      .filter((s) => s.trim() !== '')) {
      migrated.prepare(statement).run();
    }
    const automatic = new Database(':memory:');
    await createSqlStore(fromSyncSqlite(automatic)).count();
    // The README wraps a long line: compare the statements with their white space collapsed.
    const schema = (db: InstanceType<typeof Database>) =>
      (
        db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as {
          sql: string;
        }[]
      ).map((row) => ({ ...row, sql: row.sql.replace(/\s+/g, ' ') }));
    expect(schema(migrated)).toEqual(schema(automatic));
    expect(schema(automatic)).toHaveLength(3);
  });
});

describe('sql store (better-sqlite3): a database file shared with another process', () => {
  /** Another connection (a thread, as another process would) that holds the write lock for `ms`. */
  async function writeLockHeld(file: string, ms: number): Promise<Worker> {
    const worker = new Worker(
      `const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
      const { parentPort, workerData } = require('node:worker_threads');
      const db = new Database(workerData.file);
      db.exec('BEGIN IMMEDIATE');
      db.prepare("INSERT INTO sessions (id, version, expires_at) VALUES ('other-process-write', 0, 0)").run();
      parentPort.postMessage('held');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.ms);
      db.exec('COMMIT');
      db.close();`,
      { eval: true, workerData: { file, ms } },
    );
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    return worker;
  }

  it('a logout waits for another process’s write lock instead of failing with "database is locked"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-sessions-sql-'));
    const file = join(dir, 'sessions.db');
    const db = new Database(file); // better-sqlite3 waits up to 5 s for a lock by default
    try {
      const store = createSqlStore(fromSyncSqlite(db));
      const now = Date.now();
      const id = 'shared-file'.padEnd(24, 'x');
      expect(await store.create(id, record({ expiresAt: now + 60_000 }, now))).toBe(true);
      // A write of another process is in its transaction for 200 ms: a single statement waits for it, and so
      // must a batch (whose first statement reads, and whose lock would otherwise be upgraded without waiting).
      const worker = await writeLockHeld(file, 200);
      const destroyed = store.destroy(id, now + 60_000);
      await expect(destroyed).resolves.toBe(id);
      await worker.terminate();
      expect(await store.get(id)).toBeNull();
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
