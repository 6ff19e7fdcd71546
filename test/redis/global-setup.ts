// Vitest's global setup for the Redis tests on Node: one redis-server for the whole run, stopped after it.
// The test files read its URL from EDGE_SESSIONS_REDIS_URL (set before vitest starts its workers).
import { startRedis } from './server.mjs';

export default async function setup(): Promise<() => Promise<void>> {
  const redis = await startRedis();
  process.env.EDGE_SESSIONS_REDIS_URL = redis.url;
  return () => redis.stop();
}
