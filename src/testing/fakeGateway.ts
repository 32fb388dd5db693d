import { err, ok, type Result } from 'neverthrow';
import { GatewayError } from '../errors.js';
import type { FailureClassification, PaymentRef, ProcessorRefundStatus } from '../events/primitives.js';
import type { CreateRefundRequest, ProcessorRefund, RefundGateway } from '../ports/refundGateway.js';

/** What the fake does with one create call. */
export type FakeCreateBehaviour =
  /** Creates the refund with this status (default `pending`, settled later with `setRefundStatus`). */
  | { kind: 'accept'; status?: ProcessorRefundStatus }
  /** Creates the refund, which fails at once with this reason (e.g. `insufficient_funds`). */
  | { kind: 'fail'; reason: string }
  /** Refuses the request outright (e.g. `charge_disputed`): a definitive error, nothing created. */
  | { kind: 'reject'; code: string; message?: string }
  /** Rate limit, outage or network error before the processor saw the request: nothing created. */
  | { kind: 'transient'; code?: string }
  /** Creates the refund, then the caller times out: the classic in-doubt case. */
  | { kind: 'acceptThenTimeout'; status?: ProcessorRefundStatus };

/** A status change the fake would push as a webhook. */
export type FakeRefundNotice = { noticeId: string; type: 'refund.created' | 'refund.updated'; refund: ProcessorRefund };

export type NoticeDelivery = {
  /** How many times each notice is delivered (default 1). */
  copies?: number;
  /** Default `as_sent`; a function can shuffle (e.g. with a seeded random or fast-check). */
  order?: 'as_sent' | 'reversed' | ((notices: FakeRefundNotice[]) => FakeRefundNotice[]);
};

export type FakeGatewayOptions = {
  processor?: string;
  /** Called before every request takes effect: make the fake slow, or hand control to a scheduler. */
  latency?: () => Promise<void>;
  /**
   * Called after a create call took effect and before it answers: the refund
   * exists (its notice is queued) while the caller still waits, so a webhook
   * can overtake the answer, as it does when a request times out slowly.
   */
  answerLatency?: () => Promise<void>;
  /**
   * Default true. False makes it Adyen-shaped: it cannot be asked about a refund (`retrieveRefund` and
   * `findRefunds` refuse, `capabilities.pullsRefundStatus` is false), so outcomes arrive only as notices.
   */
  pullsRefundStatus?: boolean;
  /** Chooses the behaviour of a create call that no queued behaviour covers. Default: accept, pending. */
  behaviour?: (request: CreateRefundRequest) => FakeCreateBehaviour;
};

/** The fake's stand-in for a processor's failure reasons, with the classification a host would show. */
export const fakeFailureClassification = (reason: string): FailureClassification => {
  switch (reason) {
    case 'insufficient_funds':
      return { retry: 'after_action', recovery: 'top_up_balance' };
    case 'charge_for_pending_refund_disputed':
    case 'charge_disputed':
      return { retry: 'will_not_help', recovery: 'resolve_dispute' };
    case 'lost_or_stolen_card':
    case 'expired_or_canceled_card':
    case 'declined':
      return { retry: 'will_not_help', recovery: 'manual_refund' };
    case 'merchant_request':
      return { retry: 'will_not_help', recovery: 'none' };
    default:
      return { retry: 'may_help', recovery: 'retry' };
  }
};

/**
 * A processor in memory for host test suites: idempotency keys honoured as
 * Stripe does (same key and parameters → the same refund; other parameters →
 * an error), scripted failures, delays, later status changes, and the
 * notices a webhook would carry, to deliver duplicated or reordered.
 */
