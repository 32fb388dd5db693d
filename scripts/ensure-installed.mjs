// Runs before `npm test` and `npm run demo`: on a fresh clone it installs from the lockfile,
// so the README's two commands are all a newcomer needs. Plain JS: it must run before anything is installed.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const needed = ['node_modules/.bin/vitest', 'node_modules/.bin/tsx', 'node_modules/xstate/package.json'];
if (!needed.every((path) => existsSync(new URL(`../${path}`, import.meta.url)))) {
  console.log('refund-lifecycle: installing dependencies from the lockfile (npm ci)…');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
