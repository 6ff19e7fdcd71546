// Property-based fuzzing of the cookie parser and of start(). `npm test` runs a few thousand cases;
// `npm run fuzz` (FUZZ_RUNS=25000 per property, 100,000 in all) runs the long campaign.
import fc from 'fast-check';
import { createSessions, type SessionsOptions } from '../src/index.js';
import { createCookieStore } from '../src/cookie-store.js';
import { readCookie } from '../src/lib/cookie.js';
import { createMemoryStore } from '../src/memory.js';
import { describe, expect, it } from './harness.js';
import { countingStore, createClock, inWorkerd, request, SECRET } from './helpers.js';

const RUNS = Number(
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.FUZZ_RUNS ?? 1000,
);
const NAME = '__Host-sid';

// Header values are byte strings without NUL, CR or LF (the HTTP layer refuses those before any handler).
const headerChar = fc
  .integer({ min: 1, max: inWorkerd ? 126 : 255 })
  .filter((c) => c !== 10 && c !== 13)
  .map((c) => String.fromCharCode(c));
const cookieish = fc.constantFrom(
  ';',
  '=',
  ' ',
  '"',
  ',',
  '.',
  '%',
  '\t',
  '_',
  '-',
  'A',
  'z',
  '0',
  NAME,
  '__HOST-sid',
  '__proto__',
);
const headerText = fc.array(fc.oneof(headerChar, cookieish), { maxLength: 300 }).map((parts) => parts.join(''));

/** A random edit of `value`: replace, insert or delete characters, truncate, or wrap. */
const base64url = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const mutation = fc.oneof(
  // Same alphabet, same length: passes every shape check, so only the MAC or AEAD tag can refuse it.
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: base64url }),
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    text: fc.array(headerChar, { minLength: 1, maxLength: 3 }).map((a) => a.join('')),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.array(fc.oneof(headerChar, cookieish), { minLength: 1, maxLength: 3 }).map((a) => a.join('')),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(value: string, m: { kind: string; at: number; text?: string; count?: number }): string {
  const at = m.at % (value.length + 1);
  switch (m.kind) {
    case 'replace':
      return value.slice(0, at) + m.text + value.slice(at + m.text!.length);
    case 'insert':
      return value.slice(0, at) + m.text + value.slice(at);
    case 'delete':
      return value.slice(0, at) + value.slice(at + m.count!);
    default:
      return value.slice(0, at);
  }
}

async function issued(options: Partial<SessionsOptions>) {
  const clock = createClock();
  const counted = countingStore(createMemoryStore({ now: clock.now }));
  const sessions = createSessions({ store: counted.store, secrets: [SECRET], now: clock.now, ...options });
  const s = await sessions.start(request());
  s.set('user', 'ada');
  const lines = (await s.commit()).getSetCookie();
  const header = lines.map((l) => l.slice(0, l.indexOf(';'))).join('; ');
  counted.calls.get = 0;
  return { sessions, counted, id: s.id, value: header.slice(NAME.length + 1) };
}

describe(`fuzzing (${RUNS} runs per property)`, () => {
  it('readCookie never throws and returns a slice of its input', () => {
    fc.assert(
      fc.property(headerText, fc.constantFrom(NAME, 'sid', 'a', '__proto__'), (header, name) => {
        const value = readCookie(header, name);
        expect(value === undefined || header.includes(value)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('start() over random Cookie headers: never throws, never reads the store, never a session', async () => {
    const { sessions, counted } = await issued({});
    await fc.assert(
      fc.asyncProperty(headerText, async (header) => {
        const session = await sessions.start(request(header));
        expect(session.isNew).toBe(true);
        expect(counted.calls.get).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('mutations of a valid signed cookie: zero acceptances of anything but the issued session', async () => {
    const { sessions, id, value } = await issued({});
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (edits) => {
        const mutated = edits.reduce(mutate, value);
        const session = await sessions.start(request(`a=1; ${NAME}=${mutated}; b=2`));
        if (!session.isNew) {
          // Only an edit that leaves the same ID and tag (e.g. spaces trimmed) may open it.
          expect(session.id).toBe(id);
          accepted++;
        }
      }),
      { numRuns: RUNS },
    );
    expect(accepted).toBeLessThan(RUNS);
  });

  for (const [form, encrypt] of [
    ['sealed', true],
    ['signed-only', false],
  ] as const) {
    it(`mutations of a valid ${form} cookie: zero acceptances of a forged payload`, async () => {
      const { sessions, id, value } = await issued({ store: createCookieStore({ encrypt }) });
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (edits) => {
          const session = await sessions.start(request(`${NAME}=${edits.reduce(mutate, value)}`));
          if (!session.isNew) {
            expect(session.id).toBe(id);
            expect(session.get('user')).toBe('ada');
          }
        }),
        { numRuns: RUNS },
      );
    });
  }
});
