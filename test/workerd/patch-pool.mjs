// @cloudflare/vitest-pool-workers 0.15.1 wraps a Durable Object class in one whose constructor puts a new Proxy
// around the class's prototype at every construction, around the Proxy the last one made: with every object a test
// file creates, every property read of every object goes through one more `get` trap, so the Durable Objects file
// slows down as it goes (seconds per test by its end) and, after a few thousand objects, fails with "Maximum call
// stack size exceeded" or crashes workerd (cloudflare/workers-sdk#15092). Fixed upstream by installing the Proxy
// once (cloudflare/workers-sdk#15106), in a release newer than the pinned one. Until the pins move, this applies
// that fix to the installed file, once; the config of the workerd suite calls it before the pool starts.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BROKEN = '\tfunction Class(...args) {\n\t\tClass.prototype = new Proxy(Class.prototype, {';
const FIXED =
  '\tlet installed = false; // edge-sessions: cloudflare/workers-sdk#15106\n' +
  '\tfunction Class(...args) {\n' +
  '\t\tif (!installed && (installed = true)) Class.prototype = new Proxy(Class.prototype, {';

/** Applies the fix if the installed pool has the bug (once: a fixed file is left alone); says what it did on stderr. */
export function patchVitestPoolWorkers() {
  // The package's entry is dist/pool/index.mjs; the wrapper lives in dist/worker/.
  const pool = dirname(fileURLToPath(import.meta.resolve('@cloudflare/vitest-pool-workers')));
  const file = join(pool, '..', 'worker', 'lib', 'cloudflare', 'test-internal.mjs');
  if (!existsSync(file)) return;
  const source = readFileSync(file, 'utf8');
  if (source.includes(FIXED)) return;
  if (!source.includes(BROKEN)) {
    // A release with another shape of the code (the fixed one, presumably): nothing to do; remove this file.
    console.error('patch-pool: the Durable Object wrapper is not the known broken one; left as it is');
    return;
  }
  try {
    // Whole or not at all: a workerd another run starts meanwhile reads the old file or the new one, never half.
    writeFileSync(`${file}.edge-sessions`, source.replace(BROKEN, FIXED));
    renameSync(`${file}.edge-sessions`, file);
    console.error('patch-pool: Durable Object wrapper fixed (cloudflare/workers-sdk#15092)');
  } catch (error) {
    console.error(`patch-pool: could not fix the Durable Object wrapper (${error}); the suite runs slower`);
  }
}
