import type { FailureClassification } from '../../events/primitives.js';

/*
 * Adyen reports why a refund failed as free text: the `reason` of a REFUND
 * notification with `success: "false"` (its validations failed), a
 * REFUND_FAILED (the card scheme rejected a refund Adyen had accepted) or a
 * REFUNDED_REVERSED (the money came back), and the `message` of a refused
 * refund request. The texts below are the ones Adyen documents or is known to
 * send ("Insufficient in-process funds on account", "Refund Failed due to
 * Scheme Rejection", "Already fully disputed, no balance available for new
 * requested refund", …); each is sorted into one stable code a host can switch
 * on, with what a retry can do and what a person should do instead
 * (docs/glossary.md#failure-advice). A text we have never seen is `unknown`.
 */

export type AdyenFailureReason =
  | 'insufficient_in_process_funds'
  | 'amount_exceeds_balance'
  | 'already_refunded'
  | 'disputed'
  | 'scheme_rejected'
  | 'refund_reversed'
  | 'card_closed_or_expired'
  | 'refund_window_closed'
  | 'payment_status'
  | 'not_allowed'
  | 'invalid_payment'
  | 'invalid_amount'
  | 'processing_error'
  | 'unknown';

export type FailureAdvice = FailureClassification & {
  /** A sentence a host can put on its "Refund failed" banner. */
  banner: string;
};

/** Every code with its advice: what `failure.processorReason` holds for an Adyen refund. */
export const adyenFailureReasons: Readonly<Record<AdyenFailureReason, FailureAdvice>> = {
  insufficient_in_process_funds: {
    retry: 'after_action',
    recovery: 'top_up_balance',
    banner:
      'Your Adyen account has too few in-process funds to pay the refund (Adyen does not retry it): top up the balance, then retry.',
  },
  amount_exceeds_balance: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: 'The refund is larger than what is left to refund on the payment at Adyen.',
  },
  already_refunded: {
    retry: 'will_not_help',
    recovery: 'none',
    banner: 'The payment is already fully refunded at Adyen.',
  },
  disputed: {
    retry: 'will_not_help',
    recovery: 'resolve_dispute',
    banner: 'The client disputed the payment: Adyen refunds nothing the dispute already covers. Resolve the dispute first.',
  },
  scheme_rejected: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: "The card scheme rejected the refund: refund the client another way (bank transfer) and mark it refunded.",
  },
  refund_reversed: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner:
      "The refund came back to your Adyen account (the client's account could not take it): refund the client another way and mark it refunded.",
  },
  card_closed_or_expired: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: 'The card has expired or its account is closed: refund the client another way and mark it refunded.',
  },
  refund_window_closed: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: 'The payment method no longer takes refunds for this payment (too long ago): refund the client another way.',
  },
  payment_status: {
    retry: 'after_action',
    recovery: 'retry',
    banner:
      'Adyen cannot refund the payment in its current status (not captured yet, or cancelled): check it in the Customer Area, then retry or refund another way.',
  },
  not_allowed: {
    retry: 'after_action',
    recovery: 'retry',
    banner:
      "Adyen refused the refund for your account's setup (API credential role, merchant account, payment method settings): fix it in the Customer Area, then retry.",
  },
  invalid_payment: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner: 'Adyen does not know this payment on this merchant account: check its PSP reference in the Customer Area.',
  },
  invalid_amount: {
    retry: 'will_not_help',
    recovery: 'manual_refund',
    banner:
      "Adyen refused the refund's amount: more than is left to refund on the payment, or another currency than the payment's. Check the payment in the Customer Area.",
  },
  processing_error: {
    retry: 'may_help',
    recovery: 'retry',
    banner: 'Adyen could not process the refund because of an error on its side: retry.',
  },
  unknown: {
    retry: 'may_help',
    recovery: 'retry',
    banner: 'Adyen could not process the refund: retry once, then refund manually if it fails again.',
  },
};

