// The npm registry this project is built against publishes only @deno/linux-x64-glibc of deno's per-platform
// binaries. `npm install` then writes a lock whose `deno` entry lists optional dependencies it could not
// resolve, and `npm ci` refuses that lock ("Missing: @deno/darwin-arm64@ from lock file"). Run this after any
// `npm install` that rewrites package-lock.json: it drops the unresolvable entries so `npm ci` works here.
import { readFileSync, writeFileSync } from 'node:fs';

// The benchmark peers' lock (bench/package-lock.json) gets the same treatment.
for (const file of ['package-lock.json', 'bench/package-lock.json']) {
  const path = new URL(`../${file}`, import.meta.url);
  const lock = JSON.parse(readFileSync(path, 'utf8'));
  const packages = lock.packages;
  let dropped = 0;
  for (const [name, entry] of Object.entries(packages)) {
    if (!entry.optionalDependencies) continue;
    for (const dep of Object.keys(entry.optionalDependencies)) {
      if (!(`node_modules/${dep}` in packages) && !(`${name}/node_modules/${dep}` in packages)) {
        delete entry.optionalDependencies[dep];
        dropped++;
      }
    }
  }
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(
    dropped === 0 ? `${file}: nothing to drop` : `${file}: dropped ${dropped} unresolvable optional dependencies`,
  );
}
