// The shared suites (test/*.test.ts) run in this pool too: prove it is workerd, with uncrypto's web build.
import { subtle } from 'uncrypto';
import { createSessions } from '../../src/index.js';
import { createMemoryStore } from '../../src/memory.js';
import { describe, expect, it } from '../harness.js';
import { SECRET } from '../helpers.js';
import { echoUpgrade, expectUpgradedWithCookie } from './websocket.js';

describe('runtime', () => {
  it('is workerd, and uncrypto hands out the platform WebCrypto', () => {
    expect(navigator.userAgent).toBe('Cloudflare-Workers');
    expect(subtle).toBe(crypto.subtle);
  });
});

describe('handle() and a WebSocket upgrade', () => {
  // handle() answers a copy of the handler's Response (never the handler's own object): workerd's copy must keep
  // the status 101 and the socket, or the upgrade fails (a plain Response cannot have status 101).
  it("answers status 101 with the handler's socket, which works, and the session cookie", async () => {
    const sessions = createSessions({ store: createMemoryStore(), secrets: [SECRET] });
    const app = sessions.handle((_request, session) => {
      session.set('joined', true);
      return echoUpgrade();
    });
    await expectUpgradedWithCookie(
      await app(new Request('https://example.com/ws', { headers: { Upgrade: 'websocket' } })),
    );
  });
});
