import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { startFakeStripe } from './support.js';
import {
  type FakeStripeServerOptions,
  type StripeEventJson,
} from '../../src/testing/stripe/fakeStripeServer.js';
import { fixture, reId, type FixtureName } from './fixtures/index.js';

/**
 * The fake's JSON against Stripe's shapes (test/stripe/fixtures): every field
 * a fixture has exists in the fake's object with the same JSON type, or is
 * null where Stripe allows null. Deliberate exceptions are listed with why.
 */

const startFake = async (options: FakeStripeServerOptions = {}) => {
  const fake = await startFakeStripe(options);
  const stripe = new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });
  return { fake, stripe };
};

/** Fields Stripe documents as nullable: the fake may send null where a fixture has a value. */
const nullable = new Set([
  'api_version',
  'balance_transaction',
  'calculated_statement_descriptor',
  'charge',
  'id', // request.id
  'idempotency_key',
  'latest_charge',
  'name', // billing_details.name
  'outcome',
  'payment_intent',
  'payment_method',
  'receipt_url',
  'reference',
]);

/** Field paths the fake leaves out on purpose, with why. None today; whole-object exceptions (thin events, py_/pyr_ ids) are noted in the tests. */
const exceptions: Record<string, string> = {};

const jsonType = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

const shapeProblems = (expected: unknown, actual: unknown, path = ''): string[] => {
  const problems: string[] = [];
  if (jsonType(expected) !== 'object' || jsonType(actual) !== 'object') return [`${path || '(root)'}: not an object`];
  const fake = actual as Record<string, unknown>;
  for (const [key, want] of Object.entries(expected as Record<string, unknown>)) {
    const at = path ? `${path}.${key}` : key;
    if (at in exceptions) continue;
    if (!(key in fake)) {
      problems.push(`${at}: missing`);
      continue;
    }
    const got = fake[key];
    if (want === null) continue; // nullable in Stripe: null or a value are both Stripe's
    if (got === null) {
      if (!nullable.has(key)) problems.push(`${at}: null, Stripe sends ${jsonType(want)}`);
      continue;
    }
    if (jsonType(want) !== jsonType(got)) {
      problems.push(`${at}: ${jsonType(got)}, Stripe sends ${jsonType(want)}`);
      continue;
    }
    if (key === 'metadata') continue; // free-form
    if (jsonType(want) === 'object') problems.push(...shapeProblems(want, got, at));
    if (jsonType(want) === 'array') {
      const [first] = want as unknown[];
      const [firstGot] = got as unknown[];
      if (jsonType(first) === 'object' && firstGot !== undefined) problems.push(...shapeProblems(first, firstGot, `${at}[0]`));
    }
  }
  return problems;
};

const expectShape = (name: FixtureName, actual: unknown) => expect(shapeProblems(fixture(name), actual)).toEqual([]);

/** The object as it crossed the wire: the SDK's answer without its `lastResponse`. */
const plain = (value: object) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;

const eventsOf = (events: StripeEventJson[], type: string) => events.filter((event) => event.type === type);

