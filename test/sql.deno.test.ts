// The SQL store on node:sqlite under Deno (Deno only: Node 20 has no node:sqlite, and test/runtimes/run.mjs runs
// *.deno.test.ts only under `deno test`), through the README's adapter and its `withTransaction`, each store on
// a fresh in-memory database.
import { DatabaseSync } from 'node:sqlite';
import { describeSqlStore } from './sql/suite.js';
import { fromSyncSqlite, withTransaction } from '../worker-example/sqlite-adapter.js';

describeSqlStore('node:sqlite (Deno)', () => fromSyncSqlite(withTransaction(new DatabaseSync(':memory:'))));
