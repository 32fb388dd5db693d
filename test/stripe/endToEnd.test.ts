import { describe, expect, it } from 'vitest';
import { RefundableBalanceExceededError, RefundWindowClosedError } from '../../src/errors.js';
import type { SignedWebhook } from '../../src/testing/stripe/fakeStripeServer.js';
import { actor, startStripeWorld, storeSnapshot, type StripeWorld } from './support.js';

/*
 * The issue's end-to-end stories, all through the real `stripe` SDK talking
 * to the fake Stripe over HTTP and signed webhooks verified by the endpoint.
 */

const merchant = 'acct_merchant';
const day = 86_400;

/** The webhook route of a host: 200 for anything acknowledged, 400 for a rejected delivery, 500 to be called again. */
const webhookRoute = (world: StripeWorld) => async (webhook: SignedWebhook) => {
  const result = await world.webhooks.handleWebhook({ rawBody: webhook.rawBody, signature: webhook.signature });
  if (result.isOk()) return 200;
  return result.error.code === 'webhook_rejected' ? 400 : 500;
};

const refundCreations = (world: StripeWorld) =>
  world.fake.requests.filter((request) => request.method === 'POST' && request.path === '/v1/refunds');

const notified = (world: StripeWorld) => world.notifier.calls.map((call) => [call.creditNote.creditNoteId, call.kind, call.recipient]);

const view = async (world: StripeWorld, creditNoteId: string) => (await world.lifecycle.getCreditNote(creditNoteId))._unsafeUnwrap();

/** A paid card payment on the merchant's connected account; Stripe's `payment_intent.succeeded` for it is delivered. */
const paidPayment = async (world: StripeWorld, input: { amount?: number } = {}) => {
  const payment = world.fake.createPaymentIntent({ amount: input.amount ?? 10_000, currency: 'eur', account: merchant });
  await world.fake.deliverWebhooks(webhookRoute(world));
  return payment;
};

