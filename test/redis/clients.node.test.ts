// The Redis store on Node through node-redis, ioredis and Upstash's REST protocol (a local stand-in in front of
// the same redis-server, reached with `fetch`), each with the README's adapter.
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import type { RedisClientLike } from '../../src/redis.js';
import { describeRedisStore, type Connection } from './suite.js';
import { upstashClient, upstashStandIn } from './upstash.js';

/** ioredis, failing at once while disconnected (no offline queue, no retry of a command in flight). */
async function ioredis(url: string): Promise<{ redis: Redis; client: RedisClientLike }> {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
  redis.on('error', () => {}); // reconnection attempts; each command's own rejection carries the error
  await redis.connect();
  return { redis, client: { send: (c, a) => redis.call(c, ...a) } };
}

describeRedisStore('node-redis', async (url): Promise<Connection> => {
  const redis = createClient({ url, disableOfflineQueue: true });
  redis.on('error', () => {}); // as above
  await redis.connect();
  return { client: { send: (c, a) => redis.sendCommand([c, ...a]) }, close: async () => redis.destroy() };
});

describeRedisStore('ioredis', async (url): Promise<Connection> => {
  const { redis, client } = await ioredis(url);
  return { client, close: async () => redis.disconnect() };
});

describeRedisStore('Upstash REST (stand-in, fetch)', async (url): Promise<Connection> => {
  const backend = await ioredis(url);
  const token = 'test-token';
  const standIn = await upstashStandIn(backend.client, token);
  return {
    client: upstashClient(standIn.url, token),
    async close() {
      await standIn.close();
      backend.redis.disconnect();
    },
  };
});
