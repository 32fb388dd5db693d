import { z } from 'zod';
import { actorSchema, creditNoteIdSchema, currencySchema, identifierSchema, isoTimestampSchema, minorAmountSchema } from '../events/primitives.js';
import { refundRequestReasons, subscriptionOptions } from '../events/refundRequestEvents.js';
import { refundRequestStatuses } from '../machine/refundRequestState.js';

const correlation = { correlationId: z.string().min(1).max(255).optional() };
/** Free text from a form: an empty or blank box is no text (null). */
const note = z
  .string()
  .trim()
  .max(2000)
  .transform((text) => (text === '' ? null : text));
/** A person with the `override_policy` permission sets aside the rules that refused, and says why. */
const override = z.strictObject({ reason: z.string().trim().min(1, 'is required').max(1000) });

/** Request ids prefix credit note ids (`rr-<requestId>`) and idempotency keys: kept short. */
export const requestIdSchema = identifierSchema.max(190, 'must be at most 190 characters');

export const requestRefundInputSchema = z.strictObject({
  requestId: requestIdSchema,
  payment: z.strictObject({
    processor: identifierSchema.optional(),
    paymentId: identifierSchema,
    account: identifierSchema.nullable().optional(),
  }),
  amount: minorAmountSchema,
  currency: currencySchema,
  reason: z.enum(refundRequestReasons),
  details: note.nullable().optional(),
  customerId: identifierSchema,
  /** When the customer bought it: the policy's window runs from here. */
  purchasedAt: isoTimestampSchema,
  product: z.strictObject({ productId: identifierSchema, kind: identifierSchema }).nullable().optional(),
  subscriptionId: identifierSchema.nullable().optional(),
  override: override.optional(),
  actor: actorSchema,
  ...correlation,
});
export type RequestRefundInput = z.input<typeof requestRefundInputSchema>;

export const approveRequestInputSchema = z.strictObject({
  /** Default: what the customer asked for. A proportional partial refund passes less (seed 004, scenario 3). */
  amount: minorAmountSchema.optional(),
  /** Default: `refund_and_cancel` for a subscription's payment, `refund_only` otherwise. */
  option: z.enum(subscriptionOptions).optional(),
  /** The credit note to issue; default `rr-<requestId>`. */
  creditNoteId: creditNoteIdSchema.optional(),
  /** A message to the customer, sent with the approval. */
  note: note.nullable().optional(),
  override: override.optional(),
  /** The host already knows the charge is confirmed (as for `issueCreditNote`). */
  chargeConfirmed: z.boolean().optional(),
  actor: actorSchema,
  ...correlation,
});
export type ApproveRequestInput = z.input<typeof approveRequestInputSchema>;

export const rejectRequestInputSchema = z.strictObject({
  /** Sent to the customer with the rejection (seed 004: "always explain refund decisions"). */
  note: note.nullable().optional(),
  actor: actorSchema,
  ...correlation,
});
export type RejectRequestInput = z.input<typeof rejectRequestInputSchema>;

export const withdrawRequestInputSchema = z.strictObject({
  details: note.nullable().optional(),
  actor: actorSchema,
  ...correlation,
});
export type WithdrawRequestInput = z.input<typeof withdrawRequestInputSchema>;

export const listRefundRequestsInputSchema = z.strictObject({
  status: z.enum(refundRequestStatuses).optional(),
  paymentId: identifierSchema.optional(),
  after: z.strictObject({ submittedAt: isoTimestampSchema, requestId: identifierSchema }).optional(),
  limit: z.number().int().min(1).max(500).optional(),
});
export type ListRefundRequestsInput = z.input<typeof listRefundRequestsInputSchema>;

export const refundRequestReportInputSchema = z
  .strictObject({ from: isoTimestampSchema, to: isoTimestampSchema })
  .refine(({ from, to }) => Date.parse(from) < Date.parse(to), { message: 'must end after it starts', path: ['to'] });
export type RefundRequestReportInput = z.input<typeof refundRequestReportInputSchema>;
