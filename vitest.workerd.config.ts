import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Tests inside workerd (the Workers runtime) on the real KV and Durable Object bindings of wrangler.toml.
//   npx vitest run --config vitest.workerd.config.ts
export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' } })],
  test: {
    include: ['test/workerd/**/*.workerd.test.ts', 'test/*.test.ts'],
    // A suite that is skipped or empty must not pass silently.
    passWithNoTests: false,
    // The race suites run every lifecycle overlap 20 times on real Durable Objects: seconds, not milliseconds.
    testTimeout: 60_000,
    allowOnly: false,
  },
});
