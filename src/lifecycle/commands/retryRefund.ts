import { ok, safeTry, type Result } from 'neverthrow';
import type { TransitionConflictError } from '../../errors.js';
import { executeCommand } from '../commandHandler.js';
import { retryRefundInputSchema, validateCreditNoteCommand } from '../commandInputs.js';
import { authorizeOrRefuse } from '../authorization.js';
import { startChange, type CreditNoteChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { nextRefundStep } from '../nextRefundStep.js';
import { loadPayment, type KnownCreditNote } from '../streams.js';
import { commandMeta, loadIssuedCreditNote, outcomeFor, proposeOrConflict } from './commandSupport.js';

/**
 * Pure: a retry (docs/glossary.md#retry) is allowed from `pending` and
 * `failed` only (a conflict naming the status otherwise); it clears the stale
 * failure and asks again for the same amount on the same payment, unless the
 * charge is still unconfirmed, which keeps it pending.
 */
export const decideRetry = (
  creditNote: KnownCreditNote,
  facts: { chargeConfirmed: boolean },
  now: Date,
): Result<CreditNoteChange, TransitionConflictError> =>
  proposeOrConflict(startChange(creditNote), { type: 'RetryRequested', data: {} }, now, 'retry').andThen((retried) =>
    proposeOrConflict(retried, nextRefundStep(retried.state, facts.chargeConfirmed), now, 'retry'),
  );

export const retryRefund = (deps: LifecycleDeps, rawCreditNoteId: unknown, rawInput: unknown) =>
  safeTry(async function* () {
    const { creditNoteId, input } = yield* validateCreditNoteCommand(rawCreditNoteId, retryRefundInputSchema, rawInput);
    yield* await authorizeOrRefuse(deps, input.actor, 'retry', { creditNoteId });
    const executed = yield* await executeCommand(deps, commandMeta(deps, input), (now) =>
      safeTry(async function* () {
        const creditNote = yield* await loadIssuedCreditNote(deps, creditNoteId);
        const { payment, refund } = creditNote.state.context;
        // An earlier attempt means the charge was confirmed then; only a first one asks the payment stream.
        const chargeConfirmed =
          refund !== null || payment === null || (yield* await loadPayment(deps.store, payment.paymentId)).state.chargeConfirmed;
        const change = yield* decideRetry(creditNote, { chargeConfirmed }, now);
        return ok({ creditNotes: [change], result: null });
      }),
    );
    return ok(outcomeFor(creditNoteId, executed));
  });
