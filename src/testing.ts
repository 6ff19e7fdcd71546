// edge-sessions/testing: helpers for users' own tests on Vitest (also the Workers pool), bun:test and Deno.
// Nothing here imports a test runner: the suites take the runner's describe/it/expect as an argument, so this
// entry loads the same way in every runtime and costs nothing to an app that never imports it.
export { createCookieJar, sessionCookie } from './lib/testing/cookie-jar.js';
export type { CookieJar, CookieJarOptions, SessionCookieOptions } from './lib/testing/cookie-jar.js';
export { describeStoreConformance } from './lib/testing/conformance.js';
export type { ConformanceOptions, StoreFactory } from './lib/testing/conformance.js';
export { describeLifecycleRaces, describeOverlappingRequests } from './lib/testing/races.js';
export type { RaceOptions } from './lib/testing/races.js';
export type { Expect, Matchers, TestRunner } from './lib/testing/runner.js';
export type { TestClock } from './lib/testing/support.js';
