// The SQL store's suite, run on every driver: better-sqlite3 on Node (sql.node.test.ts), bun:sqlite on Bun
// (sql.bun.test.ts) and D1 inside workerd (workerd/sql.workerd.test.ts). The shared suites (conformance with the
// per-user index, overlapping requests, lifecycle races, exact) first, then what only this store does: its
// statements per request, the table created on first use, and the budgeted purge.
import { createSessions, SessionError } from '../../src/index.js';
import { createSqlStore, type SqlDatabase, type SqlStatement, type SqlStoreOptions } from '../../src/sql.js';
import { describeStoreConformance } from '../conformance.js';
import { describe, expect, it } from '../harness.js';
import {
  cookiePair,
  createClock,
  destroyAfterRenewals,
  expectUnparsableRecordIsCorrupt,
  record,
  request,
  SECRET,
  sessionAboutToIdleOut,
  times,
  type TestClock,
} from '../helpers.js';
import { describeLifecycleRaces, describeOverlappingRequests } from '../races.js';

/** Opens the database a store runs on: a fresh one, or one shared by the file (each store gets its own table). */
export type OpenDatabase = () => SqlDatabase | Promise<SqlDatabase>;

let tables = 0;
/** A table no other store of the file uses (D1 keeps one database for the whole file). */
function freshTable(): string {
  return `sessions_${++tables}_${Math.random().toString(36).slice(2, 8)}`;
}

/** The database behind a log of what reached it: each statement run alone, or `batch` (one round trip). */
export function loggedDatabase(
  db: SqlDatabase,
  before?: (query: string) => void | Promise<void>,
): { db: SqlDatabase; log: string[] } {
  const log: string[] = [];
  const inner = new WeakMap<SqlStatement, SqlStatement>();
  const wrap = (statement: SqlStatement, query: string): SqlStatement => {
    const wrapped: SqlStatement = {
      bind: (...values) => wrap(statement.bind(...values), query),
      all: async () => {
        log.push(query);
        await before?.(query);
        return statement.all();
      },
    };
    inner.set(wrapped, statement);
    return wrapped;
  };
  return {
    log,
    db: {
      prepare: (query) => wrap(db.prepare(query), query),
      batch: async (statements) => {
        log.push('batch');
        return db.batch(statements.map((s) => inner.get(s)!));
      },
    },
  };
}

