// `vitest` as the test files see it under `deno test` (mapped by test/runtimes/deno.json).
// describe/it/hooks register Deno.test cases; expect and vi are vitest's own, which work without its runner.
import { expect, vi } from 'npm:vitest';

export { expect, vi };

if (typeof Deno === 'undefined') throw new Error('test/runtimes/deno-vitest.ts is for `deno test` only');

type Fn = () => unknown;
interface Suite {
  names: string[];
  parent: Suite | undefined;
  before: Fn[];
  after: Fn[];
  skip: boolean;
  only: boolean;
}

const root: Suite = { names: [], parent: undefined, before: [], after: [], skip: false, only: false };
let current = root;

function suite(mode: 'run' | 'skip' | 'only', name: string, body: () => void): void {
  const parent = current;
  current = {
    names: [...parent.names, name],
    parent,
    before: [],
    after: [],
    skip: parent.skip || mode === 'skip',
    only: parent.only || mode === 'only',
  };
  try {
    const result: unknown = body();
    if (result instanceof Promise) throw new Error(`describe('${name}') must not be async`);
  } finally {
    current = parent;
  }
}

function test(mode: 'run' | 'skip' | 'only', name: string, body?: Fn): void {
  const owner = current;
  const chain: Suite[] = [];
  for (let s: Suite | undefined = owner; s; s = s.parent) chain.unshift(s);
  Deno.test({
    name: [...owner.names, name].join(' > '),
    ignore: owner.skip || mode === 'skip' || body === undefined,
    only: owner.only || mode === 'only',
    // vitest checks neither leaked timers nor open resources; keep the same contract.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const cleanups: Fn[] = [];
      try {
        for (const s of chain) {
          for (const hook of s.before) {
            const cleanup = await hook();
            if (typeof cleanup === 'function') cleanups.unshift(cleanup as Fn);
          }
        }
        await body!();
      } finally {
        for (const s of chain.toReversed()) for (const hook of s.after.toReversed()) await hook();
        for (const cleanup of cleanups) await cleanup();
      }
    },
  });
}

type Describe = ((name: string, body: () => void) => void) &
  Record<'skip' | 'only', (name: string, body: () => void) => void>;
type It = ((name: string, body: Fn, timeout?: number) => void) &
  Record<'skip' | 'only', (name: string, body: Fn, timeout?: number) => void> & { todo: (name: string) => void };

export const describe: Describe = Object.assign((name: string, body: () => void) => suite('run', name, body), {
  skip: (name: string, body: () => void) => suite('skip', name, body),
  only: (name: string, body: () => void) => suite('only', name, body),
});
export const it: It = Object.assign((name: string, body: Fn) => test('run', name, body), {
  skip: (name: string, body: Fn) => test('skip', name, body),
  only: (name: string, body: Fn) => test('only', name, body),
  todo: (name: string) => test('skip', name),
});
export const beforeEach = (hook: Fn): void => void current.before.push(hook);
export const afterEach = (hook: Fn): void => void current.after.push(hook);
