// The little of Bun's built-in Redis client the example uses (bun:sqlite's is declared in test/sql/drivers.d.ts).
declare module 'bun' {
  import type { RedisClientLike } from '../src/redis.js';
  export const RedisClient: new (
    url: string,
    options?: { enableOfflineQueue?: boolean },
  ) => RedisClientLike & { connect(): Promise<void> };
}
