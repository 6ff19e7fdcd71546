// `node bench/primitives.mjs`: what single WebCrypto calls cost inside workerd (Miniflare), interleaved, a dispatch
// of n calls minus an empty one. Shows why a forged AES-GCM seal costs more than a valid one: WebCrypto reports a
// bad tag by throwing, and workerd's exception path is the expensive part.
import { Miniflare } from 'miniflare';
import { median, shuffle } from './stats.mjs';

const script = `
const enc = new TextEncoder();
const plain = enc.encode(JSON.stringify({
  i: 'abcdefghijklmnopqrstuvwx',
  r: { data: { user: '"u-42"', n: '1' }, createdAt: 1, endsAt: 2, expiresAt: 3 },
}));
const iv = new Uint8Array(12), ad = enc.encode('sid');
let hk, ak, sealed, forged, sig, badSig;
const ops = {
  'HMAC sign': () => crypto.subtle.sign('HMAC', hk, plain),
  'HMAC verify (valid)': () => crypto.subtle.verify('HMAC', hk, sig, plain),
  'HMAC verify (forged)': () => crypto.subtle.verify('HMAC', hk, badSig, plain),
  'AES-GCM encrypt': () => crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: ad }, ak, plain),
  'AES-GCM decrypt (valid)': () => crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: ad }, ak, sealed),
  'AES-GCM decrypt (forged, caught)': () =>
    crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: ad }, ak, forged).catch(() => null),
  // Is it the JS stack trace? With no frames captured the forged decrypt should drop to the valid one if so.
  'AES-GCM decrypt (forged, caught, Error.stackTraceLimit = 0)': () => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: ad }, ak, forged).catch(() => null);
    } finally {
      Error.stackTraceLimit = limit;
    }
  },
  'throw + catch a JS Error': async () => { try { throw new Error('x'); } catch { return null; } },
  'getRandomValues(12)': async () => crypto.getRandomValues(new Uint8Array(12)),
};
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/setup') {
      hk = await crypto.subtle.importKey('raw', enc.encode('x'.repeat(44)), { name: 'HMAC', hash: 'SHA-256' }, false, [
        'sign',
        'verify',
      ]);
      ak = await crypto.subtle.importKey('raw', new Uint8Array(32).fill(7), { name: 'AES-GCM' }, false, [
        'encrypt',
        'decrypt',
      ]);
      sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: ad }, ak, plain));
      forged = sealed.slice(); forged[forged.length - 3] ^= 1;
      sig = new Uint8Array(await crypto.subtle.sign('HMAC', hk, plain));
      badSig = sig.slice(); badSig[3] ^= 1;
      return Response.json(Object.keys(ops));
    }
    const n = Number(url.searchParams.get('n'));
    const op = ops[url.searchParams.get('op')];
    if (url.pathname === '/run') for (let i = 0; i < n; i++) await op();
    else for (let i = 0; i < n; i++) await null;
    return new Response(null, { status: 204 });
  },
};`;

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const N = 2000;
const mf = new Miniflare({ modules: true, script, compatibilityDate: '2026-04-01' });
try {
  const call = async (path) => (await mf.dispatchFetch(`http://bench.local${path}`)).text();
  const names = JSON.parse(await call('/setup'));
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = -2; round < ROUNDS; round++) {
    for (const name of shuffle([...names])) {
      const q = `?op=${encodeURIComponent(name)}&n=${N}`;
      let t = performance.now();
      await call(`/run${q}`);
      const full = performance.now() - t;
      t = performance.now();
      await call(`/empty${q}`);
      if (round >= 0) samples[name].push(((full - (performance.now() - t)) * 1000) / N);
    }
  }
  console.log(`| call (workerd, median of ${ROUNDS} rounds × ${N}) | µs |\n|---|---:|`);
  for (const name of names) console.log(`| ${name} | ${median(samples[name]).toFixed(2)} |`);
} finally {
  await mf.dispose();
}
