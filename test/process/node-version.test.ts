// The supported Node.js lines (package.json's engines: ^22.15 || >=26) and the one sentence an older
// one gets from `npm start` / `npx keyplane` instead of a stack trace.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { unsupportedNodeMessage } from '../../src/node-version.js';

describe('the Node.js version check', () => {
  it('lets the supported lines through', () => {
    for (const version of ['22.15.0', '22.23.3', '26.0.0', '26.10.0', '27.1.0']) expect(unsupportedNodeMessage(version)).toBeUndefined();
  });

  it('stops older ones with one sentence naming what to install', () => {
    for (const version of ['20.20.2', '22.14.0', '18.20.8']) {
      const message = unsupportedNodeMessage(version);
      expect(message).toContain(`not ${version}`);
      expect(message).toContain('install Node.js 26');
      expect(message?.split('\n')).toHaveLength(1);
    }
  });

  it('runs this suite on a supported line, as engines says', () => {
    expect(unsupportedNodeMessage(process.versions.node)).toBeUndefined();
    const { engines } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(engines.node).toBe('^22.15 || >=26');
  });
});