describe('a refund from issue to completion', () => {
  it('completes on a signed refund.updated delivered twice and out of order, telling the client once', async () => {
    const world = await startStripeWorld();
    const payment = await paidPayment(world);

    const issued = (await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, amount: 2_500 }))._unsafeUnwrap();
    expect(issued).toMatchObject({ status: 'requested', attempt: 1 });
    const [refund] = world.fake.refunds({ account: merchant });
    expect(refund).toMatchObject({ amount: 2_500, currency: 'eur', status: 'pending', metadata: { creditNoteId: 'cn_1', attempt: '1' } });
    expect(refundCreations(world)).toMatchObject([{ idempotencyKey: 'cn_1:refund:1', account: merchant, status: 200 }]);

    world.fake.setRefundStatus(refund!.id, 'succeeded');
    const results = await world.fake.deliverWebhooks(webhookRoute(world), { copies: 2, order: 'reversed' });

    expect(results.filter((result) => result.type === 'refund.updated')).toHaveLength(2);
    expect(results.every((result) => result.status === 200)).toBe(true);
    expect(await view(world, 'cn_1')).toMatchObject({ status: 'succeeded', refund: { processorRefundId: refund!.id, status: 'succeeded' } });
    expect(notified(world)).toEqual([['cn_1', 'refund_completed', 'client']]);
    expect(world.fake.refunds()).toHaveLength(1);
  });

  it('settles through refreshStatus when the webhook is lost, and shrugs at it arriving later', async () => {
    const world = await startStripeWorld();
    const payment = await paidPayment(world);
    await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, amount: 2_500 });
    await world.fake.deliverWebhooks(webhookRoute(world));
    const [refund] = world.fake.refunds();
    world.fake.setRefundStatus(refund!.id, 'succeeded');
    const lost = world.fake.takeWebhooks();

    const refreshed = (await world.lifecycle.refreshStatus('cn_1', { actor }))._unsafeUnwrap();

    expect(refreshed).toMatchObject({ changed: true, creditNote: { status: 'succeeded' }, processorRefund: { processorRefundId: refund!.id, status: 'succeeded' } });
    expect(notified(world)).toEqual([['cn_1', 'refund_completed', 'client']]);
    // Read on the merchant's account, where the refund lives.
    expect(world.fake.requests.filter((request) => request.path === `/v1/refunds/${refund!.id}`)).toMatchObject([{ method: 'GET', account: merchant }]);

    // Stripe retries for days: the webhook thought lost finally comes, and changes nothing.
    const before = await storeSnapshot(world.store);
    const outcomes = (await world.deliver(lost)).map((result) => result._unsafeUnwrap().outcome);
    expect(outcomes).toEqual(['unchanged', 'unchanged']);
    expect(await storeSnapshot(world.store)).toEqual(before);
    expect(world.notifier.calls).toHaveLength(1);
  });

  it('fails, is retried with a new attempt key, and succeeds: two refunds at Stripe, one of them paid out', async () => {
    const world = await startStripeWorld();
    const payment = await paidPayment(world);
    await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, amount: 2_500 });
    const [first] = world.fake.refunds();
    world.fake.setRefundStatus(first!.id, 'failed', 'insufficient_funds');
    await world.fake.deliverWebhooks(webhookRoute(world), { copies: 2 });

    expect(await view(world, 'cn_1')).toMatchObject({
      status: 'failed',
      failure: { processorReason: 'insufficient_funds', classification: { retry: 'after_action', recovery: 'top_up_balance' } },
      allowedActions: expect.arrayContaining(['retry']),
    });
    expect(notified(world)).toEqual([['cn_1', 'refund_failed', 'merchant']]);

    // The merchant topped up the balance and retries.
    const retried = (await world.lifecycle.retryRefund('cn_1', { actor }))._unsafeUnwrap();
    expect(retried).toMatchObject({ status: 'requested', attempt: 2 });
    expect(refundCreations(world).map((request) => request.idempotencyKey)).toEqual(['cn_1:refund:1', 'cn_1:refund:2']);
    const refunds = world.fake.refunds();
    expect(refunds).toHaveLength(2);
    const second = refunds[1]!;
    expect(second.metadata).toMatchObject({ creditNoteId: 'cn_1', attempt: '2' });

    world.fake.setRefundStatus(second.id, 'succeeded');
    await world.fake.deliverWebhooks(webhookRoute(world), { copies: 2, order: 'reversed' });

    expect(await view(world, 'cn_1')).toMatchObject({ status: 'succeeded', attempt: 2, refund: { processorRefundId: second.id } });
    expect(notified(world)).toEqual([
      ['cn_1', 'refund_failed', 'merchant'],
      ['cn_1', 'refund_completed', 'client'],
    ]);
    expect(world.fake.refunds().map((refund) => refund.status)).toEqual(['failed', 'succeeded']);
  });

  it('waits for an unconfirmed charge, then asks for the refund once payment_intent.succeeded arrives', async () => {
    const world = await startStripeWorld();
    const payment = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur', account: merchant, method: 'sepa_debit', status: 'processing' });

    const waiting = (await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, amount: 2_500, chargeConfirmed: false }))._unsafeUnwrap();
    expect(waiting).toMatchObject({ status: 'pending', pendingReason: 'charge_not_confirmed' });
    expect(refundCreations(world)).toEqual([]);

    // The SEPA debit clears days later.
    world.advance(3 * day * 1000);
    world.fake.succeedPaymentIntent(payment.id);
    const results = await world.fake.deliverWebhooks(webhookRoute(world), { copies: 2 });

    expect(results.map((result) => [result.type, result.status])).toEqual([
      ['payment_intent.succeeded', 200],
      ['payment_intent.succeeded', 200],
    ]);
    expect(await view(world, 'cn_1')).toMatchObject({ status: 'requested', attempt: 1 });
    expect(refundCreations(world)).toMatchObject([{ idempotencyKey: 'cn_1:refund:1', account: merchant }]);
    expect(world.fake.refunds()).toHaveLength(1);
  });
});

