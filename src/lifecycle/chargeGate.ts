import { err, ok, type Result } from 'neverthrow';
import type { CommandError } from '../errors.js';
import type { PaymentState } from '../machine/paymentState.js';
import { proposeOrConflict } from './commands/commandSupport.js';
import { startChange, type CreditNoteChange } from './creditNoteChange.js';
import type { LifecycleDeps } from './deps.js';
import { nextRefundStep } from './nextRefundStep.js';
import { loadCreditNote } from './streams.js';

/**
 * The credit notes of a payment that waited for its charge confirmation
 * (D-113), each moved on to its first refund attempt. Whoever appends the
 * confirmation appends these in the same step, so none is left behind.
 */
export const releaseWaitingCreditNotes = async (
  deps: LifecycleDeps,
  payment: PaymentState,
  now: Date,
): Promise<Result<CreditNoteChange[], CommandError>> => {
  const released: CreditNoteChange[] = [];
  for (const { creditNoteId } of payment.creditNotes) {
    const loaded = await loadCreditNote(deps.store, creditNoteId);
    if (loaded.isErr()) return err(loaded.error);
    const { status, context } = loaded.value.state;
    if (status !== 'pending' || context.pendingReason !== 'charge_not_confirmed') continue;
    const change = proposeOrConflict(startChange(loaded.value), nextRefundStep(loaded.value.state, true), now, 'release');
    if (change.isErr()) return err(change.error);
    released.push(change.value);
  }
  return ok(released);
};
