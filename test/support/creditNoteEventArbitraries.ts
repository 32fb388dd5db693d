import fc from 'fast-check';
import type { CreditNoteEvent } from '../../src/events/creditNoteEvents.js';

/*
 * Credit-note events for the machine's property tests (the differential test
 * against xstate and the reference-model test): valid-looking events of every
 * type over one credit note, weighted towards those that keep a refund in
 * flight. Each test then aims them at its own view of the current state.
 */

export const CREDIT_NOTE_ID = 'cn_1';
export const ISSUED_AMOUNT = 5000;
export const ISSUED_CURRENCY = 'eur';

const attemptArb = fc.oneof({ arbitrary: fc.constant(1), weight: 3 }, fc.constantFrom(2, 3));
const processorRefundIdArb = fc.constantFrom('re_1', 're_2', 're_3');
const occurredAtArb = fc.constantFrom('2025-03-01T10:00:00.000Z', '2025-03-02T11:30:00.000Z', '2025-03-05T08:15:00.000Z');
const classificationArb = fc.record({
  retry: fc.constantFrom('may_help', 'after_action', 'will_not_help'),
  recovery: fc.constantFrom('retry', 'top_up_balance', 'resolve_dispute', 'manual_refund', 'none'),
});

export const creditNoteIssuedArb = fc.record({
  type: fc.constant('CreditNoteIssued' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    creditNoteId: fc.constant(CREDIT_NOTE_ID),
    amount: fc.constant(ISSUED_AMOUNT),
    currency: fc.constant(ISSUED_CURRENCY),
    // Without a processor payment only a manual refund fits.
    payment: fc.oneof(
      { arbitrary: fc.constant({ processor: 'stripe', paymentId: 'pi_1', account: 'acct_1' }), weight: 7 },
      fc.constant(null),
    ),
    reason: fc.constantFrom('order cancelled', 'duplicate charge'),
    // A refund made in the processor's dashboard is followed as a credit note of processor origin.
    origin: fc.oneof({ arbitrary: fc.constant('host' as const), weight: 4 }, fc.constant('processor' as const)),
  }),
});

const refundAdoptedArb = fc.record({
  type: fc.constant('RefundAdopted' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    attempt: fc.constant(1 as const),
    processorRefundId: processorRefundIdArb,
    amount: fc.oneof({ arbitrary: fc.constant(ISSUED_AMOUNT), weight: 4 }, fc.constant(1)),
    currency: fc.oneof({ arbitrary: fc.constant(ISSUED_CURRENCY), weight: 4 }, fc.constant('usd')),
    processorStatus: fc.constantFrom('pending', 'action_required', 'succeeded', 'failed', 'canceled'),
  }),
});

const refundRequestedArb = fc
  .record({
    attempt: attemptArb,
    keyAttemptOffset: fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, fc.constant(1)),
    amount: fc.oneof({ arbitrary: fc.constant(ISSUED_AMOUNT), weight: 6 }, fc.constant(ISSUED_AMOUNT - 1)),
    currency: fc.oneof({ arbitrary: fc.constant(ISSUED_CURRENCY), weight: 6 }, fc.constant('usd')),
    occurredAt: occurredAtArb,
  })
  .map(
    ({ attempt, keyAttemptOffset, amount, currency, occurredAt }): CreditNoteEvent => ({
      type: 'RefundRequested',
      occurredAt,
      data: {
        attempt,
        // Usually the deterministic key; sometimes one that names another attempt.
        idempotencyKey: `${CREDIT_NOTE_ID}:refund:${attempt + keyAttemptOffset}`,
        amount,
        currency,
      },
    }),
  );

const chargeNotConfirmedArb = fc.record({
  type: fc.constant('RefundDeferred' as const),
  occurredAt: occurredAtArb,
  data: fc.constant({ reason: 'charge_not_confirmed' as const }),
});

