import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { caught } from './support.js';
import { parseForm } from '../../src/testing/stripe/formEncoding.js';
import {
  startFakeStripeServer,
  type FakeStripeServer,
  type SignedWebhook,
  type StripeRefundJson,
} from '../../src/testing/stripe/fakeStripeServer.js';

// Every test talks to the fake through the real SDK: its encoding, retries and error classes run for real.
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const startFake = async (options?: Parameters<typeof startFakeStripeServer>[0]) => {
  const fake = await startFakeStripeServer(options);
  cleanups.push(() => fake.close());
  return fake;
};

const sdkFor = (fake: FakeStripeServer, config: Stripe.StripeConfig = {}) =>
  new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0, ...config });

/** A fake with one paid card charge of 50.00 EUR on a connected account, and an SDK pointed at it. */
const connectedPayment = async () => {
  const fake = await startFake();
  const stripe = sdkFor(fake);
  const payment = fake.createPaymentIntent({ amount: 5_000, currency: 'EUR', account: 'acct_merchant' });
  const onMerchant = { stripeAccount: 'acct_merchant' };
  return { fake, stripe, payment, onMerchant };
};


describe('refunds through the real SDK', () => {
  it('creates a refund on a connected account with an idempotency key and reads it back', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();

    const refund = await stripe.refunds.create(
      { payment_intent: payment.id, amount: 1_500, metadata: { creditNoteId: 'cn_1', attempt: 1 } },
      { ...onMerchant, idempotencyKey: 'cn_1:refund:1' },
    );
    expect(refund).toMatchObject({
      object: 'refund',
      amount: 1_500,
      currency: 'eur',
      payment_intent: payment.id,
      charge: payment.latest_charge,
      // A card refund settles at creation, as in Stripe's test mode.
      status: 'succeeded',
      reason: null,
      // Stripe keeps metadata as strings: the SDK sent `metadata[attempt]=1`.
      metadata: { creditNoteId: 'cn_1', attempt: '1' },
    });

    // Fields of other states are absent, as in Stripe: no failure_reason unless failed, no pending_reason unless pending.
    expect(refund).not.toHaveProperty('failure_reason');
    expect(refund).not.toHaveProperty('pending_reason');
    const readBack = await stripe.refunds.retrieve(refund.id, {}, onMerchant);
    expect(readBack).toMatchObject({ id: refund.id, status: 'succeeded', metadata: { creditNoteId: 'cn_1' } });
    expect(fake.refunds({ account: 'acct_merchant' }).map((r) => r.id)).toEqual([refund.id]);
    expect(fake.refunds({ account: null })).toEqual([]);
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/refunds',
      idempotencyKey: 'cn_1:refund:1',
      account: 'acct_merchant',
      body: { payment_intent: payment.id, amount: '1500', metadata: { creditNoteId: 'cn_1', attempt: '1' } },
      status: 200,
    });
  });

  it('replays the first answer to the same key and parameters, without creating a second refund', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    const params = { payment_intent: payment.id, amount: 1_000 };
    const options = { ...onMerchant, idempotencyKey: 'cn_1:refund:1' };

    const first = await stripe.refunds.create(params, options);
    fake.setRefundStatus(first.id, 'failed', 'expired_or_canceled_card');
    const again = await stripe.refunds.create(params, options);

    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    // Stripe replays the stored answer, not the refund as it is now.
    expect(again.status).toBe('succeeded');
    expect(fake.refunds()).toHaveLength(1);
    expect(fake.requests.map((request) => request.replayed)).toEqual([false, true]);
  });

  it('scopes idempotency keys per account', async () => {
    const fake = await startFake();
    const stripe = sdkFor(fake);
    const platformPayment = fake.createPaymentIntent({ amount: 1_000, currency: 'eur' });
    const merchantPayment = fake.createPaymentIntent({ amount: 1_000, currency: 'eur', account: 'acct_merchant' });

    const onPlatform = await stripe.refunds.create({ payment_intent: platformPayment.id }, { idempotencyKey: 'same' });
    const onMerchant = await stripe.refunds.create(
      { payment_intent: merchantPayment.id },
      { idempotencyKey: 'same', stripeAccount: 'acct_merchant' },
    );

    expect(onMerchant.id).not.toBe(onPlatform.id);
    expect(fake.refunds()).toHaveLength(2);
  });

  it('refuses the same key with other parameters with an idempotency error', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    const options = { ...onMerchant, idempotencyKey: 'cn_1:refund:1' };
    await stripe.refunds.create({ payment_intent: payment.id, amount: 1_000 }, options);

    const error = await caught(stripe.refunds.create({ payment_intent: payment.id, amount: 999 }, options));

    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error.type).toBe('StripeIdempotencyError');
    expect(error.rawType).toBe('idempotency_error');
    expect(error.statusCode).toBe(400);
    expect(error.message).toMatch(/same parameters/);
    expect(fake.refunds()).toHaveLength(1);
  });

  it('answers a missing or unknown parameter as Stripe does, without keeping the key', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    const options = { ...onMerchant, idempotencyKey: 'k' };

    const unknown = await caught(
      stripe.refunds.create({ payment_intent: payment.id, paymentIntent: payment.id } as Stripe.RefundCreateParams, options),
    );
    expect(unknown).toMatchObject({ type: 'StripeInvalidRequestError', code: 'parameter_unknown', param: 'paymentIntent' });

    // The failed validation kept nothing under the key: the corrected request goes through with it.
    const refund = await stripe.refunds.create({ payment_intent: payment.id }, options);
    expect(refund.amount).toBe(5_000);
    expect(fake.refunds()).toHaveLength(1);
  });
});

