// The test runner as the suites see it: only what Vitest, bun:test and Deno (`@std/testing/bdd` with
// `@std/expect`) have in common, so that a user passes their runner's own functions and nothing here imports one.
// Return types are `unknown` because the runners disagree on them (void, this, Promise).

/** The matchers the suites use: the Jest-compatible subset that Vitest, bun:test and `@std/expect` share. */
export interface Matchers {
  /** `Object.is` equality. */
  toBe(expected: unknown): unknown;
  /** Deep equality. */
  toEqual(expected: unknown): unknown;
  /** `=== null`. */
  toBeNull(): unknown;
  /** `=== undefined`. */
  toBeUndefined(): unknown;
  /** `!== undefined`. */
  toBeDefined(): unknown;
  /** The actual object has at least these properties, deeply equal. */
  toMatchObject(expected: Record<string, unknown>): unknown;
  /** `.length` is `length`. */
  toHaveLength(length: number): unknown;
  /** `>= expected`. */
  toBeGreaterThanOrEqual(expected: number): unknown;
  /** A string that matches the pattern or contains the substring. */
  toMatch(expected: RegExp | string): unknown;
  /** A string or array that contains `expected`. */
  toContain(expected: unknown): unknown;
  /** A function that throws (an error matching `expected`, when given). */
  toThrow(expected?: RegExp | string): unknown;
  /** The same matchers, negated. */
  readonly not: Matchers;
  /** The same matchers on the reason a promise rejected with; await the result. */
  readonly rejects: Matchers;
}

/** A Jest-compatible `expect`: Vitest's, bun:test's or `@std/expect`'s. */
export type Expect = (actual: unknown) => Matchers;

/**
 * The runner's functions, passed in by the caller: `{ describe, it, expect }` from `vitest`, from `bun:test`, or
 * from `jsr:@std/testing/bdd` and `jsr:@std/expect` on Deno.
 */
export interface TestRunner {
  /** Groups tests under a name; the body registers them synchronously. */
  describe(name: string, body: () => void): unknown;
  /** Registers one test; its body returns a promise the runner awaits. */
  it(name: string, body: () => Promise<void>): unknown;
  /** The assertion function. */
  expect: Expect;
}
