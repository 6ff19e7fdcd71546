// Wrappers around the real bindings: they count what reaches KV or a Durable Object and can inject the
// failures the platform produces (a KV 429, a lost connection). Everything else goes to the real binding.
import type { KVListPage, KVNamespaceLike } from '../../src/kv.js';
import type { SessionObjectNamespace, SessionObjectStub } from '../../src/durable-object.js';

export interface KVCalls {
  get: { key: string; options: { type: 'text'; cacheTtl?: number } }[];
  put: { key: string; value: string; options: { expirationTtl: number; metadata?: unknown } }[];
  delete: string[];
  list: { prefix: string; cursor?: string; limit?: number }[];
}

/** The real KV binding behind a counter; `failPut` may return an error to throw instead of writing. */
export function wrapKV(
  kv: KVNamespace,
  failPut?: (key: string, value: string) => Error | undefined,
): { ns: KVNamespaceLike; calls: KVCalls; reads(): number; writes(): number } {
  const calls: KVCalls = { get: [], put: [], delete: [], list: [] };
  const ns: KVNamespaceLike = {
    get(key, options) {
      calls.get.push({ key, options });
      return kv.get(key, options);
    },
    async put(key, value, options) {
      calls.put.push({ key, value, options });
      const error = failPut?.(key, value);
      if (error !== undefined) throw error;
      await kv.put(key, value, options);
    },
    delete(key) {
      calls.delete.push(key);
      return kv.delete(key);
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
  };
}

type StubMethod = keyof SessionObjectStub;
const STUB_METHODS: StubMethod[] = ['get', 'set', 'delete', 'touch', 'update'];

/**
 * The real Durable Object namespace behind a counter of RPC calls. `fault(method, attempt)` may return an error
 * for a call; with `after: true` the call reaches the object first and the error comes back instead of the
 * result (a connection lost after the object did the work).
 */
export function wrapDO(
  namespace: SessionObjectNamespace,
  fault?: (method: StubMethod) => { error: Error; after?: boolean } | undefined,
): { ns: SessionObjectNamespace; calls: Record<StubMethod, number>; stubs(): number; total(): number } {
  const calls = { get: 0, set: 0, delete: 0, touch: 0, update: 0 };
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
          const result = await (stub[method] as (...a: unknown[]) => Promise<unknown>)(...args);
          if (injected !== undefined) throw injected.error;
          return result;
        };
      }
      return wrapped as unknown as SessionObjectStub;
    },
  };
  return { ns, calls, stubs: () => stubs, total: () => Object.values(calls).reduce((a, b) => a + b, 0) };
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
