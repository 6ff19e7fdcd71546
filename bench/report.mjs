// Markdown tables from bench/.tmp/results.json (also: `node bench/report.mjs [file]` re-renders the last results,
// or another mode's file: bench/.tmp/results-inflight16.json, results-gc.json, results-pinned.json,
// results-alloc.json).
import { readFileSync } from 'node:fs';

const SCENARIOS = ['S1', 'S2', 'S2-cold', 'S3', 'S4', 'S4-cold'];
const FLOOR = 'floor (HMAC + Map)';
const SEALED_FLOOR = 'floor (AES-GCM cookie)';
/** The two forms a cookie store comes in, each with its own floor and its own peers. */
const COOKIE_FORMS = [
  { flag: 'sealed', floor: SEALED_FLOOR, title: 'Encrypted-cookie libraries ÷ the AES-GCM floor', peers: 'encrypting' },
  {
    flag: 'signed',
    floor: 'floor (HMAC-signed cookie)',
    title: 'Signed-cookie libraries ÷ the HMAC-signed-cookie floor',
    peers: 'signing',
  },
];
const us = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ratio = (x) => (x >= 10 ? x.toFixed(0) : x.toFixed(2)) + '×';

export function renderTables(results) {
  let md = '';
  for (const r of results) {
    const libs = Object.entries(r.libs);
    const floor = r.libs[FLOOR]?.scenarios;
    const peers = libs.filter(([, l]) => l.kind === 'peer');
    const how = [
      `median of ${r.rounds} interleaved rounds`,
      r.mode?.inflight > 1 ? `${r.mode.inflight} requests in flight` : undefined,
      r.mode?.gc ? 'a full collection before each sample' : undefined,
      r.mode?.pinned ? 'on one CPU core' : undefined,
    ].filter(Boolean);
    md += `\n### ${r.runtime} — µs/op, ${how.join(', ')} (× floor)\n\n`;
    md += `| library | ${SCENARIOS.join(' | ')} |\n|---|${SCENARIOS.map(() => '---:').join('|')}|\n`;
    for (const [name, l] of libs) {
      const cells = SCENARIOS.map((s) => {
        const c = l.scenarios[s];
        if (l.errors.length > 0) return 'error';
        if (c === undefined) return 'n/a';
        if (!c.ok) return `fails: ${c.why}`;
        if (c.us === undefined) return 'n/a';
        const f = floor?.[s]?.us;
        return l.kind === 'framework' || f === undefined ? us(c.us) : `${us(c.us)} (${ratio(c.us / f)})`;
      });
      md += `| ${l.kind === 'edge' ? `**${name}**` : name} | ${cells.join(' | ')} |\n`;
    }
    md += `\nedge-sessions ÷ fastest peer (which peer):\n\n`;
    md += `| store | ${SCENARIOS.join(' | ')} |\n|---|${SCENARIOS.map(() => '---:').join('|')}|\n`;
    for (const [name, l] of libs.filter(([, l]) => l.kind === 'edge')) {
      const cells = SCENARIOS.map((s) => {
        const best = peers
          .filter(([, p]) => p.scenarios[s]?.us !== undefined)
          .sort((a, b) => a[1].scenarios[s].us - b[1].scenarios[s].us)[0];
        const mine = l.scenarios[s]?.us;
        return best === undefined || mine === undefined
          ? 'n/a'
          : `${ratio(mine / best[1].scenarios[s].us)} (${best[0]})`;
      });
      md += `| ${name} | ${cells.join(' | ')} |\n`;
    }
    // Cookie stores do more than signed IDs (a MAC or an AEAD over the whole record, and WebCrypto rejects a bad
    // GCM tag with an exception): the like-for-like comparisons are against the floor of the same form and the
    // peers of that form.
    for (const form of COOKIE_FORMS) {
      const formFloor = r.libs[form.floor]?.scenarios;
      if (formFloor === undefined) continue;
      const formPeers = peers.filter(([, l]) => l[form.flag]);
      md += `\n${form.title} (${us(formFloor.S1?.us ?? NaN)} µs in S1):\n\n`;
      md += `| library | ${SCENARIOS.join(' | ')} |\n|---|${SCENARIOS.map(() => '---:').join('|')}|\n`;
      for (const [name, l] of libs.filter(([n, l]) => l[form.flag] && n !== form.floor)) {
        const cells = SCENARIOS.map((s) => {
          const mine = l.scenarios[s]?.us;
          const f = formFloor[s]?.us;
          return mine === undefined || f === undefined ? 'n/a' : ratio(mine / f);
        });
        md += `| ${l.kind === 'edge' ? `**${name}**` : name} | ${cells.join(' | ')} |\n`;
      }
      for (const [name, l] of libs.filter(([, l]) => l.kind === 'edge' && l[form.flag])) {
        const cells = SCENARIOS.map((s) => {
          const best = formPeers
            .filter(([, p]) => p.scenarios[s]?.us !== undefined)
            .sort((a, b) => a[1].scenarios[s].us - b[1].scenarios[s].us)[0];
          const mine = l.scenarios[s]?.us;
          return best === undefined || mine === undefined
            ? 'n/a'
            : `${ratio(mine / best[1].scenarios[s].us)} (${best[0]})`;
        });
        md += `| ${name} ÷ fastest ${form.peers} peer | ${cells.join(' | ')} |\n`;
      }
    }
  }
  // crypto.subtle calls per request (steady state), taken from the first runtime; other runtimes listed if
  // different.
  const [first, ...rest] = results;
  if (first !== undefined) {
    md += `\n### crypto.subtle calls per request (steady state; ${first.runtime})\n\n`;
    md += `| library | ${SCENARIOS.join(' | ')} | Set-Cookie lines S1/S2/S3/S4 |\n`;
    md += `|---|${SCENARIOS.map(() => '---').join('|')}|---|\n`;
    const fmt = (c) =>
      c === undefined
        ? 'n/a'
        : Object.entries(c)
            .filter(([k]) => k !== 'total')
            .map(([k, v]) => `${+v.toFixed(2)} ${k}`)
            .join(' + ') || '0';
    for (const [name, l] of Object.entries(first.libs)) {
      if (l.kind === 'framework') continue;
      const diff = rest
        .filter((r) => SCENARIOS.some((s) => fmt(r.libs[name]?.scenarios[s]?.subtle) !== fmt(l.scenarios[s]?.subtle)))
        .map((r) => r.runtime);
      const cookies = ['S1', 'S2', 'S3', 'S4'].map((s) => l.scenarios[s].setCookies ?? '-').join('/');
      const calls = SCENARIOS.map((s) => fmt(l.scenarios[s]?.subtle)).join(' | ');
      md += `| ${name}${diff.length ? ` (differs on ${diff.join(', ')})` : ''} | ${calls} | ${cookies} |\n`;
    }
  }
  const failures = results.flatMap((r) =>
    Object.entries(r.libs).flatMap(([name, l]) => [
      ...l.errors.map((e) => `- ${r.runtime}, ${name}: ${e}`),
      ...Object.entries(l.scenarios)
        .filter(([, s]) => !s.ok && l.errors.length === 0)
        .map(([s, c]) => `- ${r.runtime}, ${name}, ${s}: ${c.why}`),
    ]),
  );
  if (failures.length > 0) md += `\n### Failures\n\n${failures.join('\n')}\n`;
  return md;
}

