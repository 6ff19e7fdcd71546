// The SQL store on better-sqlite3 (Node only: Bun has bun:sqlite, see sql.bun.test.ts), through the README's
// adapter, each store on a fresh in-memory database. Also checks that the README shows the adapter and the
// migration SQL that run here.
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createSqlStore } from '../src/sql.js';
import { describe, expect, it } from './harness.js';
import { describeSqlStore } from './sql/suite.js';
import { fromSyncSqlite } from '../worker-example/sqlite-adapter.js';

describeSqlStore('better-sqlite3', () => fromSyncSqlite(new Database(':memory:')));

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The body of the README's code block that follows `marker`. */
function block(marker: string): string {
  const at = readme.indexOf(marker);
  expect(at).toBeGreaterThanOrEqual(0);
  const body = /```[^\n]*\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  return body ?? '';
}

describe('sql store: the README', () => {
  it('shows the adapter and the node:sqlite wrapper the tests run, verbatim', () => {
    const source = readFileSync(new URL('../worker-example/sqlite-adapter.ts', import.meta.url), 'utf8');
    for (const part of ['sync adapter', 'node:sqlite']) {
      const code = new RegExp(`// --- README: ${part}\\n([\\s\\S]*?)// --- end`).exec(source)?.[1] ?? '';
      expect(code.length).toBeGreaterThan(200);
      expect(block(`<!-- sql: ${part} -->`)).toContain(code);
    }
  });

  it('shows a migration that makes the schema the store makes, which the store then uses as it is', async () => {
    const migrated = new Database(':memory:');
    for (const statement of block('<!-- sql: migration -->')
      .split(';')
      .filter((s) => s.trim() !== '')) {
      migrated.prepare(statement).run();
    }
    const automatic = new Database(':memory:');
    await createSqlStore(fromSyncSqlite(automatic)).count();
    // The README wraps a long line: compare the statements with their white space collapsed.
    const schema = (db: InstanceType<typeof Database>) =>
      (
        db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as {
          sql: string;
        }[]
      ).map((row) => ({ ...row, sql: row.sql.replace(/\s+/g, ' ') }));
    expect(schema(migrated)).toEqual(schema(automatic));
    expect(schema(automatic)).toHaveLength(3);
  });
});
