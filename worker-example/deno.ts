// Deno server with sessions in Deno KV: `npm run start:deno` (PORT, SESSION_SECRET, DENO_KV_PATH from the
// environment). Without DENO_KV_PATH, Deno keeps the database in its own data directory: sessions survive a
// restart with no setup.
import { createDenoKvStore, type DenoKvLike } from '../src/deno-kv.js';
import { createApp } from './app.js';
import { DEV_ONLY_SECRET } from './dev-secret.js';

declare const Deno: {
  env: { get(name: string): string | undefined };
  openKv(path?: string): Promise<DenoKvLike>;
  serve(
    options: { port: number; hostname: string; onListen?: (address: { port: number }) => void },
    handler: (request: Request) => Promise<Response>,
  ): unknown;
};
declare const console: { log(...values: unknown[]): void };

const secret = Deno.env.get('SESSION_SECRET');
if (secret === undefined) console.log('SESSION_SECRET unset: the public dev-only secret serves localhost only');
const app = createApp({
  store: createDenoKvStore(await Deno.openKv(Deno.env.get('DENO_KV_PATH'))),
  secrets: [secret ?? DEV_ONLY_SECRET],
  runtime: 'Deno (Deno KV)',
});
Deno.serve(
  {
    port: Number(Deno.env.get('PORT') ?? 8000),
    hostname: '127.0.0.1',
    onListen: ({ port }) => console.log(`Listening on http://localhost:${port}/`),
  },
  (request) => app(request),
);
