import type { CreditNoteEvent } from '../../src/events/creditNoteEvents.js';
import type { StoredEvent } from '../../src/events/envelope.js';

/*
 * Small tools of the invariant checks, shared by the in-process harness and
 * the multi-process stress run (which cannot import vitest).
 */

/** A stored credit-note event as the machine and the fold take it. */
export const toMachineEvent = (event: StoredEvent) =>
  ({ type: event.type, data: event.data, occurredAt: event.occurredAt }) as CreditNoteEvent;

/** How many items share each key. */
export const countBy = <T>(items: readonly T[], key: (item: T) => string): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
};
