// A free TCP port for a server a test starts (the quick starts' servers, the Redis tests' redis-server).
import { createServer } from 'node:net';

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
