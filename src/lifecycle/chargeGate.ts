import { ok, safeTry, type Result } from 'neverthrow';
import type { EventValidationError, TransitionConflictError } from '../errors.js';
import type { PaymentState } from '../machine/paymentState.js';
import { proposeOrConflict } from './commands/commandSupport.js';
import { startChange, type CreditNoteChange } from './creditNoteChange.js';
import type { LifecycleDeps } from './deps.js';
import { nextRefundStep } from './nextRefundStep.js';
import { loadCreditNote, type LoadedCreditNote } from './streams.js';

/** Every credit note the payment's stream lists, replayed. */
export const loadCreditNotesOfPayment = async (
  deps: LifecycleDeps,
  payment: PaymentState,
): Promise<Result<LoadedCreditNote[], EventValidationError>> =>
  safeTry(async function* () {
    const loaded: LoadedCreditNote[] = [];
    for (const { creditNoteId } of payment.creditNotes) loaded.push(yield* await loadCreditNote(deps.store, creditNoteId));
    return ok(loaded);
  });

/**
 * The credit notes of a payment that waited for its charge confirmation
 * (docs/glossary.md#charge-confirmation-gate), each moved on to its first
 * refund attempt. Whoever appends the
 * confirmation appends these in the same step, so none is left behind.
 */
export const releaseWaitingCreditNotes = (
  creditNotes: readonly LoadedCreditNote[],
  now: Date,
): Result<CreditNoteChange[], TransitionConflictError> =>
  safeTry(function* () {
    const released: CreditNoteChange[] = [];
    for (const creditNote of creditNotes) {
      const { status, context } = creditNote.state;
      if (status !== 'pending' || context.pendingReason !== 'charge_not_confirmed') continue;
      released.push(yield* proposeOrConflict(startChange(creditNote), nextRefundStep(creditNote.state, true), now, 'release'));
    }
    return ok(released);
  });
