import type { ProposedCreditNoteEvent } from './creditNoteChange.js';
import { expectedAttempt } from '../machine/rules.js';
import type { CreditNoteState } from '../machine/creditNoteState.js';
import { refundIdempotencyKey } from '../machine/idempotencyKeys.js';

/**
 * After an issue, a retry or a charge confirmation: ask the processor, unless
 * the charge-confirmation gate forbids it because the charge was never
 * confirmed (docs/glossary.md#charge-confirmation-gate). An in-doubt attempt
 * is asked again under its own key; otherwise the next attempt gets a new one.
 */
export const nextRefundStep = (state: CreditNoteState, chargeConfirmed: boolean): ProposedCreditNoteEvent => {
  const { context } = state;
  if (context.refund === null && !chargeConfirmed) {
    return { type: 'RefundDeferred', data: { reason: 'charge_not_confirmed' } };
  }
  const attempt = expectedAttempt(context);
  return {
    type: 'RefundRequested',
    data: {
      attempt,
      idempotencyKey: refundIdempotencyKey(context.creditNoteId, attempt),
      amount: context.amount,
      currency: context.currency,
    },
  };
};
