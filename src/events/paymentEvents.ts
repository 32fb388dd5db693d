import { z } from 'zod';
import { creditNoteIdSchema, currencySchema, identifierSchema, minorAmountSchema } from './primitives.js';

/**
 * Events of a payment's own stream. The payment stream is the cross-stream
 * guard: every credit note of a payment and the charge confirmation are
 * appended to it, so a credit note issued while the confirmation arrives
 * conflicts and is decided again instead of being left pending forever.
 */
export const creditNoteAttachedSchema = z.object({
  creditNoteId: creditNoteIdSchema,
  amount: minorAmountSchema,
  currency: currencySchema,
});

/**
 * The processor confirmed the charge (Stripe: `payment_intent.succeeded`): the charge-confirmation gate opens
 * (docs/glossary.md#charge-confirmation-gate).
 */
export const chargeConfirmedSchema = z.object({
  paymentId: identifierSchema,
  processor: identifierSchema,
});

/** What the processor says of the payment, recorded once: the refundable balance and refund window follow from it. */
export const paymentDescribedSchema = z.object({
  /** Null when the processor cannot say (the fake, for payments it was not told about): no local balance check then. */
  amount: minorAmountSchema.nullable(),
  currency: currencySchema.nullable(),
  method: z.string().min(1).nullable(),
  refundableUntil: z.iso.datetime({ offset: true }).nullable(),
});

/**
 * A customer's refund request on this payment awaits review; closed when it is approved, rejected or withdrawn.
 * On the payment's stream so two requests submitted at once serialise: at most one is open per payment.
 */
export const refundRequestOpenedSchema = z.object({ requestId: identifierSchema });
export const refundRequestClosedSchema = z.object({ requestId: identifierSchema });

export const paymentEventDataSchemas = {
  PaymentDescribed: paymentDescribedSchema,
  CreditNoteAttached: creditNoteAttachedSchema,
  ChargeConfirmed: chargeConfirmedSchema,
  RefundRequestOpened: refundRequestOpenedSchema,
  RefundRequestClosed: refundRequestClosedSchema,
} as const;

export type PaymentEventType = keyof typeof paymentEventDataSchemas;

export type PaymentEvent = {
  [K in PaymentEventType]: { type: K; data: z.output<(typeof paymentEventDataSchemas)[K]>; occurredAt: string };
}[PaymentEventType];