describe('scripted trouble', () => {
  it('turns a scripted 429 into StripeRateLimitError, keeping nothing under the key', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.failNext({ path: '/v1/refunds', status: 429 });
    const options = { ...onMerchant, idempotencyKey: 'cn_1:refund:1' };

    const error = await caught(stripe.refunds.create({ payment_intent: payment.id }, options));
    expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(error).toMatchObject({ statusCode: 429, code: 'rate_limit' });
    expect(fake.refunds()).toEqual([]);

    const retried = await stripe.refunds.create({ payment_intent: payment.id }, options);
    expect(retried.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(fake.refunds()).toHaveLength(1);
  });

  it('turns a scripted 500 into StripeAPIError', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.failNext({ path: '/v1/refunds', method: 'POST', status: 500 });

    const error = await caught(stripe.refunds.create({ payment_intent: payment.id }, onMerchant));

    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, rawType: 'api_error' });
    expect(fake.refunds()).toEqual([]);
  });

  it('applies a script only to matching requests, and only count times', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.failNext({ path: /^\/v1\/payment_intents\//, status: 503, count: 2 });

    await expect(stripe.refunds.create({ payment_intent: payment.id, amount: 100 }, onMerchant)).resolves.toMatchObject({ amount: 100 });
    await expect(stripe.paymentIntents.retrieve(payment.id, {}, onMerchant)).rejects.toMatchObject({ statusCode: 503 });
    await expect(stripe.paymentIntents.retrieve(payment.id, {}, onMerchant)).rejects.toMatchObject({ statusCode: 503 });
    await expect(stripe.paymentIntents.retrieve(payment.id, {}, onMerchant)).resolves.toMatchObject({ id: payment.id });
  });

  it('lets the SDK retry a 500 with its own idempotency key: one refund', async () => {
    const { fake, payment, onMerchant } = await connectedPayment();
    const stripe = sdkFor(fake, { maxNetworkRetries: 2 });
    fake.failNext({ path: '/v1/refunds', status: 500 });

    const refund = await stripe.refunds.create({ payment_intent: payment.id, amount: 2_000 }, onMerchant);

    expect(refund.amount).toBe(2_000);
    expect(fake.refunds()).toHaveLength(1);
    const [failed, retried] = fake.requests;
    expect(failed?.status).toBe(500);
    expect(retried?.status).toBe(200);
    expect(failed?.idempotencyKey).toMatch(/^stripe-node-retry-/);
    expect(retried?.idempotencyKey).toBe(failed?.idempotencyKey);
  });

  it('drops the connection after performing the request: the SDK throws, the refund exists, the key replays it', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.acceptThenDropNext({ path: '/v1/refunds' });
    const options = { ...onMerchant, idempotencyKey: 'cn_1:refund:1' };

    const error = await caught(stripe.refunds.create({ payment_intent: payment.id, amount: 1_200 }, options));
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    const [created] = fake.refunds();
    expect(created).toMatchObject({ amount: 1_200, status: 'succeeded' });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.dropped).toBe(true);

    const later = await stripe.refunds.create({ payment_intent: payment.id, amount: 1_200 }, options);
    expect(later.id).toBe(created?.id);
    expect(later.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(fake.refunds()).toHaveLength(1);
  });

  it('shows that the SDK silently retries a connection reset once, even with maxNetworkRetries 0', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.acceptThenDropNext({ path: '/v1/refunds', when: 'before_response' });

    // The retry carries the SDK's own key, so the replay hands back the refund made by the dropped request.
    const refund = await stripe.refunds.create({ payment_intent: payment.id }, onMerchant);

    expect(fake.refunds().map((r) => r.id)).toEqual([refund.id]);
    expect(fake.requests.map((request) => [request.dropped, request.replayed])).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('surfaces a reset connection when the SDK retry is dropped too', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.acceptThenDropNext({ path: '/v1/refunds', when: 'before_response', count: 2 });

    const error = await caught(stripe.refunds.create({ payment_intent: payment.id }, onMerchant));

    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(fake.refunds()).toHaveLength(1);
  });

  it('creates a second refund under the same key once Stripe has forgotten it (24 h)', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    const options = { ...onMerchant, idempotencyKey: 'cn_1:refund:1' };
    const first = await stripe.refunds.create({ payment_intent: payment.id, amount: 1_000 }, options);

    fake.pruneIdempotencyKeys();
    const second = await stripe.refunds.create({ payment_intent: payment.id, amount: 1_000 }, options);

    expect(second.id).not.toBe(first.id);
    expect(fake.refunds()).toHaveLength(2);
  });

  it('answers late while the refund already exists, so an SDK timeout leaves it in doubt', async () => {
    const { fake, payment, onMerchant } = await connectedPayment();
    const stripe = sdkFor(fake, { timeout: 200 });
    let release!: () => void;
    fake.delayNext({ path: '/v1/refunds', until: new Promise<void>((resolve) => (release = resolve)) });

    const error = await caught(stripe.refunds.create({ payment_intent: payment.id }, { ...onMerchant, idempotencyKey: 'k' }));
    release();

    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(error.message).toMatch(/timeout/);
    expect(fake.refunds()).toHaveLength(1);
  });

  it('answers 409 to a second request with a key still being processed', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    let release!: () => void;
    fake.delayNext({ path: '/v1/refunds', stage: 'before_processing', until: new Promise<void>((resolve) => (release = resolve)) });
    const options = { ...onMerchant, idempotencyKey: 'cn_1:refund:1' };

    const first = stripe.refunds.create({ payment_intent: payment.id }, options);
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1));
    expect(fake.refunds()).toEqual([]);
    const concurrent = await caught(stripe.refunds.create({ payment_intent: payment.id }, options));
    release();

    expect(concurrent).toMatchObject({ statusCode: 409, rawType: 'idempotency_error', code: 'idempotency_key_in_use' });
    await expect(first).resolves.toMatchObject({ amount: 5_000 });
    expect(fake.refunds()).toHaveLength(1);
  });
});

