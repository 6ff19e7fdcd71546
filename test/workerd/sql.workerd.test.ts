// The SQL store on D1 inside workerd (Miniflare's D1, bound as SESSIONS_DB by vitest.workerd.config.ts), with
// the binding passed as it is: D1 satisfies the store's `SqlDatabase` contract without an adapter. One database
// serves the file; each store gets its own table.
import { env } from 'cloudflare:workers';
import type { SqlDatabase } from '../../src/sql.js';
import { describeSqlStore } from '../sql/suite.js';

// A compile-time check as much as a value: D1Database is an SqlDatabase.
const d1: SqlDatabase = env.SESSIONS_DB;

describeSqlStore('d1 (workerd)', () => d1);
