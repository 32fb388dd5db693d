import type { Result } from 'neverthrow';
import Stripe from 'stripe';
import { describe, expect, it, vi } from 'vitest';
import { startFakeStripe } from './support.js';
import {
  adviseOnRefusal,
  stripeFailureReasons,
  type StripeFailureReason,
} from '../../src/adapters/stripe/failureReasons.js';
import {
  type FakeStripeServer,
  type FakeStripeServerOptions,
  type PaymentMethodType,
} from '../../src/testing/stripe/fakeStripeServer.js';
import { metadataValue, refundWindowDays, stripeGateway, toProcessorRefund } from '../../src/adapters/stripe/stripeGateway.js';
import { inMemoryEventStore } from '../../src/adapters/inMemoryEventStore.js';
import type { GatewayError } from '../../src/errors.js';
import type { PaymentRef } from '../../src/events/primitives.js';
import { createRefundLifecycle } from '../../src/lifecycle/createRefundLifecycle.js';
import type { CreateRefundRequest } from '../../src/ports/refundGateway.js';
import { manualClock } from '../../src/testing/manualClock.js';
import { recordingNotifier } from '../../src/testing/recordingNotifier.js';

// What only the Stripe adapter can be asked: the HTTP requests it sends, how the
// SDK's own error classes are classified, and how Stripe's words become ours.

const startFake = startFakeStripe;

const sdkFor = (fake: FakeStripeServer) => new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });

/** A fake Stripe with one paid card payment of 50.00 EUR (on `account` for Connect), and the gateway over the real SDK. */
const stripeWorld = async (
  options: { account?: string | null; method?: PaymentMethodType; origin?: string; amount?: number; fake?: FakeStripeServerOptions } = {},
) => {
  const fake = await startFake(options.fake);
  const stripe = sdkFor(fake);
  const gateway = stripeGateway({ stripe, ...(options.origin ? { origin: options.origin } : {}) });
  const account = options.account ?? null;
  const intent = fake.createPaymentIntent({
    amount: options.amount ?? 5_000,
    currency: 'eur',
    account,
    method: options.method ?? 'card',
  });
  const payment: PaymentRef = { processor: 'stripe', paymentId: intent.id, account };
  return { fake, stripe, gateway, intent, payment };
};

const attemptOf = (payment: PaymentRef, creditNoteId: string, attempt: number, amount: number): CreateRefundRequest => ({
  idempotencyKey: `${creditNoteId}:refund:${attempt}`,
  payment,
  amount,
  currency: 'eur',
  metadata: { creditNoteId, attempt },
});

const errorOf = <T>(result: Result<T, GatewayError>): GatewayError => {
  if (result.isOk()) throw new Error(`expected the gateway to refuse, got ${JSON.stringify(result.value)}`);
  return result.error;
};

const valueOf = <T>(result: Result<T, GatewayError>): T => {
  if (result.isErr()) throw new Error(`expected success, got ${result.error.kind} ${result.error.processorCode}: ${result.error.message}`);
  return result.value;
};

const refundCreations = (fake: FakeStripeServer) =>
  fake.requests.filter((request) => request.method === 'POST' && request.path === '/v1/refunds');