describe("Stripe's refusals", () => {
  it('hides another account’s objects: 404 resource_missing', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    const refund = await stripe.refunds.create({ payment_intent: payment.id, amount: 100 }, onMerchant);

    const fromPlatform = await caught(stripe.refunds.create({ payment_intent: payment.id }));
    const fromOther = await caught(stripe.refunds.retrieve(refund.id, {}, { stripeAccount: 'acct_other' }));

    for (const error of [fromPlatform, fromOther]) {
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    }
    expect(fromPlatform.message).toBe(`No such payment_intent: '${payment.id}'`);
    expect(fake.refunds()).toHaveLength(1);
  });

  it('refuses more than the unrefunded amount, counting pending refunds, and frees a failed one', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    const first = await stripe.refunds.create({ payment_intent: payment.id, amount: 3_000 }, onMerchant);

    const tooLarge = await caught(stripe.refunds.create({ payment_intent: payment.id, amount: 2_001 }, onMerchant));
    expect(tooLarge).toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });

    fake.setRefundStatus(first.id, 'failed', 'insufficient_funds');
    const whole = await stripe.refunds.create({ payment_intent: payment.id }, onMerchant);
    expect(whole.amount).toBe(5_000);

    const nothingLeft = await caught(stripe.refunds.create({ payment_intent: payment.id, amount: 1 }, onMerchant));
    expect(nothingLeft).toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });
  });

  it('replays a refusal kept under its key, as Stripe does', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    const options = { ...onMerchant, idempotencyKey: 'k' };
    await caught(stripe.refunds.create({ payment_intent: payment.id, amount: 9_999 }, options));

    const replayed = await caught(stripe.refunds.create({ payment_intent: payment.id, amount: 9_999 }, options));

    expect(replayed).toMatchObject({ code: 'amount_too_large' });
    expect(replayed.headers?.['idempotent-replayed']).toBe('true');
    expect(fake.refunds()).toEqual([]);
  });

  it('refuses to refund a disputed charge', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.disputeCharge(payment.id);

    const error = await caught(stripe.refunds.create({ payment_intent: payment.id }, onMerchant));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'charge_disputed' });
    const charge = await stripe.charges.retrieve(String(payment.latest_charge), {}, onMerchant);
    expect(charge.disputed).toBe(true);
  });

  it('refuses to refund a payment still processing, until it succeeds', async () => {
    const fake = await startFake();
    const stripe = sdkFor(fake);
    const payment = fake.createPaymentIntent({ amount: 800, currency: 'eur', method: 'sepa_debit', status: 'processing' });
    expect(fake.takeWebhooks()).toEqual([]);

    await expect(stripe.refunds.create({ payment_intent: payment.id })).rejects.toMatchObject({ code: 'charge_not_refundable' });

    fake.succeedPaymentIntent(payment.id);
    expect(fake.takeWebhooks().map((w) => [w.event.type, (w.event.data.object as { status: string }).status])).toEqual([
      ['payment_intent.succeeded', 'succeeded'],
    ]);
    await expect(stripe.refunds.create({ payment_intent: payment.id })).resolves.toMatchObject({ amount: 800 });
  });

  it('answers unknown routes and a missing API key with Stripe-shaped errors', async () => {
    const fake = await startFake();
    const stripe = sdkFor(fake);

    const unknownRoute = await caught(stripe.rawRequest('GET', '/v1/nothing_here'));
    expect(unknownRoute).toMatchObject({ statusCode: 404, rawType: 'invalid_request_error' });
    expect(unknownRoute.message).toMatch(/Unrecognized request URL \(GET: \/v1\/nothing_here\)/);

    const withoutKey = await fetch(`${fake.url}/v1/refunds`);
    expect(withoutKey.status).toBe(401);
    expect(await withoutKey.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/API key/) } });
  });
});

