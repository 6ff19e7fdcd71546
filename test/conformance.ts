// The store conformance suite lives in src/lib/testing (published as `edge-sessions/testing`); this file runs it
// with the harness's runner, so the project's stores go through exactly what users run on theirs.
import {
  describeStoreConformance as describeWith,
  type ConformanceOptions,
  type StoreFactory,
} from '../src/testing.js';
import { describe, expect, it } from './harness.js';

export type { ConformanceOptions, StoreFactory };

export function describeStoreConformance(name: string, createStore: StoreFactory, options?: ConformanceOptions): void {
  describeWith(name, createStore, { describe, it, expect }, options);
}