describe('the fake answers in Stripe’s shapes', () => {
  it('refunds, charges and payment intents as the SDK receives them', async () => {
    const { fake, stripe } = await startFake();
    const intent = fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });

    const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 2_500, metadata: { creditNoteId: 'cn_1' } });
    expectShape('refund.reversal', plain(refund));
    expectShape('refund.failed-expired-card', plain(fake.setRefundStatus(refund.id, 'failed', 'expired_or_canceled_card')));
    expectShape('refund.failed-expired-card', plain(await stripe.refunds.retrieve(refund.id)));
    expectShape('charge', plain(await stripe.charges.retrieve(intent.latest_charge as string)));
    expectShape('payment_intent', plain(await stripe.paymentIntents.retrieve(intent.id)));

    const pending = await stripe.refunds.create({ payment_intent: intent.id, amount: 1_000 });
    expect(pending.status).toBe('succeeded');
    fake.setRefundStatus(pending.id, 'pending', { pendingReason: 'insufficient_funds' });
    expectShape('refund.card-pending', plain(await stripe.refunds.retrieve(pending.id)));
  });

  it('a bank debit refund has the fields of a payment-record refund (pyr_ of a py_ payment)', async () => {
    const { fake, stripe } = await startFake();
    const intent = fake.createPaymentIntent({ amount: 5_000, currency: 'eur', method: 'sepa_debit' });
    // Exception: the fake names SEPA payments ch_/re_, where Stripe uses py_/pyr_; the shape is the same.
    expectShape('refund.payment-record', plain(await stripe.refunds.create({ payment_intent: intent.id })));
  });

  it('events as webhooks carry them', async () => {
    const { fake, stripe } = await startFake({ cardRefundsSettle: 'later' });
    const intent = fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 2_500 }, { idempotencyKey: 'cn_1:refund:1' });
    fake.setRefundStatus(refund.id, 'succeeded');
    fake.setRefundStatus(refund.id, 'failed', 'expired_or_canceled_card');
    const events = fake.takeWebhooks().map((webhook) => JSON.parse(webhook.rawBody) as StripeEventJson);

    expectShape('event.payment_intent.succeeded', eventsOf(events, 'payment_intent.succeeded')[0]);
    expectShape('event.refund.created', eventsOf(events, 'refund.created')[0]);
    expectShape('event.charge.refunded', eventsOf(events, 'charge.refunded')[0]);
    expectShape('event.refund.updated', eventsOf(events, 'refund.updated')[0]);
    expectShape('event.no-api-version', eventsOf(events, 'refund.updated')[0]);
    expectShape('event.refund.failed', eventsOf(events, 'refund.failed')[0]);
    expectShape('event.charge.refund.updated', eventsOf(events, 'charge.refund.updated').at(-1));
    expect(eventsOf(events, 'charge.refund.updated').at(-1)?.data.previous_attributes).toMatchObject({
      status: 'succeeded',
      failure_reason: null,
    });
    // Exception: the fake sends no thin events (`object: "v2.core.event"`); Stripe sends them only to event destinations that ask.
    expect(events.every((event) => event.object === 'event')).toBe(true);
    expect(fixture('event.thin')).toMatchObject({ object: 'v2.core.event' });
  });

  it('Connect events carry the connected account', async () => {
    const { fake, stripe } = await startFake();
    const intent = fake.createPaymentIntent({ amount: 5_000, currency: 'eur', account: 'acct_studio' });
    await stripe.refunds.create({ payment_intent: intent.id }, { stripeAccount: 'acct_studio' });
    const [created] = eventsOf(fake.events(), 'refund.created');
    expectShape('event.connect', created);
    expect(created?.account).toBe('acct_studio');
  });

  it('the Events API: a list of events as webhooks carry them, pending_webhooks 0 once delivered', async () => {
    const { fake, stripe } = await startFake({ cardRefundsSettle: 'later' });
    const intent = fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 2_500 });
    fake.setRefundStatus(refund.id, 'succeeded');
    const [updated] = eventsOf(fake.events(), 'refund.updated');
    fake.markWebhooksDelivered(updated!.id);

    const list = plain(await stripe.events.list({ types: ['refund.updated'] }));
    expectShape('list.events', list);
    expect(list).not.toHaveProperty('total_count');
    expect((list['data'] as StripeEventJson[])[0]).toMatchObject({ id: updated!.id, pending_webhooks: 0 });
    expectShape('event.refund.updated', plain(await stripe.events.retrieve(updated!.id)));
    const [created] = (await stripe.events.list({ type: 'refund.created' })).data;
    expectShape('event.refund.created', plain(created!));
    expect(created).toMatchObject({ pending_webhooks: 1 });
    expect(fixture('list.events')).toMatchObject({ object: 'list', url: '/v1/events' });
  });

  it('charge.refunded lists the refunds only on the older API versions', async () => {
    const modern = await startFake();
    const legacy = await startFake({ chargeRefunds: 'always' });
    for (const { fake, stripe } of [modern, legacy]) {
      const intent = fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
      await stripe.refunds.create({ payment_intent: intent.id, amount: 2_500 });
    }
    const [modernEvent] = eventsOf(modern.fake.events(), 'charge.refunded');
    const [legacyEvent] = eventsOf(legacy.fake.events(), 'charge.refunded');

    expect(modernEvent?.data.object).not.toHaveProperty('refunds');
    expect(fixture('event.charge.refunded')).not.toHaveProperty('data.object.refunds');
    expectShape('event.charge.refunded-legacy', legacyEvent);
    expect(legacyEvent?.data.previous_attributes).toEqual({ amount_refunded: 0, refunds: { data: [], total_count: 0 } });
    // Expanding still works on today's versions.
    const charge = await modern.stripe.charges.retrieve(modernEvent!.data.object.id, { expand: ['refunds'] });
    expect(charge.refunds?.data).toHaveLength(1);
  });
});

