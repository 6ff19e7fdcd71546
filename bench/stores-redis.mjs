// The Redis rows of `npm run bench:stores`: a login, a read-only request, a write and a logout through the manager
// on a real redis-server (Debian's, started on a free port and stopped after) through node-redis, µs per request
// (median of ROUNDS rounds of OPS requests) and the Redis commands each one sent, counted by the client adapter.
import { build } from 'esbuild';
import { createClient } from 'redis';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../test/redis/server.mjs';
import { storeRows } from './store-scenarios.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const OPS = Number(process.env.OPS ?? 64);

// The library as a Worker would ship it (the web-standard build), bundled once.
const bundle = join(here, '.tmp', 'stores-redis-lib.mjs');
await build({
  stdin: {
    contents: "export { createSessions } from '../src/index.ts'; export { createRedisStore } from '../src/redis.ts';",
    resolveDir: here,
    loader: 'ts',
  },
  outfile: bundle,
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  logLevel: 'warning',
});
const { createSessions, createRedisStore } = await import(bundle);

const server = await startRedis();
const client = createClient({ url: server.url, disableOfflineQueue: true });
await client.connect();
let commands = 0;
const counted = { send: (command, args) => (commands++, client.sendCommand([command, ...args])) };
try {
  const rows = await storeRows({
    createSessions,
    store: createRedisStore(counted),
    label: 'redis (node-redis)',
    rounds: ROUNDS,
    ops: OPS,
    reset: () => (commands = 0),
    calls: (n) => `${commands / n} Redis commands`,
  });
  for (const row of rows) console.log(row);
} finally {
  await client.quit();
  await server.stop();
}