describe('the refund request sent to Stripe', () => {
  it("carries the attempt's idempotency key and metadata naming the credit note, the attempt and our origin", async () => {
    const { fake, gateway, payment } = await stripeWorld();

    valueOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 3, 1_200)));

    const [creation] = refundCreations(fake);
    expect(refundCreations(fake)).toHaveLength(1);
    expect(creation).toMatchObject({
      idempotencyKey: 'cn_1:refund:3',
      account: null,
      body: {
        payment_intent: payment.paymentId,
        amount: '1200',
        metadata: { creditNoteId: 'cn_1', attempt: '3', origin: 'refund-lifecycle' },
      },
    });
    expect(creation?.body).not.toHaveProperty('charge');
  });

  it('writes the origin the host configured', async () => {
    const { fake, gateway, payment } = await stripeWorld({ origin: 'acme-billing' });

    valueOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 100)));

    expect(refundCreations(fake)[0]?.body).toMatchObject({ metadata: { origin: 'acme-billing' } });
  });

  it('refunds a charge id (ch_) on the charge, and lists and describes it by the charge', async () => {
    const { fake, gateway, intent } = await stripeWorld();
    const chargeId = String(intent.latest_charge);
    expect(chargeId).toMatch(/^ch_/);
    const payment: PaymentRef = { processor: 'stripe', paymentId: chargeId, account: null };

    const refund = valueOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 800)));

    expect(refundCreations(fake)[0]?.body).toMatchObject({ charge: chargeId, amount: '800' });
    expect(refundCreations(fake)[0]?.body).not.toHaveProperty('payment_intent');
    // Stripe answers with the payment intent the charge belongs to; the refund is named the way the credit note
    // names its payment, so observations of it match.
    expect(refund.paymentId).toBe(chargeId);
    expect(valueOf(await gateway.findRefunds(payment)).map((found) => found.processorRefundId)).toEqual([refund.processorRefundId]);
    expect(fake.requests.filter((request) => request.method === 'GET' && request.path === '/v1/refunds').at(-1)?.query).toMatchObject({
      charge: chargeId,
    });
    expect(valueOf(await gateway.describePayment(payment))).toMatchObject({ paymentId: chargeId, amount: 5_000, method: 'card' });
  });

  it('sends Stripe-Account on every call about a Connect payment', async () => {
    const { fake, gateway, payment } = await stripeWorld({ account: 'acct_x' });

    const refund = valueOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));
    valueOf(await gateway.retrieveRefund({ payment, processorRefundId: refund.processorRefundId }));
    valueOf(await gateway.findRefunds(payment));
    valueOf(await gateway.describePayment(payment));

    // look-up, create, retrieve, list, describe
    expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'GET /v1/refunds',
      'POST /v1/refunds',
      `GET /v1/refunds/${refund.processorRefundId}`,
      'GET /v1/refunds',
      `GET /v1/payment_intents/${payment.paymentId}`,
    ]);
    expect(fake.requests.map((request) => request.account)).toEqual(['acct_x', 'acct_x', 'acct_x', 'acct_x', 'acct_x']);
    expect(fake.refunds({ account: 'acct_x' }).map((found) => found.id)).toEqual([refund.processorRefundId]);
    expect(fake.refunds({ account: null })).toEqual([]);
  });

  it('finds an old attempt by its metadata beyond the first page of refunds once Stripe forgot the key', async () => {
    const { fake, gateway, payment, intent } = await stripeWorld({ amount: 100_000 });
    const ours = valueOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));
    // 100 later dashboard refunds push ours off the first page of 100 (newest first).
    for (let index = 0; index < 100; index += 1) fake.createDashboardRefund({ paymentIntent: intent.id, amount: 1 });
    fake.pruneIdempotencyKeys();

    const late = valueOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));

    expect(late.processorRefundId).toBe(ours.processorRefundId);
    expect(refundCreations(fake)).toHaveLength(1);
    expect(fake.refunds()).toHaveLength(101);
  });
});

