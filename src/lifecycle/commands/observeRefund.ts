import { err, type Result } from 'neverthrow';
import { ValidationError, type CommandError, type OutboxClaimLostError } from '../../errors.js';
import type { OutboxClaim } from '../../ports/eventStore.js';
import type { ProcessorRefund } from '../../ports/refundGateway.js';
import { executeCommand, type CommandMeta, type Plan } from '../commandHandler.js';
import { observeRefundInputSchema, validateInput } from '../commandInputs.js';
import { proposeAllowedEvents, startChange, type ProposedCreditNoteEvent } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import type { CreditNoteState } from '../../machine/creditNoteState.js';
import { eventsForObservation } from '../observation.js';
import { commandMeta, loadIssuedCreditNote, withoutClaims } from './commandSupport.js';

export type ObservationOutcome = { creditNoteId: string; changed: boolean; dueOutboxIds: string[] };

/**
 * Applies whatever the machine accepts of what `propose` derives from the
 * freshly loaded state. Shared by webhooks, refreshes and the dispatcher
 * recording a processor's answer, so they cannot disagree.
 */
export const applyObservation = async (
  deps: LifecycleDeps,
  meta: CommandMeta,
  creditNoteId: string,
  propose: (state: CreditNoteState) => ProposedCreditNoteEvent[],
  completeOutbox?: OutboxClaim,
): Promise<Result<ObservationOutcome, CommandError | OutboxClaimLostError>> => {
  const executed = await executeCommand(deps, meta, async (now): Promise<Result<Plan<boolean>, CommandError>> => {
    const loaded = await loadIssuedCreditNote(deps, creditNoteId);
    if (loaded.isErr()) return err(loaded.error);
    const change = proposeAllowedEvents(startChange(loaded.value), propose(loaded.value.state), now.toISOString());
    return loaded.map(() => ({
      creditNotes: [change],
      completeOutbox: completeOutbox ? [completeOutbox] : [],
      result: change.events.length > 0,
    }));
  });
  return executed.map(({ result, dueOutboxIds }) => ({ creditNoteId, changed: result, dueOutboxIds }));
};

/** A processor's refund as a webhook or a refresh saw it. Duplicates and stale news write nothing. */
export const observeRefund = async (
  deps: LifecycleDeps,
  rawInput: unknown,
): Promise<Result<ObservationOutcome, CommandError>> => {
  const input = validateInput(observeRefundInputSchema, rawInput);
  if (input.isErr()) return err(input.error);
  const refund: ProcessorRefund = input.value.refund;
  const creditNoteId = refund.metadata.creditNoteId;
  if (creditNoteId === null) {
    return err(new ValidationError([{ path: 'refund.metadata.creditNoteId', message: 'names no credit note' }]));
  }
  const meta = commandMeta(deps, { ...input.value, actor: { kind: 'processor', id: deps.gateway.processor } });
  return withoutClaims(
    await applyObservation(deps, meta, creditNoteId, (state) => eventsForObservation(state, refund)),
  );
};
