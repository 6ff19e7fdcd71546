// The per-store scenarios of `npm run bench:stores` outside workerd (Deno KV on deno, Redis on Node): a login, a
// read-only request, a write and a logout through the manager, µs per request (median of `rounds` rounds of `ops`
// requests) and the backend calls each made, as `calls()` counts them since `reset()`.
import { median } from './stats.mjs';

/** One Markdown row per scenario: `| label | scenario | µs | per-request calls |`. */
export async function storeRows({ createSessions, store, label, rounds, ops, reset, calls }) {
  const sessions = createSessions({ store, secrets: ['bench-secret-0123456789abcdef-0123456789abcd'] });
  const request = (cookie) => new Request('https://bench.local/', cookie ? { headers: { cookie } } : {});
  const cookieOf = (headers) => headers.getSetCookie()[0].split(';')[0];
  const login = async () =>
    cookieOf(await (await sessions.create(request(), { userId: 'ada', data: { n: 1 } })).commit());
  const scenarios = {
    login: { prepare: async () => Array(ops).fill(''), run: () => login() },
    'read-only': {
      prepare: async () => Array(ops).fill(await login()),
      run: async (cookie) => (await sessions.start(request(cookie))).get('n'),
    },
    write: {
      prepare: async () => Array(ops).fill(await login()),
      run: async (cookie) => {
        const s = await sessions.start(request(cookie));
        s.increment('n');
        return s.commit();
      },
    },
    logout: {
      prepare: () => Promise.all(Array.from({ length: ops }, login)),
      run: (cookie) => sessions.destroy(request(cookie)),
    },
  };
  const rows = [];
  for (const [name, scenario] of Object.entries(scenarios)) {
    const samples = [];
    let perRequest = '';
    for (let round = -1; round < rounds; round++) {
      const cookies = await scenario.prepare();
      reset();
      const t = performance.now();
      for (const cookie of cookies) await scenario.run(cookie);
      if (round >= 0) samples.push(((performance.now() - t) * 1000) / cookies.length);
      perRequest = calls(cookies.length);
    }
    rows.push(`| ${label} | ${name} | ${median(samples).toFixed(1)} | ${perRequest} |`);
  }
  return rows;
}
