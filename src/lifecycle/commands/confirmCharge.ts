import { err, ok, type Result } from 'neverthrow';
import type { CommandError } from '../../errors.js';
import { executeCommand, type Plan } from '../commandHandler.js';
import { confirmChargeInputSchema, validateInput } from '../commandInputs.js';
import { loadCreditNotesOfPayment, releaseWaitingCreditNotes } from '../chargeGate.js';
import type { LifecycleDeps } from '../deps.js';
import { loadPayment } from '../streams.js';
import { commandMeta, withoutClaims } from './commandSupport.js';

export type ChargeConfirmation = { paymentId: string; changed: boolean; released: string[]; dueOutboxIds: string[] };

/**
 * D-113's gate opens: the confirmation and the release of every credit note
 * that waited for it are one atomic append, so none is left pending when a
 * credit note is issued at the same moment (its append conflicts and is
 * decided again, this time seeing the confirmation). Idempotent.
 */
export const confirmCharge = async (
  deps: LifecycleDeps,
  rawInput: unknown,
): Promise<Result<ChargeConfirmation, CommandError>> => {
  const input = validateInput(confirmChargeInputSchema, rawInput);
  if (input.isErr()) return err(input.error);
  const { paymentId, processor = deps.gateway.processor } = input.value;
  const meta = commandMeta(deps, { ...input.value, actor: input.value.actor ?? { kind: 'processor', id: processor } });

  const executed = await executeCommand(deps, meta, async (now): Promise<Result<Plan<{ changed: boolean; released: string[] }>, CommandError>> => {
    const payment = await loadPayment(deps.store, paymentId);
    if (payment.isErr()) return err(payment.error);
    const released = (await loadCreditNotesOfPayment(deps, payment.value.state)).andThen((siblings) =>
      releaseWaitingCreditNotes(siblings, now),
    );
    if (released.isErr()) return err(released.error);
    const confirmation = payment.value.state.chargeConfirmed
      ? []
      : [{ type: 'ChargeConfirmed' as const, data: { paymentId, processor } }];
    return ok({
      creditNotes: released.value,
      payments: [{ loaded: payment.value, events: confirmation }],
      result: {
        changed: confirmation.length > 0 || released.value.length > 0,
        released: released.value.map((change) => change.state.context.creditNoteId),
      },
    });
  });
  return withoutClaims(executed).map(({ result, dueOutboxIds }) => ({ paymentId, ...result, dueOutboxIds }));
};
