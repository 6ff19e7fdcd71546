import { defineConfig } from 'vitest/config';

// Browser tests: `npm run test:e2e`. Needs Debian's chromium (/usr/bin/chromium); fails with a message otherwise.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    passWithNoTests: false,
    allowOnly: false,
    testTimeout: 60_000,
    hookTimeout: 150_000,
    fileParallelism: false,
  },
});
