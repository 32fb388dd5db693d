import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import { transitionTable, type TransitionRow } from './creditNoteMachine.js';
import { initialCreditNoteState, type CreditNoteState } from './creditNoteState.js';
import { guards, updates } from './rules.js';

/*
 * The fast fold used for replay: it interprets the machine's own transition
 * table with the machine's own guards and updates, without building an actor
 * per event. A differential property test proves it equal to xstate's
 * `transition` on generated sequences, rejections included.
 */

const rowsByStateAndEvent = new Map<string, TransitionRow[]>();
for (const row of transitionTable) {
  const key = `${row.from}/${row.event}`;
  rowsByStateAndEvent.set(key, [...(rowsByStateAndEvent.get(key) ?? []), row]);
}

export type EvolveResult = { accepted: boolean; state: CreditNoteState };

/** Applies one event; a rejected event leaves the state untouched and says so. */
export const evolveCreditNote = (state: CreditNoteState, event: CreditNoteEvent): EvolveResult => {
  const rows = rowsByStateAndEvent.get(`${state.status}/${event.type}`);
  const row = rows?.find((candidate) => candidate.guard === null || guards[candidate.guard](state.context, event));
  if (row === undefined) return { accepted: false, state };
  let context = state.context;
  for (const action of row.actions) {
    if (typeof action === 'string') context = updates[action](context, event);
  }
  return { accepted: true, state: { status: row.to, context } };
};

/**
 * Replays a stream. Stored streams only ever hold accepted events, so a
 * rejection here means the log was edited or written by something else: the
 * caller learns which event, instead of a silently different state.
 */
export const foldCreditNote = (
  events: Iterable<CreditNoteEvent>,
): { state: CreditNoteState; rejected: { index: number; event: CreditNoteEvent } | null } => {
  let state = initialCreditNoteState;
  let index = 0;
  for (const event of events) {
    const result = evolveCreditNote(state, event);
    if (!result.accepted) return { state, rejected: { index, event } };
    state = result.state;
    index += 1;
  }
  return { state, rejected: null };
};
