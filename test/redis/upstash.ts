// A local stand-in for Upstash's REST API, forwarding to the test Redis: POST / with a JSON command array
// (`["HGET","key","field"]`) and `Authorization: Bearer <token>` answers `{ "result": … }`, or `{ "error": … }`
// with status 400 (401 without the token). Only what the store uses: no /pipeline or /multi-exec.
import { createServer } from 'node:http';
import type { RedisClientLike } from '../../src/redis.js';

/** The README's Upstash adapter: the command as a JSON array, POSTed with `fetch`. */
export function upstashClient(url: string, token: string): RedisClientLike {
  return {
    async send(command, args) {
      const headers = { authorization: `Bearer ${token}` };
      const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify([command, ...args]) });
      const { result, error } = (await response.json()) as { result?: unknown; error?: string };
      if (error !== undefined) throw new Error(error);
      return result;
    },
  };
}

/** Serves the REST protocol on a free port in front of `backend`. */
export async function upstashStandIn(
  backend: RedisClientLike,
  token: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = (status: number, body: object) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${token}`) return answer(401, { error: 'Unauthorized' });
      if (req.method !== 'POST' || req.url !== '/') return answer(404, { error: 'not in this stand-in' });
      let command: unknown;
      try {
        command = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return answer(400, { error: 'ERR the body is not JSON' });
      }
      if (!Array.isArray(command) || command.length === 0) return answer(400, { error: 'ERR not a command array' });
      const [name, ...args] = command.map(String) as [string, ...string[]];
      backend.send(name, args).then(
        (result) => answer(200, { result: result ?? null }),
        (error: unknown) => answer(400, { error: error instanceof Error ? error.message : String(error) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
