import { SessionError } from './errors.js';
import { Bounded } from './lib/bounded.js';
import { LINEAGE, lineageOf } from './lib/ids.js';
import { mergeChanges } from './lib/merge.js';
import { clockOption, refuseUnknownOptions, requireMethods } from './lib/option-names.js';
import { parseRecord } from './lib/records.js';
import type { SessionChanges, SessionRecord, SessionStore, SessionTimes, UserSession } from './lib/store-contract.js';

/**
 * What the store needs of a Redis client: one command with its arguments, answered with the reply as the client
 * decodes it (a string, an integer, null for nil, an array of these). Bun's `RedisClient` is one as it is; the
 * others take one line (see the README): node-redis `{ send: (c, a) => client.sendCommand([c, ...a]) }`, ioredis
 * `{ send: (c, a) => redis.call(c, ...a) }`, Upstash REST a `fetch` of the JSON array `[c, ...a]`.
 */
export interface RedisClientLike {
  /** Sends `command` (such as `"HGET"`) with `args` and resolves its reply; rejects on an error reply. */
  send(command: string, args: string[]): Promise<unknown>;
}

/** Options of `createRedisStore`. */
export interface RedisStoreOptions {
  /** Prepended to every key the store writes. Default `"session:"`. */
  prefix?: string | undefined;
  /** Clock in epoch milliseconds, shared with the manager (tests inject one). Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** The store `createRedisStore` returns: a `SessionStore` with a per-user index. */
export interface RedisStore extends SessionStore {
  /** The live sessions of `userId`, from the per-user index (one script). */
  listByUser(userId: string): Promise<UserSession[]>;
  /** Ends every live session of `userId` but that of `except` (by lineage), in one script; resolves the IDs ended. */
  destroyByUser(userId: string, except: string | undefined, retainUntil: number): Promise<string[]>;
}

/** Tries of one update or regenerate against commits of the same session that keep landing first. */
const MAX_ATTEMPTS = 64;
/** Sessions whose last-read version the store remembers, as the first guess of their next write. */
const SEEN = 1000;

// The scripts. A session is a hash at `prefix + id`: `r` the record as JSON, `v` its version (one more at every
// write), `x` its expiresAt, `u` its userId. An ended ID keeps a hash without `r` until its end must be kept:
// `to` (the ID a regenerate moved it to) or `e` (destroyed). A user's index is a set of IDs at
// `prefix + 'user:' + userId`. Every key gets a PX expiry; an index lives as long as its longest session.

/** Extends key `k`'s expiry to at least `t` ms. */
const KEEP = `local function keep(k,t) if redis.call('pttl',k)<tonumber(t) then redis.call('pexpire',k,t) end end `;

/**
 * KEYS: the session [, the user's index]; ARGV: record, ttl, expiresAt, id, userId. 1 if created, 0 if taken. Redis
 * keeps what a script wrote before a command in it failed, so the one write that can fail (`SADD` on an index key
 * another program gave another type) comes first, in this script and in COMMIT.
 */
const CREATE =
  KEEP +
  `if redis.call('exists',KEYS[1])==1 then return 0 end ` +
  `if KEYS[2] then redis.call('sadd',KEYS[2],ARGV[4]) end ` +
  `redis.call('hset',KEYS[1],'r',ARGV[1],'v',1,'x',ARGV[3]) ` +
  `if KEYS[2] then redis.call('hset',KEYS[1],'u',ARGV[5]) keep(KEYS[2],ARGV[2]) end ` +
  `redis.call('pexpire',KEYS[1],ARGV[2]) return 1`;

/**
 * A compare-and-set on the version read. KEYS: the session, where it goes (itself for an update) [, the user's
 * index]; ARGV: version read, record, ttl, expiresAt, id, newId. 1 when written; when another write came first,
 * the session's `[v, r]` as it is now (nils when it ended), for the next attempt. A write enters the session in
 * its user's index again: its liveness was checked by the caller's clock before the script ran, and meanwhile a
 * `listByUser` that found it expired may have dropped it, which would hide the session it extends from
 * `destroyByUser` for good.
 */
const COMMIT =
  KEEP +
  `local k,n,u=KEYS[1],KEYS[2],KEYS[3] ` +
  `if redis.call('hget',k,'v')~=ARGV[1] then return redis.call('hmget',k,'v','r') end ` +
  `if n~=k and redis.call('exists',n)==1 then return redis.error_reply('the new ID is taken') end ` +
  `if u then redis.call('sadd',u,ARGV[6]) end ` +
  `if n~=k then ` +
  `redis.call('rename',k,n) redis.call('hset',k,'to',ARGV[6]) redis.call('pexpire',k,ARGV[3]) ` +
  `if u then redis.call('srem',u,ARGV[5]) end end ` +
  `redis.call('hset',n,'r',ARGV[2],'x',ARGV[4]) redis.call('hincrby',n,'v',1) redis.call('pexpire',n,ARGV[3]) ` +
  `if u then keep(u,ARGV[3]) end return 1`;

/**
 * Ends a session under its ID and every ID it moved to, however many, each kept ended for at least `ttl` (an end
 * marker holds no forward, so even a cycle of forwards ends).
 * KEYS: the session, or the user's index; ARGV: prefix, ttl, now, the ID (or the lineage to spare), '' (or 'u' to end
 * every session in the index). For one ID, the ID it was live under ('' if none); for a user, those IDs. An
 * expiry field that is not a number counts as expired, and the session is ended all the same.
 */
const END =
  `local p,t,now=ARGV[1],tonumber(ARGV[2]),tonumber(ARGV[3]) ` +
  `local function fin(id) local live='' while id do local k=p..id ` +
  `local h=redis.call('hmget',k,'x','u','to') ` +
  `if (tonumber(h[1]) or 0)>now then live=id end ` +
  `if h[2] then redis.call('srem',p..'user:'..h[2],id) end ` +
  `local ttl=math.max(t,redis.call('pttl',k)) ` +
  `redis.call('del',k) redis.call('hset',k,'e',1) redis.call('pexpire',k,ttl) ` +
  `id=h[3] end return live end ` +
  `if ARGV[5]=='' then return fin(ARGV[4]) end ` +
  `local out={} for _,id in ipairs(redis.call('smembers',KEYS[1])) do if id:sub(1,${LINEAGE})~=ARGV[4] then ` +
  `local at=fin(id) if at~='' then out[#out+1]=at end redis.call('srem',KEYS[1],id) end end return out`;

/**
 * KEYS: the user's index; ARGV: prefix, now. `[id, record, id, record, …]` of its live sessions; every member that
 * ended or expired is dropped from the index on the way. An expiry field that is not a number (written by something
 * else) neither fails the script nor drops the session: its record is listed, and the manager checks its times.
 */
const LIST =
  `local out={} for _,id in ipairs(redis.call('smembers',KEYS[1])) do ` +
  `local h=redis.call('hmget',ARGV[1]..id,'r','x') ` +
  `if h[1] and (tonumber(h[2]) or math.huge)>tonumber(ARGV[2]) then out[#out+1]=id out[#out+1]=h[1] ` +
  `else redis.call('srem',KEYS[1],id) end end return out`;

/**
 * Sessions in Redis (or Valkey), through any client that can send a command (`RedisClientLike`): Bun's built-in
 * `RedisClient` as it is; node-redis, ioredis and Upstash's REST API (over `fetch`, so on Workers too) through a
 * one-line adapter. Each session is a hash at `prefix + id` with a `PX` expiry at the session's `expiresAt`.
 *
 * Exact, like a Durable Object: create, destroy, `destroyByUser` and `listByUser` are one Lua script each, run
 * atomically by Redis; an update or a regenerate reads the session with its version, merges the request's
 * changes in JavaScript (`mergeChanges`) and writes with a script that first checks the version is unchanged.
 * When another commit came first, the script answers the session as it now is and the store merges again onto
 * that, so overlapping requests all keep their changes and a destroyed or moved session is never written back.
 * A destroyed ID keeps a marker until `retainUntil`; a regenerated one a forward to its new ID until the
 * session's expiry, which a destroy of the old ID follows. Each user's sessions are in a set that every create,
 * regenerate and destroy updates in the same script.
 *
 * Operations: a read 1 command (`HMGET`); `create`, `destroy`, `listByUser`, `destroyByUser` 1 (`EVAL`);
 * `update` and `regenerate` 1 (`EVAL`) after this store read the session, else 2 (`HMGET` first), plus 1 `EVAL`
 * for each commit that landed first. The store remembers the version it last read of up to 1,000 sessions for
 * that: a guess the write's script checks, never trusted to say the session is gone or that a change cannot be
 * merged onto it. No `count()` or `clear()`: Redis would have to scan every key. The scripts touch keys they
 * compute (forwards, index members), so on Redis Cluster every key must be in one slot: put a hash tag in the
 * prefix (`"{sess}:"`).
 *
 * @example
 * import { RedisClient } from 'bun'
 * import { createRedisStore } from 'edge-sessions/redis'
 * const store = createRedisStore(new RedisClient(process.env.REDIS_URL))
 */
export function createRedisStore(client: RedisClientLike, options: RedisStoreOptions = {}): RedisStore {
  refuseUnknownOptions('createRedisStore', options, OPTION_NAMES);
  requireMethods('createRedisStore', 'the Redis client', client, ['send']);
  const prefix = options.prefix ?? 'session:';
  const now = clockOption('createRedisStore', options.now);
  if (typeof prefix !== 'string') throw new SessionError('INVALID_OPTION', 'redis store: prefix must be a string');

  const userKey = (userId: string) => `${prefix}user:${userId}`;
  /** Milliseconds from now to `at`, at least 1 (PX refuses 0). */
  const ttl = (at: number) => String(Math.max(1, Math.ceil(at - now())));
  const run = (script: string, keys: string[], args: string[]) =>
    client.send('EVAL', [script, String(keys.length), ...keys, ...args]);

  /**
   * `[version, record text]` of the sessions this store last read or wrote: a write starts from it instead of
   * reading again (the request's `get` just read it). Only a guess: the write's script checks the version.
   */
  const seen = new Bounded<string, unknown>(SEEN);
  const read = (key: string) => client.send('HMGET', [key, 'v', 'r']);

  /** An update (`newId` = `id`) or a regenerate, retried on top of each commit that landed first. */
  async function commit(id: string, newId: string, changes: SessionChanges, times: SessionTimes) {
    const key = prefix + id;
    let reply = seen.get(id);
    let fresh = reply === undefined;
    seen.delete(id);
    if (fresh) reply = await read(key);
    for (let attempt = 1; ; attempt++) {
      const [version, text] = reply as [string | null, string | null];
      const stored = text == null ? null : (JSON.parse(text) as SessionRecord);
      if (stored === null || !(stored.expiresAt > now())) {
        if (fresh) return null;
        // A remembered version never decides that the session is gone: another process may have touched it.
        reply = await read(key);
        fresh = true;
        continue;
      }
      let merged: SessionRecord;
      try {
        merged = mergeChanges(stored, changes, times);
      } catch (error) {
        // Nor does it decide that the changes cannot be merged: the session as it is now may take them (another
        // request or process changed the value since), or may have ended (then nothing is written).
        if (fresh) throw error;
        reply = await read(key);
        fresh = true;
        continue;
      }
      const json = JSON.stringify(merged);
      const keys = [key, prefix + newId];
      if (stored.userId !== undefined) keys.push(userKey(stored.userId));
      reply = await run(COMMIT, keys, [version!, json, ttl(times.expiresAt), String(times.expiresAt), id, newId]);
      if (!Array.isArray(reply)) {
        seen.set(newId, [String(Number(version) + 1), json]);
        return merged;
      }
      fresh = true; // the script answered the session as it is now
      if (attempt === MAX_ATTEMPTS) {
        throw new SessionError('STORE_WRITE', `redis store: ${MAX_ATTEMPTS} other commits of the session came first`);
      }
    }
  }

  return {
    name: 'redis',
    async get(id) {
      const reply = await read(prefix + id);
      const text = (reply as [unknown, string | null])[1];
      if (text == null) return null;
      seen.set(id, reply);
      // Expired but not yet evicted (the manager's clock may run ahead of Redis's) is returned as it is: the
      // manager checks expiry itself and reports it as `expired`.
      return parseRecord(text);
    },
    async create(id, record) {
      const user = record.userId;
      const keys = user === undefined ? [prefix + id] : [prefix + id, userKey(user)];
      const args = [JSON.stringify(record), ttl(record.expiresAt), String(record.expiresAt), id, user ?? ''];
      return Number(await run(CREATE, keys, args)) === 1;
    },
    update: (id, changes, times) => commit(id, id, changes, times),
    regenerate: commit,
    async destroy(id, retainUntil) {
      const at = await run(END, [prefix + id], [prefix, ttl(retainUntil), String(now()), id, '']);
      // '' when nothing was live; a client that maps an empty bulk string to null is read the same way.
      return at === '' || at === null || at === undefined ? false : String(at);
    },
    async listByUser(userId) {
      const flat = (await run(LIST, [userKey(userId)], [prefix, String(now())])) as string[];
      const found: UserSession[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        found.push({ id: flat[i]!, record: parseRecord(flat[i + 1]!) as SessionRecord });
      }
      return found;
    },
    async destroyByUser(userId, except, retainUntil) {
      // The spared session by its lineage: it may be moving to a new ID meanwhile (see sameSession).
      const args = [prefix, ttl(retainUntil), String(now()), except === undefined ? '' : lineageOf(except), 'u'];
      return (await run(END, [userKey(userId)], args)) as string[];
    },
  };
}

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof RedisStoreOptions>(['prefix', 'now']);
