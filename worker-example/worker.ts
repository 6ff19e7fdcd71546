// The example on Cloudflare Workers: `npm start` runs it locally with `wrangler dev` (no account needed).
// The store is chosen by the SESSION_STORE var in wrangler.toml: "kv" or "durable-object".
import { createDurableObjectStore, SessionDurableObject } from '../src/durable-object.js';
import { createKVStore } from '../src/kv.js';
import { createApp } from './app.js';
import { DEV_ONLY_SECRET } from './dev-secret.js';

export { SessionDurableObject };

export interface Env {
  SESSIONS_KV: KVNamespace;
  SESSIONS_DO: DurableObjectNamespace<SessionDurableObject>;
  SESSION_STORE?: string;
  /**
   * Set with `wrangler secret put SESSION_SECRET`; local development falls back to a public dev-only secret, which
   * the app refuses (500) on any host but localhost.
   */
  SESSION_SECRET?: string;
}

let app: ReturnType<typeof createApp> | undefined;
let appFor: string | undefined;

export default {
  fetch(request, env, ctx) {
    const mode = env.SESSION_STORE === 'durable-object' ? 'durable-object' : 'kv';
    if (app === undefined || appFor !== mode) {
      app = createApp({
        store: mode === 'kv' ? createKVStore(env.SESSIONS_KV) : createDurableObjectStore(env.SESSIONS_DO),
        secrets: [env.SESSION_SECRET ?? DEV_ONLY_SECRET],
        runtime: mode === 'kv' ? 'Workers + KV' : 'Workers + Durable Objects',
      });
      appFor = mode;
    }
    return app(request, ctx);
  },
} satisfies ExportedHandler<Env>;
