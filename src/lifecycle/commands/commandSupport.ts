import { err, ok, type Result } from 'neverthrow';
import { CreditNoteNotFoundError, OutboxClaimLostError, TransitionConflictError } from '../../errors.js';
import type { Actor, EventSource } from '../../events/primitives.js';
import type { CommandMeta } from '../commandHandler.js';
import { isRefundInFlight } from '../../machine/creditNoteState.js';
import { proposeEvent, type CreditNoteChange, type ProposedCreditNoteEvent } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { loadCreditNote, type LoadedCreditNote } from '../streams.js';

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

/** Commands complete no outbox claims, so the store cannot answer "claim lost" to them. */
export const withoutClaims = <T, E>(result: Result<T, E | OutboxClaimLostError>): Result<T, Exclude<E, OutboxClaimLostError>> =>
  result.mapErr((error) => {
    if (error instanceof OutboxClaimLostError) throw error;
    return error as Exclude<E, OutboxClaimLostError>;
  });
