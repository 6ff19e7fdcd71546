// Starts the example app's servers for the browser tests, and always stops them (the whole process group).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

export interface Target {
  name: string;
  /** The command line for a free port. */
  command(port: number, stateDir: string): { file: string; args: string[]; env?: Record<string, string> };
  /** Text the page shows as its runtime. */
  runtime: RegExp;
  /** Seconds allowed to start (wrangler builds first). */
  startupSec: number;
  /** Its sessions are kept in a file in the state directory: the e2e run restarts it and checks they survive. */
  survivesRestart?: boolean;
}

export const targets = {
  kv: {
    name: 'Workers + KV (wrangler dev)',
    command: (port: number, stateDir: string) => ({
      file: bin('wrangler'),
      args: [
        'dev',
        '--port',
        String(port),
        '--ip',
        '127.0.0.1',
        '--var',
        'SESSION_STORE:kv',
        '--persist-to',
        stateDir,
        '--show-interactive-dev-session=false',
      ],
    }),
    runtime: /Workers \+ KV/,
    startupSec: 90,
  },
  durableObject: {
    name: 'Workers + Durable Objects (wrangler dev)',
    command: (port: number, stateDir: string) => ({
      file: bin('wrangler'),
      args: [
        'dev',
        '--port',
        String(port),
        '--ip',
        '127.0.0.1',
        '--var',
        'SESSION_STORE:durable-object',
        '--persist-to',
        stateDir,
        '--show-interactive-dev-session=false',
      ],
    }),
    runtime: /Workers \+ Durable Objects/,
    startupSec: 90,
  },
  deno: {
    name: 'Deno (Deno.serve)',
    command: (port: number, stateDir: string) => ({
      file: bin('deno'),
      args: [
        'run',
        '--allow-net',
        '--allow-env',
        '--allow-read',
        '--allow-write',
        '--unstable-kv',
        '--unstable-sloppy-imports',
        'worker-example/deno.ts',
      ],
      // A database of this run's own (the server keeps its sessions there across a restart).
      env: { PORT: String(port), DENO_KV_PATH: join(stateDir, 'deno-kv.sqlite3') },
    }),
    runtime: /Deno/,
    startupSec: 60,
    survivesRestart: true,
  },
  bun: {
    name: 'Bun (Bun.serve)',
    command: (port: number, stateDir: string) => ({
      file: bin('bun'),
      args: ['worker-example/bun.ts'],
      env: { PORT: String(port), SQLITE_PATH: join(stateDir, 'sessions.sqlite3'), REDIS_URL: '' },
    }),
    runtime: /Bun \(SQLite\)/,
    startupSec: 60,
    survivesRestart: true,
  },
} satisfies Record<string, Target>;

export interface RunningServer {
  url: string;
  /** For a restart on the same port, with the same state (`startServer(target, { port, stateDir })`). */
  port: number;
  stateDir: string;
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Starts `target` on a free port with a state directory of its own, removed by `stop()`. Given a `stateDir` (the
 * caller's to remove) and a `port`, it starts there instead: a restart of a stopped server, with its state.
 */
export async function startServer(
  target: Target,
  restart: { port?: number; stateDir: string } | undefined = undefined,
): Promise<RunningServer> {
  const port = restart?.port ?? (await freePort());
  const stateDir = restart?.stateDir ?? mkdtempSync(join(tmpdir(), 'edge-sessions-e2e-'));
  const { file, args, env } = target.command(port, stateDir);
  let log = '';
  const child: ChildProcess = spawn(file, args, {
    cwd: root,
    env: { ...process.env, ...env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so stop() ends wrangler's workerd children too
  });
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timeout = new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), 5000).unref());
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (restart === undefined) rmSync(stateDir, { recursive: true, force: true });
  };

  const url = `http://localhost:${port}/`;
  const deadline = Date.now() + target.startupSec * 1000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${target.name} exited with ${child.exitCode}:\n${log}`);
      try {
        const response = await fetch(url);
        if (response.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`${target.name} did not answer on ${url} within ${target.startupSec} s:\n${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, stateDir, output: () => log, stop };
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function assertChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}. The browser tests need Debian's chromium: ` +
        '`sudo apt-get update && sudo apt-get install -y chromium` (or set CHROMIUM_PATH). ' +
        '`npx playwright install` cannot be used here.',
    );
  }
}
