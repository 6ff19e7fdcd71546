// The race suites live in src/lib/testing (published as `edge-sessions/testing`); this file runs them with the
// harness's runner, and passes on the gated store that the workerd suites build their own interleavings on.
import type { Session, Sessions, SessionStore } from '../src/index.js';
import {
  expectDestroyedMeanwhileStaysDestroyed as expectWith,
  gatedStore,
  LONG_WRITES,
  type Held,
} from '../src/lib/testing/races.js';
import { describeLifecycleRaces as racesWith, describeOverlappingRequests as overlapsWith } from '../src/testing.js';
import type { RaceOptions, TestClock } from '../src/testing.js';
import { describe, expect, it } from './harness.js';

export { gatedStore, LONG_WRITES, type Held, type RaceOptions };

type Factory = (clock: TestClock) => SessionStore | Promise<SessionStore>;

export function describeLifecycleRaces(name: string, createStore: Factory, options: RaceOptions): void {
  racesWith(name, createStore, { describe, it, expect }, options);
}

export function describeOverlappingRequests(name: string, createStore: Factory): void {
  overlapsWith(name, createStore, { describe, it, expect });
}

export function expectDestroyedMeanwhileStaysDestroyed(
  sessions: Sessions,
  cookie: string,
  change: (stale: Session) => void,
): Promise<Session> {
  return expectWith(expect, sessions, cookie, change);
}
