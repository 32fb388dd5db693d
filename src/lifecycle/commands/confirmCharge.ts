import { ok, safeTry } from 'neverthrow';
import { executeCommand, type PaymentChange } from '../commandHandler.js';
import { confirmChargeInputSchema, validateInput } from '../commandInputs.js';
import { loadCreditNotesOfPayment, releaseWaitingCreditNotes } from '../chargeGate.js';
import type { CreditNoteChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { loadPayment, type KnownCreditNote } from '../streams.js';
import { commandMeta } from './commandSupport.js';
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
export const confirmCharge = (deps: LifecycleDeps, rawInput: unknown) =>
  safeTry(async function* () {
    const input = yield* validateInput(confirmChargeInputSchema, rawInput);
    const { paymentId, alsoKnownAs = null, processor = deps.gateway.processor } = input;
    const meta = commandMeta(deps, { ...input, actor: input.actor ?? { kind: 'processor', id: processor } });
    const executed = yield* await executeCommand(deps, meta, (now) =>
      safeTry(async function* () {
        if (await isCauseRecorded(deps, meta)) return ok({ result: { changed: false, released: [] as string[] } });
        const creditNotes: CreditNoteChange[] = [];
        const payments: PaymentChange[] = [];
        for (const id of alsoKnownAs === null || alsoKnownAs === paymentId ? [paymentId] : [paymentId, alsoKnownAs]) {
          const payment = yield* await loadPayment(deps.store, id);
          // The other id is written only when credit notes use it; the payment's own id always, so a credit note
          // issued later finds its charge confirmed.
          if (id !== paymentId && payment.state.creditNotes.length === 0) continue;
          const siblings = yield* await loadCreditNotesOfPayment(deps, id, payment.state);
          creditNotes.push(...(yield* releaseWaitingCreditNotes(siblings, now)));
          const confirmation = { type: 'ChargeConfirmed' as const, data: { paymentId: id, processor } };
          payments.push({ loaded: payment, events: payment.state.chargeConfirmed ? [] : [confirmation] });
        }
        const changed = creditNotes.length > 0 || payments.some((change) => change.events.length > 0);
        const released = creditNotes.map((change) => change.state.context.creditNoteId);
        return ok({ creditNotes, payments, result: { changed, released } });
      }),
    );
    const { result, dueOutboxIds, decided } = executed;
    return ok<ChargeConfirmation>({ paymentId, ...result, dueOutboxIds, decided });
  });