describe("Stripe's errors, through the SDK's own classes", () => {
  it('a rate limit (429) is transient, with its code, and nothing is created', async () => {
    const { fake, gateway, payment } = await stripeWorld();
    fake.failNext({ path: '/v1/refunds', method: 'POST', status: 429 });

    const error = errorOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));

    expect(error).toMatchObject({ kind: 'transient', processorCode: 'rate_limit' });
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(error.classification).toEqual({ retry: 'may_help', recovery: 'retry' });
    expect(fake.refunds()).toEqual([]);
  });

  it('a second call under a key whose first call is still running (409 idempotency_key_in_use) is transient, never a refusal', async () => {
    // A worker whose lease ran out mid-call and the worker that took the entry over: if the second answer were a
    // failure, the attempt would be failed while the first call makes the refund, and a retry under a new key would
    // refund twice.
    const { fake, gateway, payment } = await stripeWorld();
    let release!: () => void;
    fake.delayNext({ path: '/v1/refunds', method: 'POST', until: new Promise<void>((resolve) => (release = resolve)), stage: 'before_processing' });
    const request = attemptOf(payment, 'cn_1', 1, 1_000);
    const first = gateway.createRefund(request);
    await vi.waitFor(() => expect(refundCreations(fake)).toHaveLength(1));

    const error = errorOf(await gateway.createRefund(request));
    release();

    expect(error).toMatchObject({ kind: 'transient', processorCode: 'idempotency_key_in_use' });
    expect(valueOf(await first).processorRefundId).toBe(fake.refunds()[0]!.id);
    expect(fake.refunds()).toHaveLength(1);
  });

  it('a server error (500) is transient', async () => {
    const { fake, gateway, payment } = await stripeWorld();
    fake.failNext({ path: '/v1/refunds', method: 'POST', status: 500 });

    const error = errorOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));

    expect(error.kind).toBe('transient');
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(fake.refunds()).toEqual([]);
  });

  it('a failing look-up of existing refunds is transient and creates nothing', async () => {
    const { fake, gateway, payment } = await stripeWorld();
    fake.failNext({ path: '/v1/refunds', method: 'GET', status: 503 });

    const error = errorOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));

    expect(error.kind).toBe('transient');
    expect(refundCreations(fake)).toEqual([]);
    expect(fake.refunds()).toEqual([]);
  });

  it('a connection dropped after Stripe made the refund is transient; the same attempt then returns that refund', async () => {
    const { fake, gateway, payment } = await stripeWorld();
    fake.acceptThenDropNext({ path: '/v1/refunds', method: 'POST' });
    const request = attemptOf(payment, 'cn_1', 1, 1_000);

    const error = errorOf(await gateway.createRefund(request));
    expect(error.kind).toBe('transient');
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    const [made] = fake.refunds();
    expect(fake.refunds()).toHaveLength(1);

    const again = valueOf(await gateway.createRefund(request));

    expect(again.processorRefundId).toBe(made?.id);
    expect(again.metadata).toEqual({ creditNoteId: 'cn_1', attempt: 1 });
    expect(fake.refunds()).toHaveLength(1);
  });

  it.each([
    {
      code: 'amount_too_large',
      arrange: async (gateway: ReturnType<typeof stripeGateway>, payment: PaymentRef) => {
        valueOf(await gateway.createRefund(attemptOf(payment, 'cn_0', 1, 4_000)));
      },
      amount: 2_000,
    },
    {
      code: 'charge_already_refunded',
      arrange: async (gateway: ReturnType<typeof stripeGateway>, payment: PaymentRef) => {
        valueOf(await gateway.createRefund(attemptOf(payment, 'cn_0', 1, 5_000)));
      },
      amount: 100,
    },
  ])('Stripe refusing with $code is definitive, with its code and advice', async ({ code, arrange, amount }) => {
    const { fake, gateway, payment } = await stripeWorld();
    await arrange(gateway, payment);

    const error = errorOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, amount)));

    expect(error).toMatchObject({ kind: 'definitive', processorCode: code });
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    const { retry, recovery } = adviseOnRefusal(code);
    expect(error.classification).toEqual({ retry, recovery });
    expect(fake.refunds()).toHaveLength(1);
  });

  it('a disputed charge is definitive, with charge_disputed and the dispute as the recovery', async () => {
    const { fake, gateway, payment, intent } = await stripeWorld();
    fake.disputeCharge(intent.id);

    const error = errorOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));

    expect(error).toMatchObject({ kind: 'definitive', processorCode: 'charge_disputed' });
    expect(error.classification).toEqual({ retry: 'will_not_help', recovery: 'resolve_dispute' });
    expect(fake.refunds()).toEqual([]);
  });

  it('a rejected API key (401) is transient: the operator fixes the key, the refund itself is not at fault', async () => {
    const { fake, gateway, payment } = await stripeWorld();
    fake.failNext({ status: 401, message: 'Invalid API Key provided: sk_test_***123' });

    const error = errorOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));

    expect(error.kind).toBe('transient');
    expect(error.cause).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(fake.refunds()).toEqual([]);
  });

  it("names a codeless error by Stripe's error type, not by the SDK's class name", async () => {
    const { fake, gateway, payment } = await stripeWorld();
    fake.failNext({ path: '/v1/refunds', method: 'POST', status: 500 });
    fake.failNext({ path: '/v1/refunds', method: 'POST', status: 401 });

    const serverError = errorOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));
    const authError = errorOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));

    // processorCode is recorded on RefundDeferred / RefundFailed and shown to hosts: it should be Stripe's word.
    expect(serverError.processorCode).toBe('api_error');
    expect(authError.processorCode).toBe('authentication_error');
  });
});

