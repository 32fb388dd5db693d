import { invalidRequest, resourceMissing, type ApiAnswer } from './stripeErrors.js';
import {
  fakeStripeApiVersion,
  type PaymentIntentStatus,
  type PaymentMethodType,
  type RefundReason,
  type RefundStatus,
  type StripeChargeJson,
  type StripeEventJson,
  type StripeEventType,
  type StripeList,
  type StripePaymentIntentJson,
  type StripeRefundJson,
} from './stripeJson.js';

/**
 * What the fake Stripe knows: payment intents (each with one charge), refunds,
 * and the events every change queues for webhooks. No HTTP here: the server
 * and the test's direct controls both act through these operations.
 */

/** A payment intent and its (single) charge, owned by the platform (`account: null`) or a connected account. */
type PaymentRecord = {
  id: string;
  chargeId: string;
  account: string | null;
  amount: number;
  currency: string;
  method: PaymentMethodType;
  created: number;
  status: PaymentIntentStatus;
  disputed: boolean;
};

type RefundRecord = {
  id: string;
  account: string | null;
  paymentIntentId: string;
  amount: number;
  currency: string;
  status: RefundStatus;
  failureReason: string | null;
  metadata: Record<string, string>;
  reason: RefundReason | null;
  created: number;
  /** Creation order, to sort refunds created in the same second. */
  sequence: number;
};

/** The API request behind a change; null for changes made elsewhere (dashboard, the bank, the test). */
export type ChangeCause = { requestId: string | null; idempotencyKey: string | null };
const noRequest: ChangeCause = { requestId: null, idempotencyKey: null };

export type NewPaymentIntent = {
  amount: number;
  currency: string;
  account?: string | null;
  method?: PaymentMethodType;
  /** Unix seconds; default: the fake's clock. */
  created?: number;
  status?: PaymentIntentStatus;
};

export type NewRefund = {
  account: string | null;
  paymentIntent?: string;
  charge?: string;
  amount?: number;
  reason?: RefundReason | null;
  metadata?: Record<string, string>;
  status?: RefundStatus;
};

export type RefundOutcome = { ok: true; refund: StripeRefundJson } | { ok: false; answer: ApiAnswer };

/** Refunds that hold money back from the charge: a failed or canceled refund gives it back. */
const holdsFunds = (status: RefundStatus) => status === 'pending' || status === 'requires_action' || status === 'succeeded';

/** `['latest_charge.refunds', 'x']` seen from `latest_charge` → `['refunds']`. */
const within = (expand: readonly string[], field: string) =>
  expand.filter((path) => path.startsWith(`${field}.`)).map((path) => path.slice(field.length + 1));

