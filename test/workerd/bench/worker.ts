// The Worker that test/workerd/bench/sharding.mjs runs in plain Miniflare:
// GET /?design=per-session|sharded&n=300&parallel=50 writes n sessions and reads them back through
// SessionDurableObject, and answers with the timings.
import type { SessionObjectNamespace } from '../../../src/durable-object.js';
export { SessionDurableObject } from '../../../src/durable-object.js';

const SHARDS = 16;

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

async function timed(ids: string[], parallel: number, op: (id: string) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < ids.length; i += parallel) await Promise.all(ids.slice(i, i + parallel).map(op));
  return performance.now() - start;
}

export default {
  async fetch(request: Request, env: { SESSIONS_DO: SessionObjectNamespace }): Promise<Response> {
    const url = new URL(request.url);
    const design = url.searchParams.get('design') ?? 'per-session';
    const n = Number(url.searchParams.get('n') ?? 300);
    const parallel = Number(url.searchParams.get('parallel') ?? 1);
    const ns = env.SESSIONS_DO;
    const stubFor = (id: string) => ns.get(ns.idFromName(design === 'sharded' ? `shard-${hash(id) % SHARDS}` : id));
    const ids = Array.from({ length: n }, () => crypto.randomUUID());
    const now = Date.now();
    const record = {
      data: { user: '"ada"', visits: '1' },
      createdAt: now,
      endsAt: now + 3_600_000,
      expiresAt: now + 3_600_000,
    };
    const set = await timed(ids, parallel, (id) => stubFor(id).create(id, record, false, now, crypto.randomUUID()));
    let found = 0;
    const get = await timed(ids, parallel, async (id) => {
      if ((await stubFor(id).get(id)) !== null) found++;
    });
    return Response.json({ design, n, parallel, found, setMsPerOp: set / n, getMsPerOp: get / n });
  },
};
