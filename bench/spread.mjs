// Several runs side by side: edge-sessions' ratios in each (the machine is shared, so a single run can put a
// cell a few hundredths either side of a target).
//   node bench/spread.mjs bench/.tmp/results1.json bench/.tmp/results2.json …
import { readFileSync } from 'node:fs';

const SCENARIOS = ['S1', 'S2', 'S2-cold', 'S3', 'S4', 'S4-cold'];
const FLOORS = { hmac: 'floor (HMAC + Map)', sealed: 'floor (AES-GCM cookie)' };
const runs = process.argv.slice(2).map((file) => JSON.parse(readFileSync(file, 'utf8')));
if (runs.length === 0) throw new Error('usage: node bench/spread.mjs results1.json [results2.json …]');

const fmt = (xs) => {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return 'n/a';
  const lo = Math.min(...ok).toFixed(2);
  const hi = Math.max(...ok).toFixed(2);
  return lo === hi ? `${lo}×` : `${lo}–${hi}×`;
};
const fastestPeer = (libs, scenario, sealedOnly) =>
  Math.min(
    ...Object.values(libs)
      .filter((l) => l.kind === 'peer' && (!sealedOnly || l.sealed) && l.scenarios[scenario]?.us !== undefined)
      .map((l) => l.scenarios[scenario].us),
  );

let md = `${runs.length} runs; each cell: lowest–highest over the runs.\n\n`;
md += `| runtime | store | against | ${SCENARIOS.join(' | ')} |\n`;
md += `|---|---|---|${SCENARIOS.map(() => '---:').join('|')}|\n`;
for (const runtime of runs[0].map((r) => r.runtime)) {
  const per = runs.map((run) => run.find((r) => r.runtime === runtime)).filter(Boolean);
  for (const name of Object.keys(per[0].libs).filter((n) => per[0].libs[n].kind === 'edge')) {
    const rows = [['HMAC floor', (libs, s) => libs[name].scenarios[s].us / libs[FLOORS.hmac].scenarios[s].us]];
    if (per[0].libs[name].sealed)
      rows.push(['AES-GCM floor', (libs, s) => libs[name].scenarios[s].us / libs[FLOORS.sealed].scenarios[s].us]);
    rows.push(['fastest peer', (libs, s) => libs[name].scenarios[s].us / fastestPeer(libs, s, false)]);
    if (per[0].libs[name].sealed)
      rows.push(['fastest encrypting peer', (libs, s) => libs[name].scenarios[s].us / fastestPeer(libs, s, true)]);
    for (const [against, ratio] of rows) {
      const cells = SCENARIOS.map((s) => fmt(per.map((r) => ratio(r.libs, s))));
      md += `| ${runtime} | ${name.replace('edge-sessions ', '')} | ${against} | ${cells.join(' | ')} |\n`;
    }
  }
}
process.stdout.write(md);