describe('reading payments and refunds', () => {
  it('lists the refunds of a payment newest first, a page at a time', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.setClock(1_800_000_000);
    const ids: string[] = [];
    for (const amount of [100, 200, 300]) {
      ids.push((await stripe.refunds.create({ payment_intent: payment.id, amount }, onMerchant)).id);
    }
    const otherPayment = fake.createPaymentIntent({ amount: 900, currency: 'eur', account: 'acct_merchant' });
    await stripe.refunds.create({ payment_intent: otherPayment.id }, onMerchant);

    const firstPage = await stripe.refunds.list({ payment_intent: payment.id, limit: 2 }, onMerchant);
    expect(firstPage).toMatchObject({ object: 'list', has_more: true, url: '/v1/refunds' });
    expect(firstPage.data.map((refund) => refund.id)).toEqual([ids[2], ids[1]]);

    const all = await stripe.refunds.list({ payment_intent: payment.id, limit: 2 }, onMerchant).autoPagingToArray({ limit: 10 });
    expect(all.map((refund) => refund.id)).toEqual([...ids].reverse());
    expect(all.every((refund) => refund.created === 1_800_000_000)).toBe(true);

    const fromPlatform = await caught(stripe.refunds.list({ payment_intent: payment.id }));
    expect(fromPlatform).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('expands the latest charge of a payment intent', async () => {
    const fake = await startFake();
    const stripe = sdkFor(fake);
    const payment = fake.createPaymentIntent({ amount: 4_000, currency: 'eur', method: 'sepa_debit', created: 1_700_000_000 });
    await stripe.refunds.create({ payment_intent: payment.id, amount: 1_000 });

    const plain = await stripe.paymentIntents.retrieve(payment.id);
    expect(plain.latest_charge).toBe(payment.latest_charge);

    const expanded = await stripe.paymentIntents.retrieve(payment.id, { expand: ['latest_charge'] });
    expect(expanded.latest_charge).toMatchObject({
      id: payment.latest_charge,
      object: 'charge',
      amount: 4_000,
      amount_refunded: 1_000,
      payment_method_details: { type: 'sepa_debit' },
      created: 1_700_000_000,
      disputed: false,
    });

    const badExpand = await caught(stripe.paymentIntents.retrieve(payment.id, { expand: ['customer'] }));
    expect(badExpand).toMatchObject({ statusCode: 400, param: 'expand' });
  });
});

describe('the world a test controls', () => {
  it('records a dashboard refund with no metadata, and its events', async () => {
    const { fake, payment } = await connectedPayment();
    fake.takeWebhooks();

    const refund = fake.createDashboardRefund({ paymentIntent: payment.id, amount: 700 });

    expect(refund).toMatchObject({ amount: 700, metadata: {}, status: 'succeeded', payment_intent: payment.id });
    const events = fake.takeWebhooks().map((w) => w.event);
    expect(events.map((event) => event.type)).toEqual(['refund.created', 'charge.refunded']);
    expect(events.every((event) => event.account === 'acct_merchant' && event.request.id === null)).toBe(true);
    expect(events[1]?.data.object).toMatchObject({ object: 'charge', amount_refunded: 700 });
    // Since API version 2022-11-15 the charge in charge.refunded lists no refunds.
    expect(events[1]?.data.object).not.toHaveProperty('refunds');
    expect(events[1]?.data.previous_attributes).toEqual({ amount_refunded: 0 });
    expect(() => fake.createDashboardRefund({ paymentIntent: payment.id, amount: 4_301 })).toThrow(/amount_too_large/);
  });

  it('settles a refund later: refund.updated, refund.failed and charge.refund.updated', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.setInitialRefundStatus('pending', { count: 1 });
    const refund = await stripe.refunds.create({ payment_intent: payment.id }, onMerchant);
    expect(refund).toMatchObject({ status: 'pending', pending_reason: 'processing' });
    fake.takeWebhooks();

    fake.setRefundStatus(refund.id, 'failed', 'expired_or_canceled_card');

    const events = fake.takeWebhooks().map((w) => w.event);
    expect(events.map((event) => event.type)).toEqual(['refund.updated', 'refund.failed', 'charge.refund.updated']);
    for (const event of events) {
      expect(event.data.object).toMatchObject({ id: refund.id, status: 'failed', failure_reason: 'expired_or_canceled_card' });
      expect(event.data.object).not.toHaveProperty('pending_reason');
      expect(event.data.previous_attributes).toEqual({
        status: 'pending',
        pending_reason: 'processing',
        failure_reason: null,
        failure_balance_transaction: null,
        destination_details: { card: { type: 'pending' } },
      });
    }
    await expect(stripe.refunds.retrieve(refund.id, {}, onMerchant)).resolves.toMatchObject({ status: 'failed' });
  });

  it('creates refunds in the scripted initial status', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    fake.setInitialRefundStatus('pending', { count: 1 });

    const held = await stripe.refunds.create({ payment_intent: payment.id, amount: 10 }, onMerchant);
    const usual = await stripe.refunds.create({ payment_intent: payment.id, amount: 10 }, onMerchant);

    expect([held.status, usual.status]).toEqual(['pending', 'succeeded']);
  });
});

