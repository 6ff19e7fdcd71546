// `npm run test:quickstart` (part of `npm test`): the README's quick starts as a newcomer runs them. Builds the
// package, packs the tarball, and for each quick start makes a scratch app that installs the tarball (as the
// README says: never a symlink to the checkout), writes the files the README prints (each fenced block whose
// info string names a file, e.g. "ts src/index.ts"), runs the README's commands (type checks, then the server on a
// free port), and checks that the session counts two visits: "visit number 1" with a Set-Cookie, then
// "visit number 2" with that cookie. Fails on the first difference, saying which quick start and why.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../free-port.mjs';
import { startRedis } from '../redis/server.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const devDependencies = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies;
const SECRET = 'quickstart-test-secret-0123456789abcdef';
const log = (...a) => console.log('[quickstart]', ...a);

/** The quick starts: the README section, the commands the test runs (each must appear in the README). */
const QUICK_STARTS = [
  { section: 'Cloudflare Workers with KV', runtime: 'workers' },
  { section: 'Cloudflare Workers with Durable Objects', runtime: 'workers', filesFrom: 'Cloudflare Workers with KV' },
  { section: 'Deno', runtime: 'deno' },
  { section: 'Bun', runtime: 'bun', filesFrom: 'SQL (SQLite, D1)' },
  { section: 'Bun with Redis', runtime: 'bun', redis: true },
];
const COMMANDS = {
  workers: ['npm install -D wrangler typescript', 'npx wrangler types', 'npx wrangler dev'],
  deno: ['deno check --unstable-kv main.ts', 'deno run --allow-net --allow-env --unstable-kv main.ts'],
  bun: ['bun main.ts'],
};

/** The text of `### title` up to the next heading of level 2 or 3. */
function section(title) {
  const start = readme.indexOf(`\n### ${title}\n`);
  if (start === -1) throw new Error(`README: no section "### ${title}"`);
  const rest = readme.slice(start + title.length + 6);
  const end = rest.search(/\n##+ /);
  return end === -1 ? rest : rest.slice(0, end);
}

/** The files a section prints: fenced blocks whose info string is "<language> <path>". */
function files(text) {
  const found = {};
  for (const m of text.matchAll(/^```[a-z]+ ([^\s`]+)\n([\s\S]*?)^```$/gm)) found[m[1]] = m[2];
  return found;
}

function run(cmd, args, cwd, env = {}) {
  execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts a server, waits until it answers, runs two visits, stops it. */
async function twoVisits(name, cmd, args, cwd, port, env) {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}/`;
  try {
    const deadline = Date.now() + 90_000;
    let first;
    while (first === undefined) {
      if (child.exitCode !== null) throw new Error(`${name}: the server exited (${child.exitCode}):\n${output}`);
      if (Date.now() > deadline) throw new Error(`${name}: no answer on ${url} after 90 s:\n${output}`);
      first = await fetch(url).catch(() => undefined);
      if (first === undefined) await new Promise((r) => setTimeout(r, 250));
    }
    const body1 = await first.text();
    const cookie = first.headers.getSetCookie()[0]?.split(';')[0];
    if (body1 !== 'visit number 1' || cookie === undefined) {
      throw new Error(`${name}: first visit answered ${JSON.stringify(body1)}, cookie ${cookie}`);
    }
    const body2 = await (await fetch(url, { headers: { cookie } })).text();
    if (body2 !== 'visit number 2') throw new Error(`${name}: second visit answered ${JSON.stringify(body2)}`);
    log(`${name}: two visits counted (${cookie.slice(0, cookie.indexOf('='))})`);
  } finally {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'edge-sessions-quickstart-'));
try {
  log('building and packing');
  run('npm', ['run', 'build'], root);
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' }),
  );
  const tarball = join(scratch, packed[0].filename);
  if (!readme.includes(`npm install ../edge-sessions/${packed[0].filename}`)) {
    throw new Error(`README: the install line does not name the tarball ${packed[0].filename}`);
  }

  for (const { section: title, runtime, filesFrom, redis } of QUICK_STARTS) {
    const text = section(title);
    for (const command of COMMANDS[runtime]) {
      if (!text.includes(command) && !(filesFrom && section(filesFrom).includes(command))) {
        throw new Error(`README "${title}": the command "${command}" is not there`);
      }
    }
    const app = join(scratch, runtime + '-' + title.replace(/\W+/g, '-').toLowerCase());
    mkdirSync(app, { recursive: true });
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'my-app',
        private: true,
        type: 'module',
        dependencies: { 'edge-sessions': `file:${tarball}` },
      }),
    );
    const written = { ...(filesFrom ? files(section(filesFrom)) : {}), ...files(text) };
    if (Object.keys(files(text)).length === 0) throw new Error(`README "${title}": no file blocks`);
    for (const [path, content] of Object.entries(written)) {
      mkdirSync(dirname(join(app, path)), { recursive: true });
      writeFileSync(join(app, path), content);
    }
    log(`${title}: npm install of the tarball; files ${Object.keys(written).join(', ')}`);
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], app);
    const port = await freePort();
    if (runtime === 'workers') {
      if (!written['.dev.vars']?.includes('SESSION_SECRET')) throw new Error(`README "${title}": no .dev.vars`);
      // As the README says, into the app itself (the versions this repository tests with, from npm's cache).
      const tools = ['wrangler', 'typescript'].map((name) => `${name}@${devDependencies[name]}`);
      run('npm', ['install', '-D', '--no-audit', '--no-fund', '--prefer-offline', ...tools], app);
      run('npx', ['wrangler', 'types'], app);
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'es2022',
            lib: ['es2022'],
            module: 'esnext',
            moduleResolution: 'bundler',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['./worker-configuration.d.ts'],
          },
          include: ['src'],
        }),
      );
      run('npx', ['tsc', '-p', '.'], app);
      const dev = ['wrangler', 'dev', '--port', String(port), '--ip', '127.0.0.1'];
      await twoVisits(title, 'npx', dev, app, port, {});
    } else if (runtime === 'deno') {
      run(bin('deno'), ['check', '--unstable-kv', 'main.ts'], app);
      const args = ['run', '--allow-net', '--allow-env', '--unstable-kv', 'main.ts'];
      await twoVisits(title, bin('deno'), args, app, port, { SESSION_SECRET: SECRET, PORT: String(port) });
    } else {
      // The Redis quick start gets a real redis-server of its own, as the README's REDIS_URL.
      const server = redis ? await startRedis() : undefined;
      try {
        const env = { SESSION_SECRET: SECRET, PORT: String(port), ...(server ? { REDIS_URL: server.url } : {}) };
        await twoVisits(title, bin('bun'), ['main.ts'], app, port, env);
      } finally {
        await server?.stop();
      }
    }
  }
  log(`all ${QUICK_STARTS.length} quick starts work from the tarball`);
} catch (error) {
  console.error(`[quickstart] FAILED: ${error.stderr?.toString() ?? ''}${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
