// Mutation tests of edge-sessions/testing: each broken store of test/mutants/store.ts (the memory store with one
// contract violation) must fail the published suites, run as a user runs them. A mutant that passed them would be
// a gap: a store that breaks the documented contract and is told it conforms.
//
// Each mutant's suites run until the first failure. MUTANTS_SURVEY=1 runs every test of every mutant and logs
// which tests each fails (some 20 s).
import { createMemoryStore } from '../src/memory.js';
import {
  describeLifecycleRaces,
  describeOverlappingRequests,
  describeStoreConformance,
  type TestClock,
} from '../src/testing.js';
import { describe, expect, it } from './harness.js';
import { collectingRunner, failingTests, type CollectedTest } from './helpers.js';
import { createMutantStore, MUTANTS, type Mutant } from './mutants/store.js';

/** Every test the published suites register for `createStore`, collected rather than registered. */
function suiteTests(createStore: (clock: TestClock) => ReturnType<typeof createMemoryStore>): CollectedTest[] {
  const { runner, tests } = collectingRunner();
  describeStoreConformance('store', createStore, runner, { perUser: true });
  describeLifecycleRaces('store', createStore, runner, { exact: true });
  describeOverlappingRequests('store', createStore, runner);
  return tests;
}

const survey = process.env.MUTANTS_SURVEY === '1';

describe('edge-sessions/testing: mutation tests (the suites fail every broken memory store)', () => {
  it('the suites pass the memory store itself', async () => {
    const tests = suiteTests((clock) => createMemoryStore({ now: clock.now }));
    expect(tests.length).toBeGreaterThanOrEqual(100);
    expect(await failingTests(tests)).toEqual([]);
  });

  for (const mutant of Object.keys(MUTANTS) as Mutant[]) {
    it(`kills ${mutant}: ${MUTANTS[mutant]}`, async () => {
      const failed = await failingTests(
        suiteTests((clock) => createMutantStore(mutant, clock.now)),
        !survey,
      );
      if (survey) console.log(`${mutant}: ${failed.length} failed${failed.length ? `, first: ${failed[0]}` : ''}`);
      expect(failed.length, `${mutant} survives the suites`).toBeGreaterThanOrEqual(1);
    }, 60_000);
  }
});