describe("Stripe's refund in the library's words (toProcessorRefund)", () => {
  // Loosely typed overrides: Stripe sends `failure_reason: null` and reasons newer than the SDK's types.
  const stripeRefund = (overrides: Record<string, unknown>): Stripe.Refund =>
    ({
      id: 're_1',
      object: 'refund',
      amount: 1_000,
      charge: 'ch_1',
      created: 1_700_000_000,
      currency: 'eur',
      failure_reason: null,
      metadata: { creditNoteId: 'cn_1', attempt: '2', origin: 'refund-lifecycle' },
      payment_intent: 'pi_1',
      reason: null,
      status: 'pending',
      ...overrides,
    }) as unknown as Stripe.Refund;

  it('keeps the id, payment, amount, currency and our metadata', () => {
    expect(toProcessorRefund(stripeRefund({}))).toEqual({
      processorRefundId: 're_1',
      paymentId: 'pi_1',
      paymentAliases: ['ch_1'],
      amount: 1_000,
      currency: 'eur',
      status: 'pending',
      failure: null,
      metadata: { creditNoteId: 'cn_1', attempt: 2 },
    });
  });

  it('names the charge when the refund has no payment intent, and reads no metadata on a dashboard refund', () => {
    expect(toProcessorRefund(stripeRefund({ payment_intent: null, metadata: {} }))).toMatchObject({
      paymentId: 'ch_1',
      metadata: { creditNoteId: null, attempt: null },
    });
  });

  it('reads only what the metadata holds itself: inherited names are never a credit note', () => {
    const inherited = Object.create({ creditNoteId: 'cn_victim', attempt: '1' }) as Record<string, string>;
    expect(metadataValue({}, 'constructor')).toBeNull();
    expect(metadataValue({}, 'toString')).toBeNull();
    expect(metadataValue(inherited, 'creditNoteId')).toBeNull();
    expect(toProcessorRefund(stripeRefund({ metadata: inherited })).metadata).toEqual({ creditNoteId: null, attempt: null });
    expect(metadataValue(JSON.parse('{"__proto__": "x", "creditNoteId": "cn_1"}'), '__proto__')).toBe('x');
  });

  it('keeps Stripe\u2019s pending_reason for a pending refund only', () => {
    expect(toProcessorRefund(stripeRefund({ pending_reason: 'insufficient_funds' }))).toMatchObject({ pendingReason: 'insufficient_funds' });
    expect(toProcessorRefund(stripeRefund({ status: 'succeeded', pending_reason: 'processing' }))).not.toHaveProperty('pendingReason');
    expect(toProcessorRefund(stripeRefund({ pending_reason: 'a_reason_stripe_adds_later' }))).not.toHaveProperty('pendingReason');
  });

  it('maps requires_action to action_required', () => {
    expect(toProcessorRefund(stripeRefund({ status: 'requires_action' }))).toMatchObject({ status: 'action_required', failure: null });
  });

  it('maps succeeded to succeeded', () => {
    expect(toProcessorRefund(stripeRefund({ status: 'succeeded' }))).toMatchObject({ status: 'succeeded', failure: null });
  });

  it('maps canceled to canceled, for the reason merchant_request', () => {
    const canceled = toProcessorRefund(stripeRefund({ status: 'canceled' }));

    expect(canceled.status).toBe('canceled');
    expect(canceled.failure).toEqual({
      reason: 'merchant_request',
      classification: { retry: 'will_not_help', recovery: 'none' },
      message: stripeFailureReasons.merchant_request.banner,
    });
  });

  it('documents exactly the failure reasons Stripe lists', () => {
    expect(Object.keys(stripeFailureReasons).sort()).toEqual(
      [
        'charge_for_pending_refund_disputed',
        'declined',
        'expired_or_canceled_card',
        'insufficient_funds',
        'lost_or_stolen_card',
        'merchant_request',
        'unknown',
      ].sort(),
    );
  });

  it.each([
    ['lost_or_stolen_card', 'will_not_help', 'manual_refund'],
    ['expired_or_canceled_card', 'will_not_help', 'manual_refund'],
    ['charge_for_pending_refund_disputed', 'will_not_help', 'resolve_dispute'],
    ['insufficient_funds', 'after_action', 'top_up_balance'],
    ['declined', 'will_not_help', 'manual_refund'],
    ['merchant_request', 'will_not_help', 'none'],
    ['unknown', 'may_help', 'retry'],
  ] as const)('a refund failed for %s: retry %s, recovery %s', (reason: StripeFailureReason, retry, recovery) => {
    const failed = toProcessorRefund(stripeRefund({ status: 'failed', failure_reason: reason }));

    expect(failed.status).toBe('failed');
    expect(failed.failure).toEqual({
      reason,
      classification: { retry, recovery },
      message: stripeFailureReasons[reason].banner,
    });
    expect(failed.failure?.message).not.toBe('');
  });

  it('treats a failure without a reason, or one Stripe adds later, as unknown', () => {
    const unexplained = toProcessorRefund(stripeRefund({ status: 'failed', failure_reason: null }));
    const novel = toProcessorRefund(stripeRefund({ status: 'failed', failure_reason: 'something_new' }));

    expect(unexplained.failure).toMatchObject({ reason: 'unknown', classification: { retry: 'may_help', recovery: 'retry' } });
    // The reason Stripe gave is kept for the record; the advice is the safe default.
    expect(novel.failure).toMatchObject({ reason: 'something_new', classification: { retry: 'may_help', recovery: 'retry' } });
  });

  it('reads a failure reason set at the fake Stripe back through retrieveRefund', async () => {
    const { fake, gateway, payment } = await stripeWorld();
    const refund = valueOf(await gateway.createRefund(attemptOf(payment, 'cn_1', 1, 1_000)));
    fake.setRefundStatus(refund.processorRefundId, 'failed', 'insufficient_funds');

    const retrieved = valueOf(await gateway.retrieveRefund({ payment, processorRefundId: refund.processorRefundId }));

    expect(retrieved).toMatchObject({
      status: 'failed',
      failure: { reason: 'insufficient_funds', classification: { retry: 'after_action', recovery: 'top_up_balance' } },
      metadata: { creditNoteId: 'cn_1', attempt: 1 },
    });
  });
});

