// Several runs side by side: edge-sessions' ratios in each (a single run can put a cell a tenth either side of a
// target, so verdicts rest on several).
//   node bench/spread.mjs bench/.tmp/results1.json bench/.tmp/results2.json …
import { readFileSync } from 'node:fs';

const SCENARIOS = ['S1', 'S2', 'S2-cold', 'S3', 'S4', 'S4-cold'];
const FLOORS = {
  hmac: 'floor (HMAC + Map)',
  hmacJs: 'floor (HMAC + Map), HMAC in JavaScript',
  sealed: 'floor (AES-GCM cookie)',
  signed: 'floor (HMAC-signed cookie)',
};
const runs = process.argv.slice(2).map((file) => JSON.parse(readFileSync(file, 'utf8')));
if (runs.length === 0) throw new Error('usage: node bench/spread.mjs results1.json [results2.json …]');

/** The median over the runs, and lowest–highest in brackets. */
const fmt = (xs) => {
  const ok = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (ok.length === 0) return 'n/a';
  const mid = ok.length >> 1;
  const median = (ok.length % 2 === 1 ? ok[mid] : (ok[mid - 1] + ok[mid]) / 2).toFixed(2);
  return ok.length === 1 ? `${median}×` : `${median}× [${ok[0].toFixed(2)}–${ok.at(-1).toFixed(2)}]`;
};
const us = (libs, name, scenario) => libs[name]?.scenarios[scenario]?.us ?? NaN;
/** The fastest peer's time (NaN without one); `form` ('sealed' or 'signed') keeps the peers of that cookie form. */
const fastestPeer = (libs, scenario, form) => {
  const times = Object.values(libs)
    .filter((l) => l.kind === 'peer' && (form === undefined || l[form]) && l.scenarios[scenario]?.us !== undefined)
    .map((l) => l.scenarios[scenario].us);
  return times.length === 0 ? NaN : Math.min(...times);
};

let md = `${runs.length} runs; each cell: the median of the runs [lowest–highest].\n\n`;
md += `| runtime | store | against | ${SCENARIOS.join(' | ')} |\n`;
md += `|---|---|---|${SCENARIOS.map(() => '---:').join('|')}|\n`;
for (const runtime of runs[0].map((r) => r.runtime)) {
  const per = runs.map((run) => run.find((r) => r.runtime === runtime)).filter(Boolean);
  const present = (name) => per[0].libs[name] !== undefined;
  for (const name of Object.keys(per[0].libs).filter((n) => per[0].libs[n].kind === 'edge')) {
    const lib = per[0].libs[name];
    const rows = [];
    if (present(FLOORS.hmac)) rows.push(['HMAC floor', (libs, s) => us(libs, name, s) / us(libs, FLOORS.hmac, s)]);
    // For context: a signed-ID store against the floor with the same JavaScript HMAC (what the library adds).
    if (!lib.sealed && !lib.signed && present(FLOORS.hmacJs)) {
      rows.push(['HMAC floor, HMAC in JS', (libs, s) => us(libs, name, s) / us(libs, FLOORS.hmacJs, s)]);
    }
    for (const [form, floor, peers] of [
      ['sealed', 'AES-GCM floor', 'fastest encrypting peer'],
      ['signed', 'HMAC-signed-cookie floor', 'fastest signing peer'],
    ]) {
      if (!lib[form]) continue;
      if (present(FLOORS[form])) rows.push([floor, (libs, s) => us(libs, name, s) / us(libs, FLOORS[form], s)]);
      rows.push([peers, (libs, s) => us(libs, name, s) / fastestPeer(libs, s, form)]);
    }
    rows.push(['fastest peer', (libs, s) => us(libs, name, s) / fastestPeer(libs, s)]);
    for (const [against, ratio] of rows) {
      const cells = SCENARIOS.map((s) => fmt(per.map((r) => ratio(r.libs, s))));
      md += `| ${runtime} | ${name.replace('edge-sessions ', '')} | ${against} | ${cells.join(' | ')} |\n`;
    }
  }
}
process.stdout.write(md);
