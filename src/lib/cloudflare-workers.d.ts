// The one Workers-only module src/ uses, declared by hand (like web.d.ts) so that src/ compiles without
// @cloudflare/workers-types. Only src/durable-object.ts imports it. This file is not emitted: the published
// durable-object.d.ts refers to the consumer's own 'cloudflare:workers' types.
declare module 'cloudflare:workers' {
  /** Base class of Durable Objects with RPC methods. `ctx` is the object's `DurableObjectState`. */
  export abstract class DurableObject<Env = unknown> {
    protected ctx: unknown;
    protected env: Env;
    constructor(ctx: unknown, env: Env);
    alarm?(): void | Promise<void>;
  }
}
