// planCommit: what a commit does, decided from facts alone. Single cases first, then all 2^9 combinations
// against a table of rules written out by hand (independent of how planCommit orders its tests).
import { planCommit, type CommitFacts, type CommitPlan } from '../src/lib/commit-plan.js';
import { describe, expect, it } from './harness.js';

const NONE: CommitFacts = {
  stored: false,
  destroyed: false,
  regenerated: false,
  changed: false,
  timesChanged: false,
  forced: false,
  touchDue: false,
  resign: false,
  staleCookie: false,
  replacing: false,
};

const facts = (overrides: Partial<CommitFacts>): CommitFacts => ({ ...NONE, ...overrides });

describe('planCommit: single cases', () => {
  it('a destroyed stored session is destroyed, whatever else changed', () => {
    expect(planCommit(facts({ stored: true, destroyed: true }))).toBe('destroy');
    expect(
      planCommit(facts({ stored: true, destroyed: true, regenerated: true, changed: true, timesChanged: true })),
    ).toBe('destroy');
    expect(planCommit(facts({ stored: true, destroyed: true, touchDue: true, resign: true }))).toBe('destroy');
  });

  it('a destroyed session that was not stored: a stale cookie is still ended by its ID, else nothing', () => {
    // The dead cookie's session may have moved to a new ID (a regenerate in flight): destroy follows it.
    expect(planCommit(facts({ destroyed: true, staleCookie: true }))).toBe('destroy');
    expect(planCommit(facts({ destroyed: true }))).toBe('nothing');
    // Values set before destroy() are not stored, even by create().
    expect(planCommit(facts({ destroyed: true, changed: true, forced: true }))).toBe('nothing');
    // A login ended before it was stored: the session it replaces still ends.
    expect(planCommit(facts({ destroyed: true, forced: true, replacing: true }))).toBe('destroy');
  });

  it('a new unchanged session: nothing; with a stale cookie: clear it', () => {
    expect(planCommit(NONE)).toBe('nothing');
    expect(planCommit(facts({ staleCookie: true }))).toBe('clear-cookie');
  });

  it('a new session is created when forced, changed, or given a lifetime (a stale cookie is replaced)', () => {
    expect(planCommit(facts({ forced: true }))).toBe('create');
    expect(planCommit(facts({ changed: true }))).toBe('create');
    expect(planCommit(facts({ timesChanged: true }))).toBe('create');
    expect(planCommit(facts({ changed: true, staleCookie: true }))).toBe('create');
  });

  it('a regenerated stored session is moved, even if nothing else changed', () => {
    expect(planCommit(facts({ stored: true, regenerated: true }))).toBe('regenerate');
    expect(planCommit(facts({ stored: true, regenerated: true, changed: true, touchDue: true }))).toBe('regenerate');
  });

  it('a changed stored session is updated, a touch or a re-sign then comes with it', () => {
    expect(planCommit(facts({ stored: true, changed: true }))).toBe('update');
    expect(planCommit(facts({ stored: true, timesChanged: true }))).toBe('update');
    expect(planCommit(facts({ stored: true, changed: true, touchDue: true, resign: true }))).toBe('update');
  });

  it('an unchanged stored session: touch when due, else resend when re-signed, else nothing', () => {
    expect(planCommit(facts({ stored: true, touchDue: true }))).toBe('touch');
    expect(planCommit(facts({ stored: true, touchDue: true, resign: true }))).toBe('touch');
    expect(planCommit(facts({ stored: true, resign: true }))).toBe('resend');
    expect(planCommit(facts({ stored: true }))).toBe('nothing');
  });
});

// The rules, one row per case, as the contract states them. Columns in the order of FACTS; '1' the fact holds,
// '0' it does not, '.' it does not matter. The rows are meant to be exclusive: every combination matches one.
const FACTS = [
  'stored',
  'destroyed',
  'regenerated',
  'changed',
  'timesChanged',
  'forced',
  'touchDue',
  'resign',
  'staleCookie',
  'replacing',
] as const satisfies readonly (keyof CommitFacts)[];

const RULES: readonly (readonly [string, CommitPlan])[] = [
  //  sdrcTftRxp
  ['11........', 'destroy'],
  ['01......1.', 'destroy'],
  ['01......01', 'destroy'],
  ['01......00', 'nothing'],
  ['00.1......', 'create'],
  ['00.01.....', 'create'],
  ['00.001....', 'create'],
  ['00.000..1.', 'clear-cookie'],
  ['00.000..0.', 'nothing'],
  ['101.......', 'regenerate'],
  ['1001......', 'update'],
  ['10001.....', 'update'],
  ['10000.1...', 'touch'],
  ['10000.01..', 'resend'],
  ['10000.00..', 'nothing'],
];

describe('planCommit: every combination of facts', () => {
  it('matches exactly one rule of the table, and plans what that rule says (all 1,024)', () => {
    const seen = new Set<CommitPlan>();
    let checked = 0;
    for (let bits = 0; bits < 2 ** FACTS.length; bits++) {
      const f = Object.fromEntries(FACTS.map((name, i) => [name, ((bits >> i) & 1) === 1])) as unknown as CommitFacts;
      const pattern = FACTS.map((name) => (f[name] ? '1' : '0')).join('');
      const matching = RULES.filter(([rule]) => [...rule].every((c, i) => c === '.' || c === pattern[i]));
      expect(matching.length, pattern).toBe(1);
      expect(planCommit(f), pattern).toBe(matching[0]![1]);
      seen.add(matching[0]![1]);
      checked++;
    }
    expect(checked).toBe(1024);
    expect([...seen].sort()).toEqual(
      ['clear-cookie', 'create', 'destroy', 'nothing', 'regenerate', 'resend', 'touch', 'update'].sort(),
    );
  });
});
