// `npm run size`: minified and gzipped bytes of each entry point, bundled by esbuild exactly as a Worker build
// would (ESM, browser platform, workerd/worker conditions, tree-shaken), next to peers measured the same way.
//   node bench/size.mjs [--json]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import './ensure-deps.mjs'; // before anything resolves a peer
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const src = (file) => JSON.stringify(join(root, 'src', file));

// A store's bytes are counted over the whole `edge-sessions` entry (what every `core + store` row also holds),
// so no store is charged for core exports it does not use.
const BASELINE = 'edge-sessions core (everything `edge-sessions` exports)';
const entries = [
  ['edge-sessions core (createSessions)', `export { createSessions } from ${src('index.ts')};`],
  [BASELINE, `export * from ${src('index.ts')};`],
  ['edge-sessions core + memory', `export * from ${src('index.ts')}; export * from ${src('memory.ts')};`],
  ['edge-sessions core + cookie', `export * from ${src('index.ts')}; export * from ${src('cookie-store.ts')};`],
];
if (existsSync(join(root, 'src/kv.ts')))
  entries.push(['edge-sessions core + kv', `export * from ${src('index.ts')}; export * from ${src('kv.ts')};`]);
if (existsSync(join(root, 'src/deno-kv.ts')))
  entries.push([
    'edge-sessions core + deno-kv',
    `export * from ${src('index.ts')}; export * from ${src('deno-kv.ts')};`,
  ]);
if (existsSync(join(root, 'src/durable-object.ts'))) {
  entries.push([
    'edge-sessions core + durable-object',
    `export * from ${src('index.ts')}; export * from ${src('durable-object.ts')};`,
  ]);
}
if (existsSync(join(root, 'src/redis.ts')))
  entries.push(['edge-sessions core + redis', `export * from ${src('index.ts')}; export * from ${src('redis.ts')};`]);
if (existsSync(join(root, 'src/sql.ts')))
  entries.push(['edge-sessions core + sql', `export * from ${src('index.ts')}; export * from ${src('sql.ts')};`]);
// The Hono middleware with hono itself external: an app that uses it has hono already, and the entry only
// imports types from it.
entries.push([
  'edge-sessions core + hono (hono external)',
  `export * from ${src('index.ts')}; export * from ${src('hono.ts')};`,
  ['hono'],
]);
// Parts of the core, to show where its bytes go (not entry points).
entries.push(
  ['part: the Session class (+ what it imports)', `export { Session } from ${src('session.ts')};`],
  ['part: option checking (+ signer, encoding)', `export { resolveOptions } from ${src('lib/options.ts')};`],
);
entries.push(
  ['iron-session', `export * from 'iron-session';`],
  [
    'react-router sessions (react external)',
    'export { createCookie, createCookieSessionStorage, createMemorySessionStorage, createSessionStorage } ' +
      "from 'react-router';",
  ],
  [
    '@remix-run/session + cookie (cookie & memory storage)',
    "export * from '@remix-run/session'; export * from '@remix-run/session/cookie-storage'; " +
      "export * from '@remix-run/session/memory-storage'; export * from '@remix-run/cookie';",
  ],
  ['@hono/session (+ the hono helpers it imports)', `export * from '@hono/session';`],
  ['hono-sessions (+ the hono helpers it imports)', `export * from 'hono-sessions';`],
  [
    'h3 session helpers (+ the h3 code they pull)',
    `export { useSession, getSession, updateSession, sealSession, unsealSession, clearSession } from 'h3';`,
  ],
);

const rows = [];
for (const [name, contents, external = []] of entries) {
  const result = await build({
    // Peers resolve from bench/node_modules (bench/package.json); src/ entries are absolute paths.
    stdin: { contents, resolveDir: here, loader: 'ts', sourcefile: 'entry.ts' },
    bundle: true,
    minify: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker'],
    external: ['cloudflare:workers', 'react', 'react-dom', ...external],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  const code = result.outputFiles[0].contents;
  rows.push({ name, minified: code.length, gzip: gzipSync(code, { level: 9 }).length });
}

const baseline = rows.find((r) => r.name === BASELINE).gzip;
for (const r of rows) if (r.name.startsWith('edge-sessions core + ')) r.overCore = r.gzip - baseline;

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows, null, 1));
} else {
  console.log('| entry | minified | min + gzip | over the core (min + gzip) |\n|---|---:|---:|---:|');
  const bytes = (n) => `${n.toLocaleString('en')} B`;
  for (const r of rows)
    console.log(
      `| ${r.name} | ${bytes(r.minified)} | ${bytes(r.gzip)} | ${r.overCore === undefined ? '' : bytes(r.overCore)} |`,
    );
}
