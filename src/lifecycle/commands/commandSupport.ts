import { err, ok, type Result } from 'neverthrow';
import { CreditNoteNotFoundError, TransitionConflictError } from '../../errors.js';
import type { Actor, EventSource } from '../../events/primitives.js';
import type { CommandMeta } from '../commandHandler.js';
import { isRefundInFlight } from '../../machine/creditNoteState.js';
import { proposeEvent, type CreditNoteChange, type ProposedCreditNoteEvent } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { creditNoteStreamId, loadCreditNote, type KnownCreditNote, type LoadedCreditNote } from '../streams.js';
import type { Executed } from '../commandHandler.js';

/**
 * What a command decided: the credit note it addresses as the append left it
 * (so the answer needs no reload), every credit note it decided on (the
 * dispatcher's starting point), and the side effects due now.
 */
export type CommandOutcome = { creditNote: KnownCreditNote; decided: KnownCreditNote[]; dueOutboxIds: string[] };

/** The outcome for `creditNoteId`, whose change the plan always carries (with no events when nothing changed). */
export const outcomeFor = (creditNoteId: string, executed: Executed<unknown>): CommandOutcome => {
  const streamId = creditNoteStreamId(creditNoteId);
  const creditNote = executed.decided.find((known) => known.streamId === streamId);
  if (creditNote === undefined) throw new Error(`The decision about ${creditNoteId} did not carry it`);
  return { creditNote, decided: executed.decided, dueOutboxIds: executed.dueOutboxIds };
};

export const commandMeta = (
  deps: LifecycleDeps,
  input: { actor: Actor; source?: EventSource; causationId?: string | null; correlationId?: string },
): CommandMeta => ({
  actor: input.actor,
  source: input.source ?? 'command',
  causationId: input.causationId ?? null,
  correlationId: input.correlationId ?? deps.generateId(),
});

export const requireIssued = (loaded: LoadedCreditNote, creditNoteId: string) =>
  loaded.state.status === 'unissued' ? err(new CreditNoteNotFoundError(creditNoteId)) : ok(loaded);

/** The credit note replayed from its stream, or not found. */
export const loadIssuedCreditNote = async (deps: LifecycleDeps, creditNoteId: string) =>
  (await loadCreditNote(deps.store, creditNoteId)).andThen((loaded) => requireIssued(loaded, creditNoteId));

/** A command's event the machine must accept; if it does not, the host gets a conflict naming the current status. */
export const proposeOrConflict = (
  change: CreditNoteChange,
  event: ProposedCreditNoteEvent,
  now: Date,
  command: string,
): Result<CreditNoteChange, TransitionConflictError> =>
  proposeEvent(change, event, now.toISOString()).mapErr((state) => {
    const refund = state.context.refund;
    const detail = isRefundInFlight(refund)
      ? `refund attempt ${refund.attempt} is ${refund.status.replace('_', ' ')} at the processor`
      : null;
    return new TransitionConflictError(change.loaded.state.context.creditNoteId, command, state.status, detail);
  });