const transientErrorArb = fc.record({
  type: fc.constant('RefundDeferred' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    reason: fc.constant('transient_error' as const),
    attempt: attemptArb,
    error: fc.record({ code: fc.constantFrom('rate_limit', 'api_error', 'timeout'), message: fc.constant('try later') }),
    consecutiveFailures: fc.oneof({ arbitrary: fc.constant(1), weight: 3 }, fc.constantFrom(2, 3)),
    // null once the automatic retries are used up.
    retryAt: fc.oneof({ arbitrary: fc.constant('2025-03-01T10:00:02.000Z'), weight: 3 }, fc.constant(null)),
  }),
});

// Transient errors come in runs: the second and third on one attempt must be reached too.
const refundDeferredArb = fc.oneof(
  { arbitrary: chargeNotConfirmedArb, weight: 1 },
  { arbitrary: transientErrorArb, weight: 2 },
);

const pendingReasonArb = fc.constantFrom(null, 'charge_pending' as const, 'insufficient_funds' as const, 'processing' as const);

const refundAcceptedArb = fc.record({
  type: fc.constant('RefundAccepted' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    attempt: attemptArb,
    processorRefundId: processorRefundIdArb,
    processorStatus: fc.constantFrom('pending', 'action_required', 'succeeded', 'failed', 'canceled'),
    pendingReason: pendingReasonArb,
  }),
});

const refundProgressedArb = fc.record({
  type: fc.constant('RefundProgressed' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    attempt: attemptArb,
    processorRefundId: processorRefundIdArb,
    processorStatus: fc.constantFrom('pending' as const, 'action_required' as const),
    pendingReason: pendingReasonArb,
  }),
});

const refundSucceededArb = fc.record({
  type: fc.constant('RefundSucceeded' as const),
  occurredAt: occurredAtArb,
  data: fc.record({ attempt: attemptArb, processorRefundId: processorRefundIdArb }),
});



const retryRequestedArb = fc.record({
  type: fc.constant('RetryRequested' as const),
  occurredAt: occurredAtArb,
  data: fc.constant({}),
});

const markedRefundedManuallyArb = fc.record({
  type: fc.constant('MarkedRefundedManually' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    reason: fc.constantFrom('SEPA transfer', 'cash at the desk'),
    reference: fc.oneof(fc.constant('BANK-REF-1'), fc.constant(null)),
    method: fc.constantFrom('bank_transfer', 'cash', 'paypal', 'cheque', 'card_terminal', 'other'),
  }),
});

const refundFailedArb = (namedFailureOdds: number) =>
  fc.record({
    type: fc.constant('RefundFailed' as const),
    occurredAt: occurredAtArb,
    data: fc.record({
      attempt: attemptArb,
      processorRefundId: fc.oneof({ arbitrary: processorRefundIdArb, weight: namedFailureOdds }, fc.constant(null)),
      processorReason: fc.constantFrom('insufficient_funds', 'declined', 'unknown'),
      classification: classificationArb,
      message: fc.constant('refund failed'),
    }),
  });

// Weighted towards events that keep a refund in flight; settling ones are rarer so runs go deep before they end.
export const creditNoteEventArb = (
  /** `namedFailureOdds`: a failure naming a refund against one naming none (a reversal must refuse that). */
  options: { namedFailureOdds?: number } = {},
): fc.Arbitrary<CreditNoteEvent> =>
  fc.oneof(
    { arbitrary: creditNoteIssuedArb, weight: 1 },
    { arbitrary: refundRequestedArb, weight: 8 },
    { arbitrary: refundDeferredArb, weight: 12 },
    { arbitrary: refundAcceptedArb, weight: 6 },
    { arbitrary: refundAdoptedArb, weight: 2 },
    { arbitrary: refundProgressedArb, weight: 3 },
    { arbitrary: refundSucceededArb, weight: 3 },
    { arbitrary: refundFailedArb(options.namedFailureOdds ?? 1), weight: 4 },
    { arbitrary: retryRequestedArb, weight: 4 },
    { arbitrary: markedRefundedManuallyArb, weight: 1 },
  );
