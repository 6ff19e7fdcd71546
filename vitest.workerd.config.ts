import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Tests inside workerd (the Workers runtime) on real KV and Durable Object bindings from wrangler.toml.
//   npx vitest run --config vitest.workerd.config.ts
// EDGE_SESSIONS_BENCH=1 [BENCH_SESSIONS=n] runs the Durable Object sharding measurement instead (test/workerd/*.bench.workerd.ts).
const bench = process.env.EDGE_SESSIONS_BENCH === '1';

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      ...(bench ? { miniflare: { bindings: { BENCH_SESSIONS: process.env.BENCH_SESSIONS ?? '300' } } } : {}),
    }),
  ],
  test: {
    include: bench ? ['test/workerd/**/*.bench.workerd.ts'] : ['test/workerd/**/*.workerd.test.ts'],
    passWithNoTests: false,
    allowOnly: false,
    ...(bench ? { testTimeout: 300_000 } : {}),
  },
});
