// Deno server with the memory store: `npm run start:deno` (PORT, SESSION_SECRET from the environment).
import { createMemoryStore } from '../src/memory.js';
import { createApp } from './app.js';
import { DEV_ONLY_SECRET } from './dev-secret.js';

declare const Deno: {
  env: { get(name: string): string | undefined };
  serve(
    options: { port: number; hostname: string; onListen?: (address: { port: number }) => void },
    handler: (request: Request) => Promise<Response>,
  ): unknown;
};
declare const console: { log(...values: unknown[]): void };

const app = createApp({
  store: createMemoryStore(),
  secrets: [Deno.env.get('SESSION_SECRET') ?? DEV_ONLY_SECRET],
  runtime: 'Deno (memory store)',
});
Deno.serve(
  {
    port: Number(Deno.env.get('PORT') ?? 8000),
    hostname: '127.0.0.1',
    onListen: ({ port }) => console.log(`Listening on http://localhost:${port}/`),
  },
  (request) => app(request),
);
