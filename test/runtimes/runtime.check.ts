// Run by test/runtimes/run.mjs next to test/*.test.ts (not named *.test.ts, so vitest on Node never picks it up):
// proves the suite executed inside the runtime the command names, with uncrypto's web build.
import { describe, expect, it } from '../harness.js';

const g = globalThis as {
  Deno?: { version: { deno: string } };
  Bun?: { version: string };
  process?: { env: Record<string, string | undefined> };
};
const wanted = g.process?.env.EDGE_SESSIONS_TEST_RUNTIME;
const actual = g.Deno ? `deno ${g.Deno.version.deno}` : g.Bun ? `bun ${g.Bun.version}` : 'neither Deno nor Bun';
const uncrypto = import.meta.resolve('uncrypto');

describe('runtime', () => {
  it(`is ${actual}, with uncrypto from ${uncrypto.replace(/^.*\/node_modules\//, '')}`, () => {
    expect(wanted, 'run through test/runtimes/run.mjs, which names the runtime').toMatch(/^(deno|bun)$/);
    expect(actual.split(' ')[0]).toBe(wanted);
    expect(uncrypto).toMatch(/\/uncrypto\/dist\/crypto\.web\.mjs$/);
  });
});