describe('webhooks', () => {
  it('signs events so stripe.webhooks.constructEvent accepts them', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    await stripe.refunds.create({ payment_intent: payment.id, amount: 500 }, { ...onMerchant, idempotencyKey: 'cn_1:refund:1' });

    const webhooks = fake.takeWebhooks();

    expect(webhooks.map((w) => w.event.type)).toEqual(['payment_intent.succeeded', 'refund.created', 'charge.refunded']);
    for (const webhook of webhooks) {
      const event = stripe.webhooks.constructEvent(webhook.rawBody, webhook.signature, fake.webhookSecret);
      expect(event.id).toBe(webhook.event.id);
    }
    expect(webhooks[1]?.event).toMatchObject({
      object: 'event',
      api_version: '2026-10-28.endive',
      livemode: false,
      account: 'acct_merchant',
      pending_webhooks: 1,
      request: { id: fake.requests[0]?.requestId, idempotency_key: 'cn_1:refund:1' },
      data: { object: { object: 'refund', amount: 500, status: 'succeeded' } },
    });
    expect(fake.takeWebhooks()).toEqual([]);
    // A host may fetch the event back instead of trusting the body: it exists on the connected account only.
    await expect(stripe.events.retrieve(webhooks[1]!.event.id, {}, onMerchant)).resolves.toMatchObject({ type: 'refund.created' });
    await expect(stripe.events.retrieve(webhooks[1]!.event.id)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('leaves `account` off events about platform objects', async () => {
    const fake = await startFake();
    fake.createPaymentIntent({ amount: 100, currency: 'usd', method: 'us_bank_account' });
    const [webhook] = fake.takeWebhooks();
    expect(webhook?.event.type).toBe('payment_intent.succeeded');
    expect(webhook?.event).not.toHaveProperty('account');
  });

  it('produces signatures that fail for an edited body, another secret or an old timestamp', async () => {
    const fake = await startFake();
    const stripe = sdkFor(fake);
    fake.createPaymentIntent({ amount: 100, currency: 'eur' });
    const [webhook] = fake.takeWebhooks() as [SignedWebhook];
    const reserialised = JSON.stringify(JSON.parse(webhook.rawBody));
    const verify = (body: string, signature: string) => () => stripe.webhooks.constructEvent(body, signature, fake.webhookSecret);

    expect(verify(reserialised, webhook.signature)).toThrow(Stripe.errors.StripeSignatureVerificationError);
    expect(verify(webhook.rawBody, fake.sign(webhook.rawBody, undefined, 'whsec_other'))).toThrow(/signature/i);
    expect(verify(webhook.rawBody, fake.sign(webhook.rawBody, fake.now() - 3_600))).toThrow(/tolerance/);
    expect(verify(webhook.rawBody, fake.sign(webhook.rawBody))).not.toThrow();
  });

  it('signs with the fake clock', async () => {
    const fake = await startFake({ webhookSecret: 'whsec_test_fixed' });
    fake.setClock(1_750_000_000);
    fake.createPaymentIntent({ amount: 100, currency: 'eur' });

    const [webhook] = fake.takeWebhooks() as [SignedWebhook];

    expect(webhook.signature).toMatch(/^t=1750000000,v1=[0-9a-f]{64}$/);
    expect(webhook.event.created).toBe(1_750_000_000);
    expect(fake.webhookSecret).toBe('whsec_test_fixed');
    expect(() =>
      Stripe.webhooks.constructEvent(webhook.rawBody, webhook.signature, 'whsec_test_fixed', 300, undefined, 1_750_000_010_000),
    ).not.toThrow();
  });

  it('duplicates and reorders deliveries on request', async () => {
    const fake = await startFake();
    fake.createPaymentIntent({ amount: 100, currency: 'eur' });
    fake.createPaymentIntent({ amount: 200, currency: 'eur' });
    const [first, second] = fake.events().map((event) => event.id);

    fake.createPaymentIntent({ amount: 300, currency: 'eur' });
    const third = fake.events()[2]?.id;
    const copied = fake.takeWebhooks({ copies: 2, order: 'reversed' }).map((w) => w.event.id);
    expect(copied).toEqual([third, second, first, third, second, first]);

    fake.createPaymentIntent({ amount: 400, currency: 'eur' });
    fake.createPaymentIntent({ amount: 500, currency: 'eur' });
    const custom = fake.takeWebhooks({ copies: 2, order: (webhooks) => webhooks.filter((_, index) => index !== 1) });
    expect(custom.map((w) => (w.event.data.object as { amount: number }).amount)).toEqual([400, 400, 500]);
  });

  it('delivers to a callback, and puts failed deliveries back in the queue when asked', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    await stripe.refunds.create({ payment_intent: payment.id }, onMerchant);
    const seen: string[] = [];

    const results = await fake.deliverWebhooks(
      async (webhook) => {
        seen.push(stripe.webhooks.constructEvent(webhook.rawBody, webhook.signature, fake.webhookSecret).type);
        if (webhook.event.type === 'charge.refunded') throw new Error('host was down');
      },
      { requeueFailures: true },
    );

    expect(seen).toEqual(['payment_intent.succeeded', 'refund.created', 'charge.refunded']);
    expect(results.map((result) => [result.type, result.ok])).toEqual([
      ['payment_intent.succeeded', true],
      ['refund.created', true],
      ['charge.refunded', false],
    ]);
    expect(results[2]?.error).toBe('host was down');
    expect(fake.takeWebhooks().map((w) => w.event.type)).toEqual(['charge.refunded']);
  });

  it('POSTs the raw body with its Stripe-Signature to a real HTTP endpoint', async () => {
    const { fake, stripe, payment, onMerchant } = await connectedPayment();
    await stripe.refunds.create({ payment_intent: payment.id }, onMerchant);
    const received: Array<{ type: string; account: string | undefined }> = [];
    // A host endpoint as it should be written: verify the raw bytes, answer 400 to a bad signature.
    const endpoint = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        try {
          const event = stripe.webhooks.constructEvent(
            Buffer.concat(chunks),
            String(request.headers['stripe-signature']),
            fake.webhookSecret,
          );
          received.push({ type: event.type, account: event.account });
          response.writeHead(event.type === 'charge.refunded' ? 500 : 200).end();
        } catch {
          response.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => endpoint.close(() => resolve())));
    const url = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/stripe/webhooks`;

    const results = await fake.deliverWebhooks(url, { copies: 2 });

    expect(results.map((result) => result.status)).toEqual([200, 200, 500, 200, 200, 500]);
    expect(received).toHaveLength(6);
    expect(received.every((event) => event.account === 'acct_merchant')).toBe(true);
  });
});

describe('the fake server itself', () => {
  it('releases held requests and refuses connections once closed', async () => {
    const fake = await startFakeStripeServer();
    const stripe = sdkFor(fake);
    const payment = fake.createPaymentIntent({ amount: 100, currency: 'eur' });
    fake.delayNext({ until: new Promise(() => {}) });

    const held = caught(stripe.paymentIntents.retrieve(payment.id));
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1));
    await fake.close();
    await fake.close();

    expect(await held).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    await expect(stripe.paymentIntents.retrieve(payment.id)).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
  });

  it('never runs a request that was still held before processing when it closed', async () => {
    const fake = await startFakeStripeServer();
    const stripe = sdkFor(fake);
    const payment = fake.createPaymentIntent({ amount: 100, currency: 'eur' });
    fake.delayNext({ path: '/v1/refunds', stage: 'before_processing', until: new Promise(() => {}) });

    const held = caught(stripe.refunds.create({ payment_intent: payment.id }));
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1));
    await fake.close();

    expect(await held).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(fake.refunds()).toEqual([]);
  });

  it('returns copies: changing what it handed out does not change the fake', async () => {
    const fake = await startFake();
    const payment = fake.createPaymentIntent({ amount: 100, currency: 'eur' });
    const refund: StripeRefundJson = fake.createDashboardRefund({ paymentIntent: payment.id });
    refund.metadata['tampered'] = 'yes';
    fake.refunds()[0]!.status = 'failed';

    expect(fake.refunds()[0]).toMatchObject({ status: 'succeeded', metadata: {} });
  });
});

describe('form bodies as the SDK encodes them', () => {
  it('reads nested keys, indexed and appended arrays, and escapes', () => {
    expect(parseForm('metadata[creditNoteId]=cn_1&metadata[note]=a+b%26c&expand[0]=x&expand[1]=y&tags[]=p&tags[]=q')).toEqual({
      metadata: { creditNoteId: 'cn_1', note: 'a b&c' },
      expand: ['x', 'y'],
      tags: ['p', 'q'],
    });
  });

  it('ignores keys that would reach the object prototype', () => {
    const parsed = parseForm('__proto__[polluted]=1&a[constructor][prototype][polluted]=1&ok=1');
    expect(parsed).toEqual({ ok: '1' });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
