import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { toMermaid } from '../src/machine/mermaid.js';
import { fakeGateway, inMemoryEventStore } from '../src/testing/index.js';

/*
 * The README is the first thing a host developer reads: its lifecycle diagram
 * must be the machine's, and it must name every method the library offers.
 */
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const diagramInReadme = (): string | null => {
  const block = /<!-- lifecycle-diagram:start -->\n```mermaid\n([\s\S]*?)\n```\n<!-- lifecycle-diagram:end -->/.exec(readme);
  return block?.[1] ?? null;
};

describe('README', () => {
  it('shows the lifecycle diagram generated from the machine (run `npx tsx scripts/update-readme-diagram.ts` to refresh it)', () => {
    const diagram = diagramInReadme();
    expect(diagram, 'a ```mermaid block between the lifecycle-diagram markers').not.toBeNull();
    expect(diagram).toBe(toMermaid());
  });

  it('draws every status of the lifecycle in that diagram', () => {
    for (const status of ['issued', 'pending', 'requested', 'succeeded', 'failed', 'manual']) {
      expect(diagramInReadme()).toContain(status);
    }
  });

  it('starts with the two commands a reader runs first', () => {
    const top = readme.slice(0, readme.indexOf('## '));
    expect(top).toContain('npm run demo');
    expect(top).toContain('npm test');
  });

  it('documents every method of the lifecycle object', () => {
    const lifecycle = createRefundLifecycle({ store: inMemoryEventStore(), gateway: fakeGateway() });
    const methods = Object.keys(lifecycle);
    expect(methods.length).toBeGreaterThan(0);
    const undocumented = methods.filter((name) => !new RegExp(`\\b${name}\\b`).test(readme));
    expect(undocumented).toEqual([]);
  });
});