/** Text patterns, in order: the first that matches names the reason. */
const reasonPatterns: ReadonlyArray<readonly [RegExp, AdyenFailureReason]> = [
  [/already (been )?(fully )?refunded|fully refunded/i, 'already_refunded'],
  [/disput|chargeback/i, 'disputed'],
  [/insufficient balance on (the )?payment|exceed|more than (the )?(captured|remaining)|remaining amount|no balance available/i, 'amount_exceeds_balance'],
  [/insufficient (in-?process )?funds|in-?process funds|insufficient balance/i, 'insufficient_in_process_funds'],
  [/scheme rejection|rejected by (the )?(card )?scheme|scheme reject/i, 'scheme_rejected'],
  [/revers/i, 'refund_reversed'],
  [/expired card|card (has )?expired|account (is )?closed|closed account|lost|stolen|blocked card/i, 'card_closed_or_expired'],
  [/outside (of )?(the )?(original|refund)|too old|refund window|time limit|refund period/i, 'refund_window_closed'],
  [/permission|not allowed|not permitted|configuration|not enabled|not configured|unauthori[sz]ed|forbidden/i, 'not_allowed'],
  [/payment status|incorrect status|not (been |yet )?captured|cancel/i, 'payment_status'],
  [/psp ?reference|unknown payment|payment not found|original reference/i, 'invalid_payment'],
  [/invalid amount|currency|amount/i, 'invalid_amount'],
  [/system error|internal error|technical|timeout|try again/i, 'processing_error'],
];

/** The code of a failure Adyen explained in words; `unknown` for words we do not know. */
export const adyenFailureReasonOf = (text: string | null | undefined): AdyenFailureReason => {
  if (typeof text !== 'string' || text.trim() === '') return 'unknown';
  if (Object.hasOwn(adyenFailureReasons, text)) return text as AdyenFailureReason;
  return reasonPatterns.find(([pattern]) => pattern.test(text))?.[1] ?? 'unknown';
};

/** Advice for a failed refund: takes one of the codes above, or Adyen's own words (a notification's `reason`). */
export const adviseOnFailureReason = (reason: string | null | undefined): FailureAdvice =>
  adyenFailureReasons[adyenFailureReasonOf(reason)];

/** Error codes of a refused refund request (Adyen's generic error-code list) that say more than their message. */
const refusalCodes: Readonly<Record<string, AdyenFailureReason>> = {
  '010': 'not_allowed', // Not allowed
  '100': 'invalid_amount', // No amount specified
  '137': 'invalid_amount', // Invalid amount specified
  '167': 'invalid_payment', // Original pspReference required for this operation
  '901': 'not_allowed', // Invalid Merchant Account
};

const unclassifiedRefusal: FailureAdvice = {
  retry: 'will_not_help',
  recovery: 'manual_refund',
  banner: 'Adyen refused the refund: refund the client another way and mark it refunded.',
};

/**
 * The reason of a refund request Adyen refused outright: by its error code,
 * else by its message; `null` when neither says more than "refused".
 */
export const adyenRefusalReasonOf = (errorCode: string | null | undefined, message: string | null | undefined): AdyenFailureReason | null => {
  if (errorCode && Object.hasOwn(refusalCodes, errorCode)) return refusalCodes[errorCode] as AdyenFailureReason;
  const fromText = adyenFailureReasonOf(message);
  // An unexplained refusal is no invitation to try again: `unknown` stays for failures Adyen reports later.
  return fromText === 'unknown' || fromText === 'processing_error' ? null : fromText;
};

/** Advice for a refund request Adyen refused outright. */
export const adviseOnRefusal = (errorCode: string | null | undefined, message: string | null | undefined): FailureAdvice => {
  const reason = adyenRefusalReasonOf(errorCode, message);
  return reason === null ? unclassifiedRefusal : adyenFailureReasons[reason];
};

export const classificationOf = ({ retry, recovery }: FailureAdvice): FailureClassification => ({ retry, recovery });
