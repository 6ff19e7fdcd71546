// Bun server with the memory store: `npm run start:bun` (PORT, SESSION_SECRET from the environment).
import { createMemoryStore } from '../src/memory.js';
import { createApp } from './app.js';
import { DEV_ONLY_SECRET } from './dev-secret.js';

declare const Bun: {
  env: Record<string, string | undefined>;
  serve(options: { port: number; hostname: string; fetch: (request: Request) => Promise<Response> }): { port: number };
};
declare const console: { log(...values: unknown[]): void };

const app = createApp({
  store: createMemoryStore(),
  secrets: [Bun.env.SESSION_SECRET ?? DEV_ONLY_SECRET],
  runtime: 'Bun (memory store)',
});
const server = Bun.serve({
  port: Number(Bun.env.PORT ?? 3000),
  hostname: '127.0.0.1',
  fetch: (request) => app(request),
});
console.log(`Listening on http://localhost:${server.port}/`);
