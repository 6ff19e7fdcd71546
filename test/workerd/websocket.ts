// A WebSocket upgrade as a Worker answers one, for tests that it survives handle() and the Hono middleware.
import { expect } from '../harness.js';
import { inTime } from '../helpers.js';

/** A Worker's answer to an upgrade: status 101 with the client end of a pair whose server end echoes. */
export function echoUpgrade(): Response {
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  server.addEventListener('message', (event) => server.send(`echo ${String(event.data)}`));
  return new Response(null, { status: 101, webSocket: client });
}

/** Asserts that `response` upgraded with the session cookie and a socket that works (a message comes back). */
export async function expectUpgradedWithCookie(response: Response): Promise<void> {
  expect(response.status).toBe(101);
  expect(response.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sid=/)]);
  const socket = response.webSocket;
  if (socket === null) throw new Error('the 101 lost its socket');
  socket.accept();
  const reply = new Promise<string>((resolve) => socket.addEventListener('message', (e) => resolve(String(e.data))));
  socket.send('ping');
  expect(await inTime('echo on the socket', reply)).toBe('echo ping');
}
