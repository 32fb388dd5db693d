import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import type { FakeStripeServer } from '../../src/testing/stripe/fakeStripeServer.js';
import { caught, startFakeStripe } from './support.js';

/*
 * The fake's Events API (`GET /v1/events`, `GET /v1/events/:id`) through the
 * real SDK: what a reconciliation reads when webhooks were lost.
 */

const day = 86_400;
const start = 1_772_000_000;

const sdkFor = (fake: FakeStripeServer) => new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });

/** A fake whose clock stands still at `start`, with the SDK; `tick()` moves it on one second. */
const startFake = async () => {
  const fake = await startFakeStripe();
  let now = start;
  fake.setClock(now);
  return {
    fake,
    stripe: sdkFor(fake),
    tick(seconds = 1) {
      now += seconds;
      fake.setClock(now);
    },
  };
};

const idsOf = (events: ReadonlyArray<{ id: string }>) => events.map((event) => event.id);
const eventRequests = (fake: FakeStripeServer) => fake.requests.filter((request) => request.path === '/v1/events');


describe('GET /v1/events', () => {
  it('lists every event newest first; the SDK’s auto-pagination follows starting_after page by page', async () => {
    const { fake, stripe, tick } = await startFake();
    for (const amount of [100, 200, 300]) {
      fake.createPaymentIntent({ amount, currency: 'eur' });
      tick();
    }
    // Two in the same second: the later one is listed first.
    fake.createPaymentIntent({ amount: 400, currency: 'eur' });
    fake.createPaymentIntent({ amount: 500, currency: 'eur' });
    const generated = idsOf(fake.events());

    const listed = await stripe.events.list({ limit: 2 }).autoPagingToArray({ limit: 100 });

    expect(idsOf(listed)).toEqual([...generated].reverse());
    expect(listed.map((event) => (event.data.object as { amount: number }).amount)).toEqual([500, 400, 300, 200, 100]);
    expect(eventRequests(fake).map((request) => request.query)).toEqual([
      { limit: '2' },
      { limit: '2', starting_after: generated[3] },
      { limit: '2', starting_after: generated[1] },
    ]);
    const page = await stripe.events.list({ limit: 2 });
    expect(page).toMatchObject({ object: 'list', url: '/v1/events', has_more: true });
    expect(page).not.toHaveProperty('total_count');
  });

  it('answers the events just newer than ending_before, newest first: the SDK then walks them oldest first', async () => {
    const { fake, stripe, tick } = await startFake();
    for (const amount of [100, 200, 300, 400, 500]) {
      fake.createPaymentIntent({ amount, currency: 'eur' });
      tick();
    }
    const [first, second, third, fourth, fifth] = idsOf(fake.events());

    const page = await stripe.events.list({ ending_before: first!, limit: 2 });
    expect(idsOf(page.data)).toEqual([third, second]);
    expect(page.has_more).toBe(true);

    const chronological = await stripe.events.list({ ending_before: first!, limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(idsOf(chronological)).toEqual([second, third, fourth, fifth]);
    expect(eventRequests(fake).slice(1).map((request) => request.query['ending_before'])).toEqual([first, third]);
  });

  it('filters by types[], type (with a * wildcard), created and delivery_success', async () => {
    const { fake, stripe, tick } = await startFake();
    const intent = fake.createPaymentIntent({ amount: 5_000, currency: 'eur' }); // payment_intent.succeeded at start
    await fake.deliverWebhooks(async () => 200);
    tick(10);
    const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 1_000 }); // refund.created, charge.refunded at start + 10
    tick(10);
    fake.setRefundStatus(refund.id, 'failed', 'expired_or_canceled_card'); // refund.updated, refund.failed, charge.refund.updated at start + 20
    const typesOf = async (params: Stripe.EventListParams) =>
      (await stripe.events.list({ limit: 100, ...params })).data.map((event) => event.type);

    expect(await typesOf({ types: ['refund.created', 'payment_intent.succeeded'] })).toEqual(['refund.created', 'payment_intent.succeeded']);
    expect(await typesOf({ type: 'refund.*' })).toEqual(['refund.failed', 'refund.updated', 'refund.created']);
    expect(await typesOf({ type: 'charge.refund*' })).toEqual(['charge.refund.updated', 'charge.refunded']);
    expect(await typesOf({ type: 'refund.updated' })).toEqual(['refund.updated']);
    expect(await typesOf({ created: { gte: start + 10, lt: start + 20 } })).toEqual(['charge.refunded', 'refund.created']);
    expect(await typesOf({ created: { gt: start + 10 } })).toHaveLength(3);
    expect(await typesOf({ created: { lte: start } })).toEqual(['payment_intent.succeeded']);
    expect(await typesOf({ created: start + 20, type: 'refund.failed' })).toEqual(['refund.failed']);
    expect(await typesOf({ delivery_success: true })).toEqual(['payment_intent.succeeded']);
    expect(await typesOf({ delivery_success: false })).toHaveLength(5);
    // Filters and cursors together: the cursor need not match the filters, it only marks a place in the list.
    const [delivered] = (await stripe.events.list({ delivery_success: true })).data;
    expect(await typesOf({ ending_before: delivered!.id, types: ['refund.created', 'refund.failed'] })).toEqual(['refund.failed', 'refund.created']);
  });

  it('counts a webhook pending until the endpoint is known to have answered 2xx', async () => {
    const { fake, stripe } = await startFake();
    fake.createPaymentIntent({ amount: 100, currency: 'eur' });
    fake.createPaymentIntent({ amount: 200, currency: 'eur' });
    fake.createPaymentIntent({ amount: 300, currency: 'eur' });
    const [taken, failing, dropped] = idsOf(fake.events()) as [string, string, string];
    const pending = async () =>
      Object.fromEntries((await stripe.events.list()).data.map((event) => [event.id, event.pending_webhooks]));

    const webhooks = fake.takeWebhooks();
    expect(webhooks.every((webhook) => webhook.event.pending_webhooks === 1)).toBe(true);
    expect(await pending()).toEqual({ [taken]: 1, [failing]: 1, [dropped]: 1 });

    expect(fake.markWebhooksDelivered(taken, 'evt_never_generated')).toBe(1);
    expect(await pending()).toEqual({ [taken]: 0, [failing]: 1, [dropped]: 1 });

    // Stripe retries what failed; a 2xx then counts it delivered. A dropped one is never delivered.
    fake.createPaymentIntent({ amount: 400, currency: 'eur' });
    const results = await fake.deliverWebhooks(async (webhook) => (webhook.event.id === failing ? 500 : 200));
    expect(results.map((result) => result.ok)).toEqual([true]);
    expect(fake.dropWebhooks()).toEqual([]);
    const [fourth] = fake.events().slice(3);
    expect(await pending()).toEqual({ [taken]: 0, [failing]: 1, [dropped]: 1, [fourth!.id]: 0 });
    expect(idsOf((await stripe.events.list({ delivery_success: false })).data)).toEqual([dropped, failing]);
    expect(fake.events().map((event) => event.pending_webhooks)).toEqual([0, 1, 1, 0]);
    await expect(stripe.events.retrieve(taken)).resolves.toMatchObject({ pending_webhooks: 0 });
  });

  it('lists a connected account’s events only on that account (Stripe-Account)', async () => {
    const { fake, stripe } = await startFake();
    fake.createPaymentIntent({ amount: 100, currency: 'eur' });
    fake.createPaymentIntent({ amount: 200, currency: 'eur', account: 'acct_studio' });
    fake.createPaymentIntent({ amount: 300, currency: 'eur', account: 'acct_gallery' });
    const [platform, studio, gallery] = idsOf(fake.events());

    expect(idsOf((await stripe.events.list()).data)).toEqual([platform]);
    const onStudio = await stripe.events.list({}, { stripeAccount: 'acct_studio' });
    expect(idsOf(onStudio.data)).toEqual([studio]);
    expect(onStudio.data[0]).toMatchObject({ account: 'acct_studio' });
    expect(idsOf((await stripe.events.list({}, { stripeAccount: 'acct_gallery' })).data)).toEqual([gallery]);
    // Another account's event is no cursor here.
    expect(await caught(stripe.events.list({ starting_after: gallery! }, { stripeAccount: 'acct_studio' }))).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'starting_after',
    });
  });

  it('keeps events 30 days: older ones are neither listed, retrieved nor a cursor', async () => {
    const { fake, stripe, tick } = await startFake();
    fake.createPaymentIntent({ amount: 100, currency: 'eur' });
    tick(day);
    fake.createPaymentIntent({ amount: 200, currency: 'eur' });
    const [old, recent] = idsOf(fake.events()) as [string, string];

    tick(29 * day);
    expect(idsOf((await stripe.events.list()).data)).toEqual([recent, old]); // exactly 30 days old: still kept
    tick(1);
    expect(idsOf((await stripe.events.list()).data)).toEqual([recent]);
    expect(await caught(stripe.events.retrieve(old))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    expect(await caught(stripe.events.list({ ending_before: old }))).toMatchObject({ statusCode: 404, param: 'ending_before' });
    expect(fake.events()).toHaveLength(2); // the test still sees every event
  });

  it('refuses what Stripe refuses', async () => {
    const { fake, stripe } = await startFake();
    fake.createPaymentIntent({ amount: 100, currency: 'eur' });
    const refusal = (params: Record<string, unknown>) => caught(stripe.events.list(params as Stripe.EventListParams));

    expect(await refusal({ type: 'refund.created', types: ['refund.updated'] })).toMatchObject({ statusCode: 400, param: 'types' });
    expect(await refusal({ types: Array.from({ length: 21 }, (_, index) => `refund.type_${index}`) })).toMatchObject({ statusCode: 400, param: 'types' });
    expect(await refusal({ limit: 0 })).toMatchObject({ statusCode: 400, param: 'limit' });
    expect(await refusal({ limit: 101 })).toMatchObject({ statusCode: 400, param: 'limit' });
    expect(await refusal({ created: { after: 1 } })).toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'created[after]' });
    expect(await refusal({ created: { gte: 'yesterday' } })).toMatchObject({ statusCode: 400, param: 'created[gte]' });
    expect(await refusal({ delivery_success: 'maybe' })).toMatchObject({ statusCode: 400, param: 'delivery_success' });
    expect(await refusal({ object: 'refund' })).toMatchObject({ statusCode: 400, code: 'parameter_unknown' });
    expect(await refusal({ starting_after: 'evt_unknown' })).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    expect(await refusal({ expand: ['data.object'] })).toMatchObject({ statusCode: 400, param: 'expand' });
  });

  it('fails a later page on request (skip), the way a list interrupted by Stripe looks to the SDK', async () => {
    const { fake, stripe } = await startFake();
    for (const amount of [100, 200, 300]) fake.createPaymentIntent({ amount, currency: 'eur' });
    fake.failNext({ path: '/v1/events', status: 500, skip: 1 });

    const seen: string[] = [];
    const walk = async () => {
      for await (const event of stripe.events.list({ limit: 2 })) seen.push(event.id);
    };
    expect(await caught(walk())).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(seen).toHaveLength(2);
    expect(eventRequests(fake).map((request) => request.status)).toEqual([200, 500]);
    // Used up: the list works again.
    expect(await stripe.events.list({ limit: 2 }).autoPagingToArray({ limit: 10 })).toHaveLength(3);
  });
});