export function describeSqlStore(name: string, open: OpenDatabase): void {
  const factory = async (clock: TestClock) => createSqlStore(await open(), { now: clock.now, table: freshTable() });
  describeStoreConformance(name, factory, { perUser: true });
  describeOverlappingRequests(name, factory);
  describeLifecycleRaces(name, factory, { exact: true });

  async function setup(options: SqlStoreOptions = {}, before?: (query: string) => void | Promise<void>) {
    const clock = createClock();
    const logged = loggedDatabase(await open(), before);
    const table = freshTable();
    const store = createSqlStore(logged.db, { now: clock.now, table, ...options });
    const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, expires: 3600 });
    // Another process (or isolate) on the same table.
    const elsewhere = () => createSqlStore(logged.db, { now: clock.now, table });
    return { clock, store, sessions, log: logged.log, elsewhere };
  }

  describe(`sql store (${name}): statements per request`, () => {
    it('anonymous 0, login 1, read-only 1, write 2, regenerate 2 (read, batch), logout 2 (read, batch)', async () => {
      const { sessions, log } = await setup();
      // The first statement creates the table; count from a store that has it.
      await sessions.count();
      log.length = 0;
      const anonymous = await sessions.start(request('theme=dark'));
      expect((await anonymous.commit()).getSetCookie()).toEqual([]);
      expect(log).toEqual([]);

      const login = await sessions.create(request(), { userId: 'ada', data: { n: 1 } });
      const cookie = cookiePair(await login.commit());
      expect(log).toHaveLength(1);
      expect(log[0]).toMatch(/^INSERT INTO \S+ .* ON CONFLICT \(id\) DO UPDATE/);

      log.length = 0;
      const reader = await sessions.start(request(cookie));
      expect(reader.get('n')).toBe(1);
      expect((await reader.commit()).getSetCookie()).toEqual([]);
      expect(log).toHaveLength(1);
      expect(log[0]).toMatch(/^SELECT record, version, expires_at FROM/);

      log.length = 0;
      const writer = await sessions.start(request(cookie));
      writer.increment('n');
      await writer.commit();
      // The update starts from the row the request's read returned: no read of its own.
      expect(log.map((q) => q.split(' ')[0])).toEqual(['SELECT', 'UPDATE']);

      log.length = 0;
      const renewing = await sessions.start(request(cookie));
      renewing.regenerate();
      const renewed = cookiePair(await renewing.commit());
      expect(log.map((q) => q.split(' ')[0])).toEqual(['SELECT', 'batch']);

      log.length = 0;
      await sessions.destroy(request(renewed));
      expect(log.map((q) => q.split(' ')[0])).toEqual(['SELECT', 'batch']);
      expect((await sessions.start(request(renewed))).isNew).toBe(true);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
    });

    /** A store whose next UPDATE lets `other` run first, between the update's read and its write. */
    async function interleaved() {
      let other: (() => Promise<unknown>) | undefined;
      const { store, clock, elsewhere } = await setup({}, async (query) => {
        if (!query.startsWith('UPDATE') || other === undefined) return;
        const run = other;
        other = undefined;
        await run();
      });
      const now = clock.now();
      const id = 'interleaved'.padEnd(24, 'x');
      await store.create(id, record({ data: { n: '1' } }, now));
      const t = times(now, now + 60_000, now + 3_600_000);
      const before = (run: () => Promise<unknown>) => void (other = run);
      return { store, id, t, before, clock, elsewhere: elsewhere() };
    }

    it('an update that loses its version check to another request merges again and keeps both changes', async () => {
      const { store, id, t, before } = await interleaved();
      before(() => store.update(id, { increment: { n: 10 }, set: { other: '"yes"' } }, t));
      const merged = await store.update(id, { increment: { n: 1 }, set: { mine: '"yes"' } }, t);
      expect(merged?.data).toEqual({ n: '12', other: '"yes"', mine: '"yes"' });
      expect((await store.get(id))?.data).toEqual(merged?.data);
    });

    it('an update starting from a read another process changed since reads again, and merges onto that', async () => {
      const { store, id, t, clock, elsewhere } = await interleaved();
      // Each time: this store reads (as the manager does before a write), then another store on the table writes.
      await store.get(id);
      await elsewhere.update(id, { set: { n: '"not a number"' } }, t);
      await expect(store.update(id, { increment: { n: 1 } }, t)).rejects.toMatchObject({ code: 'TYPE_MISMATCH' });

      // The read would refuse the increment; what is stored now takes it.
      await store.get(id);
      await elsewhere.update(id, { set: { n: '5' } }, t);
      expect((await store.update(id, { increment: { n: 1 } }, t))?.data).toEqual({ n: '6' });

      // The read had expired by now, but another request extended the session.
      await store.get(id);
      const later = times(clock.now(), t.expiresAt + 60_000, t.endsAt);
      await elsewhere.update(id, {}, later);
      clock.advance(t.expiresAt - clock.now());
      expect((await store.update(id, { set: { a: '1' } }, later))?.data).toEqual({ n: '6', a: '1' });

      // The session was destroyed after the read: nothing is written.
      await store.get(id);
      await elsewhere.destroy(id, t.endsAt);
      expect(await store.update(id, { set: { late: '1' } }, later)).toBeNull();
      expect(await store.get(id)).toBeNull();
    });
  });

  describe(`sql store (${name}): per user`, () => {
    it('destroyByUser ends a session that just expired, which a write in flight would otherwise revive', async () => {
      let other: (() => Promise<unknown>) | undefined;
      const { store, clock } = await setup({}, async (query) => {
        if (!query.startsWith('UPDATE') || other === undefined) return;
        const run = other;
        other = undefined;
        await run();
      });
      const sessions = createSessions({ store, secrets: [SECRET], now: clock.now, idleTimeout: 600 });
      const { cookie, late } = await sessionAboutToIdleOut(sessions, clock, 'ada');
      // The commit has checked the row live and merged; before its UPDATE runs, the session expires and the
      // user is logged out everywhere.
      other = async () => {
        clock.advanceSec(2);
        expect(await sessions.destroyByUser('ada')).toBe(0); // none was live
      };
      expect((await late.commit()).getSetCookie()).toEqual([]);
      expect(late.destroyed).toBe(true);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
      expect(await sessions.listByUser('ada')).toEqual([]);
    });

    it('never ends another user’s sessions: a userId with a lone surrogate is not one with U+FFFD', async () => {
      const { sessions } = await setup();
      const victim = await sessions.create(request(), { userId: 'ada\ufffd' });
      await victim.commit();
      // Some drivers bind text as UTF-8 with a lone surrogate replaced by U+FFFD: the two IDs must not then meet.
      const ended = await sessions.destroyByUser('ada\ud800').catch((error: unknown) => error);
      if (typeof ended === 'number') expect(ended).toBe(0);
      else expect(ended).toBeInstanceOf(SessionError);
      expect((await sessions.listByUser('ada\ufffd')).map((s) => s.id)).toEqual([victim.id]);
    });
  });

  describe(`sql store (${name}): destroy`, () => {
    it('destroy of a session’s first ID ends it after 20 regenerates, each forward still kept', async () => {
      const { store, clock } = await setup();
      const { answer, last } = await destroyAfterRenewals(store, clock, 20);
      expect(answer).toBe(last);
      expect(await store.get(last)).toBeNull();
    });
  });

  describe(`sql store (${name}): hostile rows`, () => {
    it('a record that is not JSON is corrupt: no store error, a login with its cookie works', async () => {
      const clock = createClock();
      const db = await open();
      const table = freshTable();
      const sql = (query: string, ...values: (string | null)[]) =>
        db
          .prepare(query.replace('{table}', table))
          .bind(...values)
          .all();
      await expectUnparsableRecordIsCorrupt(
        createSqlStore(db, { now: clock.now, table }),
        clock,
        async (id) => void (await sql('UPDATE {table} SET record = ? WHERE id = ?', '{"data":{"n":"1"', id)),
        async (id) => (await sql('SELECT record FROM {table} WHERE id = ?', id)).results,
      );
    });
  });

  describe(`sql store (${name}): table and options`, () => {
    it('creates its table on first use, by whichever operation comes first', async () => {
      for (const first of ['get', 'create', 'destroy', 'purge'] as const) {
        const { store, clock } = await setup();
        const id = `first-${first}`.padEnd(24, 'x');
        const now = clock.now();
        if (first === 'get') expect(await store.get(id)).toBeNull();
        if (first === 'create') expect(await store.create(id, record({}, now))).toBe(true);
        if (first === 'destroy') expect(await store.destroy(id, now + 60_000)).toBe(false);
        if (first === 'purge') expect(await store.purge()).toEqual({ deleted: 0, completed: true });
        expect(await store.count()).toBe(first === 'create' ? 1 : 0);
      }
    });

    it('refuses a table name that is not a plain SQL name, and unknown options, at construction', async () => {
      const db = await open();
      for (const table of ['', 'sessions; DROP TABLE x', 'a-b', '1abc', 'x'.repeat(64)]) {
        expect(() => createSqlStore(db, { table })).toThrow(/"table" must be/);
      }
      expect(() => createSqlStore(db, { tabel: 'x' } as SqlStoreOptions)).toThrow(/unknown option "tabel"/);
      const store = createSqlStore(db, { table: freshTable() });
      await expect(store.purge({ budgetMs: -1 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
      await expect(store.purge({ batchSize: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
      await expect(store.purge({ batchSize: 1.5 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
      await expect(store.purge({ budget: 5 } as object)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    });

    it('takes a table named like an SQL keyword (order), or refuses it at construction', async () => {
      const db = await open();
      const clock = createClock();
      const now = clock.now();
      for (const name of ['order', 'Group', 'select', 'index', 'transaction', 'sqlite_sessions', '_cf_sessions']) {
        let store;
        try {
          store = createSqlStore(db, { table: name, now: clock.now });
        } catch (error) {
          expect(error).toMatchObject({ code: 'INVALID_OPTION' });
          continue;
        }
        const id = `table-${name}`.padEnd(24, 'x');
        expect(await store.create(id, record({ data: { n: '1' } }, now))).toBe(true);
        expect((await store.get(id))?.data).toEqual({ n: '1' });
        expect(await store.destroy(id, now + 60_000)).toBe(id);
      }
    });

    it('passes a database error other than a missing table through, as the manager’s STORE_ error', async () => {
      const broken: SqlDatabase = {
        prepare: () => ({
          bind() {
            return this;
          },
          all: () => Promise.reject(new Error('database is locked')),
        }),
        batch: () => Promise.reject(new Error('database is locked')),
      };
      const clock = createClock();
      const sessions = createSessions({ store: createSqlStore(broken, { now: clock.now }), secrets: [SECRET] });
      const login = await sessions.create(request(), { data: { n: 1 } });
      await expect(login.commit()).rejects.toMatchObject({ code: 'STORE_WRITE' });
      await expect(sessions.count()).rejects.toMatchObject({ code: 'STORE_READ' });
    });
  });

  describe(`sql store (${name}): purge`, () => {
    /** Sessions in every state the table holds, at T0: live, expired, ended, moved away. */
    async function populated(options: { live?: number; expired?: number } = {}) {
      const ticks: string[] = [];
      let clock!: TestClock;
      // Each DELETE takes 10 ms of the store's clock: the budget is then a number of batches.
      const s = await setup({}, (query) => {
        if (!query.startsWith('DELETE')) return;
        ticks.push(query);
        clock.advance(10);
      });
      clock = s.clock;
      const now = clock.now();
      const live: string[] = [];
      for (let i = 0; i < (options.live ?? 3); i++) {
        const id = `live-${i}`.padEnd(24, 'x');
        await s.store.create(id, record({ expiresAt: now + 3_600_000 }, now));
        live.push(id);
      }
      for (let i = 0; i < (options.expired ?? 5); i++) {
        await s.store.create(`expired-${i}`.padEnd(24, 'x'), record({ expiresAt: now + 60_000 }, now));
      }
      return { ...s, now, live, ticks };
    }

    it('deletes expired sessions and ended IDs past their retention, never a live session', async () => {
      const { store, clock, now, live } = await populated();
      const ended = 'ended'.padEnd(24, 'x');
      await store.create(ended, record({ expiresAt: now + 100_000 }, now));
      await store.destroy(ended, now + 120_000);
      const moved = 'moved'.padEnd(24, 'x');
      await store.create(moved, record({ expiresAt: now + 3_600_000 }, now));
      const movedTo = `${moved.slice(0, 22)}-new-id-moved-to`;
      await store.regenerate(moved, movedTo, {}, times(now, now + 90_000, now + 3_600_000));

      // Nothing has expired yet.
      expect(await store.purge()).toEqual({ deleted: 0, completed: true });
      clock.advance(60_000);
      expect(await store.purge()).toEqual({ deleted: 5, completed: true });
      // The moved session and the forward from its old ID expire together; the ended ID at its retention.
      clock.advance(30_000);
      expect(await store.purge()).toEqual({ deleted: 2, completed: true });
      clock.advance(30_000);
      expect(await store.purge()).toEqual({ deleted: 1, completed: true });
      // A create of the purged ended ID is a new session now (its retention is over).
      expect(await store.create(ended, record({}, clock.now()))).toBe(true);
      for (const id of live) expect((await store.get(id))?.data).toEqual(record().data);
      expect(await store.count()).toBe(live.length + 1);
    });

    it('stops when the budget is spent and finishes on the next calls; a batch always runs', async () => {
      const { store, clock, ticks, live } = await populated({ expired: 23 });
      clock.advance(60_000);
      // Batches of 5 taking 10 ms each: within 25 ms, 3 batches start (at 0, 10 and 20 ms).
      expect(await store.purge({ budgetMs: 25, batchSize: 5 })).toEqual({ deleted: 15, completed: false });
      expect(ticks).toHaveLength(3);
      // A budget of 0 still runs one batch: every call makes progress.
      expect(await store.purge({ budgetMs: 0, batchSize: 5 })).toEqual({ deleted: 5, completed: false });
      expect(await store.purge({ budgetMs: 0, batchSize: 5 })).toEqual({ deleted: 3, completed: true });
      expect(ticks).toHaveLength(5);
      expect(await store.purge({ batchSize: 5 })).toEqual({ deleted: 0, completed: true });
      expect(await store.count()).toBe(live.length);
    });

    it('leaves a session that expires while it runs, and one renewed before the purge, for later', async () => {
      const { store, clock, now, live } = await populated({ expired: 0 });
      const renewed = 'renewed'.padEnd(24, 'x');
      await store.create(renewed, record({ expiresAt: now + 60_000 }, now));
      await store.update(renewed, {}, times(now, now + 600_000, now + 3_600_000));
      const soon = 'soon'.padEnd(24, 'x');
      await store.create(soon, record({ expiresAt: now + 60_005 }, now));
      clock.advance(60_000);
      // `soon` expires 5 ms in, during the first batch: the purge only deletes what had expired when it started.
      expect(await store.purge({ batchSize: 1 })).toEqual({ deleted: 0, completed: true });
      expect(await store.count()).toBe(live.length + 1);
      expect((await store.get(renewed))?.expiresAt).toBe(now + 600_000);
      expect(await store.purge()).toEqual({ deleted: 1, completed: true });
    });

    it('purges a session only after it expired, as the manager sees it', async () => {
      const { sessions, store, clock } = await setup();
      const login = await sessions.create(request(), { userId: 'ada', data: { n: 1 } });
      const cookie = cookiePair(await login.commit());
      clock.advanceSec(3599);
      expect(await store.purge()).toEqual({ deleted: 0, completed: true });
      expect((await sessions.start(request(cookie))).get('n')).toBe(1);
      clock.advanceSec(1);
      expect((await sessions.start(request(cookie))).isNew).toBe(true);
      expect(await store.purge()).toEqual({ deleted: 1, completed: true });
      expect(await sessions.listByUser('ada')).toEqual([]);
    });
  });
}
