// handle() and a WebSocket upgrade on real Bun (`server.upgrade`): the handler answers no Response, so handle()
// commits nothing itself; the README's way keeps the change: commit first and pass the headers to the upgrade.
// Run only by `npm run test:bun` (test/runtimes/run.mjs).
import { createSessions } from '../../../src/index.js';
import { createMemoryStore } from '../../../src/memory.js';
import { describe, expect, it } from '../../harness.js';
import { SECRET } from '../../helpers.js';
import { echo, setCookies, upgradeHead } from '../upgrade.js';

interface BunServer {
  readonly port: number;
  upgrade(request: Request, options?: { headers?: Headers }): boolean;
  stop(force?: boolean): void;
}
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch: (request: Request, server: BunServer) => Promise<Response | undefined>;
    websocket: { message(ws: { send(data: string): void }, message: string | Uint8Array): void };
  }): BunServer;
};

describe('handle() and a WebSocket upgrade on Bun', () => {
  it('the upgrade carries the headers of a commit made first; without them nothing is stored', async () => {
    const sessions = createSessions({ store: createMemoryStore(), secrets: [SECRET] });
    const ids: string[] = [];
    const app = sessions.handle(async (request: Request, session, server: BunServer) => {
      session.set('joined', true);
      ids.push(session.id);
      const keep = new URL(request.url).pathname === '/ws';
      if (server.upgrade(request, keep ? { headers: await session.commit() } : {})) return undefined;
      return new Response('not an upgrade', { status: 400 });
    });
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: app,
      websocket: { message: (ws, message) => ws.send(`echo ${String(message)}`) },
    });
    try {
      const head = await upgradeHead(server.port, '/ws');
      expect(head).toMatch(/^HTTP\/1\.1 101 /);
      expect(setCookies(head)).toEqual([expect.stringMatching(/^__Host-sid=/)]);
      expect((await sessions.getById(ids[0]!))?.get('joined')).toBe(true);
      expect(await echo(server.port, '/ws', 'ping')).toBe('echo ping');
      // An upgrade without the commit's headers: handle() gets no Response, commits nothing, sends no cookie.
      const bare = await upgradeHead(server.port, '/bare');
      expect(bare).toMatch(/^HTTP\/1\.1 101 /);
      expect(setCookies(bare)).toEqual([]);
      expect(await sessions.getById(ids.at(-1)!)).toBeNull();
    } finally {
      server.stop(true);
    }
  });
});
