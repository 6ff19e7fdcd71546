// The one place tests get their runner from, so the same suites can run under another runner per runtime.
export { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
