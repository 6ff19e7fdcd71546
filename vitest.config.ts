import { defineConfig } from 'vitest/config';

// Node: unit tests and the conformance suite on the memory store. Workerd tests have their own config;
// *.bun.test.ts and *.deno.test.ts need Bun or Deno (test/runtimes/run.mjs runs them).
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
    // A suite that is skipped or empty must not pass silently.
    passWithNoTests: false,
    allowOnly: false,
  },
});
