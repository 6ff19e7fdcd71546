// The little of each synchronous SQLite driver the tests use (neither ships types this project installs; the
// README's adapter asks only for this).
declare module 'better-sqlite3' {
  import type { SyncSqlite } from './sync-adapter.js';
  const Database: new (path: string) => SyncSqlite & { close(): void };
  export default Database;
}

declare module 'bun:sqlite' {
  import type { SyncSqlite } from './sync-adapter.js';
  export const Database: new (path: string) => SyncSqlite & { close(): void };
}
