// The Redis rows of `npm run bench:stores`: a login, a read-only request, a write and a logout through the manager
// on a real redis-server (Debian's, started on a free port and stopped after) through node-redis, µs per request
// (median of ROUNDS rounds of OPS requests) and the Redis commands each one sent, counted by the client adapter.
import { build } from 'esbuild';
import { createClient } from 'redis';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../test/redis/server.mjs';
import { median } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const OPS = Number(process.env.OPS ?? 64);
const SECRET = 'bench-secret-0123456789abcdef-0123456789abcd';

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
  const sessions = createSessions({ store: createRedisStore(counted), secrets: [SECRET] });
  const request = (cookie) => new Request('https://bench.local/', cookie ? { headers: { cookie } } : {});
  const cookieOf = (headers) => headers.getSetCookie()[0].split(';')[0];
  const login = async () =>
    cookieOf(await (await sessions.create(request(), { userId: 'ada', data: { n: 1 } })).commit());
  const scenarios = {
    login: { prepare: async () => Array(OPS).fill(''), run: () => login() },
    'read-only': {
      prepare: async () => Array(OPS).fill(await login()),
      run: async (cookie) => (await sessions.start(request(cookie))).get('n'),
    },
    write: {
      prepare: async () => Array(OPS).fill(await login()),
      run: async (cookie) => {
        const s = await sessions.start(request(cookie));
        s.increment('n');
        return s.commit();
      },
    },
    logout: {
      prepare: () => Promise.all(Array.from({ length: OPS }, login)),
      run: (cookie) => sessions.destroy(request(cookie)),
    },
  };
  for (const [name, scenario] of Object.entries(scenarios)) {
    const samples = [];
    let perRequest = 0;
    for (let round = -1; round < ROUNDS; round++) {
      const cookies = await scenario.prepare();
      commands = 0;
      const t = performance.now();
      for (const cookie of cookies) await scenario.run(cookie);
      if (round >= 0) samples.push(((performance.now() - t) * 1000) / cookies.length);
      perRequest = commands / cookies.length;
    }
    console.log(`| redis (node-redis) | ${name} | ${median(samples).toFixed(1)} | ${perRequest} Redis commands |`);
  }
} finally {
  await client.quit();
  await server.stop();
}
