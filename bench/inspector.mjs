// The inspector of a Worker's isolate in Miniflare (`inspectorPort: 0`), for what workerd offers no flag for:
// a forced full collection and V8's sampling heap profiler (bench/matrix.mjs GC=1 and ALLOC=1, bench/copy.mjs).
// Miniflare's own WebSocket client (a dependency of miniflare): Node 20 has no global WebSocket without a flag.
import WebSocket from 'ws';

/** A Chrome DevTools Protocol session with the Worker's isolate (workerd lists it as `core:user:<name>`). */
export async function inspect(mf) {
  const { host } = await mf.getInspectorURL();
  const targets = await (await fetch(`http://${host}/json/list`)).json();
  const target = targets.find((t) => t.id.startsWith('core:user:'));
  if (target === undefined) throw new Error(`workerd: no user Worker among ${targets.map((t) => t.id)}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on('message', (data) => {
    const message = JSON.parse(data);
    const answer = pending.get(message.id);
    if (answer === undefined) return;
    pending.delete(message.id);
    if (message.error) answer.reject(new Error(`${answer.method}: ${JSON.stringify(message.error)}`));
    else answer.resolve(message.result);
  });
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        pending.set(++id, { method, resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/**
 * A full collection of the isolate. V8 answers HeapProfiler.collectGarbage by posting a task that runs it on the
 * isolate's thread (v8::debug::ForceGarbageCollection), and workerd runs an idle isolate's tasks only when it next
 * enters it: `poke()` sends an untimed request that lets it run, again until the inspector answers. Returns the
 * isolate's used heap before and after, and how many requests it took.
 */
export async function collectGarbage(inspector, poke) {
  const before = (await inspector.send('Runtime.getHeapUsage')).usedSize;
  let done = false;
  const answered = inspector.send('HeapProfiler.collectGarbage').then(() => (done = true));
  let requests = 0;
  while (!done) {
    if (requests === 50) throw new Error('workerd: HeapProfiler.collectGarbage not answered after 50 requests');
    await poke();
    requests++;
    await Promise.race([answered, new Promise((resolve) => setTimeout(resolve, 5))]);
  }
  const after = (await inspector.send('Runtime.getHeapUsage')).usedSize;
  return { before, after, requests };
}
