// The Worker entry for the workerd tests: exports the Durable Object class the SESSIONS_DO binding names.
// Placeholder until worker-example/worker.ts (the example app) takes over `main` in wrangler.toml.
export { SessionDurableObject } from '../../src/durable-object.js';

export default {
  fetch(): Response {
    return new Response('edge-sessions test worker', { headers: { 'content-type': 'text/plain' } });
  },
};
