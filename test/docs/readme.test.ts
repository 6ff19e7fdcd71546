// README blocks run as they are written there (Node only: it reads the README from disk): "Log out everywhere",
// and the app and test files of "Testing your app and your store", each runner's taken by a collecting runner.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createCookieJar } from '../../src/testing.js';

const root = resolve(import.meta.dirname, '../..');

/** The first ```ts block under the README heading `## <heading>`. */
function snippet(heading: string): string {
  const code = snippets(heading)[0];
  if (code === undefined) throw new Error(`README.md has no ts block under "## ${heading}"`);
  return code;
}

/** Every ```ts block under the README heading `## <heading>`, in order. */
function snippets(heading: string): string[] {
  const section = readFileSync(join(root, 'README.md'), 'utf8')
    .split(/^## /m)
    .find((text) => text.startsWith(`${heading}\n`));
  return [...(section ?? '').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

/** `code` with `edge-sessions` and its subpaths mapped to src/ by package.json's "exports". */
function mapped(code: string): string {
  const exports: Record<string, { default: string }> = JSON.parse(
    readFileSync(join(root, 'package.json'), 'utf8'),
  ).exports;
  return code.replace(/from '(edge-sessions(?:\/[\w-]+)?)'/g, (_, name: string) => {
    const built = exports[`.${name.slice('edge-sessions'.length)}`]?.default;
    if (built === undefined) throw new Error(`README imports ${name}, which package.json does not export`);
    const file = join(root, built.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
    return `from '${pathToFileURL(file).href}'`;
  });
}

/** Imports a README block, with `edge-sessions` and its subpaths mapped to src/ by package.json's "exports". */
async function run(code: string, files: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-sessions-readme-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), mapped(text));
    const file = join(dir, 'snippet.ts');
    writeFileSync(file, mapped(code));
    return await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type App = (request: Request) => Promise<Response>;

describe('README: Log out everywhere', () => {
  it('lists both devices of a user, and a password change ends every session but the new one', async () => {
    const app = (await run(snippet('Log out everywhere'))).app as App;
    const device = (userAgent: string) => {
      const jar = createCookieJar();
      return {
        jar,
        async send(path: string, init: { cookie?: string; body?: string } = {}) {
          const headers = new Headers({ 'User-Agent': userAgent });
          const cookie = init.cookie ?? jar.header();
          if (cookie !== undefined) headers.set('Cookie', cookie);
          const method = init.body === undefined ? 'GET' : 'POST';
          const response = await app(new Request(`https://app.example${path}`, { method, headers, body: init.body }));
          if (init.cookie === undefined) jar.apply(response); // a replayed cookie is not this browser's
          return { status: response.status, text: await response.text() };
        },
      };
    };
    const laptop = device('laptop');
    const phone = device('phone');
    expect(await laptop.send('/login', { body: '{"user":"ada"}' })).toEqual({ status: 200, text: 'signed in' });
    expect(await phone.send('/login', { body: '{"user":"ada"}' })).toEqual({ status: 200, text: 'signed in' });
    expect(await phone.send('/')).toEqual({ status: 200, text: 'hello ada' });

    const listed = JSON.parse((await laptop.send('/devices')).text) as { device: string; current: boolean }[];
    expect(
      listed.map(({ device, current }) => ({ device, current })).sort((a, b) => a.device.localeCompare(b.device)),
    ).toEqual([
      { device: 'laptop', current: true },
      { device: 'phone', current: false },
    ]);

    const before = laptop.jar.header()!;
    expect(await laptop.send('/password', { body: '' })).toEqual({
      status: 200,
      text: 'password changed; sessions ended elsewhere: 1',
    });
    expect(laptop.jar.header()).not.toBe(before);
    expect(await laptop.send('/')).toEqual({ status: 200, text: 'hello ada' });
    expect((await laptop.send('/', { cookie: before })).status).toBe(401);
    expect((await phone.send('/')).status).toBe(401);
    expect(JSON.parse((await laptop.send('/devices')).text)).toEqual([
      { device: 'laptop', lastSeen: expect.any(Number), current: true },
    ]);
  });
});

/** A runner that registers nothing: it collects each test (with its describe path) to run it by hand. */
function collectingRunner() {
  const tests: { name: string; body: () => unknown }[] = [];
  const path: string[] = [];
  const runner = {
    describe(name: string, body: () => void) {
      path.push(name);
      try {
        body();
      } finally {
        path.pop();
      }
    },
    it(name: string, body: () => unknown) {
      tests.push({ name: [...path, name].join(' > '), body });
    },
    expect,
  };
  return { runner, tests };
}

/** A README test file with its runner's imports, and `Deno.test`, taken by `globalThis.readmeRunner`. */
function onCollectingRunner(code: string): string {
  return code
    .replace(/^import .* from '(?:vitest|bun:test|jsr:@std\/testing\/bdd)';$/m, () => {
      return 'const { describe, it, expect } = (globalThis as { readmeRunner?: any }).readmeRunner;';
    })
    .replace(/^import .* from 'jsr:@std\/expect';$/m, '')
    .replace(/^Deno\.test\(/gm, 'it(')
    .replace(/from '\.\/app\.(?:js|ts)'/, "from './app.ts'");
}

describe('README: Testing your app and your store', () => {
  const [app, ...files] = snippets('Testing your app and your store');

  it('has the app, and a test file for Vitest, bun test and Deno.test', () => {
    expect(app).toContain('export const app = sessions.handle(');
    expect(files.map((code) => /from '(vitest|bun:test|jsr:@std\/expect)'/.exec(code)?.[1])).toEqual([
      'vitest',
      'bun:test',
      'jsr:@std/expect',
    ]);
  });

  for (const [i, runnerName] of ['Vitest', 'bun test', 'Deno.test'].entries()) {
    it(`the ${runnerName} file passes as it is written: its app test and its store suites`, async () => {
      const { runner, tests } = collectingRunner();
      (globalThis as { readmeRunner?: unknown }).readmeRunner = runner;
      try {
        await run(onCollectingRunner(files[i]!), { 'app.ts': app! });
      } finally {
        delete (globalThis as { readmeRunner?: unknown }).readmeRunner;
      }
      expect(tests.length).toBeGreaterThanOrEqual(20);
      const failed: string[] = [];
      for (const test of tests) {
        try {
          await test.body();
        } catch (error) {
          failed.push(`${test.name}: ${String(error).split('\n')[0]}`);
        }
      }
      expect(failed).toEqual([]);
    });
  }
});
