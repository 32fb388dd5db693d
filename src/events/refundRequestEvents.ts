import { z } from 'zod';
import { creditNoteIdSchema, currencySchema, identifierSchema, isoTimestampSchema, minorAmountSchema, paymentRefSchema } from './primitives.js';

/*
 * Events of a refund request's own stream (`refund-request-<requestId>`): the
 * ticket a customer opens before any credit note exists. Its money outcome is
 * not recorded here: an approved request follows its credit note.
 */

/** Why the customer asks, from a fixed list so reports can group them (seed 004: "learn from patterns"). */
export const refundRequestReasons = [
  'not_as_described',
  'technical_issue',
  'service_unavailable',
  'unexpected_charge',
  'duplicate_charge',
  'no_longer_needed',
  'other',
] as const;
export type RefundRequestReason = (typeof refundRequestReasons)[number];

/** What an approval does to the subscription the payment belongs to (seed 004's three options). */
export const subscriptionOptions = ['refund_and_cancel', 'refund_only', 'cancel_only'] as const;
export type SubscriptionOption = (typeof subscriptionOptions)[number];

/** The host's policy rules; a refusal names the ones that refused. */
export const policyRules = ['purchase_window', 'excluded_product', 'excluded_kind', 'one_open_request'] as const;
export type PolicyRule = (typeof policyRules)[number];

const noteSchema = z.string().trim().min(1, 'must not be empty').max(2000);

/** A person with the `override` permission let the request through rules that refused it, and said why. */
export const policyOverrideSchema = z.object({
  reason: z.string().trim().min(1, 'is required').max(1000),
  rules: z.array(z.enum(policyRules)).min(1),
});

export const refundRequestSubmittedSchema = z.object({
  requestId: identifierSchema,
  payment: paymentRefSchema,
  amount: minorAmountSchema,
  currency: currencySchema,
  reason: z.enum(refundRequestReasons),
  /** The customer's own words. */
  details: noteSchema.nullable(),
  customerId: identifierSchema,
  purchasedAt: isoTimestampSchema,
  /** What was bought, for the policy's exclusions; null when the payment is not for one product. */
  product: z.object({ productId: identifierSchema, kind: identifierSchema }).nullable(),
  /** The subscription the payment renews, when it does: approval then says what happens to it. */
  subscriptionId: identifierSchema.nullable(),
  override: policyOverrideSchema.nullable(),
});

/**
 * The merchant approved. Unless the option is `cancel_only`, the same append
 * issued credit note `creditNoteId` for `amount`.
 */
const refundApproval = <O extends 'refund_and_cancel' | 'refund_only'>(option: O) =>
  z.object({
    option: z.literal(option),
    creditNoteId: creditNoteIdSchema,
    amount: minorAmountSchema,
    note: noteSchema.nullable(),
    override: policyOverrideSchema.nullable(),
  });

export const refundRequestApprovedSchema = z.discriminatedUnion('option', [
  refundApproval('refund_and_cancel'),
  refundApproval('refund_only'),
  z.object({
    option: z.literal('cancel_only'),
    note: noteSchema.nullable(),
    override: policyOverrideSchema.nullable(),
  }),
]);

/** The merchant declined; the note, if any, goes to the customer. */
export const refundRequestRejectedSchema = z.object({ note: noteSchema.nullable() });

/** The customer took the request back before a decision. */
export const refundRequestWithdrawnSchema = z.object({ details: noteSchema.nullable() });

export const refundRequestEventDataSchemas = {
  RefundRequestSubmitted: refundRequestSubmittedSchema,
  RefundRequestApproved: refundRequestApprovedSchema,
  RefundRequestRejected: refundRequestRejectedSchema,
  RefundRequestWithdrawn: refundRequestWithdrawnSchema,
} as const;

export type RefundRequestEventType = keyof typeof refundRequestEventDataSchemas;

export type RefundRequestEvent = {
  [K in RefundRequestEventType]: { type: K; data: z.output<(typeof refundRequestEventDataSchemas)[K]>; occurredAt: string };
}[RefundRequestEventType];

export type PolicyOverride = z.output<typeof policyOverrideSchema>;