describe('several credit notes against one payment', () => {
  it('refunds two within the amount and refuses a third beyond it, writing nothing', async () => {
    const world = await startStripeWorld();
    const payment = await paidPayment(world, { amount: 10_000 });
    expect((await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, amount: 4_000 }))._unsafeUnwrap().status).toBe('requested');
    expect((await world.issue({ creditNoteId: 'cn_2', paymentId: payment.id, account: merchant, amount: 6_000 }))._unsafeUnwrap().status).toBe('requested');
    const before = await storeSnapshot(world.store);
    const creationsBefore = refundCreations(world).length;

    const refused = await world.issue({ creditNoteId: 'cn_3', paymentId: payment.id, account: merchant, amount: 1 });

    const error = refused._unsafeUnwrapErr();
    expect(error).toBeInstanceOf(RefundableBalanceExceededError);
    expect(error).toMatchObject({ code: 'refundable_balance_exceeded', chargedAmount: 10_000, committedAmount: 10_000, requestedAmount: 1 });
    expect(await storeSnapshot(world.store)).toEqual(before);
    expect(refundCreations(world)).toHaveLength(creationsBefore);
    expect(world.fake.refunds().map((refund) => refund.amount)).toEqual([4_000, 6_000]);
  });

  it('lets only one of two concurrent credit notes take the last of the balance', async () => {
    const world = await startStripeWorld();
    const payment = await paidPayment(world, { amount: 10_000 });

    const [a, b] = await Promise.all([
      world.issue({ creditNoteId: 'cn_a', paymentId: payment.id, account: merchant, amount: 6_000 }),
      world.issue({ creditNoteId: 'cn_b', paymentId: payment.id, account: merchant, amount: 6_000 }),
    ]);

    const outcomes = [a!, b!];
    expect(outcomes.filter((result) => result.isOk())).toHaveLength(1);
    expect(outcomes.find((result) => result.isErr())?._unsafeUnwrapErr()).toBeInstanceOf(RefundableBalanceExceededError);
    expect((await world.lifecycle.listCreditNotes())._unsafeUnwrap()).toHaveLength(1);
    expect(world.fake.refunds().map((refund) => refund.amount)).toEqual([6_000]);
  });
});

describe('refund windows of bank debits', () => {
  it('refuses a SEPA debit charged 181 days ago, recovery manual refund, asking Stripe for no refund', async () => {
    const world = await startStripeWorld();
    const payment = world.fake.createPaymentIntent({
      amount: 10_000,
      currency: 'eur',
      account: merchant,
      method: 'sepa_debit',
      created: world.unixNow() - 181 * day,
    });
    await world.fake.deliverWebhooks(webhookRoute(world));
    const before = await storeSnapshot(world.store);

    const refused = await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, account: merchant, amount: 2_500 });

    const error = refused._unsafeUnwrapErr();
    expect(error).toBeInstanceOf(RefundWindowClosedError);
    expect(error).toMatchObject({ code: 'refund_window_closed', recovery: 'manual_refund', paymentId: payment.id, method: 'sepa_debit' });
    expect(await storeSnapshot(world.store)).toEqual(before);
    expect(refundCreations(world)).toEqual([]);
    expect(world.fake.refunds()).toEqual([]);
  });

  it('still refunds a SEPA debit charged 179 days ago, and a card payment of any age', async () => {
    const world = await startStripeWorld();
    const sepa = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur', account: merchant, method: 'sepa_debit', created: world.unixNow() - 179 * day });
    const card = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur', account: merchant, method: 'card', created: world.unixNow() - 400 * day });
    await world.fake.deliverWebhooks(webhookRoute(world));

    const fromSepa = await world.issue({ creditNoteId: 'cn_sepa', paymentId: sepa.id, account: merchant, amount: 2_500 });
    const fromCard = await world.issue({ creditNoteId: 'cn_card', paymentId: card.id, account: merchant, amount: 2_500 });

    expect(fromSepa._unsafeUnwrap().status).toBe('requested');
    expect(fromCard._unsafeUnwrap().status).toBe('requested');
    expect(world.fake.refunds()).toHaveLength(2);
  });
});
