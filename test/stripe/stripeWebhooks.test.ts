import { describe, expect, it } from 'vitest';
import { WebhookRejectedError, type WebhookDelivery, type WebhookRejection } from '../../src/adapters/stripe/stripeWebhooks.js';
import type { SignedWebhook } from '../../src/testing/stripe/fakeStripeServer.js';
import { onlyOfType, ofType, startStripeWorld, storeSnapshot, type StripeWorld, type StripeWorldOptions } from './support.js';

/*
 * The webhook endpoint through the real SDK's verification: what it refuses
 * (typed, nothing written, nobody told) and how each Stripe event it accepts
 * moves a credit note.
 */

const merchant = 'acct_merchant';

/** A paid card payment of 100.00 EUR on the merchant's connected account; its `payment_intent.succeeded` is already handled (the host saw it). */
const paidPayment = (world: StripeWorld, input: { amount?: number; account?: string | null } = {}) => {
  const account = input.account === undefined ? merchant : input.account;
  const payment = world.fake.createPaymentIntent({ amount: input.amount ?? 10_000, currency: 'eur', account });
  world.fake.takeWebhooks();
  return payment;
};

/** cn_1 refunds 30.00 of the payment; the refund is pending at Stripe and its creation webhooks are waiting. */
const requestedRefund = async (world: StripeWorld, input: { account?: string | null } = {}) => {
  const account = input.account === undefined ? merchant : input.account;
  const payment = paidPayment(world, { account });
  const issued = await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account, amount: 3_000 });
  expect(issued._unsafeUnwrap().status).toBe('requested');
  const [refund] = world.fake.refunds();
  if (!refund) throw new Error('the issue created no refund at the fake Stripe');
  return { payment, refund, created: world.fake.takeWebhooks() };
};

/** As above, then Stripe settles the refund: its `refund.updated` (succeeded) would complete cn_1. */
const settledRefund = async (world: StripeWorld, input: { account?: string | null } = {}) => {
  const requested = await requestedRefund(world, input);
  world.fake.setRefundStatus(requested.refund.id, 'succeeded');
  const settled = world.fake.takeWebhooks();
  return { ...requested, settled, refundUpdated: onlyOfType(settled, 'refund.updated') };
};

const statusOf = async (world: StripeWorld, creditNoteId: string) =>
  (await world.lifecycle.getCreditNote(creditNoteId))._unsafeUnwrap().status;

const notified = (world: StripeWorld) => world.notifier.calls.map((call) => [call.creditNote.creditNoteId, call.kind]);

/** Delivers something the endpoint must refuse, and proves it wrote nothing and told nobody. */
const expectRejected = async (world: StripeWorld, delivery: WebhookDelivery, reason: WebhookRejection) => {
  const before = await storeSnapshot(world.store);
  const notificationsBefore = world.notifier.calls.length;

  const result = await world.webhooks.handleWebhook(delivery);

  const error = result._unsafeUnwrapErr();
  expect(error).toBeInstanceOf(WebhookRejectedError);
  expect(error).toMatchObject({ code: 'webhook_rejected', reason });
  expect(await storeSnapshot(world.store)).toEqual(before);
  expect(world.notifier.calls).toHaveLength(notificationsBefore);
};

/** The genuine delivery still completes cn_1: the refusal above was about the tampering, not the setup. */
const expectGenuineStillApplies = async (world: StripeWorld, genuine: SignedWebhook) => {
  const applied = (await world.webhooks.handleWebhook({ rawBody: genuine.rawBody, signature: genuine.signature }))._unsafeUnwrap();
  expect(applied).toMatchObject({ eventId: genuine.event.id, outcome: 'applied', creditNoteIds: ['cn_1'] });
  expect(await statusOf(world, 'cn_1')).toBe('succeeded');
  expect(notified(world)).toEqual([['cn_1', 'refund_completed']]);
};