export const createFakeStripeWorld = (options: { livemode: boolean; now: () => number }) => {
  const payments = new Map<string, PaymentRecord>();
  const paymentByCharge = new Map<string, string>();
  const refunds = new Map<string, RefundRecord>();
  const allEvents: StripeEventJson[] = [];
  const webhookQueue: StripeEventJson[] = [];
  const counters = new Map<string, number>();

  const nextId = (prefix: string) => {
    const n = (counters.get(prefix) ?? 0) + 1;
    counters.set(prefix, n);
    return `${prefix}_fake_${n}`;
  };

  const refundsOf = (paymentIntentId: string) =>
    [...refunds.values()]
      .filter((refund) => refund.paymentIntentId === paymentIntentId)
      .sort((a, b) => b.created - a.created || b.sequence - a.sequence);

  const amountRefunded = (payment: PaymentRecord) =>
    refundsOf(payment.id)
      .filter((refund) => holdsFunds(refund.status))
      .reduce((sum, refund) => sum + refund.amount, 0);

  const methodDetails = (method: PaymentMethodType) => ({ type: method, [method]: {} });

  const refundJson = (refund: RefundRecord, expand: readonly string[] = []): StripeRefundJson => {
    const payment = payments.get(refund.paymentIntentId)!;
    return {
      id: refund.id,
      object: 'refund',
      amount: refund.amount,
      balance_transaction: null,
      charge: expand.includes('charge') ? chargeJson(payment, within(expand, 'charge')) : payment.chargeId,
      created: refund.created,
      currency: refund.currency,
      destination_details: methodDetails(payment.method),
      failure_reason: refund.failureReason,
      metadata: { ...refund.metadata },
      payment_intent: expand.includes('payment_intent')
        ? paymentIntentJson(payment, within(expand, 'payment_intent'))
        : payment.id,
      reason: refund.reason,
      receipt_number: null,
      status: refund.status,
    };
  };

  const refundList = (list: RefundRecord[], url: string, expand: readonly string[] = []): StripeList<StripeRefundJson> => ({
    object: 'list',
    data: list.map((refund) => refundJson(refund, expand)),
    has_more: false,
    total_count: list.length,
    url,
  });

  const chargeJson = (payment: PaymentRecord, expand: readonly string[] = []): StripeChargeJson => {
    const refunded = amountRefunded(payment);
    return {
      id: payment.chargeId,
      object: 'charge',
      amount: payment.amount,
      amount_captured: payment.amount,
      amount_refunded: refunded,
      created: payment.created,
      currency: payment.currency,
      disputed: payment.disputed,
      livemode: options.livemode,
      paid: payment.status === 'succeeded',
      payment_intent: payment.id,
      payment_method_details: methodDetails(payment.method),
      refunded: refunded >= payment.amount,
      status: payment.status === 'succeeded' ? 'succeeded' : 'pending',
      ...(expand.includes('refunds')
        ? { refunds: refundList(refundsOf(payment.id), `/v1/charges/${payment.chargeId}/refunds`, within(expand, 'refunds.data')) }
        : {}),
    };
  };

  const paymentIntentJson = (payment: PaymentRecord, expand: readonly string[] = []): StripePaymentIntentJson => ({
    id: payment.id,
    object: 'payment_intent',
    amount: payment.amount,
    amount_received: payment.status === 'succeeded' ? payment.amount : 0,
    created: payment.created,
    currency: payment.currency,
    latest_charge: expand.includes('latest_charge') ? chargeJson(payment, within(expand, 'latest_charge')) : payment.chargeId,
    livemode: options.livemode,
    metadata: {},
    payment_method_types: [payment.method],
    status: payment.status,
  });

  const queueEvent = (
    type: StripeEventType,
    account: string | null,
    object: StripeEventJson['data']['object'],
    cause: ChangeCause,
    previous?: Record<string, unknown>,
  ) => {
    const event: StripeEventJson = {
      id: nextId('evt'),
      object: 'event',
      ...(account ? { account } : {}),
      api_version: fakeStripeApiVersion,
      created: options.now(),
      data: { object, ...(previous ? { previous_attributes: previous } : {}) },
      livemode: options.livemode,
      pending_webhooks: 1,
      request: { id: cause.requestId, idempotency_key: cause.idempotencyKey },
      type,
    };
    allEvents.push(event);
    webhookQueue.push(structuredClone(event));
  };

  const paymentOrThrow = (id: string) => {
    const payment = payments.get(id);
    if (!payment) throw new Error(`fake Stripe: no payment intent ${id}`);
    return payment;
  };
  const refundOrThrow = (id: string) => {
    const refund = refunds.get(id);
    if (!refund) throw new Error(`fake Stripe: no refund ${id}`);
    return refund;
  };

  /** Finds a payment the caller's account can see: another account's objects do not exist for it. */
  const visiblePayment = (account: string | null, ref: { paymentIntent?: string; charge?: string }) => {
    const id = ref.paymentIntent ?? paymentByCharge.get(ref.charge ?? '');
    const payment = id === undefined ? undefined : payments.get(id);
    return payment && payment.account === account ? payment : undefined;
  };

  return {
    now: options.now,
    paymentIntentJson,
    chargeJson,
    refundJson,
    refundList,

    createPaymentIntent(input: NewPaymentIntent): StripePaymentIntentJson {
      const payment: PaymentRecord = {
        id: nextId('pi'),
        chargeId: nextId('ch'),
        account: input.account ?? null,
        amount: input.amount,
        currency: input.currency.toLowerCase(),
        method: input.method ?? 'card',
        created: input.created ?? options.now(),
        status: input.status ?? 'succeeded',
        disputed: false,
      };
      payments.set(payment.id, payment);
      paymentByCharge.set(payment.chargeId, payment.id);
      if (payment.status === 'succeeded') {
        queueEvent('payment_intent.succeeded', payment.account, paymentIntentJson(payment), noRequest);
      }
      return paymentIntentJson(payment);
    },

    succeedPaymentIntent(id: string): StripePaymentIntentJson {
      const payment = paymentOrThrow(id);
      if (payment.status !== 'processing') throw new Error(`fake Stripe: ${id} is ${payment.status}, not processing`);
      payment.status = 'succeeded';
      queueEvent('payment_intent.succeeded', payment.account, paymentIntentJson(payment), noRequest, { status: 'processing' });
      return paymentIntentJson(payment);
    },

    disputeCharge(paymentIntentId: string) {
      paymentOrThrow(paymentIntentId).disputed = true;
    },

    /** Stripe's checks for a new refund, in the order it reports them; on success the refund exists and its events are queued. */
    createRefund(input: NewRefund, cause: ChangeCause = noRequest): RefundOutcome {
      const payment = visiblePayment(input.account, input);
      if (!payment) {
        const answer = input.paymentIntent
          ? resourceMissing('payment_intent', input.paymentIntent, 'payment_intent')
          : resourceMissing('charge', input.charge ?? '', 'charge');
        return { ok: false, answer };
      }
      if (input.paymentIntent && input.charge && input.charge !== payment.chargeId) {
        return { ok: false, answer: invalidRequest(undefined, `Charge ${input.charge} does not belong to PaymentIntent ${payment.id}.`, 'charge') };
      }
      if (payment.status !== 'succeeded') {
        return {
          ok: false,
          answer: invalidRequest('charge_not_refundable', `This PaymentIntent (${payment.id}) does not have a successful charge to refund.`, 'payment_intent'),
        };
      }
      if (payment.disputed) {
        return { ok: false, answer: invalidRequest('charge_disputed', `Charge ${payment.chargeId} has been charged back; cannot issue a refund.`) };
      }
      const refundedBefore = amountRefunded(payment);
      const remaining = payment.amount - refundedBefore;
      if (remaining <= 0) {
        return { ok: false, answer: invalidRequest('charge_already_refunded', `Charge ${payment.chargeId} has already been refunded.`) };
      }
      const amount = input.amount ?? remaining;
      if (amount > remaining) {
        return {
          ok: false,
          answer: invalidRequest(
            'amount_too_large',
            `Refund amount (${amount} ${payment.currency}) is greater than unrefunded amount on charge (${remaining} ${payment.currency})`,
            'amount',
          ),
        };
      }
      const refund: RefundRecord = {
        id: nextId('re'),
        account: payment.account,
        paymentIntentId: payment.id,
        amount,
        currency: payment.currency,
        status: input.status ?? 'pending',
        failureReason: null,
        metadata: { ...(input.metadata ?? {}) },
        reason: input.reason ?? null,
        created: options.now(),
        sequence: refunds.size,
      };
      refunds.set(refund.id, refund);
      queueEvent('refund.created', payment.account, refundJson(refund), cause);
      queueEvent('charge.refunded', payment.account, chargeJson(payment, ['refunds']), cause, {
        amount_refunded: refundedBefore,
        refunded: false,
      });
      return { ok: true, refund: refundJson(refund) };
    },

    /** The bank or Stripe settles a refund: queues `refund.updated` (+ `refund.failed`) and `charge.refund.updated`. */
    setRefundStatus(id: string, status: RefundStatus, failureReason?: string): StripeRefundJson {
      const refund = refundOrThrow(id);
      const previous: Record<string, unknown> = {};
      const nextFailure = status === 'failed' ? (failureReason ?? 'unknown') : (failureReason ?? null);
      if (refund.status !== status) previous['status'] = refund.status;
      if (refund.failureReason !== nextFailure) previous['failure_reason'] = refund.failureReason;
      refund.status = status;
      refund.failureReason = nextFailure;
      if (Object.keys(previous).length === 0) return refundJson(refund);
      queueEvent('refund.updated', refund.account, refundJson(refund), noRequest, previous);
      if (status === 'failed') queueEvent('refund.failed', refund.account, refundJson(refund), noRequest, previous);
      queueEvent('charge.refund.updated', refund.account, refundJson(refund), noRequest, previous);
      return refundJson(refund);
    },

    /** The account a payment intent belongs to (null: the platform). */
    accountOf: (paymentIntentId: string) => paymentOrThrow(paymentIntentId).account,
    findPaymentIntent: (account: string | null, id: string) => visiblePayment(account, { paymentIntent: id }),
    findCharge: (account: string | null, id: string) => visiblePayment(account, { charge: id }),
    findRefund(account: string | null, id: string) {
      const refund = refunds.get(id);
      return refund && refund.account === account ? refund : undefined;
    },

    /** Refunds an account sees, newest first, optionally of one payment. */
    listRefunds(account: string | null, paymentIntentId?: string): RefundRecord[] {
      return [...refunds.values()]
        .filter((refund) => refund.account === account && (paymentIntentId === undefined || refund.paymentIntentId === paymentIntentId))
        .sort((a, b) => b.created - a.created || b.sequence - a.sequence);
    },

    /** Every refund, oldest first, with the account it belongs to. */
    allRefunds: () => [...refunds.values()].sort((a, b) => a.sequence - b.sequence),

    takeQueuedEvents: () => webhookQueue.splice(0, webhookQueue.length),
    requeueEvents: (events: StripeEventJson[]) => webhookQueue.push(...events),
    allEvents: () => allEvents.map((event) => structuredClone(event)),
  };
};

export type FakeStripeWorld = ReturnType<typeof createFakeStripeWorld>;
export type { RefundRecord, PaymentRecord };
