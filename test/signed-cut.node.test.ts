// Where the signed-only cookie store stops tagging in JavaScript (SYNC_MAX_BYTES in lib/signed-payload.ts), inside
// workerd as a Worker may configure it: with or without `nodejs_compat` (which gives it `process.versions.node`,
// Node's own mark) and the global navigator, on an old compatibility date too. Each is the cheap-WebCrypto cut,
// 256 bytes. The shared suites check the cut on Node, Bun, Deno and in the vitest pool's workerd; this covers the
// settings that pool does not run.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { describe, expect, it } from './harness.js';

const entry = fileURLToPath(new URL('../src/lib/signed-payload.ts', import.meta.url));

async function workerScript(): Promise<string> {
  const result = await build({
    stdin: {
      contents: `import { SYNC_MAX_BYTES } from ${JSON.stringify(entry)};
export default { fetch: () => Response.json({ cut: SYNC_MAX_BYTES, navigator: typeof navigator }) };`,
      resolveDir: fileURLToPath(new URL('.', import.meta.url)),
      loader: 'ts',
    },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker'],
    logLevel: 'error',
  });
  return result.outputFiles[0]!.text;
}

describe('the signed-only cut inside workerd', () => {
  it('is 256 bytes whatever the compatibility settings', async () => {
    const script = await workerScript();
    for (const [compatibilityDate, compatibilityFlags, navigator] of [
      ['2026-04-01', [], 'object'],
      ['2026-04-01', ['nodejs_compat'], 'object'],
      ['2026-04-01', ['nodejs_compat', 'no_global_navigator'], 'undefined'],
      ['2021-11-01', [], 'undefined'],
    ] as const) {
      const mf = new Miniflare({
        modules: true,
        script,
        compatibilityDate,
        compatibilityFlags: [...compatibilityFlags],
      });
      try {
        const answer = await (await mf.dispatchFetch('http://worker.test/')).json();
        expect(answer, `${compatibilityDate} ${compatibilityFlags.join(' ')}`).toEqual({ cut: 256, navigator });
      } finally {
        await mf.dispose();
      }
    }
  });
});
