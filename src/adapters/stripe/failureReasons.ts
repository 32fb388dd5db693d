import type { FailureClassification } from '../../events/primitives.js';

export type StripeFailureReason =
  | 'lost_or_stolen_card'
  | 'expired_or_canceled_card'
  | 'charge_for_pending_refund_disputed'
  | 'insufficient_funds'
  | 'declined'
  | 'merchant_request'
  | 'unknown';

export type FailureAdvice = FailureClassification & {
  /** A sentence a host can put on its "Refund failed" banner. */
  banner: string;
};

/**
 * Every `failure_reason` Stripe documents for a refund (Refund object, API
 * 2026-10-28), with what a retry can do and what a person should do instead.
 * Source: Stripe's refunds guide ("Failed refunds") and the Refund object
 * reference; the recovery advice is explained in docs/glossary.md#failure-advice.
 */
export const stripeFailureReasons: Readonly<Record<StripeFailureReason, FailureAdvice>> = {
  lost_or_stolen_card: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: 'The card was reported lost or stolen: refund the client another way (bank transfer) and mark it refunded.',
  },
  expired_or_canceled_card: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: 'The card has expired or its account is closed: refund the client another way and mark it refunded.',
  },
  charge_for_pending_refund_disputed: {
    retry: 'will_not_help',
    recovery: 'resolve_dispute',
    banner: 'The client disputed the payment: refunds are blocked until the dispute is resolved.',
  },
  insufficient_funds: {
    retry: 'after_action',
    recovery: 'top_up_balance',
    banner: 'Your Stripe balance is too low: top it up, then retry.',
  },
  declined: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: "The client's bank declined the refund: refund them another way and mark it refunded.",
  },
  merchant_request: {
    retry: 'will_not_help',
    recovery: 'none',
    banner: 'The refund was canceled on your request.',
  },
  unknown: {
    retry: 'may_help',
    recovery: 'retry',
    banner: 'Stripe could not process the refund: retry once, then refund manually if it fails again.',
  },
};

/** Error codes of a refused refund request, with the same advice (Stripe's error-code reference). */
const refusalCodes: Readonly<Record<string, FailureAdvice>> = {
  charge_disputed: stripeFailureReasons.charge_for_pending_refund_disputed,
  charge_already_refunded: {
    retry: 'will_not_help',
    recovery: 'none',
    banner: 'The payment is already fully refunded at Stripe.',
  },
  amount_too_large: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: 'The refund is larger than what is left to refund on the payment.',
  },
  balance_insufficient: stripeFailureReasons.insufficient_funds,
  insufficient_funds: stripeFailureReasons.insufficient_funds,
  charge_expired_for_refund: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: 'Stripe no longer refunds this payment (its refund window has closed): refund the client another way.',
  },
};

const unclassified: FailureAdvice = {
  retry: 'will_not_help',
  recovery: 'manual_refund',
  banner: 'Stripe refused the refund: refund the client another way and mark it refunded.',
};

/** Advice for a refund's `failure_reason` (or a canceled refund, which Stripe reports without one). */
export const adviseOnFailureReason = (reason: string | null | undefined): FailureAdvice =>
  reason && Object.hasOwn(stripeFailureReasons, reason)
    ? stripeFailureReasons[reason as StripeFailureReason]
    : stripeFailureReasons.unknown;

/** Advice for a refund request Stripe refused outright, by its error code. */
export const adviseOnRefusal = (code: string | null | undefined): FailureAdvice =>
  (code && refusalCodes[code]) || unclassified;

export const classificationOf = ({ retry, recovery }: FailureAdvice): FailureClassification => ({ retry, recovery });
