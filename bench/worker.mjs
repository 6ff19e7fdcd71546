// The same harness inside workerd (bundled to bench/.tmp/worker.mjs, driven by bench/matrix.mjs through
// Miniflare). Timers inside a Worker only advance on I/O, so timing happens outside: `/run` does `n` operations
// (`inflight` at a time), `/empty` builds the same `n` Requests and does nothing; the driver subtracts the two.
// `/noop` builds them and runs the do-nothing handler (the baseline of an allocation figure); `/ping` only lets
// the isolate run what the inspector posted to it (a forced collection).
import { createSuite, describe, mark, prepare, restore, run } from './harness.mjs';

console.error = console.warn = () => {};
let libs;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/ping') return new Response(null, { status: 204 });
    if (url.pathname === '/setup') {
      const only = url.searchParams.get('only');
      libs = await createSuite({
        only: only ? new RegExp(only) : undefined,
        allocationCheck: url.searchParams.has('check'),
      });
      return Response.json(Object.entries(await describe(libs)));
    }
    const lib = libs[Number(url.searchParams.get('lib'))];
    const scenario = url.searchParams.get('scenario');
    const inflight = Number(url.searchParams.get('inflight') ?? 1);
    const before = mark(lib);
    const reqs = prepare(lib, scenario, Number(url.searchParams.get('n')));
    if (url.pathname === '/run') await run(lib, scenario, reqs, { inflight });
    else if (url.pathname === '/noop') await run(lib, scenario, reqs, { noop: true });
    // The empty and do-nothing dispatches build the same Requests but must not move the pools: the next timed run
    // would skip ahead and could land on cookies still in a cache.
    if (url.pathname !== '/run') restore(lib, before);
    return new Response(null, { status: 204 });
  },
};
