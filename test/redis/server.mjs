// A throwaway Redis for the test run: Debian's `redis-server` on a free port, nothing saved to disk, stopped after.
// Started once per run by vitest's global setup (Node) and by test/runtimes/run.mjs (Bun); the tests find it in
// EDGE_SESSIONS_REDIS_URL. Plain JavaScript so that run.mjs, which Node runs without a TypeScript loader, can
// import it.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../free-port.mjs';

/** Resolves once `PING` on `port` answers `+PONG`, rejects after `ms`. */
async function ready(port, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const pong = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('error', () => resolve(false));
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(String(data).startsWith('+PONG'));
      });
    });
    if (pong) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts `redis-server` on a free port. Resolves `{ url, port, version, stop() }`; `stop()` resolves once the
 * server has exited. Fails with a hint when redis-server is not installed.
 */
export async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const failed = new Promise((_, reject) =>
    child.once('error', (error) =>
      reject(new Error(`cannot start redis-server (${error.message}): apt-get install -y redis-server`)),
    ),
  );
  await Promise.race([ready(port, 10_000), failed]);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
