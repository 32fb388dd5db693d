import { z } from 'zod';

/** Identifiers a host chooses (credit notes, users) or a processor assigns (payments, refunds). */
export const identifierSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .regex(/^[A-Za-z0-9_\-:.@]+$/, 'may contain only letters, digits and _ - : . @');

/**
 * A credit note's id, shorter than other identifiers: it prefixes every
 * idempotency key (`<id>:refund:<attempt>`, `<id>:notify:refund_failed:<attempt>`),
 * and processors cap keys at 255 characters.
 */
export const creditNoteIdSchema = identifierSchema.max(200, 'must be at most 200 characters');

/** Integer amount in the currency's minor unit (cents): floats lose money. */
export const minorAmountSchema = z
  .number()
  .int('must be an integer number of minor units')
  .positive('must be greater than zero')
  .max(99_999_999_999, 'is too large');

/** ISO 4217 code, stored lower-case as processors report it. */
export const currencySchema = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code')
  .transform((code) => code.toLowerCase());

export const isoTimestampSchema = z.iso.datetime({ offset: true });

/** The processor payment a credit note refunds; `account` is the Connect account for direct charges. */
export const paymentRefSchema = z.object({
  processor: identifierSchema,
  paymentId: identifierSchema,
  account: identifierSchema.nullable().default(null),
});
export type PaymentRef = z.output<typeof paymentRefSchema>;

/** `customer`: the payer, through the host's customer portal (refund requests); `user`: the merchant's staff. */
export const actorSchema = z.object({
  kind: z.enum(['user', 'customer', 'system', 'processor']),
  id: identifierSchema,
});
export type Actor = z.output<typeof actorSchema>;

/** What carried a fact into the library. `reconcile`: a processor event fetched from its API after its webhook was missed. */
export const eventSourceSchema = z.enum(['command', 'webhook', 'refresh', 'dispatcher', 'dashboard', 'import', 'reconcile']);
export type EventSource = z.output<typeof eventSourceSchema>;

export const refundMethodSchema = z.enum(['bank_transfer', 'cash', 'paypal', 'cheque', 'card_terminal', 'other']);
export type ManualRefundMethod = z.output<typeof refundMethodSchema>;

/** What a retry can do for a failure, and what a human should do next. */
export const failureClassificationSchema = z.object({
  retry: z.enum(['may_help', 'after_action', 'will_not_help']),
  recovery: z.enum(['retry', 'top_up_balance', 'resolve_dispute', 'manual_refund', 'none']),
});
export type FailureClassification = z.output<typeof failureClassificationSchema>;

/** Processor-neutral refund status: one vocabulary for Stripe, Adyen… */
export const processorRefundStatusSchema = z.enum(['pending', 'action_required', 'succeeded', 'failed', 'canceled']);
export type ProcessorRefundStatus = z.output<typeof processorRefundStatusSchema>;

/**
 * Why an accepted refund is still pending at the processor: the charge it
 * refunds has not settled (`charge_pending`), the account's balance cannot
 * cover it (`insufficient_funds`: top it up), or the processor is paying it
 * out (`processing`). Stripe's `pending_reason` words, which read as
 * processor-neutral.
 */
export const processorPendingReasonSchema = z.enum(['charge_pending', 'insufficient_funds', 'processing']);
export type ProcessorPendingReason = z.output<typeof processorPendingReasonSchema>;
