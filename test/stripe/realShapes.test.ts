import { ok } from 'neverthrow';
import { describe, expect, it } from 'vitest';
import { inMemoryEventStore } from '../../src/adapters/inMemoryEventStore.js';
import { stripeGateway, toProcessorRefund } from '../../src/adapters/stripe/stripeGateway.js';
import { stripeWebhooks } from '../../src/adapters/stripe/stripeWebhooks.js';
import type { StripeRefundJson } from '../../src/testing/stripe/fakeStripeServer.js';
import { createRefundLifecycle } from '../../src/lifecycle/createRefundLifecycle.js';
import type { RefundGateway } from '../../src/ports/refundGateway.js';
import { recordingNotifier } from '../../src/testing/recordingNotifier.js';
import { fixture, reId, type FixtureName, type StripeFixture } from './fixtures/index.js';
import { actor, startStripeWorld, storeSnapshot, type StripeWorld } from './support.js';

/*
 * The webhook endpoint fed with the fixtures written from Stripe's public
 * examples (test/stripe/fixtures), not with the fake's own events: each
 * fixture is re-ided onto the objects of a world where it means something,
 * delivered signed, then delivered again (a redelivery changes nothing).
 */

/** The ids the fixtures use. */
const fx = {
  refund: 're_3Q0fixtureRefund0001',
  pendingRefund: 're_3Q0fixturePending001',
  failedRefund: 're_3Q0fixtureFailed0001',
  reversal: 're_3Q0fixtureReversal01',
  charge: 'ch_3Q0fixtureCharge0001',
  intent: 'pi_3Q0fixtureIntent0001',
  paymentRecordRefund: 'pyr_1Q0fixturePayRec001',
  paymentRecord: 'py_1Q0fixturePayment01',
  sepaIntent: 'pi_1Q0fixtureIntentSepa',
  connectAccount: 'acct_1Q0fixtureStudio01',
} as const;

const merchant = 'acct_merchant';
/** The world's payment and credit note: the fixtures' 50.00 charge and 25.00 refund become 100.00 and 30.00. */
const paymentAmount = 10_000;
const refundAmount = 3_000;
const amounts = { 5000: paymentAmount, 2500: refundAmount };

type Json = Record<string, unknown>;

/** What a delivery needs: the world's endpoint, or one built over another gateway. */
type Endpoint = Pick<StripeWorld, 'webhooks' | 'store' | 'notifier' | 'lifecycle' | 'signed'>;

const objectOf = (event: StripeFixture): Json => (event.data as { object: Json }).object;

/** An event fixture about one of the world's refunds: its refund, charge and intent ids, amounts, time (and account) re-ided. */
const aboutRefund = (
  world: StripeWorld,
  name: FixtureName,
  ctx: { refund: StripeRefundJson; intentId: string | null; chargeId: string; account?: string },
): StripeFixture => {
  const event = reId(fixture(name), {
    ids: {
      [fx.refund]: ctx.refund.id,
      [fx.pendingRefund]: ctx.refund.id,
      [fx.failedRefund]: ctx.refund.id,
      [fx.charge]: ctx.chargeId,
      ...(ctx.intentId === null ? {} : { [fx.intent]: ctx.intentId }),
    },
    amounts,
    created: world.unixNow(),
    ...(ctx.account === undefined ? {} : { account: ctx.account }),
  });
  // The metadata our gateway wrote on the refund (creditNoteId, attempt, origin).
  const object = objectOf(event);
  if (object.object === 'refund') object.metadata = { ...ctx.refund.metadata };
  const listed = (object.refunds as { data?: Json[] } | undefined)?.data ?? [];
  for (const refund of listed) refund.metadata = { ...ctx.refund.metadata };
  return event;
};

/** A refund fixture (a bare object) carried by the `refund.updated` envelope, under its own event id. */
const inRefundUpdated = (world: StripeWorld, eventId: string, refund: Json, previous: Json): StripeFixture => {
  const envelope = fixture('event.refund.updated');
  return { ...envelope, id: eventId, created: world.unixNow(), data: { object: refund, previous_attributes: previous } };
};

