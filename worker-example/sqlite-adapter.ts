// The README's adapter from a synchronous SQLite driver (bun:sqlite, better-sqlite3, node:sqlite) to
// `SqlDatabase`, exactly as the README shows it between the markers (test/sql.node.test.ts compares them): the
// example's Bun server and the tests run the code users copy.
import type { SqlDatabase, SqlStatement, SqlValue } from '../src/sql.js';

// --- README: sync adapter
/** What the adapter needs of a `Database` from `bun:sqlite` or better-sqlite3. */
export interface SyncSqlite {
  prepare(query: string): { all(...values: SqlValue[]): unknown[]; run(...values: SqlValue[]): unknown };
  /** better-sqlite3's and bun:sqlite's have `immediate`: a batch that reads first takes the write lock at once. */
  transaction<T>(run: () => T): { (): T; immediate?: () => T };
}

/** `SqlDatabase` over a synchronous driver: statements prepared once, `batch` in one transaction. */
export function fromSyncSqlite(db: SyncSqlite): SqlDatabase {
  const prepared = new Map<string, ReturnType<SyncSqlite['prepare']> & { reader?: boolean }>();
  // bun:sqlite (and Node's node:sqlite) wait for no lock by default: on a file another process writes to, a
  // statement would fail at once ("database is locked"). Unless a timeout is set, wait 5 s, as better-sqlite3 does.
  const [busy] = db.prepare('PRAGMA busy_timeout').all() as { timeout?: unknown }[];
  if (busy?.timeout === 0) db.prepare('PRAGMA busy_timeout = 5000').all();
  const run = (query: string, values: SqlValue[]) => {
    let statement = prepared.get(query);
    if (statement === undefined) prepared.set(query, (statement = db.prepare(query)));
    // better-sqlite3 refuses all() on a statement that returns no rows (reader: false); bun:sqlite allows it.
    if (statement.reader !== false) return { results: statement.all(...values) };
    statement.run(...values);
    return { results: [] };
  };
  type Bound = SqlStatement & { run(): { results: unknown[] } };
  const bound = (query: string, values: SqlValue[]): Bound => ({
    bind: (...next) => bound(query, next),
    all: async () => run(query, values),
    run: () => run(query, values),
  });
  return {
    prepare: (query) => bound(query, []),
    // BEGIN IMMEDIATE: a deferred transaction that reads first (a destroy's batch) and then writes would fail at
    // once with "database is locked" while another connection writes, where SQLite otherwise waits its busy timeout.
    batch: async (statements) => {
      const batch = db.transaction(() => (statements as Bound[]).map((s) => s.run()));
      return (batch.immediate ?? batch)();
    },
  };
}
// --- end

// --- README: node:sqlite
/** `node:sqlite`'s `DatabaseSync` (Deno, Node 22.5+) with the `transaction` it lacks, for `fromSyncSqlite`. */
export function withTransaction(db: { prepare: SyncSqlite['prepare']; exec(query: string): unknown }): SyncSqlite {
  return {
    prepare: (query) => db.prepare(query),
    transaction: (run) => () => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = run();
        db.exec('COMMIT');
        return result;
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
    },
  };
}
// --- end
