// The little of each synchronous SQLite driver the tests use (none ships types this project installs, and
// @types/node 20 has no node:sqlite; the README's adapter asks only for this).
declare module 'better-sqlite3' {
  import type { SyncSqlite } from '../../worker-example/sqlite-adapter.js';
  const Database: new (path: string) => SyncSqlite & { close(): void };
  export default Database;
}

declare module 'bun:sqlite' {
  import type { SyncSqlite } from '../../worker-example/sqlite-adapter.js';
  export const Database: new (path: string) => SyncSqlite & { close(): void };
}

declare module 'node:sqlite' {
  import type { SyncSqlite } from '../../worker-example/sqlite-adapter.js';
  export const DatabaseSync: new (path: string) => Pick<SyncSqlite, 'prepare'> & {
    exec(query: string): void;
    close(): void;
  };
}