/**
 * Delivers an event, then the same body again (signed anew, as Stripe's
 * retries are): the second answer is `unchanged` (or the same `ignored` or
 * rejection), and it writes nothing and tells nobody.
 */
const deliverTwice = async (endpoint: Endpoint, event: object) => {
  const before = await storeSnapshot(endpoint.store);
  const callsBefore = endpoint.notifier.calls.length;
  const send = () => {
    const signed = endpoint.signed(event);
    return endpoint.webhooks.handleWebhook({ rawBody: signed.rawBody, signature: signed.signature });
  };

  const first = await send();
  const afterFirst = await storeSnapshot(endpoint.store);
  const callsAfterFirst = endpoint.notifier.calls.length;
  const again = await send();

  expect(await storeSnapshot(endpoint.store)).toEqual(afterFirst);
  expect(endpoint.notifier.calls).toHaveLength(callsAfterFirst);
  if (first.isOk() && first.value.outcome !== 'ignored') {
    expect(again._unsafeUnwrap()).toMatchObject({ eventId: first.value.eventId, outcome: 'unchanged' });
  } else {
    // Ignored or refused: neither delivery wrote anything.
    expect(afterFirst).toEqual(before);
    expect(callsAfterFirst).toBe(callsBefore);
    if (first.isOk()) expect(again._unsafeUnwrap()).toEqual(first.value);
    else expect(again._unsafeUnwrapErr()).toMatchObject({ code: first.error.code, reason: (first.error as { reason?: unknown }).reason });
  }
  return { first, again, before, afterFirst };
};

const view = async (endpoint: Pick<Endpoint, 'lifecycle'>, creditNoteId = 'cn_1') =>
  (await endpoint.lifecycle.getCreditNote(creditNoteId))._unsafeUnwrap();

const notified = (endpoint: Pick<Endpoint, 'notifier'>) =>
  endpoint.notifier.calls.map((call) => [call.creditNote.creditNoteId, call.kind, call.recipient]);

/** A paid card payment of 100.00 EUR; its own webhooks are drained. */
const paidPayment = (world: StripeWorld, account: string | null = null) => {
  const payment = world.fake.createPaymentIntent({ amount: paymentAmount, currency: 'eur', account });
  world.fake.takeWebhooks();
  return { payment, intentId: payment.id, chargeId: String(payment.latest_charge) };
};

/** cn_1 refunds 30.00; the refund is pending (processing) at Stripe and recorded on cn_1. World: card refunds settle later. */
const requestedRefund = async (world: StripeWorld, account: string | null = null) => {
  const paid = paidPayment(world, account);
  const issued = (await world.issue({ creditNoteId: 'cn_1', paymentId: paid.intentId, account, amount: refundAmount }))._unsafeUnwrap();
  expect(issued).toMatchObject({ status: 'requested', refund: { status: 'accepted' } });
  const [refund] = world.fake.refunds();
  if (!refund) throw new Error('the issue created no refund at the fake Stripe');
  world.fake.takeWebhooks();
  return { ...paid, refund };
};

/** cn_1 refunds 30.00; Stripe made the refund (settled at creation) but its answer was lost: cn_1 does not know its id. */
const refundWithLostAnswer = async (world: StripeWorld, account: string | null = null) => {
  const paid = paidPayment(world, account);
  world.fake.acceptThenDropNext({ path: '/v1/refunds', method: 'POST' });
  const issued = (await world.issue({ creditNoteId: 'cn_1', paymentId: paid.intentId, account, amount: refundAmount }))._unsafeUnwrap();
  expect(issued).toMatchObject({ status: 'pending', refund: { processorRefundId: null } });
  const [refund] = world.fake.refunds();
  if (!refund) throw new Error('the issue created no refund at the fake Stripe');
  expect(refund.status).toBe('succeeded');
  world.fake.takeWebhooks();
  return { ...paid, refund };
};

/** Stripe moves the refund on; the fake's own webhooks for it are dropped (the fixture stands in for them). */
const stripeMoves = (world: StripeWorld, ...args: Parameters<StripeWorld['fake']['setRefundStatus']>) => {
  world.fake.setRefundStatus(...args);
  world.fake.takeWebhooks();
};

