import { SessionError } from './errors.js';
import { detached } from './lib/bounded.js';
import { LINEAGE, lineageOf } from './lib/ids.js';
import { mergeChanges } from './lib/merge.js';
import { clockOption, refuseUnknownOptions, requireMethods } from './lib/option-names.js';
import { parseRecord } from './lib/records.js';
import type { SessionChanges, SessionRecord, SessionStore, SessionTimes, UserSession } from './lib/store-contract.js';

/** A value the store binds to a statement's `?` placeholders. */
export type SqlValue = string | number | null;

/** What the store needs of a prepared statement: Cloudflare D1's `D1PreparedStatement` as it is. */
export interface SqlStatement {
  /** The same statement with its `?` placeholders bound, in order. */
  bind(...values: SqlValue[]): SqlStatement;
  /** Runs it; `results` holds the rows it returned (a write returns rows only with `RETURNING`). */
  all(): Promise<{ results: unknown[] }>;
}

/**
 * What the store needs of a SQLite database: Cloudflare D1's `D1Database` as it is. A synchronous driver
 * (`bun:sqlite`, better-sqlite3) gets it from the dozen-line adapter in the README, whose `batch` runs in one
 * `db.transaction`.
 */
export interface SqlDatabase {
  /** A statement of `query`, not run yet. */
  prepare(query: string): SqlStatement;
  /** Runs the statements in order in one transaction (all or none), with each one's rows. */
  batch(statements: SqlStatement[]): Promise<{ results: unknown[] }[]>;
}

/** Options of `createSqlStore`. */
export interface SqlStoreOptions {
  /**
   * The table's name: 1–63 letters, digits and `_`, not starting with `sqlite_` (SQLite's) or `_cf_` (D1's); its
   * two indexes are named after it. Default `"sessions"`.
   */
  table?: string | undefined;
  /** Clock in epoch milliseconds, shared with the manager (tests inject one). Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** Options of `SqlStore.purge`. */
export interface PurgeOptions {
  /**
   * Milliseconds (by the store's clock) after which no further batch starts; the batch running then finishes,
   * so leave it room. At least one batch always runs. Default 1000.
   */
  budgetMs?: number | undefined;
  /** Rows one `DELETE` removes at most, 1–10,000. Default 500. */
  batchSize?: number | undefined;
}

/** What `SqlStore.purge` did. */
export interface PurgeResult {
  /** Rows deleted: expired sessions, and ended or moved IDs past their retention. */
  readonly deleted: number;
  /**
   * True when nothing that had expired when the call started is left; false when the budget ran out first (or
   * just as the last full batch ended: the next call then finds nothing, and says true).
   */
  readonly completed: boolean;
}

/** The store `createSqlStore` returns: a `SessionStore` with a per-user index that can count, clear and purge. */
export interface SqlStore extends SessionStore {
  /** The live sessions of `userId`, by the `user_id` column. */
  listByUser(userId: string): Promise<UserSession[]>;
  /**
   * Ends every live session of `userId` but that of `except` (by lineage), in one transaction; resolves the IDs
   * ended.
   */
  destroyByUser(userId: string, except: string | undefined, retainUntil: number): Promise<string[]>;
  /** Live sessions in the table. */
  count(): Promise<number>;
  /** Ends every live session (each stays ended until its own expiry, so nothing in flight revives it). */
  clear(): Promise<void>;
  /**
   * Deletes rows that have expired (sessions past `expiresAt`, ended and moved IDs past their retention), in
   * batches, until none is left or `budgetMs` is spent. Never deletes a live session. Call it on a schedule.
   */
  purge(options?: PurgeOptions): Promise<PurgeResult>;
}

/** A row as the store reads it: `record` is null once the session ended or moved (to `forward`). */
interface Row {
  readonly id: string;
  readonly record: string | null;
  readonly version: number;
  readonly expires_at: number;
  readonly n: number;
}

/** Rows `get` keeps for the write that usually follows, and the longest record it keeps. */
const MAX_RECENT = 64;
const MAX_RECENT_CHARS = 16_384;
/** Tries of an update that lost its version check to another request each time (every loss is another's win). */
const MAX_TRIES = 100;

/**
 * The table and indexes, as the store creates them on first use (`{table}` is the `table` option quoted, so a
 * name SQL reserves, such as `order`, serves too; `{name}` the option as it is): the same statements serve as a
 * migration file for `wrangler d1 migrations`.
 */
const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY NOT NULL, record TEXT, forward TEXT, ' +
    'version INTEGER NOT NULL, expires_at INTEGER NOT NULL, user_id TEXT)',
  'CREATE INDEX IF NOT EXISTS "{name}_expires_at" ON {table} (expires_at)',
  'CREATE INDEX IF NOT EXISTS "{name}_user_id" ON {table} (user_id) WHERE user_id IS NOT NULL',
];

