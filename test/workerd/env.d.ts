// Bindings of the test Worker (wrangler.toml), as `env` from 'cloudflare:workers' sees them.
declare namespace Cloudflare {
  interface Env {
    SESSIONS_KV: KVNamespace;
    SESSIONS_DB: D1Database;
    SESSIONS_DO: DurableObjectNamespace<import('../../src/durable-object.js').SessionDurableObject>;
  }
}