describe('refund events in the shapes Stripe sends them', () => {
  it('refund.created (succeeded) of our refund whose create answer was lost: applied, cn_1 succeeds, the client told once', async () => {
    const world = await startStripeWorld({ fake: { cardRefundsSettle: 'at_creation' } });
    const ctx = await refundWithLostAnswer(world);
    const event = aboutRefund(world, 'event.refund.created', ctx);

    const { first } = await deliverTwice(world, event);

    expect(first._unsafeUnwrap()).toEqual({
      eventId: 'evt_3Q0fixtureEvent0001',
      eventType: 'refund.created',
      outcome: 'applied',
      reason: null,
      creditNoteIds: ['cn_1'],
    });
    expect(await view(world)).toMatchObject({ status: 'succeeded', refund: { processorRefundId: ctx.refund.id, status: 'succeeded' } });
    expect(notified(world)).toEqual([['cn_1', 'refund_completed', 'client']]);
  });

  it('refund.updated (succeeded) of our refund: applied, cn_1 succeeds, exactly one refund_completed', async () => {
    const world = await startStripeWorld();
    const ctx = await requestedRefund(world);
    stripeMoves(world, ctx.refund.id, 'succeeded');

    const { first } = await deliverTwice(world, aboutRefund(world, 'event.refund.updated', ctx));

    expect(first._unsafeUnwrap()).toMatchObject({ eventType: 'refund.updated', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(await view(world)).toMatchObject({ status: 'succeeded', processorNotice: null, refund: { status: 'succeeded' } });
    expect(notified(world)).toEqual([['cn_1', 'refund_completed', 'client']]);
  });

  it('refund.failed (expired_or_canceled_card): cn_1 fails with Stripe’s reason and its classification, the merchant told once', async () => {
    const world = await startStripeWorld();
    const ctx = await requestedRefund(world);
    stripeMoves(world, ctx.refund.id, 'failed', 'expired_or_canceled_card');

    const { first } = await deliverTwice(world, aboutRefund(world, 'event.refund.failed', ctx));

    expect(first._unsafeUnwrap()).toMatchObject({ eventType: 'refund.failed', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(await view(world)).toMatchObject({
      status: 'failed',
      failure: { processorReason: 'expired_or_canceled_card', classification: { retry: 'will_not_help', recovery: 'manual_refund' } },
    });
    expect(notified(world)).toEqual([['cn_1', 'refund_failed', 'merchant']]);
  });

  it('charge.refund.updated succeeded → failed (expired_or_canceled_card): the settled cn_1 fails, the merchant told once', async () => {
    const world = await startStripeWorld();
    const ctx = await requestedRefund(world);
    stripeMoves(world, ctx.refund.id, 'succeeded');
    const settled = (await deliverTwice(world, aboutRefund(world, 'event.refund.updated', ctx))).first;
    expect(settled._unsafeUnwrap().outcome).toBe('applied');
    expect((await view(world)).status).toBe('succeeded');
    stripeMoves(world, ctx.refund.id, 'failed', 'expired_or_canceled_card');
    const event = aboutRefund(world, 'event.charge.refund.updated', ctx);
    expect((event.data as { previous_attributes: Json }).previous_attributes).toMatchObject({ status: 'succeeded' });

    const { first } = await deliverTwice(world, event);

    expect(first._unsafeUnwrap()).toMatchObject({ eventType: 'charge.refund.updated', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(await view(world)).toMatchObject({
      status: 'failed',
      failure: { processorReason: 'expired_or_canceled_card', classification: { retry: 'will_not_help', recovery: 'manual_refund' } },
    });
    expect(notified(world)).toEqual([
      ['cn_1', 'refund_completed', 'client'],
      ['cn_1', 'refund_failed', 'merchant'],
    ]);
  });

  it.each([
    { metadata: 'ours', keep: false },
    { metadata: 'none, as in fixtures3', keep: true },
  ])(
    'a Charges-API refund (payment_intent: null, fixtures3) of a credit note issued on the charge id is followed (metadata: $metadata)',
    async ({ keep }) => {
      const world = await startStripeWorld();
      const charge = world.fake.createCharge({ amount: 5_000, currency: 'usd' });
      world.fake.takeWebhooks();
      const issued = await world.issue({ creditNoteId: 'cn_1', paymentId: charge.id, amount: 100, currency: 'USD' });
      expect(issued._unsafeUnwrap().status).toBe('requested');
      const [refund] = world.fake.refunds();
      expect(refund).toMatchObject({ charge: charge.id, payment_intent: null });
      stripeMoves(world, refund!.id, 'succeeded');
      const object = reId(fixture('refund.reversal'), { ids: { [fx.reversal]: refund!.id, [fx.charge]: charge.id }, created: world.unixNow() });
      if (!keep) object.metadata = { ...refund!.metadata };
      const event = inRefundUpdated(world, 'evt_3Q0fixtureReversalUpd', object, { status: 'pending' });

      const { first } = await deliverTwice(world, event);

      expect(first._unsafeUnwrap()).toMatchObject({ outcome: 'applied', creditNoteIds: ['cn_1'] });
      expect(await view(world)).toMatchObject({ status: 'succeeded', payment: { paymentId: charge.id }, refund: { processorRefundId: refund!.id } });
      expect((await world.lifecycle.listCreditNotes())._unsafeUnwrap().map((note) => note.creditNoteId)).toEqual(['cn_1']);
      expect(notified(world)).toEqual([['cn_1', 'refund_completed', 'client']]);
    },
  );

  it('a refund pending with pending_reason insufficient_funds shows a top-up notice; the same refund succeeding clears it', async () => {
    const world = await startStripeWorld();
    const ctx = await requestedRefund(world);
    expect((await view(world)).processorNotice).toMatchObject({ pendingReason: 'processing', recovery: 'none' });
    stripeMoves(world, ctx.refund.id, 'pending', { pendingReason: 'insufficient_funds' });
    const pendingRefund = reId(fixture('refund.card-pending'), {
      ids: { [fx.pendingRefund]: ctx.refund.id, [fx.charge]: ctx.chargeId, [fx.intent]: ctx.intentId },
      amounts,
      created: world.unixNow(),
    });
    pendingRefund.metadata = { ...ctx.refund.metadata };
    const waiting = inRefundUpdated(world, 'evt_3Q0fixturePendingReason', pendingRefund, { pending_reason: 'processing' });

    const { first } = await deliverTwice(world, waiting);

    expect(first._unsafeUnwrap()).toMatchObject({ eventType: 'refund.updated', outcome: 'applied', creditNoteIds: ['cn_1'] });
    const pending = await view(world);
    expect(pending).toMatchObject({ status: 'requested', refund: { status: 'accepted', processorPendingReason: 'insufficient_funds' } });
    expect(pending.processorNotice).toEqual({ pendingReason: 'insufficient_funds', recovery: 'top_up_balance', message: expect.any(String) });
    // Only the view tells of the short balance: nobody is notified while the refund waits.
    expect(notified(world)).toEqual([]);

    stripeMoves(world, ctx.refund.id, 'succeeded');
    const succeeded = aboutRefund(world, 'event.refund.updated', ctx);
    (succeeded.data as { previous_attributes: Json }).previous_attributes.pending_reason = 'insufficient_funds';
    const settled = await deliverTwice(world, succeeded);

    expect(settled.first._unsafeUnwrap()).toMatchObject({ outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(await view(world)).toMatchObject({ status: 'succeeded', processorNotice: null, refund: { status: 'succeeded', processorPendingReason: null } });
    expect(notified(world)).toEqual([['cn_1', 'refund_completed', 'client']]);
  });

  it('an event with api_version null and a null request is accepted like any other', async () => {
    const world = await startStripeWorld();
    const ctx = await requestedRefund(world);
    stripeMoves(world, ctx.refund.id, 'succeeded');
    const event = aboutRefund(world, 'event.no-api-version', ctx);
    expect(event).toMatchObject({ api_version: null, request: { id: null, idempotency_key: null } });

    const { first } = await deliverTwice(world, event);

    expect(first._unsafeUnwrap()).toMatchObject({ eventId: 'evt_3Q0fixtureEvent0008', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect((await view(world)).status).toBe('succeeded');
    expect(notified(world)).toEqual([['cn_1', 'refund_completed', 'client']]);
  });
});

/**
 * Stripe names payments of some methods `py_…` and their refunds `pyr_…`; the
 * fake Stripe cannot (its SEPA payments are `ch_`/`re_`), so this endpoint's
 * gateway answers for `py_` payments itself, in Stripe's shapes (the
 * `refund.payment-record` fixture through the real `toProcessorRefund`), and
 * goes to the fake Stripe for everything else.
 */
const paymentRecordEndpoint = async () => {
  const world = await startStripeWorld();
  const paymentId = fx.paymentRecord;
  const intentId = fx.sepaIntent;
  const ownRefundId = 'pyr_1Q0fixtureOurRefund1';
  const real = stripeGateway({ stripe: world.stripe });
  const gateway: RefundGateway = {
    processor: real.processor,
    describePayment: async (payment) =>
      payment.paymentId === paymentId
        ? ok({ paymentId, amount: 5_000, currency: 'eur', method: 'sepa_debit', refundableUntil: null })
        : real.describePayment(payment),
    findRefunds: async (payment) => (payment.paymentId === paymentId ? ok([]) : real.findRefunds(payment)),
    retrieveRefund: (request) => real.retrieveRefund(request),
    createRefund: async (request) => {
      if (request.payment.paymentId !== paymentId) return real.createRefund(request);
      const made = reId(fixture('refund.payment-record'), { ids: { [fx.paymentRecordRefund]: ownRefundId } });
      Object.assign(made, {
        amount: request.amount,
        status: 'pending',
        metadata: { creditNoteId: request.metadata.creditNoteId, attempt: String(request.metadata.attempt), origin: 'refund-lifecycle' },
      });
      return ok(toProcessorRefund(made as Parameters<typeof toProcessorRefund>[0], paymentId));
    },
  };
  const store = inMemoryEventStore();
  const notifier = recordingNotifier();
  const lifecycle = createRefundLifecycle({ store, gateway, notifier, clock: world.clock });
  const webhooks = stripeWebhooks({ lifecycle, stripe: world.stripe, webhookSecret: world.fake.webhookSecret, clock: world.clock });
  const endpoint: Endpoint = { webhooks, store, notifier, lifecycle, signed: world.signed };
  const issued = await lifecycle.issueCreditNote({
    creditNoteId: 'cn_1',
    amount: 1_000,
    currency: 'EUR',
    reason: 'desk booking cancelled',
    chargeConfirmed: true,
    actor,
    payment: { paymentId, account: null },
  });
  expect(issued._unsafeUnwrap()).toMatchObject({ status: 'requested', refund: { processorRefundId: ownRefundId, status: 'accepted' } });
  return { world, endpoint, paymentId, intentId, ownRefundId };
};

describe('a pyr_ refund of a py_ payment (payment records)', () => {
  it('our pyr_ refund is followed like any refund when cn_1 refunds py_…', async () => {
    const { world, endpoint, paymentId, ownRefundId } = await paymentRecordEndpoint();
    const refund = reId(fixture('refund.payment-record'), { ids: { [fx.paymentRecordRefund]: ownRefundId }, amounts: { 1234: 1_000 }, created: world.unixNow() });
    refund.metadata = { creditNoteId: 'cn_1', attempt: '1', origin: 'refund-lifecycle' };
    expect(refund).toMatchObject({ charge: paymentId, status: 'succeeded' });

    const { first } = await deliverTwice(endpoint, inRefundUpdated(world, 'evt_3Q0fixturePayRecUpd', refund, { status: 'pending' }));

    expect(first._unsafeUnwrap()).toMatchObject({ outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(await view(endpoint)).toMatchObject({ status: 'succeeded', payment: { paymentId }, refund: { processorRefundId: ownRefundId } });
    expect(notified(endpoint)).toEqual([['cn_1', 'refund_completed', 'client']]);
  });

  it('a pyr_ refund made in the dashboard (no metadata, as captured) of the py_ payment cn_1 refunds is adopted', async () => {
    const { world, endpoint, paymentId } = await paymentRecordEndpoint();
    const dashboard = reId(fixture('refund.payment-record'), { created: world.unixNow() });
    const event = { ...fixture('event.refund.created'), id: 'evt_3Q0fixturePayRecNew', created: world.unixNow(), data: { object: dashboard } };

    const { first } = await deliverTwice(endpoint, event);

    const adopted = `stripe-${fx.paymentRecordRefund}`;
    expect(first._unsafeUnwrap()).toMatchObject({ outcome: 'applied', creditNoteIds: [adopted] });
    expect(await view(endpoint, adopted)).toMatchObject({
      status: 'succeeded',
      amount: 1_234,
      payment: { paymentId, account: null },
      refund: { processorRefundId: fx.paymentRecordRefund },
    });
    expect((await view(endpoint)).status).toBe('requested');
  });
});

describe('charge.refunded in its shapes', () => {
  it('modern (api_version ≥ 2024-10-28, no refunds list): ignored as reported_by_refund_events, Stripe not asked', async () => {
    const world = await startStripeWorld({ fake: { cardRefundsSettle: 'at_creation' } });
    const ctx = await refundWithLostAnswer(world);
    const event = aboutRefund(world, 'event.charge.refunded', ctx);
    expect(objectOf(event)).not.toHaveProperty('refunds');
    const requestsBefore = world.fake.requests.length;

    const { first } = await deliverTwice(world, event);

    expect(first._unsafeUnwrap()).toEqual({
      eventId: 'evt_3Q0fixtureEvent0005',
      eventType: 'charge.refunded',
      outcome: 'ignored',
      reason: 'reported_by_refund_events',
      creditNoteIds: [],
    });
    expect(world.fake.requests).toHaveLength(requestsBefore);
    expect((await view(world)).status).toBe('pending');
  });

  it('the same on api_version 2023-10-16: the handler lists the charge’s refunds at Stripe and applies', async () => {
    const world = await startStripeWorld({ fake: { cardRefundsSettle: 'at_creation' } });
    const ctx = await refundWithLostAnswer(world);
    const event = { ...aboutRefund(world, 'event.charge.refunded', ctx), api_version: '2023-10-16' };
    const requestsBefore = world.fake.requests.length;

    const { first } = await deliverTwice(world, event);

    expect(first._unsafeUnwrap()).toMatchObject({ eventType: 'charge.refunded', outcome: 'applied', creditNoteIds: ['cn_1'] });
    // One listing per delivery (the redelivery asks again, and changes nothing).
    const asked = world.fake.requests.slice(requestsBefore).map((request) => [request.method, request.path, request.query.charge]);
    expect(asked).toEqual([
      ['GET', '/v1/refunds', ctx.chargeId],
      ['GET', '/v1/refunds', ctx.chargeId],
    ]);
    expect(await view(world)).toMatchObject({ status: 'succeeded', refund: { processorRefundId: ctx.refund.id } });
    expect(notified(world)).toEqual([['cn_1', 'refund_completed', 'client']]);
  });

  it('legacy (api_version 2022-08-01, refunds listed): applied from the list, Stripe not asked', async () => {
    const world = await startStripeWorld({ fake: { cardRefundsSettle: 'at_creation' } });
    const ctx = await refundWithLostAnswer(world);
    const event = aboutRefund(world, 'event.charge.refunded-legacy', ctx);
    expect((objectOf(event).refunds as { data: Json[] }).data).toMatchObject([{ id: ctx.refund.id, charge: ctx.chargeId, amount: refundAmount }]);
    const requestsBefore = world.fake.requests.length;

    const { first } = await deliverTwice(world, event);

    expect(first._unsafeUnwrap()).toMatchObject({ eventId: 'evt_3Q0fixtureEvent0006', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(world.fake.requests).toHaveLength(requestsBefore);
    expect(await view(world)).toMatchObject({ status: 'succeeded', refund: { processorRefundId: ctx.refund.id } });
    expect(notified(world)).toEqual([['cn_1', 'refund_completed', 'client']]);
  });
});

describe('payment_intent.succeeded', () => {
  it.each(['payment intent', 'charge'] as const)(
    'releases a credit note issued on the %s id, waiting for the charge',
    async (named) => {
      const world = await startStripeWorld();
      const payment = world.fake.createPaymentIntent({ amount: paymentAmount, currency: 'eur', status: 'processing' });
      const chargeId = String(payment.latest_charge);
      world.fake.takeWebhooks();
      const waiting = await world.issue({
        creditNoteId: 'cn_1',
        paymentId: named === 'charge' ? chargeId : payment.id,
        amount: refundAmount,
        chargeConfirmed: false,
      });
      expect(waiting._unsafeUnwrap()).toMatchObject({ status: 'pending', pendingReason: 'charge_not_confirmed' });
      world.fake.succeedPaymentIntent(payment.id);
      world.fake.takeWebhooks();
      const event = reId(fixture('event.payment_intent.succeeded'), {
        ids: { [fx.intent]: payment.id, [fx.charge]: chargeId },
        amounts,
        created: world.unixNow(),
      });

      const { first, again } = await deliverTwice(world, event);

      expect(first._unsafeUnwrap()).toMatchObject({ eventType: 'payment_intent.succeeded', outcome: 'applied', creditNoteIds: ['cn_1'] });
      expect(again._unsafeUnwrap()).toMatchObject({ outcome: 'unchanged', creditNoteIds: [] });
      expect((await view(world)).status).toBe('requested');
      expect(world.fake.refunds()).toMatchObject([{ amount: refundAmount, metadata: { creditNoteId: 'cn_1', attempt: '1' } }]);
    },
  );
});

describe('Connect: an event with `account`', () => {
  it('is applied when the credit note’s payment is on that account', async () => {
    const world = await startStripeWorld({ fake: { cardRefundsSettle: 'at_creation' } });
    const ctx = await refundWithLostAnswer(world, merchant);
    const event = aboutRefund(world, 'event.connect', { ...ctx, account: merchant });
    expect(event.account).toBe(merchant);

    const { first } = await deliverTwice(world, event);

    expect(first._unsafeUnwrap()).toMatchObject({ eventId: 'evt_3Q0fixtureEvent0009', outcome: 'applied', creditNoteIds: ['cn_1'] });
    expect(await view(world)).toMatchObject({ status: 'succeeded', payment: { account: merchant } });
  });

  it.each([
    { name: 'a platform credit note', paymentAccount: null },
    { name: 'a credit note on another connected account', paymentAccount: merchant },
  ])('is refused (account_mismatch) about $name, writing nothing', async ({ paymentAccount }) => {
    const world = await startStripeWorld({ fake: { cardRefundsSettle: 'at_creation' } });
    const ctx = await refundWithLostAnswer(world, paymentAccount);
    // The fixture's own account (acct_1Q0fixtureStudio01) is not the payment's.
    const event = aboutRefund(world, 'event.connect', ctx);
    expect(event.account).toBe(fx.connectAccount);

    const { first } = await deliverTwice(world, event);

    expect(first._unsafeUnwrapErr()).toMatchObject({ code: 'webhook_rejected', reason: 'account_mismatch' });
    expect(await view(world)).toMatchObject({ status: 'pending', refund: { processorRefundId: null } });
    expect(world.notifier.calls).toEqual([]);
  });
});

describe('a thin event (v2.core.event)', () => {
  it('is refused with thin_event, writing nothing', async () => {
    const world = await startStripeWorld();
    await requestedRefund(world);
    const event = fixture('event.thin');

    const { first } = await deliverTwice(world, event);

    expect(first._unsafeUnwrapErr()).toMatchObject({ code: 'webhook_rejected', reason: 'thin_event' });
    expect((await view(world)).status).toBe('requested');
  });
});
