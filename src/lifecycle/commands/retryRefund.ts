import { err, type Result } from 'neverthrow';
import type { CommandError } from '../../errors.js';
import { executeCommand, type Plan } from '../commandHandler.js';
import { retryRefundInputSchema, validateCreditNoteCommand } from '../commandInputs.js';
import { startChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { nextRefundStep } from '../nextRefundStep.js';
import { loadPayment } from '../streams.js';
import {
  commandMeta,
  loadIssuedCreditNote,
  outcomeFor,
  proposeOrConflict,
  withoutClaims,
  type CommandOutcome,
} from './commandSupport.js';

/**
 * Retry (docs/glossary.md#retry): allowed from `pending` and `failed` only (a conflict naming the
 * status otherwise); clears the stale failure; asks again for the same amount
 * on the same payment and account. A charge still unconfirmed keeps it pending.
 */
export const retryRefund = async (
  deps: LifecycleDeps,
  rawCreditNoteId: unknown,
  rawInput: unknown,
): Promise<Result<CommandOutcome, CommandError>> => {
  const command = validateCreditNoteCommand(rawCreditNoteId, retryRefundInputSchema, rawInput);
  if (command.isErr()) return err(command.error);
  const { creditNoteId: id, input } = command.value;

  const executed = await executeCommand(deps, commandMeta(deps, input), async (now): Promise<Result<Plan<null>, CommandError>> => {
    const loaded = await loadIssuedCreditNote(deps, id);
    if (loaded.isErr()) return err(loaded.error);
    const retried = proposeOrConflict(startChange(loaded.value), { type: 'RetryRequested', data: {} }, now, 'retry');
    if (retried.isErr()) return err(retried.error);
    const { payment, refund } = retried.value.state.context;
    // An earlier attempt means the charge was confirmed then; only a first one needs the payment stream.
    let chargeConfirmed = refund !== null;
    if (!chargeConfirmed && payment !== null) {
      const paymentStream = await loadPayment(deps.store, payment.paymentId);
      if (paymentStream.isErr()) return err(paymentStream.error);
      chargeConfirmed = paymentStream.value.state.chargeConfirmed;
    }
    const change = proposeOrConflict(retried.value, nextRefundStep(retried.value.state, chargeConfirmed), now, 'retry');
    return change.map((value) => ({ creditNotes: [value], result: null }));
  });
  return withoutClaims(executed).map((done) => outcomeFor(id, done));
};
