// Bun server: `npm run start:bun` (PORT, SESSION_SECRET from the environment). Sessions live in SQLite
// (bun:sqlite, the file SQLITE_PATH, default sessions.sqlite3: they survive a restart, with no setup), or in Redis
// when REDIS_URL is set. SQLite has no TTL: expired rows are purged a little at a time, every minute.
/// <reference path="./bun-modules.d.ts" />
import { Database } from 'bun:sqlite';
import { RedisClient } from 'bun';
import { createRedisStore } from '../src/redis.js';
import { createSqlStore } from '../src/sql.js';
import { createApp } from './app.js';
import { DEV_ONLY_SECRET } from './dev-secret.js';
import { fromSyncSqlite } from './sqlite-adapter.js';

declare const Bun: {
  env: Record<string, string | undefined>;
  serve(options: { port: number; hostname: string; fetch: (request: Request) => Promise<Response> }): { port: number };
};
declare const console: { log(...values: unknown[]): void };
declare function setInterval(run: () => unknown, ms: number): unknown;

const redisUrl = Bun.env.REDIS_URL;
let store;
let runtime;
if (redisUrl !== undefined && redisUrl !== '') {
  // Fail at once while Redis is unreachable (STORE_READ), rather than queue the request.
  const client = new RedisClient(redisUrl, { enableOfflineQueue: false });
  await client.connect(); // without the offline queue, commands sent before the connection is up fail
  store = createRedisStore(client);
  runtime = 'Bun (Redis)';
} else {
  const sql = createSqlStore(fromSyncSqlite(new Database(Bun.env.SQLITE_PATH ?? 'sessions.sqlite3')));
  // A failed purge (the file locked too long by another process) is logged: unhandled, it would end the server.
  setInterval(() => sql.purge({ budgetMs: 50 }).catch((error) => console.log('purge failed', error)), 60_000);
  store = sql;
  runtime = 'Bun (SQLite)';
}

const secret = Bun.env.SESSION_SECRET;
if (secret === undefined) console.log('SESSION_SECRET unset: the public dev-only secret serves localhost only');
const app = createApp({ store, secrets: [secret ?? DEV_ONLY_SECRET], runtime });
const server = Bun.serve({
  port: Number(Bun.env.PORT ?? 3000),
  hostname: '127.0.0.1',
  fetch: (request) => app(request),
});
console.log(`Listening on http://localhost:${server.port}/ (${runtime})`);
