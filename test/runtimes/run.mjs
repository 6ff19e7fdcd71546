// Runs the unchanged test/*.test.ts files on real Deno or Bun:  node test/runtimes/run.mjs deno|bun
// Deno: `deno test`, with test/runtimes/deno.json mapping the harness's `vitest` import to deno-vitest.ts.
// Bun: `bun test`, which itself maps `vitest` to `bun:test`; Bun also runs the Redis store through its own
// RedisClient (test/redis/clients.bun.test.ts) on a redis-server started here for the run and stopped after.
// Deno has no Redis client of its own, so its file set holds no Redis test (Node runs node-redis and ioredis).
// Exits 0 only if the runtime exits 0 and its JUnit report shows tests that ran, none failed, none skipped.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../redis/server.mjs';

const runtime = process.argv[2];
const root = fileURLToPath(new URL('../..', import.meta.url));
// Files named for one runtime (`x.node.test.ts`: better-sqlite3; `x.bun.test.ts`: bun:sqlite; `x.deno.test.ts`:
// node:sqlite under Deno) run only there; every other test/*.test.ts runs on both.
const onlyFor = (name) => /\.(node|bun|deno|workerd)\.test\.ts$/.exec(name)?.[1];
const suites = readdirSync(join(root, 'test'))
  .filter((name) => name.endsWith('.test.ts') && (onlyFor(name) === undefined || onlyFor(name) === runtime))
  .sort()
  .map((name) => `./test/${name}`);
// Tests of one runtime's own API (Deno KV, bun:sqlite…) live in test/runtimes/<runtime>/ and run only there.
const own = join(root, 'test', 'runtimes', runtime);
const ownSuites = existsSync(own)
  ? readdirSync(own)
      .filter((name) => name.endsWith('.test.ts'))
      .sort()
      .map((name) => `./test/runtimes/${runtime}/${name}`)
  : [];
/** Test files beyond test/*.test.ts, per runtime (Redis clients that only Bun has). */
const extra = { deno: [], bun: ['./test/redis/clients.bun.test.ts'] };
const files = [...suites, ...ownSuites, ...(extra[runtime] ?? []), './test/runtimes/runtime.check.ts'];

const commands = {
  deno: (report) => [
    'test',
    '--no-check',
    '--allow-env',
    // Deno KV (test/runtimes/deno/): unstable in Deno 2, and a database file in a temporary directory.
    '--unstable-kv',
    '--allow-read',
    '--allow-write',
    // A Deno.serve on 127.0.0.1 for handle() and a WebSocket upgrade (test/runtimes/deno/websocket.test.ts).
    '--allow-net=127.0.0.1',
    '--config',
    'test/runtimes/deno.json',
    `--junit-path=${report}`,
    ...files,
  ],
  bun: (report) => ['test', '--reporter=junit', `--reporter-outfile=${report}`, ...files],
};
if (!Object.hasOwn(commands, runtime)) {
  console.error('usage: node test/runtimes/run.mjs deno|bun');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), `edge-sessions-${runtime}-`));
const report = join(dir, 'junit.xml');
const args = commands[runtime](report);

const local = join(root, 'node_modules', '.bin', runtime);
const started = Date.now();
const redis = runtime === 'bun' ? await startRedis() : undefined;
const run = spawnSync(existsSync(local) ? local : runtime, args, {
  cwd: root,
  stdio: 'inherit',
  // CI=true makes Bun fail on .only (Deno always does), as vitest's allowOnly: false does on Node.
  env: {
    ...process.env,
    CI: 'true',
    EDGE_SESSIONS_TEST_RUNTIME: runtime,
    ...(redis === undefined ? {} : { EDGE_SESSIONS_REDIS_URL: redis.url }),
  },
});
await redis?.stop();
const xml = existsSync(report) ? readFileSync(report, 'utf8') : '';
rmSync(dir, { recursive: true, force: true });

const head = /<testsuites\b[^>]*>/.exec(xml)?.[0] ?? '';
const count = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(head)?.[1] ?? 0);
const tests = count('tests');
const failed = count('failures') + count('errors');
const skipped = (xml.match(/<skipped\b/g) ?? []).length;
const passed = tests - failed - skipped;

const problems = [];
if (run.error) problems.push(`could not start ${runtime}: ${run.error.message}`);
else if (run.status !== 0) problems.push(`${runtime} exited with ${run.status ?? run.signal}`);
if (!head) problems.push('no JUnit report was written');
if (suites.length === 0 || passed <= 1) problems.push('no test of test/*.test.ts ran');
if (skipped > 0) problems.push('skipped, todo or ignored tests are not allowed here');
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(
  `\n${runtime}: ${passed} passed, ${failed} failed, ${skipped} skipped (${files.length} files, ${seconds}s)`,
);
if (problems.length > 0) {
  console.error(`${runtime} run FAILED: ${problems.join('; ')}`);
  process.exit(1);
}