describe('verifying a delivery', () => {
  type Tampering = {
    name: string;
    reason: WebhookRejection;
    delivery: (world: StripeWorld, genuine: SignedWebhook) => WebhookDelivery;
  };
  const tamperings: Tampering[] = [
    {
      // The most reported integration bug: a JSON body parser ran before the webhook route.
      name: 'a parsed object instead of the raw body',
      reason: 'raw_body_required',
      delivery: (_, genuine) => ({ rawBody: JSON.parse(genuine.rawBody), signature: genuine.signature }),
    },
    {
      name: 'a body parsed and serialised again (other whitespace)',
      reason: 'signature_invalid',
      delivery: (_, genuine) => ({ rawBody: JSON.stringify(JSON.parse(genuine.rawBody)), signature: genuine.signature }),
    },
    { name: 'a missing Stripe-Signature header', reason: 'signature_missing', delivery: (_, genuine) => ({ rawBody: genuine.rawBody, signature: undefined }) },
    { name: 'an empty Stripe-Signature header', reason: 'signature_missing', delivery: (_, genuine) => ({ rawBody: genuine.rawBody, signature: '' }) },
    {
      name: 'a signature made with another secret',
      reason: 'signature_invalid',
      delivery: (world, genuine) => ({ rawBody: genuine.rawBody, signature: world.fake.sign(genuine.rawBody, world.unixNow(), 'whsec_other') }),
    },
    {
      name: 'a tampered body under the genuine signature',
      reason: 'signature_invalid',
      delivery: (_, genuine) => {
        const tampered = genuine.rawBody.replace('"amount": 3000', '"amount": 30');
        expect(tampered).not.toBe(genuine.rawBody);
        return { rawBody: tampered, signature: genuine.signature };
      },
    },
    {
      name: 'a correctly signed body that is not JSON',
      reason: 'payload_not_json',
      delivery: (world) => ({ rawBody: 'not json', signature: world.fake.sign('not json') }),
    },
    {
      name: 'a signature 301 s old',
      reason: 'timestamp_outside_tolerance',
      delivery: (world, genuine) => ({ rawBody: genuine.rawBody, signature: world.fake.sign(genuine.rawBody, world.unixNow() - 301) }),
    },
    {
      name: 'a signature 301 s in the future',
      reason: 'timestamp_outside_tolerance',
      delivery: (world, genuine) => ({ rawBody: genuine.rawBody, signature: world.fake.sign(genuine.rawBody, world.unixNow() + 301) }),
    },
    {
      name: 'a header without a timestamp',
      reason: 'signature_invalid',
      delivery: (_, genuine) => ({ rawBody: genuine.rawBody, signature: genuine.signature.replace(/^t=\d+,/, '') }),
    },
  ];

  it.each(tamperings)('refuses $name ($reason), writing nothing', async ({ reason, delivery }) => {
    const world = await startStripeWorld();
    const { refundUpdated } = await settledRefund(world);

    await expectRejected(world, delivery(world, refundUpdated), reason);
    expect(await statusOf(world, 'cn_1')).toBe('requested');

    await expectGenuineStillApplies(world, refundUpdated);
  });

  it("refuses a future timestamp that Stripe's SDK alone would accept", async () => {
    const world = await startStripeWorld();
    const { refundUpdated } = await settledRefund(world);
    const fromTheFuture = world.fake.sign(refundUpdated.rawBody, world.unixNow() + 3_600);

    // The SDK's check is one-sided: it only refuses signatures older than its tolerance.
    const sdkVerdict = world.stripe.webhooks.constructEvent(
      refundUpdated.rawBody,
      fromTheFuture,
      world.fake.webhookSecret,
      300,
      undefined,
      world.clock.now().getTime(),
    );
    expect(sdkVerdict.id).toBe(refundUpdated.event.id);

    await expectRejected(world, { rawBody: refundUpdated.rawBody, signature: fromTheFuture }, 'timestamp_outside_tolerance');
  });

  it('accepts a signature up to the tolerance away, both ways', async () => {
    const world = await startStripeWorld();
    const { refundUpdated, settled } = await settledRefund(world);
    const chargeRefundUpdated = onlyOfType(settled, 'charge.refund.updated');

    const late = await world.webhooks.handleWebhook({
      rawBody: refundUpdated.rawBody,
      signature: world.fake.sign(refundUpdated.rawBody, world.unixNow() - 300),
    });
    const early = await world.webhooks.handleWebhook({
      rawBody: chargeRefundUpdated.rawBody,
      signature: world.fake.sign(chargeRefundUpdated.rawBody, world.unixNow() + 300),
    });

    expect(late._unsafeUnwrap().outcome).toBe('applied');
    expect(early._unsafeUnwrap().outcome).toBe('unchanged');
  });

  it('honours a configured tolerance', async () => {
    const world = await startStripeWorld({ webhooks: { toleranceSeconds: 10 } });
    const { refundUpdated } = await settledRefund(world);

    await expectRejected(
      world,
      { rawBody: refundUpdated.rawBody, signature: world.fake.sign(refundUpdated.rawBody, world.unixNow() - 11) },
      'timestamp_outside_tolerance',
    );
    await expectGenuineStillApplies(world, refundUpdated);
  });

  it('accepts the raw body as a Buffer, as body parsers hand it over', async () => {
    const world = await startStripeWorld();
    const { refundUpdated } = await settledRefund(world);

    const result = await world.webhooks.handleWebhook({ rawBody: Buffer.from(refundUpdated.rawBody, 'utf8'), signature: refundUpdated.signature });

    expect(result._unsafeUnwrap()).toMatchObject({ outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(await statusOf(world, 'cn_1')).toBe('succeeded');
  });

  const modes: Array<{ name: string; options: StripeWorldOptions }> = [
    { name: 'a live event on a test-mode endpoint', options: { fake: { livemode: true } } },
    { name: 'a test event on a live-mode endpoint', options: { webhooks: { livemode: true } } },
  ];
  it.each(modes)('refuses $name (livemode_mismatch)', async ({ options }) => {
    const world = await startStripeWorld(options);
    const { refundUpdated } = await settledRefund(world);

    await expectRejected(world, refundUpdated, 'livemode_mismatch');
    expect(await statusOf(world, 'cn_1')).toBe('requested');
  });

  it('accepts live events on a live-mode endpoint', async () => {
    const world = await startStripeWorld({ fake: { livemode: true }, webhooks: { livemode: true } });
    const { refundUpdated } = await settledRefund(world);
    expect(refundUpdated.event.livemode).toBe(true);

    await expectGenuineStillApplies(world, refundUpdated);
  });
});

describe("checking the event's account (Connect)", () => {
  /** The genuine event, re-addressed and signed with the real secret: only the account check can stop it. */
  const fromAccount = (world: StripeWorld, genuine: SignedWebhook, account: string | null) => {
    const { account: _genuineAccount, ...rest } = structuredClone(genuine.event);
    return world.signed(account === null ? rest : { ...rest, account });
  };

  it('refuses a refund event from another connected account than the credit note’s', async () => {
    const world = await startStripeWorld();
    const { refundUpdated } = await settledRefund(world);
    expect(refundUpdated.event.account).toBe(merchant);

    await expectRejected(world, fromAccount(world, refundUpdated, 'acct_other'), 'account_mismatch');
    await expectRejected(world, fromAccount(world, refundUpdated, null), 'account_mismatch');
    expect(await statusOf(world, 'cn_1')).toBe('requested');

    await expectGenuineStillApplies(world, refundUpdated);
  });

  it("refuses a connected account's event about a platform credit note", async () => {
    const world = await startStripeWorld();
    const { refundUpdated } = await settledRefund(world, { account: null });
    expect(refundUpdated.event.account).toBeUndefined();

    await expectRejected(world, fromAccount(world, refundUpdated, merchant), 'account_mismatch');
    await expectGenuineStillApplies(world, refundUpdated);
  });

  it('refuses a charge confirmation from another account than the waiting credit note’s', async () => {
    const world = await startStripeWorld();
    const payment = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur', account: merchant, status: 'processing' });
    await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, chargeConfirmed: false });
    world.fake.succeedPaymentIntent(payment.id);
    const succeeded = onlyOfType(world.fake.takeWebhooks(), 'payment_intent.succeeded');

    await expectRejected(world, fromAccount(world, succeeded, 'acct_other'), 'account_mismatch');
    expect(await statusOf(world, 'cn_1')).toBe('pending');
    expect(world.fake.refunds()).toEqual([]);
  });

  it('refuses a refund without our metadata from another account than the payment’s, adopting nothing', async () => {
    const world = await startStripeWorld();
    const { payment } = await requestedRefund(world);
    world.fake.createDashboardRefund({ paymentIntent: payment.id, amount: 1_000 });
    const dashboardCreated = onlyOfType(world.fake.takeWebhooks(), 'refund.created');

    // Stripe ids are unique: a refund of the merchant's payment can only come from the merchant's account.
    await expectRejected(world, fromAccount(world, dashboardCreated, 'acct_other'), 'account_mismatch');
    expect((await world.lifecycle.listCreditNotes())._unsafeUnwrap().map((view) => view.creditNoteId)).toEqual(['cn_1']);
  });
});