describe('describePayment', () => {
  const created = 1_700_000_000;
  const plus180Days = new Date((created + 180 * 86_400) * 1000).toISOString();

  it('a card payment can be refunded without a deadline', async () => {
    const fake = await startFake();
    const intent = fake.createPaymentIntent({ amount: 2_500, currency: 'EUR', method: 'card', created });

    const described = valueOf(
      await stripeGateway({ stripe: sdkFor(fake) }).describePayment({ processor: 'stripe', paymentId: intent.id, account: null }),
    );

    expect(described).toEqual({ paymentId: intent.id, amount: 2_500, currency: 'eur', method: 'card', refundableUntil: null, chargeConfirmed: intent.status === 'succeeded' });
    expect(intent.status).toBe('succeeded');
  });

  it.each(['sepa_debit', 'us_bank_account'] as const)('a %s payment is refundable for 180 days after the charge', async (method) => {
    const fake = await startFake();
    const intent = fake.createPaymentIntent({ amount: 2_500, currency: 'eur', method, created });

    const described = valueOf(
      await stripeGateway({ stripe: sdkFor(fake) }).describePayment({ processor: 'stripe', paymentId: intent.id, account: null }),
    );

    expect(refundWindowDays[method]).toBe(180);
    expect(described).toEqual({ paymentId: intent.id, amount: 2_500, currency: 'eur', method, refundableUntil: plus180Days, chargeConfirmed: intent.status === 'succeeded' });
  });

  it('a processing payment intent without a charge yet is guarded by the amount it asks for', async () => {
    // The fake always creates a charge, so this answer comes from Stripe's JSON served to the real SDK by a fetch stub.
    const intentJson = {
      id: 'pi_processing',
      object: 'payment_intent',
      amount: 2_500,
      currency: 'eur',
      latest_charge: null,
      status: 'processing',
      payment_method_types: ['sepa_debit'],
    };
    const seen: string[] = [];
    const stripe = new Stripe('sk_test_123', {
      maxNetworkRetries: 0,
      httpClient: Stripe.createFetchHttpClient((async (url: string | URL) => {
        seen.push(String(url));
        return new Response(JSON.stringify(intentJson), { status: 200, headers: { 'Content-Type': 'application/json' } });
      }) as typeof fetch),
    });

    const described = valueOf(
      await stripeGateway({ stripe }).describePayment({ processor: 'stripe', paymentId: 'pi_processing', account: null }),
    );

    // Still processing: the charge is not confirmed, and the sweep will ask again.
    expect(described).toEqual({ paymentId: 'pi_processing', amount: 2_500, currency: 'eur', method: null, refundableUntil: null, chargeConfirmed: false });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/\/v1\/payment_intents\/pi_processing\?expand(\[0\]|%5B0%5D)=latest_charge$/);
  });

  it('an unknown payment is a definitive error', async () => {
    const fake = await startFake();

    const error = errorOf(
      await stripeGateway({ stripe: sdkFor(fake) }).describePayment({ processor: 'stripe', paymentId: 'pi_nope', account: null }),
    );

    expect(error).toMatchObject({ kind: 'definitive', processorCode: 'resource_missing' });
  });
});

