// Wrappers around the real bindings: they count what reaches KV or a Durable Object, can inject the failures the
// platform produces (a KV 429, a lost connection), and can hold a call at a gate to force an interleaving inside
// a store's multi-step transaction. Everything else goes to the real binding.
import type { KVListPage, KVNamespaceLike } from '../../src/kv.js';
import type { SessionObjectNamespace, SessionObjectStub } from '../../src/durable-object.js';
import type { Held } from '../races.js';

export interface KVCalls {
  get: { keys: string[]; options: { type: 'text'; cacheTtl?: number } }[];
  put: { key: string; value: string; options: { expirationTtl: number; metadata?: unknown } }[];
  delete: string[];
  list: { prefix: string; cursor?: string; limit?: number }[];
}

type KVMethod = 'get' | 'put' | 'delete';

/** Gates at named calls: the next call that matches stops until released (before or after it reached KV). */
function gates<Call>() {
  const waiting: { match: (call: Call) => boolean; when: 'before' | 'after'; arrive(): void; gate: Promise<void> }[] =
    [];
  return {
    hold(match: (call: Call) => boolean, when: 'before' | 'after'): Held {
      let arrive!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((resolve) => (arrive = resolve));
      const gate = new Promise<void>((resolve) => (release = resolve));
      waiting.push({ match, when, arrive, gate });
      return { reached, release };
    },
    async around<T>(call: Call, run: () => Promise<T>): Promise<T> {
      const i = waiting.findIndex((w) => w.match(call));
      if (i < 0) return run();
      const [held] = waiting.splice(i, 1);
      if (held!.when === 'before') {
        held!.arrive();
        await held!.gate;
        return run();
      }
      const answer = await run();
      held!.arrive();
      await held!.gate;
      return answer;
    },
  };
}

/** A KV call as gates and faults see it: the method and its keys. */
export interface KVCall {
  readonly method: KVMethod;
  readonly keys: readonly string[];
}

/** The real KV binding behind a counter; `failPut` may return an error to throw instead of writing. */
export function wrapKV(
  kv: KVNamespace,
  failPut?: (key: string, value: string) => Error | undefined,
): {
  ns: KVNamespaceLike;
  calls: KVCalls;
  reads(): number;
  writes(): number;
  hold(match: (call: KVCall) => boolean, when: 'before' | 'after'): Held;
} {
  const calls: KVCalls = { get: [], put: [], delete: [], list: [] };
  const gate = gates<KVCall>();
  const ns: KVNamespaceLike = {
    get(keys, options) {
      calls.get.push({ keys, options });
      return gate.around({ method: 'get', keys }, () => kv.get(keys, options));
    },
    async put(key, value, options) {
      calls.put.push({ key, value, options });
      const error = failPut?.(key, value);
      if (error !== undefined) throw error;
      await gate.around({ method: 'put', keys: [key] }, () => kv.put(key, value, options));
    },
    delete(key) {
      calls.delete.push(key);
      return gate.around({ method: 'delete', keys: [key] }, () => kv.delete(key));
    },
    async list(options) {
      calls.list.push(options);
      return (await kv.list(options)) as KVListPage;
    },
  };
  return {
    ns,
    calls,
    reads: () => calls.get.length + calls.list.length,
    writes: () => calls.put.length + calls.delete.length,
    hold: gate.hold,
  };
}

type StubMethod = keyof SessionObjectStub;
const STUB_METHODS: StubMethod[] = ['get', 'create', 'update', 'destroy', 'index', 'cancel'];

/**
 * The real Durable Object namespace behind a counter of RPC calls. `fault(method, attempt)` may return an error
 * for a call; with `after: true` the call reaches the object first and the error comes back instead of the
 * result (a connection lost after the object did the work). `hold` stops the next call of a method at a gate.
 */
export function wrapDO(
  namespace: SessionObjectNamespace,
  fault?: (method: StubMethod) => { error: Error; after?: boolean } | undefined,
): {
  ns: SessionObjectNamespace;
  calls: Record<StubMethod, number>;
  stubs(): number;
  total(): number;
  hold(method: StubMethod, when: 'before' | 'after'): Held;
} {
  const calls = Object.fromEntries(STUB_METHODS.map((m) => [m, 0])) as Record<StubMethod, number>;
  const gate = gates<StubMethod>();
  let stubs = 0;
  const ns: SessionObjectNamespace = {
    idFromName: (name) => namespace.idFromName(name),
    get(id) {
      stubs++;
      const stub = namespace.get(id);
      const wrapped = {} as Record<StubMethod, (...args: unknown[]) => Promise<unknown>>;
      for (const method of STUB_METHODS) {
        wrapped[method] = async (...args: unknown[]) => {
          calls[method]++;
          const injected = fault?.(method);
          if (injected !== undefined && injected.after !== true) throw injected.error;
          const result = await gate.around(method, () =>
            (stub[method] as (...a: unknown[]) => Promise<unknown>)(...args),
          );
          if (injected !== undefined) throw injected.error;
          return result;
        };
      }
      return wrapped as unknown as SessionObjectStub;
    },
  };
  return {
    ns,
    calls,
    stubs: () => stubs,
    total: () => Object.values(calls).reduce((a, b) => a + b, 0),
    hold: (method, when) => gate.hold((m) => m === method, when),
  };
}

/** An Error shaped like the ones workerd throws for a broken connection to a Durable Object. */
export function retryableError(message = 'Network connection lost.'): Error {
  return Object.assign(new Error(message), { retryable: true });
}

/** Codes along an error's `cause` chain, outermost first. */
export function codes(error: unknown): string[] {
  const out: string[] = [];
  for (
    let e = error as { code?: unknown; cause?: unknown } | undefined;
    e !== undefined && e !== null;
    e = e.cause as typeof e
  ) {
    if (typeof e.code === 'string') out.push(e.code);
  }
  return out;
}
