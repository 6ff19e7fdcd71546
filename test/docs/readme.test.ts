// The README's "Log out everywhere" block, run as it is written there (Node only: it reads the README from disk).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createCookieJar } from '../../src/testing.js';

const root = resolve(import.meta.dirname, '../..');

/** The first ```ts block under the README heading `## <heading>`. */
function snippet(heading: string): string {
  const section = readFileSync(join(root, 'README.md'), 'utf8')
    .split(/^## /m)
    .find((text) => text.startsWith(`${heading}\n`));
  const code = /^```ts\n([\s\S]*?)^```$/m.exec(section ?? '')?.[1];
  if (code === undefined) throw new Error(`README.md has no ts block under "## ${heading}"`);
  return code;
}

/** Imports a README block, with `edge-sessions` and its subpaths mapped to src/ by package.json's "exports". */
async function run(code: string): Promise<Record<string, unknown>> {
  const exports: Record<string, { default: string }> = JSON.parse(
    readFileSync(join(root, 'package.json'), 'utf8'),
  ).exports;
  const source = code.replace(/from '(edge-sessions(?:\/[\w-]+)?)'/g, (_, name: string) => {
    const built = exports[`.${name.slice('edge-sessions'.length)}`]?.default;
    if (built === undefined) throw new Error(`README imports ${name}, which package.json does not export`);
    const file = join(root, built.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
    return `from '${pathToFileURL(file).href}'`;
  });
  const dir = mkdtempSync(join(tmpdir(), 'edge-sessions-readme-'));
  try {
    const file = join(dir, 'snippet.ts');
    writeFileSync(file, source);
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
