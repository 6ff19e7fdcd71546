// Side by side: edge-sessions' ratios to its floor in two results files of `node bench/matrix.mjs` (for example
// the code before and after a change, run back to back).  node bench/ab.mjs before.json after.json
import { readFileSync } from 'node:fs';

const [beforeFile, afterFile] = process.argv.slice(2);
if (afterFile === undefined) {
  console.error('usage: node bench/ab.mjs before.json after.json');
  process.exit(2);
}
const SCENARIOS = ['S1', 'S2', 'S2-cold', 'S3', 'S4', 'S4-cold'];
const STORES = [
  ['edge-sessions memory', 'floor (HMAC + Map)'],
  ['edge-sessions cookie', 'floor (AES-GCM cookie)'],
  ['edge-sessions cookie, signed only', 'floor (HMAC-signed cookie)'],
];
const load = (file) => JSON.parse(readFileSync(file, 'utf8'));
const [before, after] = [load(beforeFile), load(afterFile)];
const ratio = (run, lib, floor, s) => run.libs[lib]?.scenarios[s]?.us / run.libs[floor]?.scenarios[s]?.us;

let md = `| runtime | store ÷ its floor | ${SCENARIOS.join(' | ')} |\n`;
md += `|---|---|${SCENARIOS.map(() => '---:').join('|')}|\n`;
for (const run of after) {
  const old = before.find((r) => r.runtime === run.runtime);
  for (const [lib, floor] of STORES) {
    const cells = SCENARIOS.map((s) => {
      const a = ratio(run, lib, floor, s);
      const b = old === undefined ? NaN : ratio(old, lib, floor, s);
      return `${Number.isFinite(b) ? b.toFixed(2) : '–'} → ${a.toFixed(2)}`;
    });
    md += `| ${run.runtime} | ${lib.replace('edge-sessions ', '')} ÷ ${floor} | ${cells.join(' | ')} |\n`;
  }
}
console.log(md);
