// The README's "Coming from Go" tables, held to the real API (Node only: it reads the README from disk). Column 1
// names Go calls (checked by hand against each library's source); every code span in column 2 must be an
// edge-sessions name that exists, or a value. The traps the tables state are run against a real manager.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import * as core from '../../src/index.js';
import { commitAll, createSessions, Session, SessionError, type SessionsOptions } from '../../src/index.js';
import * as cookieEntry from '../../src/cookie-store.js';
import * as honoEntry from '../../src/hono.js';
import { sessionMiddleware, type SessionEnv } from '../../src/hono.js';
import * as kvEntry from '../../src/kv.js';
import * as memoryEntry from '../../src/memory.js';
import { createMemoryStore } from '../../src/memory.js';
import { cookiePair, createClock, request, SECRET, type TestClock } from '../helpers.js';

const root = resolve(import.meta.dirname, '../..');
const LIBRARIES = [
  'icza/session',
  'dolab/session',
  'gorilla/sessions',
  'kataras/go-sessions (v3)',
  'eucalytus/session',
];

type Row = { go: string; here: string };
type Table = { heading: string; rows: Row[] };

/** The `### ` subsections of `## Coming from Go`, each with the rows of its table. */
function tables(): Table[] {
  const section = readFileSync(join(root, 'README.md'), 'utf8')
    .split(/^## /m)
    .find((text) => text.startsWith('Coming from Go\n'));
  if (section === undefined) throw new Error('README.md has no "## Coming from Go"');
  return section
    .split(/^### /m)
    .slice(1)
    .map((sub) => {
      const lines = sub.split('\n');
      const rows = lines
        .filter((line) => line.startsWith('| ') && !line.startsWith('| ---'))
        .slice(1) // the header row
        .map((line) => {
          const cells = splitRow(line);
          if (cells.length !== 2) throw new Error(`not two columns: ${line}`);
          return { go: cells[0]!, here: cells[1]! };
        });
      return { heading: lines[0]!.trim(), rows };
    });
}

/** A table row's cells; a `|` inside a code span does not split. */
function splitRow(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let code = false;
  for (const ch of line.slice(1, line.lastIndexOf('|'))) {
    if (ch === '`') code = !code;
    if (ch === '|' && !code) {
      cells.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  cells.push(cell.trim());
  return cells;
}

function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** The keys of the first `{ … }` in an expression: `{ store, secrets: [x] }` gives store and secrets. */
function objectKeys(expression: string): string[] {
  const open = expression.indexOf('{');
  if (open < 0) return [];
  const body = expression.slice(open + 1, expression.lastIndexOf('}'));
  return body
    .split(',')
    .map((part) => part.split(':')[0]!.trim())
    .filter((key) => key !== '' && !key.startsWith('...'));
}

// ------------------------------------------------------------------------------------------ the real objects

const sessions = createSessions({ store: createMemoryStore(), secrets: [SECRET] });
const session = await sessions.start(request());
const entries: Record<string, Record<string, unknown>> = {
  'edge-sessions': core,
  'edge-sessions/memory': memoryEntry,
  'edge-sessions/cookie': cookieEntry,
  'edge-sessions/kv': kvEntry,
  'edge-sessions/hono': honoEntry,
};
const packageExports = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).exports);
const errorCodes = [...readFileSync(join(root, 'src/errors.ts'), 'utf8').matchAll(/\| '([A-Z_]+)'/g)].map((m) => m[1]);
const eventTypes = await lifecycleEvents();
const PLATFORM = new Set(['Request', 'Response', 'Headers', 'AggregateError']);
const LITERAL = /^(?:-?\d+|null|undefined|true|false|Infinity)$/;

/** The event types a real manager sends over one session's life, and for a cookie it did not issue. */
async function lifecycleEvents(): Promise<string[]> {
  const clock = createClock();
  const seen = new Set<string>();
  const manager = onClock(clock, { expires: 60, onEvent: (event) => void seen.add(event.type) });
  const s = await manager.start(request());
  s.set('a', 1);
  const first = cookiePair(await s.commit()); // created
  const again = await manager.start(request(first));
  again.set('a', 2);
  again.regenerate();
  const second = cookiePair(await again.commit()); // regenerated
  const third = await manager.start(request(second));
  third.set('a', 3);
  await third.commit(); // updated
  clock.advanceSec(61);
  await manager.start(request(second)); // expired
  await manager.start(request('__Host-sid=forged')); // rejected
  const last = await manager.start(request());
  last.set('a', 1);
  await manager.destroy(request(cookiePair(await last.commit()))); // destroyed
  return [...seen];
}

/** A manager on the memory store, both on `clock`. */
function onClock(clock: TestClock, options: Omit<SessionsOptions, 'store' | 'secrets' | 'now'> = {}) {
  return createSessions({
    store: createMemoryStore({ now: clock.now }),
    secrets: [SECRET],
    now: clock.now,
    ...options,
  });
}

/** The entry point that exports `name`, if any. */
function exported(name: string): string | undefined {
  return Object.keys(entries).find((entry) => typeof entries[entry]![name] === 'function');
}

function isSessionMember(name: string): boolean {
  return name in session;
}

function isManagerMember(name: string): boolean {
  return name in sessions;
}

/** Whether `createSessions` (or its `cookie` object) takes an option of that name. */
function takesOption(name: string, cookie = false): boolean {
  const base = { store: createMemoryStore(), secrets: [SECRET] };
  try {
    if (cookie) createSessions({ ...base, cookie: { [name]: undefined } });
    else createSessions({ ...base, [name]: base[name as keyof typeof base] });
    return true;
  } catch {
    return false;
  }
}

async function takesCreateOption(name: string): Promise<boolean> {
  try {
    await sessions.create(request(), { [name]: undefined });
    return true;
  } catch {
    return false;
  }
}

/** Whether a store factory takes an option of that name (every factory refuses unknown names: INVALID_OPTION). */
function factoryTakes(factory: unknown, name: string): boolean {
  try {
    (factory as (options: object) => unknown)({ [name]: undefined });
    return true;
  } catch (error) {
    return !(error instanceof SessionError && error.code === 'INVALID_OPTION');
  }
}

/** The context variable `sessionMiddleware` sets, read as a handler reads it. */
async function honoVariable(name: string): Promise<boolean> {
  const app = new Hono<SessionEnv<Record<string, unknown>>>();
  app.use(sessionMiddleware(sessions));
  app.get('/', async (c) => {
    const value: unknown = await (c.var as Record<string, unknown>)[name];
    return c.text(String(value instanceof Session));
  });
  return (await (await app.request('https://example.com/')).text()) === 'true';
}

/** What is wrong with one code span of column 2, or undefined if it names something that exists. */
async function problem(span: string): Promise<string | undefined> {
  const text = span.replace(/^await /, '');
  if (LITERAL.test(text) || PLATFORM.has(text)) return undefined;
  if (/^[A-Z][A-Z_]+$/.test(text)) return errorCodes.includes(text) ? undefined : 'no such error code';
  if (/^'[a-z]+'$/.test(text)) return eventTypes.includes(text.slice(1, -1)) ? undefined : 'no such event type';
  if (/^__Host-/.test(text)) return sessions.cookieName.startsWith(text) ? undefined : 'not the default cookie name';
  if (/^edge-sessions(?:\/[\w-]+)?$/.test(text)) {
    return packageExports.includes(`.${text.slice('edge-sessions'.length)}`) ? undefined : 'no such entry point';
  }
  const variable = /^c\.var\.(\w+)$/.exec(text);
  if (variable) return (await honoVariable(variable[1]!)) ? undefined : 'not a session variable of sessionMiddleware';

  const member = /^(sessions|session)\.(\w+)(.*)$/.exec(text);
  if (member) {
    const [, owner, name, rest] = member as unknown as [string, string, string, string];
    if (owner === 'sessions') {
      if (!isManagerMember(name)) return `the manager has no ${name}`;
      if (name === 'create') {
        for (const key of objectKeys(rest)) if (!(await takesCreateOption(key))) return `create() takes no ${key}`;
      }
      return undefined;
    }
    if (!isSessionMember(name)) return `a Session has no ${name}`;
    if (/^\s*=/.test(rest) && Object.getOwnPropertyDescriptor(Session.prototype, name)?.set === undefined) {
      return `session.${name} cannot be assigned`;
    }
    return undefined;
  }

  const call = /^(\w+)\((.*)\)$/.exec(text);
  if (call) {
    const [, name, args] = call as unknown as [string, string, string];
    const entry = exported(name);
    if (entry === undefined) return isManagerMember(name) || isSessionMember(name) ? undefined : 'not exported';
    for (const key of objectKeys(args)) {
      const ok = name === 'createSessions' ? takesOption(key) : factoryTakes(entries[entry]![name], key);
      if (!ok) return `${name}() takes no ${key}`;
    }
    return undefined;
  }

  // An option of createSessions: `expires`, `expires: Infinity`, `cookie: { name, secure }`.
  const option = /^(\w+)(?::\s*(.*))?$/.exec(text);
  if (option) {
    const [, name, value] = option as unknown as [string, string, string | undefined];
    if (!takesOption(name)) return 'not an option of createSessions';
    if (name === 'cookie') {
      for (const key of objectKeys(value ?? '')) if (!takesOption(key, true)) return `cookie takes no ${key}`;
    }
    return undefined;
  }
  return 'not an edge-sessions name this test knows how to check';
}

// ------------------------------------------------------------------------------------------ the tables

describe('README: Coming from Go', () => {
  const all = tables();

  it('has a table for all five and one per library', () => {
    expect(all.map((t) => t.heading)).toEqual(['All five', ...LIBRARIES]);
    for (const table of all) expect(table.rows.length, table.heading).toBeGreaterThan(4);
  });

  it('names in column 2 only what exists', async () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const { heading, rows } of all) {
      for (const { here } of rows) {
        for (const span of codeSpans(here)) {
          checked++;
          const why = await problem(span);
          if (why !== undefined) wrong.push(`${heading}: \`${span}\`: ${why}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(150);
  });

  it('catches a misspelled or invented name', async () => {
    expect(eventTypes.sort()).toEqual(['created', 'destroyed', 'expired', 'regenerated', 'rejected', 'updated']);
    for (const span of [
      'sessions.gett(request)',
      'session.addFlsh(key, value)',
      'commitAl(...sessions)',
      'session.id = x',
      'sessions.create(request, { idle_timeout })',
      'createSessions({ store, maxAge })',
      'cookie: { nmae }',
      'createCookieStore({ encrpyt: false })',
      'expirse: Infinity',
      "'destroyd'",
      'TYPE_MISMATCHED',
      'edge-sessions/gin',
      'c.var.sesion',
      'strconv.ParseBool',
    ]) {
      expect(await problem(span), span).toBeTypeOf('string');
    }
  });

  it('states the required traps', () => {
    const row = (heading: string, go: string) => {
      const found = all.find((t) => t.heading === heading)?.rows.find((r) => r.go.includes(go));
      if (found === undefined) throw new Error(`${heading}: no row for ${go}`);
      return found.here;
    };
    const maxAge = row('gorilla/sessions', '`session.Options.MaxAge = -1`');
    expect(maxAge).toContain('`sessions.updateExpiration(request, -1)`');
    expect(maxAge).toContain('browser-session cookie');
    expect(maxAge).toContain('`session.destroy()`');
    expect(row('gorilla/sessions', '`sessions.Save(r, w)`')).toContain('`commitAll(...sessions)`');
    expect(row('kataras/go-sessions (v3)', '`Config.Expires` 0')).toContain('`expires: Infinity`');
    expect(row('kataras/go-sessions (v3)', '`Start(w, r)`')).toContain('session fixation');
    expect(row('All five', 'a change is stored')).toContain('`session.commit()`');
    expect(row('kataras/go-sessions (v3)', '`Config.AllowReclaim`')).toContain('`sessions.start(request)`');
    expect(row('kataras/go-sessions (v3)', '`GetString`')).toContain('`TYPE_MISMATCH`');
    expect(row('gorilla/sessions', '`session.AddFlash(value, vars...)`')).toContain('`session.addFlash(key, value)`');
  });
});

// ------------------------------------------------------------------------------------------ the traps, run

describe('README: Coming from Go, the traps as they behave', () => {
  const clock = createClock();
  const manager = onClock(clock);
  async function stored(data: Record<string, unknown> = { user: 'ada' }): Promise<string> {
    const s = await manager.start(request());
    for (const [k, v] of Object.entries(data)) s.set(k, v);
    return cookiePair(await s.commit());
  }

  it('updateExpiration(-1) keeps the session with a browser-session cookie; destroy() deletes it', async () => {
    const cookie = await stored();
    const [line] = (await manager.updateExpiration(request(cookie), -1)).getSetCookie();
    expect(line).toMatch(/^__Host-sid=\S/);
    expect(line).not.toMatch(/Max-Age|Expires/i);
    expect((await manager.get(request(cookie)))?.get('user')).toBe('ada');

    const [gone] = (await manager.destroy(request(cookie))).getSetCookie();
    expect(gone).toMatch(/^__Host-sid=;/);
    expect(gone).toMatch(/Max-Age=0/);
    expect(await manager.get(request(cookie))).toBeNull();
  });

  it('session.persistent = false gives a browser-session cookie', async () => {
    const s = await manager.start(request(await stored()));
    s.persistent = false;
    expect((await s.commit()).getSetCookie()[0]).not.toMatch(/Max-Age|Expires/i);
  });

  it('stores nothing before commit(), and get() returns a copy', async () => {
    const cookie = await stored({ user: 'ada', cart: { apples: 1 } });
    const s = await manager.start(request(cookie));
    (s.get('cart') as { apples: number }).apples = 5;
    expect(s.get('cart')).toEqual({ apples: 1 });
    s.set('user', 'grace');
    expect(s.get('user')).toBe('grace');
    const next = await manager.start(request(cookie)); // the change above was never committed
    expect(next.get('user')).toBe('ada');
  });

  it('a cookie the server did not sign is no session, and its ID is not adopted (kataras fixation)', async () => {
    const events: string[] = [];
    const watched = onClock(clock, { onEvent: (event) => void events.push(event.type) });
    const planted = 'AAAAAAAAAAAAAAAAAAAAAAAA';
    const s = await watched.start(request(`__Host-sid=${planted}`));
    expect(s.isNew).toBe(true);
    expect(s.id).not.toBe(planted);
    expect(events).toEqual(['rejected']);
  });

  it('a new session that holds nothing sets no cookie (kataras sets one at Start)', async () => {
    expect((await (await manager.start(request())).commit()).getSetCookie()).toEqual([]);
  });

  it('destroy, then start with the same Request: a new session, its cookie last (kataras AllowReclaim)', async () => {
    const cookie = await stored();
    const app = manager.handle(async (req, s) => {
      s.destroy();
      const fresh = await manager.start(req);
      fresh.set('user', 'grace');
      return new Response(fresh.id);
    });
    const response = await app(request(cookie));
    const lines = response.headers.getSetCookie();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^__Host-sid=;.*Max-Age=0/);
    expect(lines[1]).toContain(`__Host-sid=${await response.text()}.`);
    expect(await manager.get(request(cookie))).toBeNull();
    expect((await manager.get(request(lines[1]!.split(';')[0])))?.get('user')).toBe('grace');
  });

  it('commitAll(...) commits the sessions of several managers (gorilla sessions.Save)', async () => {
    const carts = createSessions({ store: createMemoryStore(), secrets: [SECRET], cookie: { name: '__Host-cart' } });
    const req = request();
    const [a, b] = [await manager.start(req), await carts.start(req)];
    a.set('user', 'ada');
    b.set('items', 3);
    const names = (await commitAll(a, b)).getSetCookie().map((line) => line.split('=')[0]);
    expect(names).toEqual(['__Host-sid', '__Host-cart']);
  });

  it('expires: Infinity outlives any lifetime (kataras Expires: 0)', async () => {
    const forever = onClock(clock, { expires: Infinity });
    const s = await forever.start(request());
    s.set('user', 'ada');
    const cookie = cookiePair(await s.commit());
    clock.advanceSec(300 * 86_400);
    expect((await forever.get(request(cookie)))?.get('user')).toBe('ada');
  });

  it('set() of an immutable key throws IMMUTABLE (kataras ignores it)', async () => {
    const s = await manager.start(request());
    s.setImmutable('role', 'admin');
    expect(() => s.set('role', 'guest')).toThrow(expect.objectContaining({ code: 'IMMUTABLE' }));
  });

  it('typed getters: undefined when absent, TYPE_MISMATCH when not convertible, the default never throws', async () => {
    const s = await manager.start(request());
    s.set('obj', { a: 1 });
    s.set('flag', 't');
    expect(s.getInt('missing')).toBeUndefined();
    expect(s.getString('missing')).toBeUndefined();
    expect(() => s.getInt('obj')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    expect(s.getInt('obj', -1)).toBe(-1);
    expect(() => s.getBoolean('flag')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    s.set('flag', 'TRUE');
    expect(s.getBoolean('flag')).toBe(true);
  });

  it("no idle timeout by default: idleTimeout: 1800 gives icza's default Timeout of 30 minutes", async () => {
    const cookie = await stored();
    const idle = onClock(clock, { idleTimeout: 1800 });
    const s = await idle.start(request());
    s.set('user', 'ada');
    const idleCookie = cookiePair(await s.commit());
    clock.advanceSec(1801);
    expect(await manager.get(request(cookie))).not.toBeNull();
    expect(await idle.get(request(idleCookie))).toBeNull();
  });

  it('increment() of a value that is not a number throws (kataras counts from 0 again)', async () => {
    const s = await manager.start(request());
    s.set('n', 'abc');
    s.set('f', 1.5);
    expect(() => s.increment('n')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    expect(s.increment('f')).toBe(2.5);
  });

  it('getFlashString() of a flash that is no string throws and leaves it (kataras gives "")', async () => {
    const cookie = await stored();
    const s = await manager.start(request(cookie));
    s.setFlash('notice', { text: 'saved' });
    await s.commit();
    const reader = await manager.start(request(cookie));
    expect(() => reader.getFlashString('notice')).toThrow(expect.objectContaining({ code: 'TYPE_MISMATCH' }));
    await reader.commit();
    expect((await manager.start(request(cookie))).peekFlash('notice')).toEqual({ text: 'saved' });
  });

  it("updateExpiration(request, 0) or Infinity is INVALID_DURATION (kataras' 0: an unlimited cookie)", async () => {
    const cookie = await stored();
    for (const seconds of [0, Infinity]) {
      await expect(manager.updateExpiration(request(cookie), seconds)).rejects.toMatchObject({
        code: 'INVALID_DURATION',
      });
    }
  });

  it('behind Hono, c.var.session is never null; get(c.req.raw) is (eucalytus GetSession(c))', async () => {
    const app = new Hono<SessionEnv<Record<string, unknown>>>();
    app.use(sessionMiddleware(manager));
    app.get('/', async (c) => c.text(`${(await c.var.session) !== null} ${await manager.get(c.req.raw)}`));
    const response = await app.request('https://example.com/');
    expect(await response.text()).toBe('true null');
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('add() returns false for a key that exists (dolab ErrDuplicateKey)', async () => {
    const s = await manager.start(request());
    expect(s.add('role', 'guest')).toBe(true);
    expect(s.add('role', 'admin')).toBe(false);
    expect(s.get('role')).toBe('guest');
  });

  it('addFlash(key, value): a list in order, readable in this request, gone from the next (gorilla)', async () => {
    const cookie = await stored();
    const s = await manager.start(request(cookie));
    s.addFlash('errors', 'too short');
    s.addFlash('errors', 'no digit');
    await s.commit();
    const reader = await manager.start(request(cookie));
    expect(reader.getFlash('errors')).toEqual(['too short', 'no digit']);
    expect(reader.getFlash('errors')).toEqual(['too short', 'no digit']);
    await reader.commit();
    expect((await manager.start(request(cookie))).getFlash('errors')).toBeUndefined();
  });

  it("getById() is no access: it does not move the idle timeout (icza's Store.Get does)", async () => {
    const idle = onClock(clock, { idleTimeout: 60 });
    const s = await idle.start(request());
    s.set('user', 'ada');
    await s.commit();
    clock.advanceSec(50);
    expect(await idle.getById(s.id)).not.toBeNull();
    clock.advanceSec(20);
    expect(await idle.getById(s.id)).toBeNull();
  });

  it("an expired session is an 'expired' event, not 'destroyed' (eucalytus, kataras report Destroyed)", async () => {
    const events: string[] = [];
    const short = onClock(clock, { expires: 60, onEvent: (event) => void events.push(event.type) });
    const s = await short.start(request());
    s.set('user', 'ada');
    const cookie = cookiePair(await s.commit());
    clock.advanceSec(61);
    events.length = 0;
    expect(await short.get(request(cookie))).toBeNull();
    expect(events).toEqual(['expired']);
  });
});
