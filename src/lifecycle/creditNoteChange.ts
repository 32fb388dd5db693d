import { err, ok, type Result } from 'neverthrow';
import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import { decideWithMachine, type Intent } from '../machine/creditNoteMachine.js';
import type { CreditNoteState } from '../machine/creditNoteState.js';
import type { KnownCreditNote } from './streams.js';

/** Omit over each member of a union, keeping it a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A credit-note event a decision proposes, before the machine has accepted it. */
export type ProposedCreditNoteEvent = DistributiveOmit<CreditNoteEvent, 'occurredAt'>;

/** The events a command adds to one credit note, each accepted by the machine, and the side effects they ask for. */
export type CreditNoteChange = {
  loaded: KnownCreditNote;
  state: CreditNoteState;
  events: CreditNoteEvent[];
  effects: Array<{ intent: Intent; state: CreditNoteState; version: number }>;
};

export const startChange = (loaded: KnownCreditNote): CreditNoteChange => ({
  loaded,
  state: loaded.state,
  events: [],
  effects: [],
});

/** Adds the event if the machine allows it now; otherwise says no and changes nothing. */
export const proposeEvent = (
  change: CreditNoteChange,
  proposed: ProposedCreditNoteEvent,
  occurredAt: string,
): Result<CreditNoteChange, CreditNoteState> => {
  const event = { ...proposed, occurredAt } as CreditNoteEvent;
  const decision = decideWithMachine(change.state, event);
  if (!decision.accepted) return err(change.state);
  const version = change.loaded.version + change.events.length + 1;
  return ok({
    loaded: change.loaded,
    state: decision.state,
    events: [...change.events, event],
    effects: [...change.effects, ...decision.intents.map((intent) => ({ intent, state: decision.state, version }))],
  });
};

/**
 * For observations, which may be stale, duplicated or out of order: keeps the
 * events the machine allows and drops the rest. A dropped event is a fact we
 * already know or one that came too late to matter.
 */
export const proposeAllowedEvents = (
  change: CreditNoteChange,
  proposed: readonly ProposedCreditNoteEvent[],
  occurredAt: string,
): CreditNoteChange =>
  proposed.reduce((current, event) => proposeEvent(current, event, occurredAt).unwrapOr(current), change);
