import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import { transitionTable, type Intent, type MachineDecision, type TransitionRow } from './creditNoteMachine.js';
import { initialCreditNoteState, type CreditNoteState } from './creditNoteState.js';
import { runGuard, runUpdate } from './rules.js';

/*
 * The machine's one interpreter on the hot path, for decisions and replay
 * alike: it reads the machine's own transition table and runs its guards,
 * updates and intents, without building an xstate snapshot per event. A
 * differential property test proves it equal to xstate's `transition`
 * (`decideWithXState`) on generated sequences, rejections and intents included.
 */

// Indexed on first use (creditNoteMachine.ts imports this module, so the table may not exist yet when it loads):
// rows by state, then by event type, without building a key string per event.
let rowsByState: Map<string, Map<string, TransitionRow[]>> | undefined;
const rowsFor = (state: CreditNoteState, event: CreditNoteEvent): TransitionRow[] | undefined => {
  if (rowsByState === undefined) {
    rowsByState = new Map();
    for (const row of transitionTable) {
      let byEvent = rowsByState.get(row.from);
      if (byEvent === undefined) rowsByState.set(row.from, (byEvent = new Map()));
      byEvent.set(row.event, [...(byEvent.get(row.event) ?? []), row]);
    }
  }
  return rowsByState.get(state.status)?.get(event.type);
};

/** Applies one event: what follows and which side effects it asks for; a rejected event leaves the state untouched. */
export const evolveCreditNote = (state: CreditNoteState, event: CreditNoteEvent): MachineDecision => {
  const row = rowsFor(state, event)?.find(({ guard }) => guard === null || runGuard(guard, state.context, event));
  if (row === undefined) return { accepted: false, state };
  let context = state.context;
  const intents: Intent[] = [];
  for (const action of row.actions) {
    if (typeof action === 'string') context = runUpdate(action, context, event);
    else intents.push(action);
  }
  return { accepted: true, state: { status: row.to, context }, intents };
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
