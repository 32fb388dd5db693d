import { err, ok, type Result } from 'neverthrow';
import type { CommandError } from '../../errors.js';
import { executeCommand, type PaymentChange, type Plan } from '../commandHandler.js';
import { confirmChargeInputSchema, validateInput } from '../commandInputs.js';
import { loadCreditNotesOfPayment, releaseWaitingCreditNotes } from '../chargeGate.js';
import type { CreditNoteChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { loadPayment, type KnownCreditNote } from '../streams.js';
import { commandMeta, withoutClaims } from './commandSupport.js';
import { isCauseRecorded } from './observeRefund.js';

export type ChargeConfirmation = { paymentId: string; changed: boolean; released: string[]; dueOutboxIds: string[]; decided: KnownCreditNote[] };

/**
 * The charge-confirmation gate opens (docs/glossary.md#charge-confirmation-gate):
 * the confirmation and the release of every credit note
 * that waited for it are one atomic append, so none is left pending when a
 * credit note is issued at the same moment (its append conflicts and is
 * decided again, this time seeing the confirmation). A payment known by two
 * ids (Stripe: an intent and its charge) is confirmed under both in that same
 * append. Idempotent: a delivery that confirmed once changes nothing again.
 */
export const confirmCharge = async (
  deps: LifecycleDeps,
  rawInput: unknown,
): Promise<Result<ChargeConfirmation, CommandError>> => {
  const input = validateInput(confirmChargeInputSchema, rawInput);
  if (input.isErr()) return err(input.error);
  const { paymentId, alsoKnownAs = null, processor = deps.gateway.processor } = input.value;
  const meta = commandMeta(deps, { ...input.value, actor: input.value.actor ?? { kind: 'processor', id: processor } });

  type Decision = Plan<{ changed: boolean; released: string[] }>;
  const executed = await executeCommand(deps, meta, async (now): Promise<Result<Decision, CommandError>> => {
    if (await isCauseRecorded(deps, meta)) return ok({ result: { changed: false, released: [] } });
    const creditNotes: CreditNoteChange[] = [];
    const payments: PaymentChange[] = [];
    for (const id of alsoKnownAs === null || alsoKnownAs === paymentId ? [paymentId] : [paymentId, alsoKnownAs]) {
      const payment = await loadPayment(deps.store, id);
      if (payment.isErr()) return err(payment.error);
      // The other id is written only when credit notes use it; the payment's own id always, so a credit note
      // issued later finds its charge confirmed.
      if (id !== paymentId && payment.value.state.creditNotes.length === 0) continue;
      const released = (await loadCreditNotesOfPayment(deps, payment.value.state)).andThen((siblings) =>
        releaseWaitingCreditNotes(siblings, now),
      );
      if (released.isErr()) return err(released.error);
      creditNotes.push(...released.value);
      payments.push({
        loaded: payment.value,
        events: payment.value.state.chargeConfirmed ? [] : [{ type: 'ChargeConfirmed' as const, data: { paymentId: id, processor } }],
      });
    }
    return ok({
      creditNotes,
      payments,
      result: {
        changed: creditNotes.length > 0 || payments.some((change) => change.events.length > 0),
        released: creditNotes.map((change) => change.state.context.creditNoteId),
      },
    });
  });
  return withoutClaims(executed).map(({ result, dueOutboxIds, decided }) => ({ paymentId, ...result, dueOutboxIds, decided }));
};
