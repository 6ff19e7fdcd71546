// handle() and a WebSocket upgrade on real Deno (`Deno.upgradeWebSocket`): handle() answers a copy of the
// handler's Response, never the handler's own; Deno must still upgrade with that copy, whose 101 carries the
// session cookie. Run only by `npm run test:deno` (test/runtimes/run.mjs).
import { createSessions } from '../../../src/index.js';
import { createMemoryStore } from '../../../src/memory.js';
import { describe, expect, it } from '../../harness.js';
import { SECRET } from '../../helpers.js';
import { echo, setCookies, upgradeHead } from '../upgrade.js';

declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen?: () => void },
    handler: (request: Request) => Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
};

describe('handle() and a WebSocket upgrade on Deno', () => {
  it('upgrades with the copy handle() answers, which carries the session cookie; the socket works', async () => {
    const sessions = createSessions({ store: createMemoryStore(), secrets: [SECRET] });
    const ids: string[] = [];
    const app = sessions.handle((request, session) => {
      session.set('joined', true);
      ids.push(session.id);
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(`echo ${String(event.data)}`);
      return response;
    });
    const server = Deno.serve({ port: 0, hostname: '127.0.0.1', onListen() {} }, app);
    try {
      const port = server.addr.port;
      const head = await upgradeHead(port, '/ws');
      expect(head).toMatch(/^HTTP\/1\.1 101 /);
      expect(setCookies(head)).toEqual([expect.stringMatching(/^__Host-sid=/)]);
      expect(await echo(port, '/ws', 'ping')).toBe('echo ping');
      expect((await sessions.getById(ids[0]!))?.get('joined')).toBe(true);
    } finally {
      await server.shutdown();
    }
  });
});
