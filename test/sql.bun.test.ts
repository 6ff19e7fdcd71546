// The SQL store on bun:sqlite (Bun only: test/runtimes/run.mjs runs it under `bun test`, and no other runner
// includes *.bun.test.ts), through the README's adapter, each store on a fresh in-memory database.
import { Database } from 'bun:sqlite';
import { describeSqlStore } from './sql/suite.js';
import { fromSyncSqlite } from '../worker-example/sqlite-adapter.js';

describeSqlStore('bun:sqlite', () => fromSyncSqlite(new Database(':memory:')));
