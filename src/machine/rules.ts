import type { CreditNoteEvent, CreditNoteEventType } from '../events/creditNoteEvents.js';
import { isRefundInFlight, latestAttempt, type CreditNoteContext, type RefundAttempt } from './creditNoteState.js';
import { refundIdempotencyKey } from './idempotencyKeys.js';

/**
 * The guards and context updates of the credit-note machine, as plain
 * functions. The XState machine names them in its table; the fast fold runs
 * the same functions through the same table, so the two cannot drift apart.
 * Each is typed to the events it handles and declares them; `runGuard` and
 * `runUpdate`, their only callers, throw on any other, so a mis-routed event is loud.
 */

export type EventOf<T extends CreditNoteEventType> = Extract<CreditNoteEvent, { type: T }>;
type Rule<R> = { events: readonly CreditNoteEventType[]; run: (context: CreditNoteContext, event: never) => R };
const on = <T extends CreditNoteEventType, R>(events: T | T[], run: (context: CreditNoteContext, e: EventOf<T>) => R) =>
  ({ events: typeof events === 'string' ? [events] : events, run }) as const;

/** The attempt a new request must carry: the in-doubt one again, or the next (docs/glossary.md#in-doubt). */
export const expectedAttempt = (context: CreditNoteContext): number =>
  context.refund?.status === 'in_doubt' ? context.refund.attempt : latestAttempt(context) + 1;

const isUnsettledAttempt = (refund: RefundAttempt | null, attempt: number): refund is RefundAttempt =>
  isRefundInFlight(refund) && refund.attempt === attempt;

const isAwaitingAcceptance = (refund: RefundAttempt | null, attempt: number): refund is RefundAttempt =>
  isUnsettledAttempt(refund, attempt) && refund.status !== 'accepted';

const isCurrentTransientError = (context: CreditNoteContext, data: EventOf<'RefundDeferred'>['data']): boolean =>
  data.reason === 'transient_error' &&
  isAwaitingAcceptance(context.refund, data.attempt) &&
  data.consecutiveFailures === context.refund.consecutiveFailures + 1;

/**
 * A context with some fields changed, as a new object. Spelled out rather
 * than spread-and-overridden: V8 builds a literal of known shape in one step
 * but copies a spread that is then overridden through a slow path, and the
 * fold runs this once or twice per event of every replay.
 */
const contextWith = (context: CreditNoteContext, change: Partial<CreditNoteContext>): CreditNoteContext => ({
  creditNoteId: context.creditNoteId,
  amount: context.amount,
  currency: context.currency,
  payment: context.payment,
  reason: context.reason,
  origin: context.origin,
  issuedAt: context.issuedAt,
  refund: change.refund === undefined ? context.refund : change.refund,
  pendingReason: change.pendingReason === undefined ? context.pendingReason : change.pendingReason,
  transientError: change.transientError === undefined ? context.transientError : change.transientError,
  failure: change.failure === undefined ? context.failure : change.failure,
  manual: change.manual === undefined ? context.manual : change.manual,
  settledAt: change.settledAt === undefined ? context.settledAt : change.settledAt,
});

/** The same for a refund attempt. */
const refundWith = (refund: RefundAttempt, change: Partial<RefundAttempt>): RefundAttempt => ({
  attempt: refund.attempt,
  idempotencyKey: refund.idempotencyKey,
  amount: refund.amount,
  currency: refund.currency,
  processorRefundId: change.processorRefundId === undefined ? refund.processorRefundId : change.processorRefundId,
  processorStatus: change.processorStatus === undefined ? refund.processorStatus : change.processorStatus,
  processorPendingReason:
    change.processorPendingReason === undefined ? refund.processorPendingReason : change.processorPendingReason,
  status: change.status ?? refund.status,
  consecutiveFailures: change.consecutiveFailures ?? refund.consecutiveFailures,
});

