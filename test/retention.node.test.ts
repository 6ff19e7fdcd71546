// What the isolate caches keep alive. A cookie value is cut out of the request's Cookie header, and a JavaScript
// engine's substring keeps the whole header it came from: a cache holding such values would hold every header
// with them (an attacker's 32 KB headers, 2,048 valid cookies: 64 MB, half a Worker's memory). Measured in a
// child Node process with --expose-gc (the test runner's own heap is not collectable on demand), on the bundled
// sources.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from './harness.js';

const src = (file: string) => JSON.stringify(fileURLToPath(new URL(`../src/${file}`, import.meta.url)));

// Fills each cache through the public paths with values cut from 32 KB headers, checks they were cached, and
// prints the heap each cache keeps after a full collection.
const SCRIPT = `
import { signerFor } from ${src('lib/signer.ts')};
import { readCookie } from ${src('lib/cookie.ts')};
import { createCookieStore } from ${src('cookie-store.ts')};
import { createMemoryStore } from ${src('memory.ts')};
const SECRET = 'retention-secret-0123456789-0123456789';
const secrets = Object.freeze([SECRET]);
const pad = 'x'.repeat(32_000);
const heap = () => { globalThis.gc(); return process.memoryUsage().heapUsed; };
const out = {};

let before = heap();
const signer = signerFor(secrets, 'sid');
for (let i = 0; i < 2048; i++) {
  const header = 'pad=' + pad + i + '; sid=' + signer.sign(String(i).padStart(22, 'A'));
  const value = readCookie(header, 'sid');
  signer.open(value); // the first sighting is checked and not cached; the second is cached
  const cached = signer.open(value);
  if (signer.open(value) !== cached) throw new Error('signer: value not cached');
}
out.signer = heap() - before;

// IDs an app keeps (a log, a map of sessions) from first sightings, which no cache takes: copies, not slices.
before = heap();
const kept = [];
for (let i = 0; i < 1024; i++) {
  const header = 'pad=' + pad + i + '; sid=' + signer.sign(String(i).padStart(22, 'B'));
  kept.push(signer.open(readCookie(header, 'sid')).id);
}
out.firstIds = heap() - before;
globalThis.kept = kept;

for (const encrypt of [true, false]) {
  before = heap();
  const store = createCookieStore({ encrypt });
  for (let i = 0; i < 256; i++) {
    const sealed = await store.sealer.seal(JSON.stringify({ n: i }), secrets, 'sid');
    const { sealed: read } = store.sealer.read('pad=' + pad + i + '; sid=1.' + sealed, 'sid');
    await store.sealer.open(read, secrets, 'sid'); // the first sighting is not cached, the second is
    const cached = await store.sealer.open(read, secrets, 'sid');
    if ((await store.sealer.open(read, secrets, 'sid')) !== cached) throw new Error('cookie store: value not cached');
  }
  out[encrypt ? 'sealed' : 'signed'] = heap() - before;
}
// The memory store keeps an ended ID for a while (nothing in flight may revive it): an admin's destroyById of IDs
// cut from large texts.
before = heap();
const memory = createMemoryStore();
for (let i = 0; i < 2048; i++) {
  const header = 'pad=' + pad + i + '; sid=' + String(i).padStart(22, 'A');
  await memory.destroy(header.slice(header.length - 22), Date.now() + 3_600_000);
}
out.memory = heap() - before;
console.log(JSON.stringify(out));
`;

describe('isolate caches keep only what they cache', () => {
  it('cached cookie values and ended IDs do not keep their 32 KB Cookie headers alive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-sessions-retention-'));
    try {
      const file = join(dir, 'retention.mjs');
      const bundled = await build({
        stdin: { contents: SCRIPT, loader: 'ts', resolveDir: dir },
        bundle: true,
        format: 'esm',
        platform: 'node',
        write: false,
        logLevel: 'error',
      });
      writeFileSync(file, bundled.outputFiles[0]!.contents);
      const run = spawnSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      const bytes = JSON.parse(run.stdout) as {
        signer: number;
        firstIds: number;
        sealed: number;
        signed: number;
        memory: number;
      };
      // The figures the README's threat model quotes.
      console.info(`heap kept by each cache after a full collection, in bytes: ${run.stdout.trim()}`);
      // Kept headers would be 2,048 × 32 KB = 64 MB and 256 × 32 KB = 8 MB; the values alone are well under 1 MB.
      expect(bytes.signer).toBeLessThan(4_000_000);
      expect(bytes.firstIds).toBeLessThan(4_000_000); // 1,024 × 32 KB = 32 MB if the IDs were slices
      expect(bytes.sealed).toBeLessThan(1_000_000);
      expect(bytes.signed).toBeLessThan(1_000_000);
      expect(bytes.memory).toBeLessThan(4_000_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
