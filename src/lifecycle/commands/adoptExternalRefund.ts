import { err, ok, safeTry, type Result } from 'neverthrow';
import { z } from 'zod';
import { ValidationError, type TransitionConflictError } from '../../errors.js';
import type { ProcessorRefund } from '../../ports/refundGateway.js';
import { eventSourceSchema, identifierSchema } from '../../events/primitives.js';
import { executeCommand } from '../commandHandler.js';
import { processorRefundSchema, validateInput } from '../commandInputs.js';
import { proposeAllowedEvents, startChange, type CreditNoteChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { eventsForObservation } from '../observation.js';
import { loadCreditNote, loadPayment, type KnownCreditNote, type LoadedCreditNote } from '../streams.js';
import { commandMeta, outcomeFor, proposeOrConflict, type CommandOutcome } from './commandSupport.js';
import { observeOwnedRefund, ownerOfRefund } from './observeRefund.js';

export const adoptExternalRefundInputSchema = z.strictObject({
  refund: processorRefundSchema,
  /** The Connect account the refund was made on (Stripe: the event's `account`). */
  account: identifierSchema.nullable().optional(),
  source: eventSourceSchema,
  causationId: z.string().min(1).max(255).nullable().optional(),
  correlationId: z.string().min(1).max(255).optional(),
});
export type AdoptExternalRefundInput = z.input<typeof adoptExternalRefundInputSchema>;

/** One refund made outside the library is one credit note, however many events tell of it. */
export const externalCreditNoteId = (processor: string, processorRefundId: string): string =>
  `${processor}-${processorRefundId}`;

/**
 * The events that make an unissued credit note the follower of a refund made
 * at the processor: issued with processor origin, the refund adopted as its
 * first attempt, and whatever the refund's status already settles.
 */
export const adoptionOf = (
  loaded: LoadedCreditNote,
  refund: ProcessorRefund,
  payment: { processor: string; account: string | null },
  now: Date,
): Result<CreditNoteChange, TransitionConflictError> => {
  const creditNoteId = externalCreditNoteId(payment.processor, refund.processorRefundId);
  const issued = proposeOrConflict(
    startChange(loaded),
    {
      type: 'CreditNoteIssued',
      data: {
        creditNoteId,
        amount: refund.amount,
        currency: refund.currency,
        payment: { processor: payment.processor, paymentId: refund.paymentId, account: payment.account },
        reason: `Refunded at ${payment.processor} outside the library (${refund.processorRefundId})`,
        origin: 'processor',
      },
    },
    now,
    'adopt',
  ).andThen((change) =>
    proposeOrConflict(
      change,
      {
        type: 'RefundAdopted',
        data: {
          attempt: 1,
          processorRefundId: refund.processorRefundId,
          amount: refund.amount,
          currency: refund.currency,
          processorStatus: refund.status,
        },
      },
      now,
      'adopt',
    ),
  );
  return issued.map((change) => proposeAllowedEvents(change, eventsForObservation(change.state, refund), now.toISOString()));
};

/** `creditNote: null`: the refund's payment is none of ours, nothing was written. */
export type Adoption = Omit<CommandOutcome, 'creditNote'> & { creditNote: KnownCreditNote | null; changed: boolean };

/**
 * A refund made in the processor's dashboard (docs/glossary.md#processor-origin), of a payment the
 * library knows, becomes a credit note of processor origin that the lifecycle
 * then follows (and counts against the payment's balance). A refund of an
 * unknown payment is none of our business: nothing is written.
 */
export const adoptExternalRefund = (deps: LifecycleDeps, rawInput: unknown) =>
  safeTry(async function* () {
    const input = yield* validateInput(adoptExternalRefundInputSchema, rawInput);
    const { refund, account = null } = input;
    if (refund.metadata.creditNoteId !== null) {
      // Ours: refunds the library created carry their credit note, and must never be mistaken for external ones.
      return err(new ValidationError([{ path: 'refund.metadata.creditNoteId', message: 'names a credit note: observe it' }]));
    }
    const processor = deps.gateway.processor;
    const meta = commandMeta(deps, { ...input, actor: { kind: 'processor', id: processor } });
    // A refund recorded on a credit note (ours, or adopted before) is that credit note's, whatever its metadata says now.
    const owner = await ownerOfRefund(deps, refund);
    if (owner !== null) return observeOwnedRefund(deps, meta, refund, owner, { account, oncePerCause: true });
    const creditNoteId = externalCreditNoteId(processor, refund.processorRefundId);

    const executed = yield* await executeCommand(deps, meta, (now) =>
      safeTry(async function* () {
        const payment = yield* await loadPayment(deps.store, refund.paymentId);
        // Known means refunded by a credit note: a payment whose confirmation merely passed by is not ours to follow.
        if (payment.state.creditNotes.length === 0) return ok({ result: { known: false, changed: false } });
        const loaded = yield* await loadCreditNote(deps.store, creditNoteId);
        if (loaded.state.status !== 'unissued') {
          const change = proposeAllowedEvents(startChange(loaded), eventsForObservation(loaded.state, refund), now.toISOString());
          return ok({ creditNotes: [change], result: { known: true, changed: change.events.length > 0 } });
        }
        const issued = yield* adoptionOf(loaded, refund, { processor, account }, now);
        const attached = { type: 'CreditNoteAttached' as const, data: { creditNoteId, amount: refund.amount, currency: refund.currency } };
        return ok({ creditNotes: [issued], payments: [{ loaded: payment, events: [attached] }], result: { known: true, changed: true } });
      }),
    );
    return ok<Adoption>(
      executed.result.known
        ? { ...outcomeFor(creditNoteId, executed), changed: executed.result.changed }
        : { creditNote: null, decided: [], dueOutboxIds: [], changed: false },
    );
  });