export const guards = {
  isNextAttempt: on('RefundRequested', (context, { data }) => {
    const { attempt, idempotencyKey, amount, currency } = data;
    return (
      context.payment !== null &&
      attempt === expectedAttempt(context) &&
      idempotencyKey === refundIdempotencyKey(context.creditNoteId, attempt) &&
      amount === context.amount &&
      currency === context.currency
    );
  }),
  /** docs/glossary.md#charge-confirmation-gate */
  awaitsChargeConfirmation: on('RefundDeferred', (context, { data }) =>
    data.reason === 'charge_not_confirmed' && context.payment !== null && context.refund === null),
  isTransientErrorOfCurrentAttempt: on('RefundDeferred', (context, { data }) => isCurrentTransientError(context, data)),
  isAutoRetriedTransientError: on('RefundDeferred', (context, { data }) =>
    isCurrentTransientError(context, data) && data.reason === 'transient_error' && data.retryAt !== null),
  /** Only a processor-origin credit note (docs/glossary.md#processor-origin) adopts its own refund, before any attempt. */
  isAdoptionOfProcessorRefund: on('RefundAdopted', (context, { data }) =>
    context.origin === 'processor' &&
    context.refund === null &&
    context.payment !== null &&
    data.amount === context.amount &&
    data.currency === context.currency),
  /**
   * Only the library's own refunds are retried: a refund made in the
   * processor's dashboard that failed or was canceled there is the merchant's
   * to redo, and a retry would create the very refund they canceled.
   */
  isHostOrigin: on('RetryRequested', (context) => context.origin === 'host'),
  isAcceptanceOfCurrentAttempt: on('RefundAccepted', (context, { data }) =>
    isAwaitingAcceptance(context.refund, data.attempt)),
  /** The processor's own word on an accepted refund changed (e.g. it needs action): the banner follows it. */
  isProgressOfAcceptedAttempt: on('RefundProgressed', (context, { data }) =>
    context.refund?.status === 'accepted' &&
    context.refund.attempt === data.attempt &&
    context.refund.processorRefundId === data.processorRefundId &&
    (context.refund.processorStatus !== data.processorStatus ||
      context.refund.processorPendingReason !== data.pendingReason)),
  /**
   * A manual refund while the processor may hold or be paying an attempt would
   * refund the client twice: refresh or retry first, so the attempt settles.
   */
  hasNoRefundInFlight: on('MarkedRefundedManually', ({ refund }) => refund === null || refund.status === 'failed'),
  /**
   * A reversal (docs/glossary.md#reversal): Stripe fails a refund it had reported
   * succeeded (`charge.refund.updated` with `previous_attributes.status:
   * "succeeded"`). Only the very refund that succeeded can be reversed.
   */
  isReversalOfSucceededRefund: on('RefundFailed', (context, { data }) =>
    context.refund?.status === 'succeeded' &&
    context.refund.attempt === data.attempt &&
    context.refund.processorRefundId === data.processorRefundId),
  isOutcomeOfCurrentAttempt: on(['RefundSucceeded', 'RefundFailed'], (context, { data }) => {
    if (!isUnsettledAttempt(context.refund, data.attempt)) return false;
    const known = context.refund.processorRefundId;
    return known === null || data.processorRefundId === null || known === data.processorRefundId;
  }),
} satisfies Record<string, Rule<boolean>>;

export type GuardName = keyof typeof guards;

