import { defineConfig } from 'vitest/config';

// Node: unit tests, the conformance suite on the memory store, and the Redis store on a redis-server that the
// global setup starts for the run. Workerd tests have their own config; *.bun.test.ts and *.deno.test.ts need
// Bun or Deno (test/runtimes/run.mjs runs them).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [
      'test/**/*.workerd.test.ts',
      'test/**/*.bun.test.ts',
      'test/**/*.deno.test.ts',
      'test/runtimes/**',
      'node_modules/**',
    ],
    globalSetup: ['test/redis/global-setup.ts'],
    // A suite that is skipped or empty must not pass silently.
    passWithNoTests: false,
    allowOnly: false,
  },
});
