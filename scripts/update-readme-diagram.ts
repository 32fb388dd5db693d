/*
 * Rewrites the lifecycle diagram in README.md from the machine:
 *   npx tsx scripts/update-readme-diagram.ts
 * `test/readme.test.ts` fails until it has been run after a change to the machine.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { toMermaid } from '../src/machine/mermaid.js';

const START = '<!-- lifecycle-diagram:start -->';
const END = '<!-- lifecycle-diagram:end -->';
const readmeUrl = new URL('../README.md', import.meta.url);

const readme = readFileSync(readmeUrl, 'utf8');
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start === -1 || end < start) {
  console.error(`README.md needs the markers ${START} and ${END}, in that order.`);
  process.exit(1);
}

const block = `${START}\n\`\`\`mermaid\n${toMermaid()}\n\`\`\`\n${END}`;
const updated = readme.slice(0, start) + block + readme.slice(end + END.length);
if (updated === readme) {
  console.log('README.md: the lifecycle diagram already matches the machine.');
} else {
  writeFileSync(readmeUrl, updated);
  console.log('README.md: lifecycle diagram regenerated from the machine.');
}
