// The SQL store on bun:sqlite (Bun only: test/runtimes/run.mjs runs it under `bun test`, and no other runner
// includes *.bun.test.ts), through the README's adapter, each store on a fresh in-memory database.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from 'bun:sqlite';
import { createSqlStore } from '../src/sql.js';
import { describe, expect, it } from './harness.js';
import { record } from './helpers.js';
import { describeSqlStore } from './sql/suite.js';
import { fromSyncSqlite } from '../worker-example/sqlite-adapter.js';

describeSqlStore('bun:sqlite', () => fromSyncSqlite(new Database(':memory:')));

describe('sql store (bun:sqlite): a database file shared with another process', () => {
  it('a login and a logout wait for another process’s write lock instead of failing at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-sessions-sql-'));
    const file = join(dir, 'sessions.sqlite3');
    // Opened as the README's Bun quick start opens it: "every process on the machine shares them".
    const db = new Database(file);
    try {
      const store = createSqlStore(fromSyncSqlite(db));
      const now = Date.now();
      expect(await store.count()).toBe(0); // the table exists
      // Another Bun process on the file is in a write transaction for 300 ms.
      const other = spawn(process.execPath, [
        '-e',
        `const { Database } = require('bun:sqlite');
        const db = new Database(${JSON.stringify(file)});
        db.exec('BEGIN IMMEDIATE');
        db.exec("INSERT INTO sessions (id, version, expires_at) VALUES ('other-process-write', 0, 0)");
        console.log('held');
        Bun.sleepSync(300);
        db.exec('COMMIT');`,
      ]);
      await new Promise((resolve, reject) => {
        other.stdout.once('data', resolve);
        other.once('error', reject);
        other.once('exit', (code) => reject(new Error(`the other process exited (${code}) before its write`)));
      });
      const id = 'shared-file'.padEnd(24, 'x');
      await expect(store.create(id, record({ expiresAt: now + 60_000 }, now))).resolves.toBe(true);
      await expect(store.destroy(id, now + 60_000)).resolves.toBe(id);
      await new Promise((resolve) => (other.exitCode === null ? other.once('exit', resolve) : resolve(null)));
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
