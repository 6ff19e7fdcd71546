// After `npm run build`: no published module loads an optional peer dependency (hono). src/hono.ts may only
// `import type` from it, which the compiler erases, so the core and every entry point run without hono installed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const PEERS = ['hono'];
const dist = new URL('../dist/', import.meta.url).pathname;
const peer = `['"](?:${PEERS.join('|')})(?:/[^'"]*)?['"]`;
// A static import or re-export (statements start their line in tsc's output), or a dynamic import().
const loads = new RegExp(`^(?:import|export)\\b[^;]*?${peer}|\\bimport\\s*\\(\\s*${peer}`, 'm');
// JSDoc examples show `import { Hono } from 'hono'`: comments are not code.
const code = (file) => readFileSync(join(dist, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
const files = readdirSync(dist, { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.js'));
const offenders = files.filter((file) => loads.test(code(file)));
for (const file of offenders) console.error(`dist/${file} loads an optional peer (${PEERS.join(', ')})`);
if (files.length === 0) console.error('dist/ holds no .js file: run `npm run build` first');
if (files.length === 0 || offenders.length > 0) process.exit(1);
