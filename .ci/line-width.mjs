// Lines of code at most 120 characters (prettier wraps code; this catches comments and strings it leaves).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 120;
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => /^(src|test|bench|worker-example|\.ci)\/.*\.(ts|mjs)$/.test(f));
let bad = 0;
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue; // listed but deleted in the work tree
  }
  text.split('\n').forEach((line, i) => {
    if (line.length > MAX) {
      bad++;
      console.error(`${file}:${i + 1}: ${line.length} characters (max ${MAX})`);
    }
  });
}
if (bad > 0) process.exit(1);
