import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import { isRefundInFlight, latestAttempt, type CreditNoteContext, type RefundAttempt } from './creditNoteState.js';
import { refundIdempotencyKey } from './idempotencyKeys.js';

/**
 * The guards and context updates of the credit-note machine, as plain
 * functions. The XState machine names them in its table; the fast fold runs
 * the same functions through the same table, so the two cannot drift apart.
 */

/** The attempt a new request must carry: the in-doubt one again, or the next. */
export const expectedAttempt = (context: CreditNoteContext): number =>
  context.refund?.status === 'in_doubt' ? context.refund.attempt : latestAttempt(context) + 1;

const isUnsettledAttempt = (refund: RefundAttempt | null, attempt: number): refund is RefundAttempt =>
  isRefundInFlight(refund) && refund.attempt === attempt;

const isAwaitingAcceptance = (refund: RefundAttempt | null, attempt: number): refund is RefundAttempt =>
  isUnsettledAttempt(refund, attempt) && refund.status !== 'accepted';

export const guards = {
  isNextAttempt: (context: CreditNoteContext, event: CreditNoteEvent): boolean => {
    if (event.type !== 'RefundRequested' || context.payment === null) return false;
    const { attempt, idempotencyKey, amount, currency } = event.data;
    return (
      attempt === expectedAttempt(context) &&
      idempotencyKey === refundIdempotencyKey(context.creditNoteId, attempt) &&
      amount === context.amount &&
      currency === context.currency
    );
  },
  awaitsChargeConfirmation: (context: CreditNoteContext, event: CreditNoteEvent): boolean =>
    event.type === 'RefundDeferred' &&
    event.data.reason === 'charge_not_confirmed' &&
    context.payment !== null &&
    context.refund === null,
  isTransientErrorOfCurrentAttempt: (context: CreditNoteContext, event: CreditNoteEvent): boolean =>
    event.type === 'RefundDeferred' &&
    event.data.reason === 'transient_error' &&
    isAwaitingAcceptance(context.refund, event.data.attempt) &&
    event.data.consecutiveFailures === context.refund.consecutiveFailures + 1,
  isAutoRetriedTransientError: (context: CreditNoteContext, event: CreditNoteEvent): boolean =>
    guards.isTransientErrorOfCurrentAttempt(context, event) &&
    event.type === 'RefundDeferred' &&
    event.data.reason === 'transient_error' &&
    event.data.retryAt !== null,
  /** Only a processor-origin credit note adopts a refund, and only the one it was issued for, before any attempt. */
  isAdoptionOfProcessorRefund: (context: CreditNoteContext, event: CreditNoteEvent): boolean =>
    event.type === 'RefundAdopted' &&
    context.origin === 'processor' &&
    context.refund === null &&
    context.payment !== null &&
    event.data.amount === context.amount &&
    event.data.currency === context.currency,
  /**
   * Only the library's own refunds are retried: a refund made in the
   * processor's dashboard that failed or was canceled there is the merchant's
   * to redo, and a retry would create the very refund they canceled.
   */
  isHostOrigin: (context: CreditNoteContext): boolean => context.origin === 'host',
  isAcceptanceOfCurrentAttempt: (context: CreditNoteContext, event: CreditNoteEvent): boolean =>
    event.type === 'RefundAccepted' && isAwaitingAcceptance(context.refund, event.data.attempt),
  /** The processor's own word on an accepted refund changed (e.g. it needs action): the banner follows it. */
  isProgressOfAcceptedAttempt: (context: CreditNoteContext, event: CreditNoteEvent): boolean =>
    event.type === 'RefundProgressed' &&
    context.refund?.status === 'accepted' &&
    context.refund.attempt === event.data.attempt &&
    context.refund.processorRefundId === event.data.processorRefundId &&
    (context.refund.processorStatus !== event.data.processorStatus ||
      context.refund.processorPendingReason !== event.data.pendingReason),
  /**
   * A manual refund while the processor may hold or be paying an attempt would
   * refund the client twice: refresh or retry first, so the attempt settles.
   */
  hasNoRefundInFlight: (context: CreditNoteContext): boolean =>
    context.refund === null || context.refund.status === 'failed',
  /**
   * Stripe can fail a refund it had reported succeeded (the card account was
   * closed meanwhile: `charge.refund.updated` with `previous_attributes.status:
   * "succeeded"`). Only the very refund that succeeded can be reversed.
   */
  isReversalOfSucceededRefund: (context: CreditNoteContext, event: CreditNoteEvent): boolean =>
    event.type === 'RefundFailed' &&
    context.refund?.status === 'succeeded' &&
    context.refund.attempt === event.data.attempt &&
    context.refund.processorRefundId === event.data.processorRefundId,
  isOutcomeOfCurrentAttempt: (context: CreditNoteContext, event: CreditNoteEvent): boolean => {
    if (event.type !== 'RefundSucceeded' && event.type !== 'RefundFailed') return false;
    const { attempt, processorRefundId } = event.data;
    if (!isUnsettledAttempt(context.refund, attempt)) return false;
    const known = context.refund.processorRefundId;
    return known === null || processorRefundId === null || known === processorRefundId;
  },
} as const;