/**
 * Sessions in one SQLite table: Cloudflare D1, `bun:sqlite` or better-sqlite3, through the minimal `SqlDatabase`
 * contract (D1 satisfies it as it is; a synchronous driver through the README's adapter). One row per ID:
 * `record` (the JSON record; null once the session ended or moved), `forward` (the ID a regenerate moved it
 * to), `version` (bumped by every write), `expires_at` (the record's expiry, or how long an ended or moved ID is
 * kept) and `user_id` (the per-user index). The table is created by the first statement that finds it missing.
 *
 * Exact, like a Durable Object: `create` is one conditional upsert that never overwrites a live or ended ID;
 * `update` reads, merges with `mergeChanges` and writes only if the version it read is still there (else reads
 * again and re-merges), so no overlapping change is lost and a destroyed session is never written back;
 * `regenerate` is one batch (a transaction) that turns the old row into a forward and inserts the new one only
 * if the old was still the version it merged; `destroy` is one batch that ends the ID and every ID it moved to;
 * `destroyByUser` is one batch that ends every row of the user, expired ones too.
 *
 * Statements per call (a D1 round trip each; a batch is one): `get` 1; `create` 1; `update` and `regenerate` 1
 * when this store's `get` read the row last (as the manager does earlier in the same request: the store keeps the
 * last 64 rows it read, up to 16 KiB of record each), else 2, and 2 more per lost version check; `destroy`,
 * `listByUser`, `destroyByUser`, `count`, `clear` 1. SQLite has no TTL: `purge` deletes what has expired, in
 * batches, within a time budget; run it on a schedule.
 *
 * @example
 * import { createSessions } from 'edge-sessions'
 * import { createSqlStore } from 'edge-sessions/sql'
 *
 * export default {
 *   async fetch(request: Request, env: Env) {
 *     const sessions = createSessions({ store: createSqlStore(env.DB), secrets: [env.SESSION_SECRET] })
 *     return sessions.handle(async (req, session) => new Response(`visit ${session.increment('visits')}`))(request)
 *   },
 *   async scheduled(controller: ScheduledController, env: Env) {
 *     await createSqlStore(env.DB).purge({ budgetMs: 10_000 })
 *   },
 * } satisfies ExportedHandler<Env>
 */
