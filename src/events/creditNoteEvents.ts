import { z } from 'zod';
import {
  creditNoteIdSchema,
  currencySchema,
  failureClassificationSchema,
  identifierSchema,
  isoTimestampSchema,
  minorAmountSchema,
  paymentRefSchema,
  processorPendingReasonSchema,
  processorRefundStatusSchema,
  refundMethodSchema,
} from './primitives.js';

/** `null`: the processor gave no reason (events of schema version 1 lacked the field; upcast.ts reads them so). */
const pendingReasonField = processorPendingReasonSchema.nullable();

const attemptSchema = z.number().int().min(1, 'attempts are numbered from 1');

/** The credit note exists. `payment: null` means it was not paid through a processor: only a manual refund fits. */
export const creditNoteIssuedSchema = z.object({
  creditNoteId: creditNoteIdSchema,
  amount: minorAmountSchema,
  currency: currencySchema,
  payment: paymentRefSchema.nullable(),
  reason: z.string().trim().min(1, 'is required').max(1000),
  /**
   * `processor`: a refund made outside the library (e.g. in the Stripe dashboard) that the lifecycle follows.
   * Events of schema version 1 lacked it; upcast.ts reads them as `host`.
   */
  origin: z.enum(['host', 'processor']),
});

/** The refund could not be asked for yet; the credit note waits in `pending`. */
export const refundDeferredSchema = z.discriminatedUnion('reason', [
  // The charge-confirmation gate: never refund a charge whose confirmation has not been seen
  // (docs/glossary.md#charge-confirmation-gate).
  z.object({ reason: z.literal('charge_not_confirmed') }),
  z.object({
    reason: z.literal('transient_error'),
    attempt: attemptSchema,
    error: z.object({ code: z.string().min(1), message: z.string() }),
    /** How many transient errors this attempt has met so far, this one included. */
    consecutiveFailures: z.number().int().min(1),
    /** When the dispatcher tries again by itself; null once the automatic retries are used up. */
    retryAt: isoTimestampSchema.nullable(),
  }),
]);

/**
 * We are asking the processor for the refund. The idempotency key is written
 * here, before any call, so no crash or second worker can create another one.
 */
export const refundRequestedSchema = z.object({
  attempt: attemptSchema,
  idempotencyKey: z.string().min(1),
  amount: minorAmountSchema,
  currency: currencySchema,
});

/** A refund the processor made without us (dashboard) becomes this credit note's first attempt; nothing is requested. */
export const refundAdoptedSchema = z.object({
  attempt: z.literal(1),
  processorRefundId: identifierSchema,
  amount: minorAmountSchema,
  currency: currencySchema,
  processorStatus: processorRefundStatusSchema,
});

/** The processor accepted the attempt and named its refund. */
export const refundAcceptedSchema = z.object({
  attempt: attemptSchema,
  processorRefundId: identifierSchema,
  processorStatus: processorRefundStatusSchema,
  pendingReason: pendingReasonField,
});

/** The processor reports a new interim status of an accepted refund (e.g. `action_required`). */
export const refundProgressedSchema = z.object({
  attempt: attemptSchema,
  processorRefundId: identifierSchema,
  processorStatus: z.enum(['pending', 'action_required']),
  /**
   * Why it is still pending, for the "Refund in progress" banner (`insufficient_funds` asks the merchant to top up;
   * docs/glossary.md#processor-notice).
   */
  pendingReason: pendingReasonField,
});

export const refundSucceededSchema = z.object({
  attempt: attemptSchema,
  processorRefundId: identifierSchema,
});

export const refundFailedSchema = z.object({
  attempt: attemptSchema,
  processorRefundId: identifierSchema.nullable(),
  /** The processor's own reason, e.g. Stripe's `failure_reason` or error code. */
  processorReason: z.string().min(1),
  classification: failureClassificationSchema,
  message: z.string(),
});

/** A person asked to try again; the stale failure is cleared. Who asked is the envelope's actor. */
export const retryRequestedSchema = z.object({});

/** Refunded outside the processor (SEPA transfer, cash, PayPal, cheque). */
export const markedRefundedManuallySchema = z.object({
  reason: z.string().trim().min(1, 'is required').max(1000),
  reference: z.string().trim().min(1).max(255).nullable(),
  method: refundMethodSchema,
});

export const creditNoteEventDataSchemas = {
  CreditNoteIssued: creditNoteIssuedSchema,
  RefundDeferred: refundDeferredSchema,
  RefundRequested: refundRequestedSchema,
  RefundAccepted: refundAcceptedSchema,
  RefundAdopted: refundAdoptedSchema,
  RefundProgressed: refundProgressedSchema,
  RefundSucceeded: refundSucceededSchema,
  RefundFailed: refundFailedSchema,
  RetryRequested: retryRequestedSchema,
  MarkedRefundedManually: markedRefundedManuallySchema,
} as const;

export type CreditNoteEventType = keyof typeof creditNoteEventDataSchemas;

/** A credit-note domain event as the machine and the fold see it: type, payload and when it happened. */
export type CreditNoteEvent = {
  [K in CreditNoteEventType]: {
    type: K;
    data: z.output<(typeof creditNoteEventDataSchemas)[K]>;
    occurredAt: string;
  };
}[CreditNoteEventType];