describe('the lifecycle over the Stripe gateway', () => {
  it('an attempt whose answer was lost, retried after Stripe forgot its key, makes one refund and ends accepted', async () => {
    // A card refund that stays pending, so the recovered attempt ends `accepted` rather than settled at once.
    const { fake, gateway, payment } = await stripeWorld({ account: 'acct_x', fake: { cardRefundsSettle: 'later' } });
    const clock = manualClock();
    const notifier = recordingNotifier();
    const refunds = createRefundLifecycle({ store: inMemoryEventStore(), gateway, notifier, clock });
    // Stripe makes the refund, then the connection breaks before its answer reaches us.
    fake.acceptThenDropNext({ path: '/v1/refunds', method: 'POST' });

    const issued = await refunds.issueCreditNote({
      creditNoteId: 'cn_1',
      amount: 2_000,
      currency: 'EUR',
      payment: { paymentId: payment.paymentId, account: 'acct_x' },
      reason: 'cancelled',
      actor: { kind: 'user', id: 'u1' },
      chargeConfirmed: true,
    });
    expect(issued.isOk() && issued.value).toMatchObject({ status: 'pending', pendingReason: 'transient_error' });
    expect(fake.refunds()).toHaveLength(1);

    // The automatic retry comes after Stripe pruned the key (as after 24 hours): only our metadata can find the refund.
    fake.pruneIdempotencyKeys();
    clock.advance(24 * 60 * 60 * 1000);
    const report = await refunds.dispatch();
    expect(report.isOk()).toBe(true);

    const [atStripe] = fake.refunds();
    expect(fake.refunds()).toHaveLength(1);
    expect(refundCreations(fake).map((request) => request.idempotencyKey)).toEqual(['cn_1:refund:1']);
    const view = await refunds.getCreditNote('cn_1');
    expect(view.isOk() && view.value).toMatchObject({
      status: 'requested',
      refund: { attempt: 1, idempotencyKey: 'cn_1:refund:1', processorRefundId: atStripe?.id, status: 'accepted' },
    });
  });
});
