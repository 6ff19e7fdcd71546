// The peers the benchmarks measure (react-router, @remix-run/*, iron-session, @hono/session, hono-sessions, h3)
// and autocannon live in bench/package.json, not in the root devDependencies, so a root `npm ci` stays lean and
// quiet. Imported first by bench/matrix.mjs, size.mjs and load.mjs: it runs `npm ci` in bench/ when
// bench/node_modules is missing or older than bench/package-lock.json. iron-session 9 and its cookie 2 declare
// node >= 22 and npm prints EBADENGINE for them on Node 20; the matrix runs them there and checks their results.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const installed = join(here, 'node_modules', '.package-lock.json');
const lock = join(here, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.error('[bench] installing the benchmark peers into bench/node_modules (npm ci --prefix bench)');
  execFileSync('npm', ['ci', '--prefix', here, '--no-audit', '--no-fund'], { stdio: ['ignore', 2, 'inherit'] });
}
