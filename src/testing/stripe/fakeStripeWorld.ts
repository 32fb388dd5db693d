import { invalidRequest, resourceMissing, type ApiAnswer } from './stripeErrors.js';
import {
  fakeStripeApiVersion,
  type RefundPendingReason,
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
 * What the fake Stripe knows: charges (each made through a payment intent, or
 * directly with the Charges API and then without one), refunds, and the
 * events every change queues for webhooks. No HTTP here: the server and the
 * test's direct controls both act through these operations.
 */

/** A charge and, when it was made through one, its payment intent; owned by the platform (`account: null`) or a connected account. */
type PaymentRecord = {
  /** The charge's id (`ch_…`). */
  chargeId: string;
  /** The payment intent's id, or null for a charge made without one. */
  intentId: string | null;
  account: string | null;
  amount: number;
  currency: string;
  method: PaymentMethodType;
  paymentMethodId: string;
  balanceTransaction: string;
  created: number;
  status: PaymentIntentStatus;
  disputed: boolean;
};

type RefundRecord = {
  id: string;
  account: string | null;
  chargeId: string;
  /** Null when the charge was made without a payment intent. */
  paymentIntentId: string | null;
  amount: number;
  currency: string;
  status: RefundStatus;
  failureReason: string | null;
  failureBalanceTransaction: string | null;
  pendingReason: RefundPendingReason | null;
  balanceTransaction: string;
  metadata: Record<string, string>;
  reason: RefundReason | null;
  created: number;
  /** Creation order, to sort refunds created in the same second. */
  sequence: number;
};

/**
 * An event as the fake keeps it: what Stripe generated, in creation order, and
 * whether its webhook was delivered (the test reports that: an event taken for
 * delivery stays undelivered until the endpoint is known to have answered 2xx).
 */
type EventRecord = { event: StripeEventJson; sequence: number; delivered: boolean };

/** How long Stripe keeps events for the Events API (list and retrieve): 30 days. */
export const eventRetentionSeconds = 30 * 86_400;

/** The API request behind a change; null for changes made elsewhere (dashboard, the bank, the test). */
export type ChangeCause = { requestId: string | null; idempotencyKey: string | null };
const noRequest: ChangeCause = { requestId: null, idempotencyKey: null };

/**
 * Where the fake departs from today's Stripe on purpose, to play older API
 * versions or rarer accounts. The server's options document each one.
 */
export type FakeStripeBehaviour = {
  chargeRefunds: 'expand_only' | 'always';
  cardRefundsSettle: 'at_creation' | 'later';
  chargeRefundUpdated: 'all_methods' | 'non_card' | 'never';
};

export const stripeBehaviour: FakeStripeBehaviour = {
  chargeRefunds: 'expand_only',
  cardRefundsSettle: 'at_creation',
  chargeRefundUpdated: 'all_methods',
};

export type NewPaymentIntent = {
  amount: number;
  currency: string;
  account?: string | null;
  method?: PaymentMethodType;
  /** Unix seconds; default: the fake's clock. */
  created?: number;
  status?: PaymentIntentStatus;
};

/** A charge made with the Charges API (`ch_…`, no payment intent): its refunds carry `payment_intent: null`. */
export type NewCharge = Omit<NewPaymentIntent, 'status'>;

export type NewRefund = {
  account: string | null;
  paymentIntent?: string;
  charge?: string;
  amount?: number;
  reason?: RefundReason | null;
  metadata?: Record<string, string>;
  /** Default: Stripe's for the payment method (see `cardRefundsSettle`); bank debits start `pending`. */
  status?: RefundStatus;
  /** For a pending refund; default `processing`. */
  pendingReason?: RefundPendingReason;
};

/** What else changes with a refund's status: `failureReason` for `failed` (default `unknown`), `pendingReason` for `pending` (default `processing`). */
export type RefundStatusDetail = { failureReason?: string; pendingReason?: RefundPendingReason };

export type RefundOutcome = { ok: true; refund: StripeRefundJson } | { ok: false; answer: ApiAnswer };

/** Refunds that hold money back from the charge: a failed or canceled refund gives it back. */
const holdsFunds = (status: RefundStatus) => status === 'pending' || status === 'requires_action' || status === 'succeeded';

/** `['latest_charge.refunds', 'x']` seen from `latest_charge` → `['refunds']`. */
const within = (expand: readonly string[], field: string) =>
  expand.filter((path) => path.startsWith(`${field}.`)).map((path) => path.slice(field.length + 1));

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Stripe's `previous_attributes`: the old value of every field that changed,
 * nested objects only down to what changed in them, and `null` for a field
 * that was absent before.
 */
export const previousAttributes = (before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> => {
  const previous: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const old = before[key];
    const now = after[key];
    if (JSON.stringify(old) === JSON.stringify(now)) continue;
    previous[key] = isPlainObject(old) && isPlainObject(now) ? previousAttributes(old, now) : (old ?? null);
  }
  return previous;
};

const cardDetails = {
  brand: 'visa',
  country: 'US',
  exp_month: 12,
  exp_year: 2034,
  funding: 'credit',
  last4: '4242',
  network: 'visa',
};

export const createFakeStripeWorld = (options: { livemode: boolean; now: () => number; behaviour?: Partial<FakeStripeBehaviour> }) => {
  const behaviour: FakeStripeBehaviour = { ...stripeBehaviour, ...options.behaviour };
  const payments = new Map<string, PaymentRecord>();
  const chargeByIntent = new Map<string, string>();
  const refunds = new Map<string, RefundRecord>();
  const eventRecords: EventRecord[] = [];
  const eventsById = new Map<string, EventRecord>();
  const webhookQueue: StripeEventJson[] = [];
  const counters = new Map<string, number>();

  const nextId = (prefix: string) => {
    const n = (counters.get(prefix) ?? 0) + 1;
    counters.set(prefix, n);
    return `${prefix}_fake_${n}`;
  };

  const refundsOf = (chargeId: string) =>
    [...refunds.values()]
      .filter((refund) => refund.chargeId === chargeId)
      .sort((a, b) => b.created - a.created || b.sequence - a.sequence);

  const amountRefunded = (payment: PaymentRecord) =>
    refundsOf(payment.chargeId)
      .filter((refund) => holdsFunds(refund.status))
      .reduce((sum, refund) => sum + refund.amount, 0);

  const methodDetails = (method: PaymentMethodType) => ({ type: method, [method]: method === 'card' ? { ...cardDetails } : {} });

  /**
   * A card refund: `pending` while pending, `refund` once with the network
   * (its acquirer reference comes later). An ACH debit is refunded by bank
   * transfer (`us_bank_transfer`). Stripe's published types name no
   * destination for SEPA or Bacs debits; the fake uses the method's name.
   */
  const destinationDetails = (method: PaymentMethodType, status: RefundStatus): StripeRefundJson['destination_details'] => {
    if (method === 'card') {
      return {
        card: { reference: null, reference_status: 'pending', reference_type: 'acquirer_reference_number', type: status === 'pending' ? 'pending' : 'refund' },
        type: 'card',
      };
    }
    if (method === 'us_bank_account') return { type: 'us_bank_transfer', us_bank_transfer: { reference: null, reference_status: 'pending' } };
    return { type: method, [method]: {} };
  };

  const refundJson = (refund: RefundRecord, expand: readonly string[] = []): StripeRefundJson => {
    const payment = payments.get(refund.chargeId)!;
    return {
      id: refund.id,
      object: 'refund',
      amount: refund.amount,
      balance_transaction: refund.balanceTransaction,
      charge: expand.includes('charge') ? chargeJson(payment, within(expand, 'charge')) : payment.chargeId,
      created: refund.created,
      currency: refund.currency,
      customer: null,
      customer_account: null,
      destination_details: destinationDetails(payment.method, refund.status),
      ...(refund.status === 'failed'
        ? { failure_balance_transaction: refund.failureBalanceTransaction ?? '', failure_reason: refund.failureReason ?? 'unknown' }
        : {}),
      metadata: { ...refund.metadata },
      ...(refund.status === 'requires_action'
        ? {
            next_action: {
              type: 'display_details' as const,
              display_details: {
                email_sent: { email_sent_at: refund.created, email_sent_to: 'customer@example.com' },
                expires_at: refund.created + 45 * 24 * 3600,
              },
            },
          }
        : {}),
      payment_intent:
        payment.intentId === null
          ? null
          : expand.includes('payment_intent')
            ? paymentIntentJson(payment, within(expand, 'payment_intent'))
            : payment.intentId,
      payment_method: payment.paymentMethodId,
      ...(refund.status === 'pending' ? { pending_reason: refund.pendingReason ?? 'processing' } : {}),
      reason: refund.reason,
      receipt_number: null,
      source_transfer_reversal: null,
      status: refund.status,
      transfer_reversal: null,
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
    const succeeded = payment.status === 'succeeded';
    return {
      id: payment.chargeId,
      object: 'charge',
      amount: payment.amount,
      amount_captured: succeeded ? payment.amount : 0,
      amount_refunded: refunded,
      application_fee_amount: null,
      balance_transaction: succeeded ? payment.balanceTransaction : null,
      billing_details: {
        address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
        email: null,
        name: null,
        phone: null,
      },
      calculated_statement_descriptor: 'FAKE STRIPE',
      captured: succeeded,
      created: payment.created,
      currency: payment.currency,
      customer: null,
      description: null,
      disputed: payment.disputed,
      failure_code: null,
      failure_message: null,
      livemode: options.livemode,
      metadata: {},
      outcome: succeeded
        ? { network_status: 'approved_by_network', reason: null, risk_level: 'normal', seller_message: 'Payment complete.', type: 'authorized' }
        : null,
      paid: succeeded,
      payment_intent: payment.intentId,
      payment_method: payment.paymentMethodId,
      payment_method_details: methodDetails(payment.method),
      receipt_url: null,
      refunded: refunded >= payment.amount,
      status: succeeded ? 'succeeded' : 'pending',
      ...(expand.includes('refunds') || behaviour.chargeRefunds === 'always'
        ? { refunds: refundList(refundsOf(payment.chargeId), `/v1/charges/${payment.chargeId}/refunds`, within(expand, 'refunds.data')) }
        : {}),
    };
  };

  const paymentIntentJson = (payment: PaymentRecord, expand: readonly string[] = []): StripePaymentIntentJson => {
    if (payment.intentId === null) throw new Error(`fake Stripe: charge ${payment.chargeId} has no payment intent`);
    return {
      id: payment.intentId,
      object: 'payment_intent',
      amount: payment.amount,
      amount_capturable: 0,
      amount_received: payment.status === 'succeeded' ? payment.amount : 0,
      capture_method: 'automatic',
      client_secret: `${payment.intentId}_secret_fake`,
      confirmation_method: 'automatic',
      created: payment.created,
      currency: payment.currency,
      customer: null,
      description: null,
      last_payment_error: null,
      latest_charge: expand.includes('latest_charge') ? chargeJson(payment, within(expand, 'latest_charge')) : payment.chargeId,
      livemode: options.livemode,
      metadata: {},
      next_action: null,
      payment_method: payment.paymentMethodId,
      payment_method_types: [payment.method],
      status: payment.status,
    };
  };

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
    const record: EventRecord = { event, sequence: eventRecords.length, delivered: false };
    eventRecords.push(record);
    eventsById.set(event.id, record);
    // As sent: the delivery in progress is one of the webhooks still pending.
    webhookQueue.push(structuredClone(event));
  };

  /** The event as the API shows it now: `pending_webhooks` is 0 once its webhook was delivered. */
  const eventJson = (record: EventRecord): StripeEventJson => ({ ...structuredClone(record.event), pending_webhooks: record.delivered ? 0 : 1 });

  /** Events the Events API still serves: created within the last 30 days of the fake's clock. */
  const retained = (record: EventRecord) => record.event.created >= options.now() - eventRetentionSeconds;
  const visibleTo = (account: string | null) => (record: EventRecord) => (record.event.account ?? null) === account;

  const intentOrThrow = (id: string) => {
    const chargeId = chargeByIntent.get(id);
    const payment = chargeId === undefined ? undefined : payments.get(chargeId);
    if (!payment) throw new Error(`fake Stripe: no payment intent ${id}`);
    return payment;
  };
  /** A payment by its payment intent's or its charge's id. */
  const paymentOrThrow = (id: string) => {
    const payment = payments.get(id) ?? payments.get(chargeByIntent.get(id) ?? '');
    if (!payment) throw new Error(`fake Stripe: no payment intent or charge ${id}`);
    return payment;
  };
  const refundOrThrow = (id: string) => {
    const refund = refunds.get(id);
    if (!refund) throw new Error(`fake Stripe: no refund ${id}`);
    return refund;
  };

  /** Finds a payment the caller's account can see: another account's objects do not exist for it. */
  const visiblePayment = (account: string | null, ref: { paymentIntent?: string; charge?: string }) => {
    const chargeId = ref.paymentIntent !== undefined ? chargeByIntent.get(ref.paymentIntent) : ref.charge;
    const payment = chargeId === undefined ? undefined : payments.get(chargeId);
    return payment && payment.account === account ? payment : undefined;
  };

  const newPayment = (input: NewPaymentIntent, withIntent: boolean): PaymentRecord => {
    const payment: PaymentRecord = {
      intentId: withIntent ? nextId('pi') : null,
      chargeId: nextId('ch'),
      account: input.account ?? null,
      amount: input.amount,
      currency: input.currency.toLowerCase(),
      method: input.method ?? 'card',
      paymentMethodId: nextId('pm'),
      balanceTransaction: nextId('txn'),
      created: input.created ?? options.now(),
      status: input.status ?? 'succeeded',
      disputed: false,
    };
    payments.set(payment.chargeId, payment);
    if (payment.intentId !== null) chargeByIntent.set(payment.intentId, payment.chargeId);
    return payment;
  };

  /** The status a new refund starts in when nobody says: card refunds settle at creation (unless `cardRefundsSettle: 'later'`), bank debits start pending. */
  const defaultRefundStatus = (method: PaymentMethodType): RefundStatus =>
    method === 'card' && behaviour.cardRefundsSettle === 'at_creation' ? 'succeeded' : 'pending';

  /** Whether Stripe sends `charge.refund.updated` for a refund of this method (see `chargeRefundUpdated`). */
  const sendsChargeRefundUpdated = (method: PaymentMethodType) =>
    behaviour.chargeRefundUpdated === 'all_methods' || (behaviour.chargeRefundUpdated === 'non_card' && method !== 'card');

  /** Records a refund change and queues what Stripe sends for it: `refund.updated` (+ `refund.failed`) and `charge.refund.updated`. */
  const changeRefund = (refund: RefundRecord, change: (refund: RefundRecord) => void): StripeRefundJson => {
    const before = refundJson(refund);
    change(refund);
    const after = refundJson(refund);
    const previous = previousAttributes(before, after);
    if (Object.keys(previous).length === 0) return after;
    const method = payments.get(refund.chargeId)!.method;
    queueEvent('refund.updated', refund.account, after, noRequest, previous);
    if (refund.status === 'failed' && before.status !== 'failed') {
      queueEvent('refund.failed', refund.account, refundJson(refund), noRequest, previous);
    }
    if (sendsChargeRefundUpdated(method)) queueEvent('charge.refund.updated', refund.account, refundJson(refund), noRequest, previous);
    return refundJson(refund);
  };

  return {
    now: options.now,
    behaviour,
    paymentIntentJson,
    chargeJson,
    refundJson,
    refundList,

    createPaymentIntent(input: NewPaymentIntent): StripePaymentIntentJson {
      const payment = newPayment(input, true);
      if (payment.status === 'succeeded') {
        queueEvent('payment_intent.succeeded', payment.account, paymentIntentJson(payment), noRequest);
      }
      return paymentIntentJson(payment);
    },

    /** A charge made with the Charges API: no payment intent; queues `charge.succeeded`. */
    createCharge(input: NewCharge): StripeChargeJson {
      const payment = newPayment({ ...input, status: 'succeeded' }, false);
      queueEvent('charge.succeeded', payment.account, chargeJson(payment), noRequest);
      return chargeJson(payment);
    },

    succeedPaymentIntent(id: string): StripePaymentIntentJson {
      const payment = intentOrThrow(id);
      if (payment.status !== 'processing') throw new Error(`fake Stripe: ${id} is ${payment.status}, not processing`);
      payment.status = 'succeeded';
      queueEvent('payment_intent.succeeded', payment.account, paymentIntentJson(payment), noRequest, { status: 'processing' });
      return paymentIntentJson(payment);
    },

    /** Disputes a payment, named by its payment intent or its charge. */
    disputeCharge(paymentId: string) {
      paymentOrThrow(paymentId).disputed = true;
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
        return { ok: false, answer: invalidRequest(undefined, `Charge ${input.charge} does not belong to PaymentIntent ${input.paymentIntent}.`, 'charge') };
      }
      if (payment.status !== 'succeeded') {
        return {
          ok: false,
          answer: invalidRequest('charge_not_refundable', `This PaymentIntent (${payment.intentId}) does not have a successful charge to refund.`, 'payment_intent'),
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
      const chargeBefore = chargeJson(payment);
      const status = input.status ?? defaultRefundStatus(payment.method);
      const refund: RefundRecord = {
        id: nextId('re'),
        account: payment.account,
        chargeId: payment.chargeId,
        paymentIntentId: payment.intentId,
        amount,
        currency: payment.currency,
        status,
        failureReason: status === 'failed' ? 'unknown' : null,
        failureBalanceTransaction: status === 'failed' ? nextId('txn') : null,
        pendingReason: status === 'pending' ? (input.pendingReason ?? 'processing') : null,
        balanceTransaction: nextId('txn'),
        metadata: { ...(input.metadata ?? {}) },
        reason: input.reason ?? null,
        created: options.now(),
        sequence: refunds.size,
      };
      refunds.set(refund.id, refund);
      queueEvent('refund.created', payment.account, refundJson(refund), cause);
      const chargeAfter = chargeJson(payment);
      queueEvent('charge.refunded', payment.account, chargeAfter, cause, previousAttributes(chargeBefore, chargeAfter));
      return { ok: true, refund: refundJson(refund) };
    },

    /**
     * The bank or Stripe moves a refund on: queues `refund.updated`, `refund.failed`
     * when it fails, and `charge.refund.updated` (see `chargeRefundUpdated`). A
     * string third argument is the failure reason (the older signature).
     */
    setRefundStatus(id: string, status: RefundStatus, detail: string | RefundStatusDetail = {}): StripeRefundJson {
      const refund = refundOrThrow(id);
      const { failureReason, pendingReason } = typeof detail === 'string' ? { failureReason: detail, pendingReason: undefined } : detail;
      return changeRefund(refund, (record) => {
        const wasFailed = record.status === 'failed';
        record.status = status;
        record.failureReason = status === 'failed' ? (failureReason ?? (wasFailed ? record.failureReason : null) ?? 'unknown') : null;
        record.failureBalanceTransaction = status === 'failed' ? (record.failureBalanceTransaction ?? nextId('txn')) : null;
        record.pendingReason = status === 'pending' ? (pendingReason ?? record.pendingReason ?? 'processing') : null;
      });
    },

    /** The account a payment (named by its payment intent or its charge) belongs to (null: the platform). */
    accountOf: (paymentId: string) => paymentOrThrow(paymentId).account,
    findPaymentIntent: (account: string | null, id: string) => visiblePayment(account, { paymentIntent: id }),
    findCharge: (account: string | null, id: string) => visiblePayment(account, { charge: id }),
    findRefund(account: string | null, id: string) {
      const refund = refunds.get(id);
      return refund && refund.account === account ? refund : undefined;
    },

    /** Refunds an account sees, newest first, optionally of one charge. */
    listRefunds(account: string | null, chargeId?: string): RefundRecord[] {
      return [...refunds.values()]
        .filter((refund) => refund.account === account && (chargeId === undefined || refund.chargeId === chargeId))
        .sort((a, b) => b.created - a.created || b.sequence - a.sequence);
    },

    /** Every refund, oldest first, with the account it belongs to. */
    allRefunds: () => [...refunds.values()].sort((a, b) => a.sequence - b.sequence),

    takeQueuedEvents: () => webhookQueue.splice(0, webhookQueue.length),
    requeueEvents: (events: StripeEventJson[]) => webhookQueue.push(...events),
    /** Every event ever generated, oldest first, retained or not, as the API would show it. */
    allEvents: () => eventRecords.map(eventJson),
    /** The endpoint answered 2xx: the event counts as delivered. False for an event the fake never generated. */
    markDelivered(eventId: string): boolean {
      const record = eventsById.get(eventId);
      if (!record) return false;
      record.delivered = true;
      return true;
    },
    /** An event the account sees through the API: its own, and not older than 30 days. */
    findEvent(account: string | null, eventId: string) {
      const record = eventsById.get(eventId);
      return record && visibleTo(account)(record) && retained(record) ? record : undefined;
    },
    /** The account's retained events, newest first (same second: last generated first), as `GET /v1/events` orders them. */
    listEvents(account: string | null): EventRecord[] {
      return eventRecords
        .filter(visibleTo(account))
        .filter(retained)
        .sort((a, b) => b.event.created - a.event.created || b.sequence - a.sequence);
    },
    eventJson,
  };
};

export type FakeStripeWorld = ReturnType<typeof createFakeStripeWorld>;
export type { RefundRecord, PaymentRecord, EventRecord };
