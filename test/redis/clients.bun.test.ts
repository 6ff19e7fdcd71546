// The Redis store on Bun through Bun's built-in RedisClient, passed as it is (it has the `send(command, args)`
// the store needs), and through the Upstash stand-in reached with Bun's `fetch`. Run only by
// `node test/runtimes/run.mjs bun`, which starts the redis-server; vitest on Node leaves *.bun.test.ts out.
import type { RedisClientLike } from '../../src/redis.js';
import { describeRedisStore, type Connection } from './suite.js';
import { upstashClient, upstashStandIn } from './upstash.js';

/** What these tests use of Bun's `RedisClient` (the project has no Bun type definitions). */
interface BunRedisClient extends RedisClientLike {
  connect(): Promise<void>;
  close(): void;
}
type BunRedisClientClass = new (url: string, options: { enableOfflineQueue: boolean }) => BunRedisClient;
const { RedisClient } = (globalThis as unknown as { Bun: { RedisClient: BunRedisClientClass } }).Bun;

/** Bun's client, failing at once while disconnected (no offline queue); it reconnects by itself. */
async function bunClient(url: string): Promise<BunRedisClient> {
  const client = new RedisClient(url, { enableOfflineQueue: false });
  await client.connect();
  return client;
}

describeRedisStore("Bun's RedisClient", async (url): Promise<Connection> => {
  const client = await bunClient(url);
  return { client, close: async () => client.close() };
});

describeRedisStore('Upstash REST (stand-in, fetch) on Bun', async (url): Promise<Connection> => {
  const backend = await bunClient(url);
  const token = 'test-token';
  const standIn = await upstashStandIn(backend, token);
  return {
    client: upstashClient(standIn.url, token),
    async close() {
      await standIn.close();
      backend.close();
    },
  };
});
