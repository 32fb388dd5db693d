import { finalStatuses, transitionTable } from './creditNoteMachine.js';

/**
 * The lifecycle as a Mermaid state diagram, generated from the machine's own
 * table: the README embeds it and a test fails when the two differ.
 */
export const toMermaid = (): string => {
  const edges = new Map<string, Set<string>>();
  for (const row of transitionTable) {
    const from = row.from === 'unissued' ? '[*]' : row.from;
    const key = `${from} --> ${row.to}`;
    edges.set(key, (edges.get(key) ?? new Set()).add(row.event));
  }
  const lines = ['stateDiagram-v2'];
  for (const [edge, events] of edges) lines.push(`    ${edge}: ${[...events].join(' / ')}`);
  for (const status of finalStatuses) lines.push(`    ${status} --> [*]`);
  return lines.join('\n');
};
