// Measures the two ways to map sessions onto Durable Objects, on the same SessionDurableObject class:
//   per-session: idFromName(sessionId)                  (what createDurableObjectStore does)
//   sharded:     idFromName('shard-' + hash(id) % 16)   (one object holds many sessions)
// Run: EDGE_SESSIONS_BENCH=1 npx vitest run --config vitest.workerd.config.ts
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { SessionObjectNamespace } from '../../src/durable-object.js';
import { record } from '../helpers.js';

const SESSIONS = 1000;
const PARALLEL = 50;
const SHARDS = 16;
const ns = (env as unknown as { SESSIONS_DO: SessionObjectNamespace }).SESSIONS_DO;

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

const designs = {
  'per-session': (id: string) => ns.get(ns.idFromName(id)),
  [`sharded-${SHARDS}`]: (id: string) => ns.get(ns.idFromName(`shard-${hash(id) % SHARDS}`)),
};

async function timed(ids: string[], parallel: number, op: (id: string) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < ids.length; i += parallel) await Promise.all(ids.slice(i, i + parallel).map(op));
  return performance.now() - start;
}

describe('Durable Object sharding: latency in workerd', () => {
  it(`writes and reads ${SESSIONS} sessions through each design`, async () => {
    const rows: string[] = [];
    for (const [design, stubFor] of Object.entries(designs)) {
      for (const parallel of [1, PARALLEL]) {
        const ids = Array.from({ length: SESSIONS }, (_, i) => `${design}-${parallel}-${i}-${crypto.randomUUID()}`);
        const now = Date.now();
        const r = record({}, now);
        const set = await timed(ids, parallel, (id) => stubFor(id).set(id, r, r.expiresAt, now));
        let found = 0;
        const get = await timed(ids, parallel, async (id) => {
          if ((await stubFor(id).get(id, now)) !== null) found++;
        });
        expect(found).toBe(SESSIONS);
        rows.push(
          `${design.padEnd(12)} concurrency ${String(parallel).padStart(2)}: set ${(set / SESSIONS).toFixed(3)} ms/op (${set.toFixed(0)} ms total), get ${(get / SESSIONS).toFixed(3)} ms/op (${get.toFixed(0)} ms total)`,
        );
      }
    }
    console.log(`\n${SESSIONS} sessions each:\n${rows.join('\n')}`);
  });
});