export type GuardName = keyof typeof guards;

export const updates = {
  recordIssue: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext =>
    event.type !== 'CreditNoteIssued'
      ? context
      : {
          ...context,
          creditNoteId: event.data.creditNoteId,
          amount: event.data.amount,
          currency: event.data.currency,
          payment: event.data.payment,
          reason: event.data.reason,
          origin: event.data.origin,
          issuedAt: event.occurredAt,
        },
  recordRequest: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext => {
    if (event.type !== 'RefundRequested') return context;
    const sameAttempt = context.refund?.attempt === event.data.attempt ? context.refund : null;
    return {
      ...context,
      refund: {
        attempt: event.data.attempt,
        idempotencyKey: event.data.idempotencyKey,
        amount: event.data.amount,
        currency: event.data.currency,
        processorRefundId: sameAttempt?.processorRefundId ?? null,
        processorStatus: sameAttempt?.processorStatus ?? null,
        processorPendingReason: sameAttempt?.processorPendingReason ?? null,
        status: 'requested',
        // A person's retry restarts the automatic backoff of an in-doubt attempt.
        consecutiveFailures: 0,
      },
      pendingReason: null,
      transientError: null,
      failure: null,
    };
  },
  recordAdoption: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext =>
    event.type !== 'RefundAdopted'
      ? context
      : {
          ...context,
          refund: {
            attempt: event.data.attempt,
            idempotencyKey: null,
            amount: event.data.amount,
            currency: event.data.currency,
            processorRefundId: event.data.processorRefundId,
            processorStatus: event.data.processorStatus,
            processorPendingReason: null,
            status: 'accepted',
            consecutiveFailures: 0,
          },
        },
  recordAcceptance: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext =>
    event.type !== 'RefundAccepted' || context.refund === null
      ? context
      : {
          ...context,
          refund: {
            ...context.refund,
            processorRefundId: event.data.processorRefundId,
            processorStatus: event.data.processorStatus,
            processorPendingReason: event.data.pendingReason,
            status: 'accepted',
          },
          pendingReason: null,
          transientError: null,
        },
  recordProgress: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext =>
    event.type !== 'RefundProgressed' || context.refund === null
      ? context
      : {
          ...context,
          refund: {
            ...context.refund,
            processorStatus: event.data.processorStatus,
            processorPendingReason: event.data.pendingReason,
          },
        },
  recordSuccess: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext =>
    event.type !== 'RefundSucceeded' || context.refund === null
      ? context
      : {
          ...context,
          refund: {
            ...context.refund,
            processorRefundId: event.data.processorRefundId,
            processorStatus: 'succeeded',
            processorPendingReason: null,
            status: 'succeeded',
          },
          pendingReason: null,
          transientError: null,
          settledAt: event.occurredAt,
        },
  recordFailure: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext =>
    event.type !== 'RefundFailed' || context.refund === null
      ? context
      : {
          ...context,
          refund: {
            ...context.refund,
            processorRefundId: event.data.processorRefundId ?? context.refund.processorRefundId,
            processorStatus: 'failed',
            processorPendingReason: null,
            status: 'failed',
          },
          pendingReason: null,
          transientError: null,
          // A refund the processor reverses after its success is no longer settled.
          settledAt: null,
          failure: {
            processorReason: event.data.processorReason,
            classification: event.data.classification,
            message: event.data.message,
          },
        },
  recordDeferral: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext => {
    if (event.type !== 'RefundDeferred') return context;
    const data = event.data;
    if (data.reason === 'charge_not_confirmed') return { ...context, pendingReason: 'charge_not_confirmed' };
    if (context.refund === null) return context;
    return {
      ...context,
      refund: { ...context.refund, status: 'in_doubt', consecutiveFailures: data.consecutiveFailures },
      pendingReason: 'transient_error',
      transientError: { code: data.error.code, message: data.error.message, retryAt: data.retryAt },
    };
  },
  recordRetry: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext =>
    event.type !== 'RetryRequested'
      ? context
      : { ...context, pendingReason: 'retry_requested', failure: null, transientError: null },
  recordManualRefund: (context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext =>
    event.type !== 'MarkedRefundedManually'
      ? context
      : {
          ...context,
          pendingReason: null,
          transientError: null,
          manual: { reason: event.data.reason, reference: event.data.reference, method: event.data.method },
          settledAt: event.occurredAt,
        },
} as const;

export type UpdateName = keyof typeof updates;