export const fakeGateway = (options: FakeGatewayOptions = {}) => {
  const processor = options.processor ?? 'fake';
  const refunds = new Map<string, ProcessorRefund>();
  const byKey = new Map<string, { fingerprint: string; refundId: string }>();
  const queued: FakeCreateBehaviour[] = [];
  const notices: FakeRefundNotice[] = [];
  const captured = new Map<string, { amount: number; currency: string; method: string; refundableUntil: string | null }>();
  const confirmations = new Map<string, boolean>();
  let createCalls = 0;
  let noticeSequence = 0;

  const wait = async () => {
    if (options.latency) await options.latency();
  };
  const copy = (refund: ProcessorRefund): ProcessorRefund => structuredClone(refund);
  const notice = (type: FakeRefundNotice['type'], refund: ProcessorRefund) => {
    noticeSequence += 1;
    notices.push({ noticeId: `evt_fake_${noticeSequence}`, type, refund: copy(refund) });
  };
  // By payment, so a host suite's cost per call does not grow with every refund it made before.
  const refundIdsByPayment = new Map<string, string[]>();
  const refundsOf = (paymentId: string): ProcessorRefund[] =>
    (refundIdsByPayment.get(paymentId) ?? []).map((id) => refunds.get(id)!);
  const refundedSoFar = (paymentId: string) =>
    refundsOf(paymentId)
      .filter((refund) => refund.paymentId === paymentId && refund.status !== 'failed' && refund.status !== 'canceled')
      .reduce((sum, refund) => sum + refund.amount, 0);

  const createRefund = async (request: CreateRefundRequest): Promise<Result<ProcessorRefund, GatewayError>> => {
    await wait();
    createCalls += 1;
    const fingerprint = JSON.stringify([request.payment, request.amount, request.currency, request.metadata]);
    const seen = byKey.get(request.idempotencyKey);
    if (seen) {
      if (seen.fingerprint !== fingerprint) {
        return err(
          new GatewayError('definitive', 'idempotency_error', 'Keys for idempotent requests can only be used with the same parameters'),
        );
      }
      return ok(copy(refunds.get(seen.refundId)!));
    }
    const behaviour = queued.shift() ?? options.behaviour?.(request) ?? { kind: 'accept' };
    if (behaviour.kind === 'transient') {
      return err(new GatewayError('transient', behaviour.code ?? 'rate_limit', 'The processor is unavailable, try again'));
    }
    if (behaviour.kind === 'reject') {
      return err(
        new GatewayError('definitive', behaviour.code, behaviour.message ?? `Refund refused: ${behaviour.code}`, {
          classification: fakeFailureClassification(behaviour.code),
        }),
      );
    }
    const charge = captured.get(request.payment.paymentId);
    if (charge && refundedSoFar(request.payment.paymentId) + request.amount > charge.amount) {
      return err(
        new GatewayError('definitive', 'amount_too_large', 'Refund amount exceeds the charge', {
          classification: { retry: 'will_not_help', recovery: 'manual_refund' },
        }),
      );
    }
    const failureReason = behaviour.kind === 'fail' ? behaviour.reason : null;
    const status: ProcessorRefundStatus =
      behaviour.kind === 'fail' ? 'failed' : (behaviour.status ?? 'pending');
    const refund: ProcessorRefund = {
      processorRefundId: `re_fake_${refunds.size + 1}`,
      paymentId: request.payment.paymentId,
      amount: request.amount,
      currency: request.currency,
      status,
      failure:
        failureReason === null
          ? null
          : {
              reason: failureReason,
              classification: fakeFailureClassification(failureReason),
              message: `The refund failed: ${failureReason}`,
            },
      metadata: { creditNoteId: request.metadata.creditNoteId, attempt: request.metadata.attempt },
    };
    refunds.set(refund.processorRefundId, refund);
    refundIdsByPayment.set(refund.paymentId, [...(refundIdsByPayment.get(refund.paymentId) ?? []), refund.processorRefundId]);
    byKey.set(request.idempotencyKey, { fingerprint, refundId: refund.processorRefundId });
    notice('refund.created', refund);
    if (options.answerLatency) await options.answerLatency();
    if (behaviour.kind === 'acceptThenTimeout') {
      return err(new GatewayError('transient', 'timeout', 'The request timed out; the processor may have it'));
    }
    return ok(copy(refund));
  };

  const pulls = options.pullsRefundStatus ?? true;
  const cannotBeAsked = () =>
    err(new GatewayError('definitive', 'not_supported', `${processor} cannot be asked about a refund: its outcome comes by notification`));
  const gateway: RefundGateway = {
    processor,
    capabilities: pulls
      ? { pullsRefundStatus: true }
      : { pullsRefundStatus: false, refreshAdvice: 'its outcome arrives by notification (takeNotices): deliver them' },
    createRefund,
    async retrieveRefund({ processorRefundId }) {
      await wait();
      if (!pulls) return cannotBeAsked();
      const refund = refunds.get(processorRefundId);
      return refund
        ? ok(copy(refund))
        : err(new GatewayError('definitive', 'resource_missing', `No such refund: ${processorRefundId}`));
    },
    async findRefunds(payment: PaymentRef) {
      await wait();
      if (!pulls) return cannotBeAsked();
      return ok(refundsOf(payment.paymentId).map(copy));
    },
    async describePayment(payment: PaymentRef) {
      await wait();
      const charge = captured.get(payment.paymentId);
      // A payment the fake was not told about: it cannot say what was charged, so no balance is guarded.
      return ok({
        paymentId: payment.paymentId,
        amount: charge?.amount ?? null,
        currency: charge?.currency ?? null,
        method: charge?.method ?? null,
        refundableUntil: charge?.refundableUntil ?? null,
        chargeConfirmed: confirmations.get(payment.paymentId) ?? null,
      });
    },
  };

  return {
    ...gateway,
    /** Behaviours for the next create calls that reach the fake with a new key, in order. */
    queue(...behaviours: FakeCreateBehaviour[]) {
      queued.push(...behaviours);
    },
    /**
     * Registers a captured charge: refunds beyond its amount are refused, as a
     * processor would, and `describePayment` reports it (currency default `eur`,
     * method `card`, refundable without limit).
     */
    capture(
      paymentId: string,
      amount: number,
      details: { currency?: string; method?: string; refundableUntil?: string | null } = {},
    ) {
      captured.set(paymentId, {
        amount,
        currency: details.currency ?? 'eur',
        method: details.method ?? 'card',
        refundableUntil: details.refundableUntil ?? null,
      });
    },
    /**
     * What `describePayment` says of the payment's charge from now on: confirmed (the processor's `succeeded`) or
     * not yet. Untold, the fake cannot say (null), and only a webhook or the host opens the charge-confirmation gate.
     */
    setChargeConfirmed(paymentId: string, confirmed: boolean) {
      confirmations.set(paymentId, confirmed);
    },
    /** The processor settles a refund later; the change is queued as a notice. */
    setRefundStatus(processorRefundId: string, status: ProcessorRefundStatus, failureReason?: string) {
      const refund = refunds.get(processorRefundId);
      if (!refund) throw new Error(`No such refund: ${processorRefundId}`);
      refund.status = status;
      refund.failure = failureReason
        ? { reason: failureReason, classification: fakeFailureClassification(failureReason), message: `The refund failed: ${failureReason}` }
        : null;
      notice('refund.updated', refund);
      return copy(refund);
    },
    /**
     * Takes the queued notices, as a processor's webhooks would arrive: each
     * `copies` times (at-least-once delivery) and in `order` (no guaranteed
     * order). Dropping some is up to the caller.
     */
    takeNotices(delivery: NoticeDelivery = {}): FakeRefundNotice[] {
      const taken = notices.splice(0, notices.length);
      const copies = Array.from({ length: delivery.copies ?? 1 }, () => taken.map((notice) => structuredClone(notice))).flat();
      const order = delivery.order ?? 'as_sent';
      if (order === 'as_sent') return copies;
      if (order === 'reversed') return copies.reverse();
      return order(copies);
    },
    /** Every refund the fake created: the real side effect to count. */
    refunds(): ProcessorRefund[] {
      return [...refunds.values()].map(copy);
    },
    /** Create calls received, repeats under the same key included. */
    get createCalls() {
      return createCalls;
    },
  };
};

export type FakeGateway = ReturnType<typeof fakeGateway>;
