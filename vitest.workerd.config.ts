import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { patchVitestPoolWorkers } from './test/workerd/patch-pool.mjs';

// Before the pool loads it: the pinned pool slows down with every Durable Object made (see the file).
patchVitestPoolWorkers();

// Tests inside workerd (the Workers runtime) on the real KV and Durable Object bindings of wrangler.toml.
//   npx vitest run --config vitest.workerd.config.ts
// SESSIONS_DB, a D1 database for the SQL store's tests, is bound here rather than in the example's wrangler.toml.
// DIFF_* variables (test/workerd/differential.workerd.test.ts: DIFF_RUNS, DIFF_STEPS, DIFF_SEED, DIFF_STATS) reach
// the tests as text bindings: process.env does not reach inside workerd.
const knobs = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('DIFF_'))) as Record<
  string,
  string
>;
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: { d1Databases: ['SESSIONS_DB'], bindings: knobs },
    }),
  ],
  test: {
    include: ['test/workerd/**/*.workerd.test.ts', 'test/*.test.ts'],
    // Files for one runtime's own driver: better-sqlite3 on Node, bun:sqlite on Bun, node:sqlite on Deno.
    exclude: ['test/*.node.test.ts', 'test/*.bun.test.ts', 'test/*.deno.test.ts'],
    // A suite that is skipped or empty must not pass silently.
    passWithNoTests: false,
    // The race suites run every lifecycle overlap 20 times on real Durable Objects: seconds, not milliseconds.
    // Before the pool's fix (test/workerd/patch-pool.mjs) the slowest took 45 s on the 2-core machine: margin.
    testTimeout: 120_000,
    allowOnly: false,
  },
});