describe('the fake behaves as Stripe does', () => {
  it('settles a card refund at creation: refund.created carries succeeded, charge.refunded follows', async () => {
    const { fake, stripe } = await startFake();
    const intent = fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    fake.takeWebhooks();

    const refund = await stripe.refunds.create({ payment_intent: intent.id });

    expect(refund).toMatchObject({ status: 'succeeded', destination_details: { type: 'card', card: { type: 'refund' } } });
    expect(refund).not.toHaveProperty('pending_reason');
    const events = fake.takeWebhooks().map((webhook) => webhook.event);
    expect(events.map((event) => event.type)).toEqual(['refund.created', 'charge.refunded']);
    expect(events[0]?.data.object).toMatchObject({ status: 'succeeded' });
  });

  it('starts bank debit refunds pending (processing), and card refunds too with cardRefundsSettle: later', async () => {
    const { fake, stripe } = await startFake();
    const sepa = fake.createPaymentIntent({ amount: 5_000, currency: 'eur', method: 'sepa_debit' });
    const ach = fake.createPaymentIntent({ amount: 5_000, currency: 'usd', method: 'us_bank_account' });
    expect(await stripe.refunds.create({ payment_intent: sepa.id })).toMatchObject({ status: 'pending', pending_reason: 'processing' });
    expect(await stripe.refunds.create({ payment_intent: ach.id })).toMatchObject({
      status: 'pending',
      destination_details: { type: 'us_bank_transfer', us_bank_transfer: { reference: null, reference_status: 'pending' } },
    });

    const later = await startFake({ cardRefundsSettle: 'later' });
    const card = later.fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    expect(await later.stripe.refunds.create({ payment_intent: card.id })).toMatchObject({
      status: 'pending',
      pending_reason: 'processing',
      destination_details: { card: { type: 'pending' } },
    });
  });

  it('queues refund.updated when only the pending reason changes', async () => {
    const { fake, stripe } = await startFake();
    const sepa = fake.createPaymentIntent({ amount: 5_000, currency: 'eur', method: 'sepa_debit' });
    const refund = await stripe.refunds.create({ payment_intent: sepa.id });
    fake.takeWebhooks();

    fake.setRefundStatus(refund.id, 'pending', { pendingReason: 'insufficient_funds' });
    fake.setRefundStatus(refund.id, 'pending', { pendingReason: 'insufficient_funds' });

    const events = fake.takeWebhooks().map((webhook) => webhook.event);
    expect(events.map((event) => event.type)).toEqual(['refund.updated', 'charge.refund.updated']);
    expect(events[0]?.data).toMatchObject({
      object: { status: 'pending', pending_reason: 'insufficient_funds' },
      previous_attributes: { pending_reason: 'processing' },
    });
  });

  it('sends charge.refund.updated for a failing card refund, as Stripe’s captured events show, unless told not to', async () => {
    const byDefault = await startFake();
    const nonCard = await startFake({ chargeRefundUpdated: 'non_card' });
    const types: string[][] = [];
    for (const { fake, stripe } of [byDefault, nonCard]) {
      const card = fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
      const refund = await stripe.refunds.create({ payment_intent: card.id });
      fake.takeWebhooks();
      fake.setRefundStatus(refund.id, 'failed', 'expired_or_canceled_card');
      types.push(fake.takeWebhooks().map((webhook) => webhook.event.type));
    }
    expect(types).toEqual([
      ['refund.updated', 'refund.failed', 'charge.refund.updated'],
      ['refund.updated', 'refund.failed'],
    ]);

    const sepa = nonCard.fake.createPaymentIntent({ amount: 5_000, currency: 'eur', method: 'sepa_debit' });
    const sepaRefund = await nonCard.stripe.refunds.create({ payment_intent: sepa.id });
    nonCard.fake.takeWebhooks();
    nonCard.fake.setRefundStatus(sepaRefund.id, 'succeeded');
    expect(nonCard.fake.takeWebhooks().map((webhook) => webhook.event.type)).toEqual(['refund.updated', 'charge.refund.updated']);
  });

  it('refunds a charge made without a payment intent: payment_intent is null', async () => {
    const { fake, stripe } = await startFake();
    const charge = fake.createCharge({ amount: 100, currency: 'usd' });
    expect(charge.payment_intent).toBeNull();

    const refund = await stripe.refunds.create({ charge: charge.id });

    expect(refund).toMatchObject({ charge: charge.id, payment_intent: null, status: 'succeeded' });
    expectShape('refund.reversal', plain(refund));
    const listed = await stripe.refunds.list({ charge: charge.id });
    expect(listed.data.map((item) => item.id)).toEqual([refund.id]);
  });
});

describe('the fixtures module', () => {
  it('re-ids a fixture consistently and keeps its shape', () => {
    const original = fixture('event.charge.refunded-legacy');
    const copy = reId(original, { suffix: 't1', amounts: { 2500: 700 }, account: 'acct_x' });

    expect(shapeProblems(original, copy)).toEqual([]);
    const object = (copy['data'] as { object: Record<string, any> }).object;
    expect(copy['id']).toMatch(/^evt_t1_/);
    expect(object['id']).toMatch(/^ch_t1_/);
    expect(object['refunds'].data[0].charge).toBe(object['id']);
    expect(object['refunds'].url).toBe(`/v1/charges/${object['id']}/refunds`);
    expect(object['amount_refunded']).toBe(700);
    expect(fixture('event.charge.refunded-legacy')).toEqual(original);
  });

  it('the comparison itself finds a missing field, a wrong type and an unexpected null', () => {
    expect(shapeProblems(fixture('refund.reversal'), { ...fixture('refund.reversal'), amount: '100', currency: null })).toEqual([
      'amount: string, Stripe sends number',
      'currency: null, Stripe sends string',
    ]);
    const { status: _status, ...withoutStatus } = fixture('refund.reversal');
    expect(shapeProblems(fixture('refund.reversal'), withoutStatus)).toEqual(['status: missing']);
  });
});