export function createSqlStore(db: SqlDatabase, options: SqlStoreOptions = {}): SqlStore {
  refuseUnknownOptions('createSqlStore', options, OPTION_NAMES);
  requireMethods('createSqlStore', 'the database', db, ['prepare', 'batch']);
  const table = options.table ?? 'sessions';
  // SQLite keeps names that start with sqlite_ for itself, quoted or not, and D1 those that start with _cf_.
  if (typeof table !== 'string' || !/^[A-Za-z_]\w{0,62}$/.test(table) || /^(sqlite|_cf)_/i.test(table)) {
    throw new SessionError(
      'INVALID_OPTION',
      'createSqlStore: "table" must be 1–63 letters, digits or _, not starting with sqlite_ or _cf_',
    );
  }
  const now = clockOption('createSqlStore', options.now);

  /** `query` (with `{table}` for the table, quoted, and `{name}` for its name) bound to `values`. */
  const statement = (query: string, ...values: SqlValue[]): SqlStatement =>
    db.prepare(query.replaceAll('{table}', `"${table}"`).replaceAll('{name}', table)).bind(...values);

  /** The rows of one statement; a missing table is created and the statement run again. */
  const rows = (query: string, ...values: SqlValue[]): Promise<Row[]> =>
    created(async () => (await statement(query, ...values).all()).results as Row[]);

  /** The rows of each statement of one batch (a transaction); a missing table likewise. */
  const batch = (...statements: (() => SqlStatement)[]): Promise<Row[][]> =>
    created(async () => (await db.batch(statements.map((s) => s()))).map((r) => r.results as Row[]));

  async function created<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      // D1, bun:sqlite and better-sqlite3 all say "no such table: <name>". Creating it is idempotent, so two
      // first requests racing here both succeed; anything else is the caller's error.
      if (!`${error}${(error as { cause?: unknown } | null)?.cause}`.includes('no such table')) throw error;
      await db.batch(SCHEMA.map((query) => statement(query)));
      return run();
    }
  }

  /**
   * Rows `get` read lately (a bounded few, small records only): the `update` or `regenerate` of the same request
   * usually finds its row here and skips a read. A stale one only fails its version check.
   */
  const recent = new Map<string, Row>();

  /**
   * Merges `changes` into the live record and has `write` store it if the row still has the version read: on a
   * lost check (another request wrote first) reads and merges again. Null when the session is not live.
   */
  async function change(
    id: string,
    changes: SessionChanges,
    times: SessionTimes,
    write: (merged: SessionRecord, version: number) => Promise<boolean>,
  ): Promise<SessionRecord | null> {
    let row = recent.get(id);
    recent.delete(id);
    // The first try may start from the row `get` read: if it is no longer live, or the merge refuses it, or
    // its version is gone, the next try reads the row afresh.
    let guess = row !== undefined;
    for (let tries = 0; tries < MAX_TRIES; tries++, guess = false) {
      if (!guess) [row] = await rows('SELECT record, version, expires_at FROM {table} WHERE id = ?', id);
      if (row?.record == null || row.expires_at <= now()) {
        if (guess) continue;
        return null;
      }
      let merged: SessionRecord;
      try {
        merged = mergeChanges(JSON.parse(row.record) as SessionRecord, changes, times);
      } catch (error) {
        if (guess) continue;
        throw error;
      }
      if (await write(merged, row.version)) return merged;
    }
    throw new SessionError('STORE_WRITE', `sql store: ${MAX_TRIES} other requests changed the session first`);
  }

  /**
   * A CTE of `id` and every ID it moved to (`chain`), for the statement that follows it: however many (each
   * regenerate adds one while its forward lives); UNION takes each ID once, so even a cycle ends.
   */
  const CHAIN =
    'WITH RECURSIVE chain (id) AS (SELECT ? UNION SELECT s.forward FROM {table} s ' +
    'JOIN chain USING (id) WHERE s.forward IS NOT NULL) ';

  return {
    name: 'sql',
    async get(id) {
      const [row] = await rows('SELECT record, version, expires_at FROM {table} WHERE id = ?', id);
      if (row?.record == null) return null;
      if (row.record.length <= MAX_RECENT_CHARS) {
        if (recent.size >= MAX_RECENT) recent.delete(recent.keys().next().value!);
        recent.set(detached(id), row); // an ID the app passed in (getById) may be a slice of a larger string
      }
      // Returned even past its expiry until purged: the manager checks expiry and reports `expired`.
      return parseRecord(row.record);
    },
    async create(id, record) {
      // Takes the ID only if it is new, or its row (a session or an ended ID) has expired.
      const inserted = await rows(
        'INSERT INTO {table} (id, record, version, expires_at, user_id) VALUES (?, ?, 0, ?, ?) ON CONFLICT (id) ' +
          'DO UPDATE SET record = excluded.record, forward = NULL, version = version + 1, ' +
          'expires_at = excluded.expires_at, user_id = excluded.user_id WHERE expires_at <= ? RETURNING id',
        id,
        JSON.stringify(record),
        record.expiresAt,
        record.userId === undefined ? null : userIdValue(record.userId),
        now(),
      );
      return inserted.length > 0;
    },
    update: (id, changes, times) =>
      change(
        id,
        changes,
        times,
        async (merged, version) =>
          (
            await rows(
              'UPDATE {table} SET record = ?, version = version + 1, expires_at = ? WHERE id = ? AND version = ? ' +
                'RETURNING id',
              JSON.stringify(merged),
              times.expiresAt,
              id,
              version,
            )
          ).length > 0,
      ),
    regenerate: (id, newId, changes, times) =>
      change(id, changes, times, async (merged, version) => {
        // One transaction: the old row becomes a forward if it still has the version merged, and only then (it
        // forwards to newId at the next version) is the new row inserted. A taken newId fails the whole batch.
        const [moved] = await batch(
          () =>
            statement(
              'UPDATE {table} SET record = NULL, forward = ?, version = version + 1, expires_at = ? ' +
                'WHERE id = ? AND version = ? RETURNING id',
              newId,
              times.expiresAt,
              id,
              version,
            ),
          () =>
            statement(
              'INSERT INTO {table} (id, record, version, expires_at, user_id) SELECT ?, ?, 0, ?, user_id ' +
                'FROM {table} WHERE id = ? AND forward = ? AND version = ?',
              newId,
              JSON.stringify(merged),
              times.expiresAt,
              id,
              newId,
              version + 1,
            ),
        );
        return moved!.length > 0;
      }),
    async destroy(id, retainUntil) {
      // One transaction: which ID of the chain is live; keep an unknown ID ended too; end every ID of the chain.
      const [[live]] = (await batch(
        () =>
          statement(
            `${CHAIN}SELECT id FROM {table} WHERE id IN (SELECT id FROM chain) AND record IS NOT NULL ` +
              'AND expires_at > ?',
            id,
            now(),
          ),
        () =>
          statement(
            'INSERT INTO {table} (id, version, expires_at) VALUES (?, 0, ?) ON CONFLICT (id) DO NOTHING',
            id,
            retainUntil,
          ),
        () =>
          statement(
            `${CHAIN}UPDATE {table} SET record = NULL, version = version + 1, expires_at = max(expires_at, ?) ` +
              'WHERE id IN (SELECT id FROM chain)',
            id,
            retainUntil,
          ),
      )) as [[Row | undefined]];
      return live === undefined ? false : String(live.id);
    },
    async listByUser(userId) {
      const found = await rows(
        'SELECT id, record FROM {table} WHERE user_id = ? AND record IS NOT NULL AND expires_at > ?',
        userIdValue(userId),
        now(),
      );
      return found.map((row) => ({ id: row.id, record: parseRecord(row.record!) as SessionRecord }));
    },
    async destroyByUser(userId, except, retainUntil) {
      // One transaction: which sessions are live, then end every one of the user's, expired ones too: an update
      // that checked one live just before it expired may still be on its way, and its version check must fail.
      // The spared session by its lineage: it may be moving to a new ID meanwhile (see sameSession).
      const spared = except === undefined ? null : lineageOf(except);
      userIdValue(userId);
      const [live] = await batch(
        () =>
          statement(
            `SELECT id FROM {table} WHERE user_id = ? AND ${NOT_SPARED} AND record IS NOT NULL AND expires_at > ?`,
            userId,
            spared,
            now(),
          ),
        () =>
          statement(
            'UPDATE {table} SET record = NULL, version = version + 1, expires_at = max(expires_at, ?) ' +
              `WHERE user_id = ? AND ${NOT_SPARED} AND record IS NOT NULL`,
            retainUntil,
            userId,
            spared,
          ),
      );
      return live!.map((row) => row.id);
    },
    async count() {
      const [row] = await rows('SELECT count(*) AS n FROM {table} WHERE record IS NOT NULL AND expires_at > ?', now());
      return row!.n;
    },
    async clear() {
      await rows('UPDATE {table} SET record = NULL, version = version + 1 WHERE record IS NOT NULL');
    },
    async purge(options: PurgeOptions = {}) {
      refuseUnknownOptions('purge', options, PURGE_OPTIONS);
      const { budgetMs = 1000, batchSize = 500 } = options;
      if (!(budgetMs >= 0) || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
        throw new SessionError('INVALID_OPTION', 'purge: budgetMs must be >= 0, batchSize 1–10,000');
      }
      // What had expired when the call started: a row that expires during the purge waits for the next one.
      const start = now();
      let deleted = 0;
      for (;;) {
        const gone = await rows(
          'DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE expires_at <= ? LIMIT ?) RETURNING id',
          start,
          batchSize,
        );
        deleted += gone.length;
        if (gone.length < batchSize) return { deleted, completed: true };
        if (now() - start >= budgetMs) return { deleted, completed: false };
      }
    },
  };
}

/**
 * A lone surrogate (half of a pair, alone): bun:sqlite and node:sqlite bind text as UTF-8 with it replaced by
 * U+FFFD, so `a\ud800` would name the sessions of `a\ufffd`, another user.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** `userId` as the `user_id` column holds it; `STORE_LIMIT` (no statement run) for one no driver keeps apart. */
function userIdValue(userId: string): string {
  if (LONE_SURROGATE.test(userId)) {
    throw new SessionError('STORE_LIMIT', 'sql store: a userId must be well-formed Unicode (it has a lone surrogate)');
  }
  return userId;
}

/** A row not of the session `destroyByUser` spares, given its lineage (or null to spare none). */
const NOT_SPARED = `substr(id, 1, ${LINEAGE}) IS NOT ?`;

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof SqlStoreOptions>(['table', 'now']);
const PURGE_OPTIONS: ReadonlySet<string> = new Set<keyof PurgeOptions>(['budgetMs', 'batchSize']);