export const updates = {
  recordIssue: on('CreditNoteIssued', (context, { data, occurredAt }) => ({
    ...context,
    creditNoteId: data.creditNoteId,
    amount: data.amount,
    currency: data.currency,
    payment: data.payment,
    reason: data.reason,
    origin: data.origin,
    issuedAt: occurredAt,
  })),
  recordRequest: on('RefundRequested', (context, { data }) => {
    const sameAttempt = context.refund?.attempt === data.attempt ? context.refund : null;
    return contextWith(context, {
      refund: {
        attempt: data.attempt,
        idempotencyKey: data.idempotencyKey,
        amount: data.amount,
        currency: data.currency,
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
    });
  }),
  recordAdoption: on('RefundAdopted', (context, { data }) =>
    contextWith(context, {
      refund: {
        attempt: data.attempt,
        idempotencyKey: null,
        amount: data.amount,
        currency: data.currency,
        processorRefundId: data.processorRefundId,
        processorStatus: data.processorStatus,
        processorPendingReason: null,
        status: 'accepted',
        consecutiveFailures: 0,
      },
    })),
  recordAcceptance: on('RefundAccepted', (context, { data }) =>
    context.refund === null
      ? context
      : contextWith(context, {
          refund: refundWith(context.refund, {
            processorRefundId: data.processorRefundId,
            processorStatus: data.processorStatus,
            processorPendingReason: data.pendingReason,
            status: 'accepted',
          }),
          pendingReason: null,
          transientError: null,
        })),
  recordProgress: on('RefundProgressed', (context, { data }) =>
    context.refund === null
      ? context
      : contextWith(context, {
          refund: refundWith(context.refund, { processorStatus: data.processorStatus, processorPendingReason: data.pendingReason }),
        })),
  recordSuccess: on('RefundSucceeded', (context, { data, occurredAt }) =>
    context.refund === null
      ? context
      : contextWith(context, {
          refund: refundWith(context.refund, {
            processorRefundId: data.processorRefundId,
            processorStatus: 'succeeded',
            processorPendingReason: null,
            status: 'succeeded',
          }),
          pendingReason: null,
          transientError: null,
          settledAt: occurredAt,
        })),
  recordFailure: on('RefundFailed', (context, { data }) =>
    context.refund === null
      ? context
      : contextWith(context, {
          refund: refundWith(context.refund, {
            processorRefundId: data.processorRefundId ?? context.refund.processorRefundId,
            processorStatus: 'failed',
            processorPendingReason: null,
            status: 'failed',
          }),
          pendingReason: null,
          transientError: null,
          // A refund the processor reverses after its success is no longer settled.
          settledAt: null,
          failure: { processorReason: data.processorReason, classification: data.classification, message: data.message },
        })),
  recordDeferral: on('RefundDeferred', (context, { data }) => {
    if (data.reason === 'charge_not_confirmed') return contextWith(context, { pendingReason: 'charge_not_confirmed' });
    if (context.refund === null) return context;
    return contextWith(context, {
      refund: refundWith(context.refund, { status: 'in_doubt', consecutiveFailures: data.consecutiveFailures }),
      pendingReason: 'transient_error',
      transientError: { code: data.error.code, message: data.error.message, retryAt: data.retryAt },
    });
  }),
  recordRetry: on('RetryRequested', (context) =>
    contextWith(context, { pendingReason: 'retry_requested', failure: null, transientError: null })),
  recordManualRefund: on('MarkedRefundedManually', (context, { data, occurredAt }) =>
    contextWith(context, {
      pendingReason: null,
      transientError: null,
      manual: { reason: data.reason, reference: data.reference, method: data.method },
      settledAt: occurredAt,
    })),
} satisfies Record<string, Rule<CreditNoteContext>>;

export type UpdateName = keyof typeof updates;

const checked = <R>(kind: string, name: string, rule: Rule<R>, context: CreditNoteContext, event: CreditNoteEvent) => {
  if (rule.events.includes(event.type)) return rule.run(context, event as never);
  throw new Error(`${kind} ${name} got ${event.type}, handles ${rule.events.join(' | ')}`);
};
/** Runs a guard on an event it declares, and throws on any other: the one gate for the fold and for XState. */
export const runGuard = (name: GuardName, context: CreditNoteContext, event: CreditNoteEvent): boolean =>
  checked<boolean>('guard', name, guards[name], context, event);
export const runUpdate = (name: UpdateName, context: CreditNoteContext, event: CreditNoteEvent): CreditNoteContext =>
  checked<CreditNoteContext>('update', name, updates[name], context, event);