const bytes = (x) => (x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const ALLOC_SCENARIOS = ['S1', 'S2', 'S2-cold', 'S3', 'S4', 'S4-cold'];

/** ALLOC=1 results: JS heap bytes per request (× the HMAC floor), on Node with the used-heap figure beside it. */
export function renderAllocation(results) {
  let md = '';
  for (const r of results) {
    const libs = Object.entries(r.libs);
    const scenarios = ALLOC_SCENARIOS.filter((s) => libs.some(([, l]) => l.scenarios[s]?.bytes !== undefined));
    const floor = r.libs[FLOOR]?.scenarios;
    const usedHeap = libs.some(([, l]) => scenarios.some((s) => l.scenarios[s]?.bytesUsedHeap !== undefined));
    md += `\n### ${r.runtime} — JS heap bytes allocated per request, median of ${r.rounds} windows (× floor)\n\n`;
    const head = scenarios.flatMap((s) => (usedHeap ? [`${s} sampled`, `${s} used-heap`] : [s]));
    md += `| library | ${head.join(' | ')} |\n|---|${head.map(() => '---:').join('|')}|\n`;
    for (const [name, l] of libs) {
      const cells = scenarios.flatMap((s) => {
        const c = l.scenarios[s];
        const f = floor?.[s]?.bytes;
        const b =
          c?.bytes === undefined
            ? 'n/a'
            : l.kind === 'framework' || l.kind === 'check' || f === undefined
              ? bytes(c.bytes)
              : `${bytes(c.bytes)} (${ratio(c.bytes / f)})`;
        return usedHeap ? [b, bytes(c?.bytesUsedHeap)] : [b];
      });
      md += `| ${l.kind === 'edge' ? `**${name}**` : name} | ${cells.join(' | ')} |\n`;
    }
    const windows = libs.flatMap(([, l]) => scenarios.map((s) => l.scenarios[s]?.allocN).filter(Boolean));
    md += `\nWindows of ${Math.min(...windows)}–${Math.max(...windows)} requests`;
    md += "; the do-nothing handler's window subtracted.\n";
  }
  return md;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] ?? new URL('./.tmp/results.json', import.meta.url);
  const results = JSON.parse(readFileSync(file, 'utf8'));
  process.stdout.write(results.some((r) => r.mode?.alloc) ? renderAllocation(results) : renderTables(results));
}