describe('mapping Stripe events to observations', () => {
  it('refund.created of a refund the issue already recorded: unchanged, naming the credit note', async () => {
    const world = await startStripeWorld();
    const { created, refund } = await requestedRefund(world);
    const before = await storeSnapshot(world.store);

    const outcome = (await world.deliver(ofType(created, 'refund.created')))[0]!._unsafeUnwrap();

    expect(outcome).toMatchObject({ eventType: 'refund.created', outcome: 'unchanged', reason: null, creditNoteIds: ['cn_1'] });
    expect(await storeSnapshot(world.store)).toEqual(before);
    expect((await world.lifecycle.getCreditNote('cn_1'))._unsafeUnwrap().refund).toMatchObject({
      processorRefundId: refund.id,
      status: 'accepted',
    });
  });

  it('refund.created and charge.refunded tell of a refund whose create answer was lost', async () => {
    const world = await startStripeWorld();
    const payment = paidPayment(world);
    // Stripe made the refund, then the connection broke: the issue cannot know the refund's id.
    world.fake.acceptThenDropNext({ path: '/v1/refunds', method: 'POST' });
    const issued = (await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, amount: 3_000 }))._unsafeUnwrap();
    expect(issued).toMatchObject({ status: 'pending', refund: { processorRefundId: null } });
    const [refund] = world.fake.refunds();
    const webhooks = world.fake.takeWebhooks();

    const [created, chargeRefunded] = await world.deliver([onlyOfType(webhooks, 'refund.created'), onlyOfType(webhooks, 'charge.refunded')]);

    expect(created!._unsafeUnwrap()).toMatchObject({ outcome: 'applied', creditNoteIds: ['cn_1'] });
    // On API versions since 2024-10-28 every refund has its own refund.* events: charge.refunded adds nothing.
    expect(chargeRefunded!._unsafeUnwrap()).toMatchObject({
      eventType: 'charge.refunded',
      outcome: 'ignored',
      reason: 'reported_by_refund_events',
    });
    expect((await world.lifecycle.getCreditNote('cn_1'))._unsafeUnwrap()).toMatchObject({
      status: 'requested',
      refund: { processorRefundId: refund!.id },
    });
  });

  it.each(['2022-11-15', '2024-09-30.acacia', null])(
    'on an endpoint of API version %s, charge.refunded alone tells of a refund whose create answer was lost: the handler asks Stripe for the charge\u2019s refunds',
    async (apiVersion) => {
      // Endpoints on 2022-11-15 … 2024-09-30 get no refund.* events for card refunds, and their charge.refunded
      // lists no refunds: without asking Stripe, the refund would stay in doubt until someone pressed Refresh.
      const world = await startStripeWorld();
      const payment = paidPayment(world);
      world.fake.acceptThenDropNext({ path: '/v1/refunds', method: 'POST' });
      await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, amount: 3_000 });
      const [refund] = world.fake.refunds();
      const event = structuredClone(onlyOfType(world.fake.takeWebhooks(), 'charge.refunded').event);
      event.api_version = apiVersion as string;
      expect(event.data.object).not.toHaveProperty('refunds');
      const requestsBefore = world.fake.requests.length;

      const outcome = (await world.deliver([world.signed(event)]))[0]!._unsafeUnwrap();

      expect(outcome).toMatchObject({ outcome: 'applied', creditNoteIds: ['cn_1'] });
      expect(world.fake.requests.slice(requestsBefore).map((request) => [request.method, request.path, request.account])).toEqual([
        ['GET', '/v1/refunds', merchant],
      ]);
      expect((await world.lifecycle.getCreditNote('cn_1'))._unsafeUnwrap()).toMatchObject({
        status: 'requested',
        refund: { processorRefundId: refund!.id, status: 'accepted' },
      });
    },
  );

  it('an older charge.refunded about a payment no credit note refunds asks Stripe nothing', async () => {
    const world = await startStripeWorld();
    const payment = paidPayment(world);
    world.fake.createDashboardRefund({ paymentIntent: payment.id, amount: 1_000 });
    const event = structuredClone(onlyOfType(world.fake.takeWebhooks(), 'charge.refunded').event);
    event.api_version = '2023-10-16';
    const requestsBefore = world.fake.requests.length;

    const outcome = (await world.deliver([world.signed(event)]))[0]!._unsafeUnwrap();

    expect(outcome).toMatchObject({ outcome: 'ignored', reason: 'unknown_payment' });
    expect(world.fake.requests).toHaveLength(requestsBefore);
  });

  it('charge.refunded names every credit note whose refund it lists (endpoints before 2022-11-15 get the list)', async () => {
    const world = await startStripeWorld({ fake: { cardRefundsSettle: 'later', chargeRefunds: 'always' } });
    const payment = paidPayment(world);
    await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, amount: 3_000 });
    await world.issue({ creditNoteId: 'cn_2', paymentId: payment.id, account: merchant, amount: 2_000 });
    const lastChargeRefunded = ofType(world.fake.takeWebhooks(), 'charge.refunded').at(-1)!;

    const outcome = (await world.deliver([lastChargeRefunded]))[0]!._unsafeUnwrap();

    expect(outcome.outcome).toBe('unchanged');
    expect([...outcome.creditNoteIds].sort()).toEqual(['cn_1', 'cn_2']);
  });

  it('refund.updated to succeeded completes the credit note and tells the client once', async () => {
    const world = await startStripeWorld();
    const { refundUpdated } = await settledRefund(world);

    const [first, again] = await world.deliver([refundUpdated, refundUpdated]);

    expect(first!._unsafeUnwrap()).toMatchObject({ eventType: 'refund.updated', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(again!._unsafeUnwrap()).toMatchObject({ outcome: 'unchanged', creditNoteIds: ['cn_1'] });
    expect(await statusOf(world, 'cn_1')).toBe('succeeded');
    expect(notified(world)).toEqual([['cn_1', 'refund_completed']]);
  });

  it('charge.refund.updated alone settles the refund when it arrives first', async () => {
    const world = await startStripeWorld();
    const { settled } = await settledRefund(world);

    const [outcome] = await world.deliver([onlyOfType(settled, 'charge.refund.updated')]);

    expect(outcome!._unsafeUnwrap()).toMatchObject({ eventType: 'charge.refund.updated', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(await statusOf(world, 'cn_1')).toBe('succeeded');
  });

  it('refund.failed fails the credit note with Stripe’s reason and tells the merchant once', async () => {
    const world = await startStripeWorld();
    const { refund } = await requestedRefund(world);
    world.fake.setRefundStatus(refund.id, 'failed', 'lost_or_stolen_card');
    const webhooks = world.fake.takeWebhooks();
    const refundFailed = onlyOfType(webhooks, 'refund.failed');

    const [first, ...rest] = await world.deliver([refundFailed, ...webhooks]);

    expect(first!._unsafeUnwrap()).toMatchObject({ eventType: 'refund.failed', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(rest.map((result) => result._unsafeUnwrap().outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect((await world.lifecycle.getCreditNote('cn_1'))._unsafeUnwrap()).toMatchObject({
      status: 'failed',
      failure: { processorReason: 'lost_or_stolen_card', classification: { retry: 'will_not_help', recovery: 'manual_refund' } },
    });
    expect(notified(world)).toEqual([['cn_1', 'refund_failed']]);
  });

  it('payment_intent.succeeded confirms the charge and releases the credit note waiting for it (the charge-confirmation gate)', async () => {
    const world = await startStripeWorld();
    const payment = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur', account: merchant, method: 'sepa_debit', status: 'processing' });
    const waiting = (await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, chargeConfirmed: false }))._unsafeUnwrap();
    expect(waiting).toMatchObject({ status: 'pending', pendingReason: 'charge_not_confirmed' });
    expect(world.fake.refunds()).toEqual([]);

    world.fake.succeedPaymentIntent(payment.id);
    const succeeded = onlyOfType(world.fake.takeWebhooks(), 'payment_intent.succeeded');
    const [confirmed, again] = await world.deliver([succeeded, succeeded]);

    expect(confirmed!._unsafeUnwrap()).toMatchObject({ eventType: 'payment_intent.succeeded', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(again!._unsafeUnwrap()).toMatchObject({ outcome: 'unchanged', creditNoteIds: [] });
    expect(await statusOf(world, 'cn_1')).toBe('requested');
    expect(world.fake.refunds()).toMatchObject([{ amount: 1_000, metadata: { creditNoteId: 'cn_1', attempt: '1' } }]);
  });
});

describe('repeats, strangers and stale news', () => {
  it('acknowledges a redelivered event (same id) and writes nothing new', async () => {
    const world = await startStripeWorld();
    const { refundUpdated } = await settledRefund(world);
    await world.deliver([refundUpdated]);
    const before = await storeSnapshot(world.store);

    const redelivered = world.signed(refundUpdated.event);
    const outcome = (await world.deliver([redelivered]))[0]!._unsafeUnwrap();

    expect(outcome).toMatchObject({ eventId: refundUpdated.event.id, outcome: 'unchanged' });
    expect(await storeSnapshot(world.store)).toEqual(before);
    expect(notified(world)).toEqual([['cn_1', 'refund_completed']]);
  });

  it('acknowledges and ignores an event type it does not handle', async () => {
    const world = await startStripeWorld();
    await requestedRefund(world);
    const before = await storeSnapshot(world.store);
    const customerCreated = world.signed({
      id: 'evt_customer_1',
      object: 'event',
      api_version: '2026-10-28.endive',
      created: world.unixNow(),
      data: { object: { id: 'cus_1', object: 'customer', email: 'client@example.com' } },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: 'customer.created',
    });

    const outcome = (await world.deliver([customerCreated]))[0]!._unsafeUnwrap();

    expect(outcome).toEqual({
      eventId: 'evt_customer_1',
      eventType: 'customer.created',
      outcome: 'ignored',
      reason: 'unhandled_event_type',
      creditNoteIds: [],
    });
    expect(await storeSnapshot(world.store)).toEqual(before);
  });

  it('ignores a refund event naming a credit note it does not know', async () => {
    const world = await startStripeWorld();
    const { refundUpdated } = await settledRefund(world);
    const before = await storeSnapshot(world.store);
    const event = structuredClone(refundUpdated.event);
    // A refund never recorded on any credit note: only its metadata speaks for it.
    Object.assign(event.data.object, {
      id: 're_never_recorded',
      metadata: { creditNoteId: 'cn_elsewhere', attempt: '1', origin: 'refund-lifecycle' },
    });

    const outcome = (await world.deliver([world.signed(event)]))[0]!._unsafeUnwrap();

    expect(outcome).toMatchObject({ outcome: 'ignored', reason: 'unknown_credit_note', creditNoteIds: [] });
    expect(await storeSnapshot(world.store)).toEqual(before);
  });

  it('never moves a credit note backwards when an older status arrives after a newer one', async () => {
    const world = await startStripeWorld();
    const { created, settled } = await settledRefund(world);
    const succeededFirst = [...settled, ...created];
    expect(succeededFirst.map((webhook) => webhook.event.type)).toEqual([
      'refund.updated',
      'charge.refund.updated',
      'refund.created',
      'charge.refunded',
    ]);

    const [applied, ...stale] = await world.deliver(succeededFirst);
    const history = (await world.lifecycle.history('cn_1'))._unsafeUnwrap();

    expect(applied!._unsafeUnwrap().outcome).toBe('applied');
    // charge.refunded tells nothing refund.* events do not (API version 2024-10-28 on): acknowledged, ignored.
    expect(stale.map((result) => result._unsafeUnwrap().outcome)).toEqual(['unchanged', 'unchanged', 'ignored']);
    expect((await world.lifecycle.getCreditNote('cn_1'))._unsafeUnwrap()).toMatchObject({ status: 'succeeded', refund: { status: 'succeeded' } });
    expect(history.at(-1)?.type).toBe('RefundSucceeded');
  });

  it('follows a refund Stripe fails after it succeeded, telling the merchant once', async () => {
    // Stripe documents refunds that fail after succeeding (e.g. the card's account was closed):
    // `charge.refund.updated` then carries previous_attributes.status 'succeeded'.
    const world = await startStripeWorld();
    const { refund, settled } = await settledRefund(world);
    await world.deliver(settled);
    expect(notified(world)).toEqual([['cn_1', 'refund_completed']]);

    world.fake.setRefundStatus(refund.id, 'failed', 'expired_or_canceled_card');
    const reversed = world.fake.takeWebhooks({ copies: 2, order: 'reversed' });
    expect(onlyOfType(reversed.slice(0, 3), 'charge.refund.updated').event.data.previous_attributes).toMatchObject({ status: 'succeeded' });
    const outcomes = (await world.deliver(reversed)).map((result) => result._unsafeUnwrap().outcome);

    expect(outcomes.filter((outcome) => outcome === 'applied')).toHaveLength(1);
    expect((await world.lifecycle.getCreditNote('cn_1'))._unsafeUnwrap()).toMatchObject({
      status: 'failed',
      failure: { processorReason: 'expired_or_canceled_card', classification: { recovery: 'manual_refund' } },
    });
    expect(notified(world)).toEqual([
      ['cn_1', 'refund_completed'],
      ['cn_1', 'refund_failed'],
    ]);
    expect(world.notifier.calls.at(-1)?.recipient).toBe('merchant');
  });
});

describe('a refund id recorded on a credit note is that credit note\u2019s, whatever its metadata says', () => {
  it.each<[string, Record<string, string>]>([
    ['cleared', {}],
    ['pointing at another credit note', { creditNoteId: 'cn_other', attempt: '1', origin: 'refund-lifecycle' }],
    ['rewritten by another system', { creditNoteId: 'cn_1', origin: 'erp' }],
    ['naming a later attempt', { creditNoteId: 'cn_1', attempt: '7', origin: 'refund-lifecycle' }],
  ])('metadata %s at Stripe: still cn_1, no second credit note, one email', async (_, metadata) => {
    const world = await startStripeWorld();
    const { refund, created, refundUpdated } = await settledRefund(world);
    await world.deliver(created);
    const edited = structuredClone(refundUpdated.event);
    (edited.data.object as { metadata: Record<string, string> }).metadata = metadata;

    const outcomes = (await world.deliver([world.signed(edited), refundUpdated])).map((result) => result._unsafeUnwrap());

    expect(outcomes.map((outcome) => [outcome.outcome, outcome.creditNoteIds])).toEqual([
      ['applied', ['cn_1']],
      ['unchanged', ['cn_1']],
    ]);
    expect((await world.lifecycle.listCreditNotes())._unsafeUnwrap().map((view) => view.creditNoteId)).toEqual(['cn_1']);
    expect((await world.lifecycle.getCreditNote('cn_1'))._unsafeUnwrap()).toMatchObject({
      status: 'succeeded',
      refund: { processorRefundId: refund.id },
    });
    expect(notified(world)).toEqual([['cn_1', 'refund_completed']]);
  });
});

describe('Stripe\u2019s pending_reason on the credit note', () => {
  it('insufficient_funds shows a top-up notice until the refund succeeds', async () => {
    const world = await startStripeWorld();
    const { refund, created } = await requestedRefund(world);
    await world.deliver(created);
    world.fake.setRefundStatus(refund.id, 'pending', { pendingReason: 'insufficient_funds' });

    const waiting = (await world.deliver(world.fake.takeWebhooks()))[0]!._unsafeUnwrap();

    expect(waiting).toMatchObject({ outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect((await world.lifecycle.getCreditNote('cn_1'))._unsafeUnwrap()).toMatchObject({
      status: 'requested',
      refund: { processorStatus: 'pending', processorPendingReason: 'insufficient_funds' },
      processorNotice: { pendingReason: 'insufficient_funds', recovery: 'top_up_balance' },
    });

    world.fake.setRefundStatus(refund.id, 'succeeded');
    await world.deliver(world.fake.takeWebhooks());

    expect((await world.lifecycle.getCreditNote('cn_1'))._unsafeUnwrap()).toMatchObject({
      status: 'succeeded',
      refund: { processorPendingReason: null },
      processorNotice: null,
    });
  });
});

describe('refunds made in the Stripe dashboard', () => {
  const creditNoteIds = async (world: StripeWorld) =>
    (await world.lifecycle.listCreditNotes())._unsafeUnwrap().map((view) => view.creditNoteId);

  it('become one credit note of processor origin, however many times their events arrive', async () => {
    const world = await startStripeWorld();
    const { payment, created } = await requestedRefund(world);
    await world.deliver(created);
    const dashboard = world.fake.createDashboardRefund({ paymentIntent: payment.id, amount: 2_000 });
    world.fake.setRefundStatus(dashboard.id, 'succeeded');
    const webhooks = world.fake.takeWebhooks({ copies: 2 });
    expect(new Set(webhooks.map((webhook) => webhook.event.type))).toEqual(
      new Set(['refund.created', 'charge.refunded', 'refund.updated', 'charge.refund.updated']),
    );

    const outcomes = (await world.deliver(webhooks)).map((result) => result._unsafeUnwrap());

    const adopted = `stripe-${dashboard.id}`;
    const aboutTheRefund = outcomes.filter((outcome) => outcome.eventType !== 'charge.refunded');
    expect(aboutTheRefund).toHaveLength(6);
    expect(aboutTheRefund.every((outcome) => outcome.creditNoteIds.includes(adopted))).toBe(true);
    expect((await creditNoteIds(world)).sort()).toEqual(['cn_1', adopted]);
    expect((await world.lifecycle.getCreditNote(adopted))._unsafeUnwrap()).toMatchObject({
      status: 'succeeded',
      amount: 2_000,
      currency: 'eur',
      payment: { processor: 'stripe', paymentId: payment.id, account: merchant },
      refund: { processorRefundId: dashboard.id },
    });
    const [issuedEvent] = (await world.lifecycle.history(adopted))._unsafeUnwrap();
    expect(issuedEvent).toMatchObject({ type: 'CreditNoteIssued', data: { origin: 'processor' } });
    // Our own refund, seen through the same charge.refunded events, was never taken for an external one.
    expect(await statusOf(world, 'cn_1')).toBe('requested');
    expect(notified(world)).toEqual([[adopted, 'refund_completed']]);
  });

  it('email the client and run refundSucceeded by default; a host whose merchants told the client already turns that off', async () => {
    const adoptSettledDashboardRefund = async (world: StripeWorld) => {
      const { payment, created } = await requestedRefund(world);
      await world.deliver(created);
      const dashboard = world.fake.createDashboardRefund({ paymentIntent: payment.id, amount: 2_000 });
      world.fake.setRefundStatus(dashboard.id, 'succeeded');
      await world.deliver(world.fake.takeWebhooks());
      world.fake.setRefundStatus(dashboard.id, 'failed', 'expired_or_canceled_card');
      await world.deliver(world.fake.takeWebhooks());
      return `stripe-${dashboard.id}`;
    };
    const hookCalls: string[] = [];
    const hooks = {
      refundSucceeded: ({ creditNote }: { creditNote: { creditNoteId: string } }) => void hookCalls.push(`succeeded ${creditNote.creditNoteId}`),
      refundFailed: ({ creditNote }: { creditNote: { creditNoteId: string } }) => void hookCalls.push(`failed ${creditNote.creditNoteId}`),
    };

    const byDefault = await startStripeWorld({ lifecycle: { hooks } });
    const adopted = await adoptSettledDashboardRefund(byDefault);
    expect(notified(byDefault)).toEqual([
      [adopted, 'refund_completed'],
      [adopted, 'refund_failed'],
    ]);
    expect(hookCalls).toEqual([`succeeded ${adopted}`, `failed ${adopted}`]);

    hookCalls.length = 0;
    const quiet = await startStripeWorld({ lifecycle: { hooks, adoptedRefunds: { notifyClient: false, runHooks: false } } });
    const adoptedQuietly = await adoptSettledDashboardRefund(quiet);
    // The merchant still hears that the refund they made failed; the client and the hooks hear nothing.
    expect(notified(quiet)).toEqual([[adoptedQuietly, 'refund_failed']]);
    expect(quiet.notifier.calls.every((call) => call.recipient === 'merchant')).toBe(true);
    expect(hookCalls).toEqual([]);
    expect(await statusOf(quiet, adoptedQuietly)).toBe('failed');
  });

  it('never adopt our own refunds: they carry our metadata', async () => {
    const world = await startStripeWorld();
    const { refund, created } = await requestedRefund(world);
    world.fake.setRefundStatus(refund.id, 'succeeded');

    await world.deliver([...created, ...world.fake.takeWebhooks()]);

    expect(refund.metadata).toMatchObject({ creditNoteId: 'cn_1', attempt: '1', origin: 'refund-lifecycle' });
    expect(await creditNoteIds(world)).toEqual(['cn_1']);
  });

  it('are ignored when adoption is switched off', async () => {
    const world = await startStripeWorld({ webhooks: { adoptExternalRefunds: false } });
    const { payment } = await requestedRefund(world);
    world.fake.createDashboardRefund({ paymentIntent: payment.id, amount: 2_000 });
    const before = await storeSnapshot(world.store);

    const outcome = (await world.deliver([onlyOfType(world.fake.takeWebhooks(), 'refund.created')]))[0]!._unsafeUnwrap();

    expect(outcome).toMatchObject({ outcome: 'ignored', reason: 'external_refund', creditNoteIds: [] });
    expect(await storeSnapshot(world.store)).toEqual(before);
  });

  it('of a payment the library never refunded are none of its business', async () => {
    const world = await startStripeWorld();
    await requestedRefund(world);
    const stranger = paidPayment(world, { amount: 4_000 });
    world.fake.createDashboardRefund({ paymentIntent: stranger.id });
    const before = await storeSnapshot(world.store);

    const outcome = (await world.deliver([onlyOfType(world.fake.takeWebhooks(), 'refund.created')]))[0]!._unsafeUnwrap();

    expect(outcome).toMatchObject({ outcome: 'ignored', reason: 'unknown_payment', creditNoteIds: [] });
    expect(await storeSnapshot(world.store)).toEqual(before);
  });

  it('of a payment whose success the endpoint saw, but that no credit note refunds, are none of its business either', async () => {
    // An endpoint subscribed to payment_intent.succeeded (needed for the charge-confirmation gate) hears of every payment of the account,
    // including ones the host never issues a credit note for: hearing of a payment must not make its refunds ours.
    const world = await startStripeWorld();
    await requestedRefund(world);
    const stranger = world.fake.createPaymentIntent({ amount: 4_000, currency: 'eur', account: merchant });
    await world.deliver(world.fake.takeWebhooks());
    world.fake.createDashboardRefund({ paymentIntent: stranger.id });

    const outcome = (await world.deliver([onlyOfType(world.fake.takeWebhooks(), 'refund.created')]))[0]!._unsafeUnwrap();

    expect(outcome).toMatchObject({ outcome: 'ignored', reason: 'unknown_payment', creditNoteIds: [] });
    expect(await creditNoteIds(world)).toEqual(['cn_1']);
  });
});
