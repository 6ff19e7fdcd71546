// The Redis store without a Redis: its options, checked at construction, and what it sends. Runs on Node, Deno
// and Bun (the entry loads everywhere); the store against a real redis-server is test/redis/.
import { SessionError } from '../src/index.js';
import { createRedisStore, type RedisClientLike } from '../src/redis.js';
import { describe, expect, it } from './harness.js';
import { thrownBy } from '../src/lib/testing/support.js';

/** A client that records each command and answers as Redis does for a key that does not exist. */
function recordingClient(): { client: RedisClientLike; sent: string[][] } {
  const sent: string[][] = [];
  const client: RedisClientLike = {
    async send(command, args) {
      sent.push([command, ...args]);
      return command === 'HMGET' ? args.slice(1).map(() => null) : null;
    },
  };
  return { sent, client };
}

describe('redis store (no server)', () => {
  it('refuses an unknown option and a prefix that is not a string, at construction, sending nothing', () => {
    const { client, sent } = recordingClient();
    expect(thrownBy(() => createRedisStore(client, { prefx: 'x' } as never))).toMatchObject({
      code: 'INVALID_OPTION',
      message: 'edge-sessions: createRedisStore: unknown option "prefx"',
    });
    const bad = thrownBy(() => createRedisStore(client, { prefix: 7 as never }));
    expect(bad).toBeInstanceOf(SessionError);
    expect(bad).toMatchObject({
      code: 'INVALID_OPTION',
      message: 'edge-sessions: redis store: prefix must be a string',
    });
    expect(sent).toEqual([]);
  });

  it('reads a session with one HMGET under the prefix; nil is no session', async () => {
    const { client, sent } = recordingClient();
    const store = createRedisStore(client, { prefix: 'app:' });
    expect(store.name).toBe('redis');
    expect(await store.get('a'.repeat(22))).toBeNull();
    expect(sent).toEqual([['HMGET', `app:${'a'.repeat(22)}`, 'v', 'r']]);
  });
});
