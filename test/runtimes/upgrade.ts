// A WebSocket upgrade as a client makes it, for the runtimes' own tests of handle() (test/runtimes/<runtime>/):
// the raw head of the server's answer (a WebSocket client never shows its headers), and one echoed message.
// Each gives up after a few seconds: a server that never answers fails the test instead of hanging the run.
import { connect } from 'node:net';
import { inTime } from '../helpers.js';

/** The status line and headers the server answers a WebSocket upgrade of `path` with, as sent. */
export function upgradeHead(port: number, path: string, cookie?: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  const head = new Promise<string>((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) resolve(text.slice(0, end));
    });
    socket.write(
      [
        `GET ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        ...(cookie === undefined ? [] : [`Cookie: ${cookie}`]),
        '',
        '',
      ].join('\r\n'),
    );
  });
  return inTime(`upgrade of ${path}`, head).finally(() => socket.destroy());
}

/** Opens a WebSocket to `path`, sends `message` and resolves the first message that comes back. */
export function echo(port: number, path: string, message: string): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  const reply = new Promise<string>((resolve, reject) => {
    ws.onopen = () => ws.send(message);
    ws.onmessage = (event) => resolve(String(event.data));
    ws.onerror = () => reject(new Error(`WebSocket to ${path} failed`));
  });
  return inTime(`echo on ${path}`, reply).finally(() => ws.close());
}

/** The `Set-Cookie` lines of a raw response head. */
export function setCookies(head: string): string[] {
  return head
    .split('\r\n')
    .filter((line) => /^set-cookie:/i.test(line))
    .map((line) => line.slice(line.indexOf(':') + 1).trim());
}
