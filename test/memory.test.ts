import { createMemoryStore } from '../src/memory.js';
import { describeStoreConformance } from './conformance.js';
import { describeLifecycleRaces, describeOverlappingRequests } from './races.js';
import { describe, expect, it } from './harness.js';
import { createClock, destroyAfterRenewals, record } from './helpers.js';

describeStoreConformance('memory', (clock) => createMemoryStore({ now: clock.now }), { perUser: true });
describeOverlappingRequests('memory', (clock) => createMemoryStore({ now: clock.now }));
describeLifecycleRaces('memory', (clock) => createMemoryStore({ now: clock.now }), { exact: true });

describe('memory store', () => {
  it('keeps records as JSON text, so stored objects are copies both ways', async () => {
    const store = createMemoryStore({ now: createClock().now });
    const stored = record();
    await store.create('k'.repeat(24), stored);
    const a = await store.get('k'.repeat(24));
    const b = await store.get('k'.repeat(24));
    expect(a).toEqual(stored);
    expect(a).not.toBe(b);
    expect(a?.data).not.toBe(stored.data);
  });

  it('destroy of a session’s first ID ends it after 20 regenerates, each forward still kept', async () => {
    const clock = createClock();
    const store = createMemoryStore({ now: clock.now });
    const { answer, last } = await destroyAfterRenewals(store, clock, 20);
    expect(answer).toBe(last);
    expect(await store.get(last)).toBeNull();
  });
});
