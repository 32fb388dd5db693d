import { describe, expect, it } from 'vitest';
import { actor, startAdyenWorld, type AdyenWorld } from './support.js';

/*
 * The issue's end-to-end stories, through the real `@adyen/api-library` talking to the fake Adyen over HTTPS, and
 * HMAC-signed notifications posted to the host's route: what Adyen receives, what the lifecycle records, who is told.
 * Every delivery here comes twice, the copies after the originals, as Adyen's at-least-once delivery may.
 */

const refundRequests = (world: AdyenWorld) =>
  world.refundRequests().map((request) => ({
    idempotencyKey: request.idempotencyKey,
    reference: (request.body as { reference?: string }).reference,
    status: request.status,
    replayed: request.replayed,
  }));

/** Delivers what the fake queued, twice, and checks that every batch was acknowledged. */
const deliverTwice = async (world: AdyenWorld, order: 'as_sent' | 'reversed' = 'as_sent') => {
  const results = await world.deliver({ copies: 2, order });
  expect(results.every((result) => result.ok && result.status === 200)).toBe(true);
  return results;
};

describe('a refund from issue to completion, through a scheme rejection and a retry', () => {
  it('succeeds, fails later, is retried under a new key and succeeds: each party told once per outcome', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay(10_000);
    // The AUTHORISATION confirms the charge (Adyen cannot be asked whether a payment went through).
    await deliverTwice(world);

    const issued = (await world.issue({ creditNoteId: 'cn_1', paymentId: payment.pspReference, amount: 4_000, chargeConfirmed: false }))._unsafeUnwrap();
    expect(issued).toMatchObject({ status: 'requested', attempt: 1, refund: { status: 'accepted' } });
    const [first] = world.fake.refunds();
    expect(first).toMatchObject({ amount: { value: 4_000, currency: 'EUR' }, reference: 'cn_1:1', idempotencyKey: 'cn_1:refund:1', status: 'received' });

    world.fake.settleRefund(first!.pspReference, { success: true });
    await deliverTwice(world, 'reversed');
    expect(await world.view('cn_1')).toMatchObject({ status: 'succeeded', refund: { processorRefundId: first!.pspReference } });
    expect(world.notified()).toEqual([['cn_1', 'refund_completed', 'client']]);

    world.fake.failRefundLater(first!.pspReference);
    await deliverTwice(world);
    const failed = await world.view('cn_1');
    expect(failed).toMatchObject({ status: 'failed', failure: { processorReason: 'scheme_rejected' } });
    expect(failed.allowedActions).toEqual(expect.arrayContaining(['retry', 'mark_refunded']));
    expect(world.notified()).toEqual([
      ['cn_1', 'refund_completed', 'client'],
      ['cn_1', 'refund_failed', 'merchant'],
    ]);

    const retried = (await world.lifecycle.retryRefund('cn_1', { actor }))._unsafeUnwrap();
    expect(retried).toMatchObject({ status: 'requested', attempt: 2 });
    const second = world.fake.refunds().at(-1)!;
    expect(second.pspReference).not.toBe(first!.pspReference);
    expect(second).toMatchObject({ reference: 'cn_1:2', idempotencyKey: 'cn_1:refund:2' });

    world.fake.settleRefund(second.pspReference, { success: true });
    await deliverTwice(world, 'reversed');

    expect(await world.view('cn_1')).toMatchObject({ status: 'succeeded', attempt: 2, refund: { processorRefundId: second.pspReference } });
    expect(world.notified()).toEqual([
      ['cn_1', 'refund_completed', 'client'],
      ['cn_1', 'refund_failed', 'merchant'],
      ['cn_1', 'refund_completed', 'client'],
    ]);
    expect(world.fake.refunds()).toHaveLength(2);
    expect(refundRequests(world)).toEqual([
      { idempotencyKey: 'cn_1:refund:1', reference: 'cn_1:1', status: 201, replayed: false },
      { idempotencyKey: 'cn_1:refund:2', reference: 'cn_1:2', status: 201, replayed: false },
    ]);

    // Every notification sent again later, all at once: nothing new.
    const before = await world.snapshot();
    for (const item of world.fake.notifications()) {
      const result = await world.notifications.handleNotification({
        body: { live: 'false', notificationItems: [{ NotificationRequestItem: world.fake.sign(item) }] },
      });
      expect(result.isOk()).toBe(true);
    }
    expect(await world.snapshot()).toEqual(before);
  });
});

describe('an attempt in doubt', () => {
  it('is asked again under the same key after a timeout, and Adyen makes one refund', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay(10_000);
    await deliverTwice(world);
    world.fake.timeoutNext({ mode: 'hang' });

    const inDoubt = (await world.issue({ creditNoteId: 'cn_doubt', paymentId: payment.pspReference, amount: 3_000 }))._unsafeUnwrap();
    expect(inDoubt).toMatchObject({ status: 'pending', transientError: { code: 'network_error' } });
    expect(world.fake.refunds()).toHaveLength(1);

    world.clock.advance(60_000);
    await world.lifecycle.dispatch();

    const made = world.fake.refunds();
    expect(made).toHaveLength(1);
    expect(await world.view('cn_doubt')).toMatchObject({ status: 'requested', refund: { processorRefundId: made[0]!.pspReference } });
    expect(refundRequests(world).map(({ idempotencyKey, replayed }) => ({ idempotencyKey, replayed }))).toEqual([
      { idempotencyKey: 'cn_doubt:refund:1', replayed: false },
      { idempotencyKey: 'cn_doubt:refund:1', replayed: true },
    ]);

    world.fake.settleRefund(made[0]!.pspReference, { success: true });
    await deliverTwice(world);
    expect(await world.view('cn_doubt')).toMatchObject({ status: 'succeeded' });
    expect(world.notified()).toEqual([['cn_doubt', 'refund_completed', 'client']]);
  });

  it('is asked again under the same key after a 503, and never twice at once', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay(10_000);
    await deliverTwice(world);
    world.fake.failNext({ status: 503 });

    const deferred = (await world.issue({ creditNoteId: 'cn_503', paymentId: payment.pspReference, amount: 3_000 }))._unsafeUnwrap();
    expect(deferred).toMatchObject({ status: 'pending' });
    expect(world.fake.refunds()).toEqual([]);

    world.clock.advance(60_000);
    await world.lifecycle.dispatch();

    expect(world.fake.refunds()).toHaveLength(1);
    expect(refundRequests(world).map((request) => [request.idempotencyKey, request.status])).toEqual([
      ['cn_503:refund:1', 503],
      ['cn_503:refund:1', 201],
    ]);
  });
});

describe('a refund made in the Customer Area', () => {
  it('is adopted as a credit note of processor origin next to ours, and told of once', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay(10_000);
    await deliverTwice(world);
    await world.issue({ creditNoteId: 'cn_ours', paymentId: payment.pspReference, amount: 2_000 });
    const outside = world.fake.refundInCustomerArea(payment.pspReference, { amount: 1_500, currency: 'EUR' });

    await deliverTwice(world, 'reversed');

    const adopted = await world.view(`adyen-${outside.pspReference}`);
    expect(adopted).toMatchObject({ status: 'succeeded', amount: 1_500, currency: 'eur', payment: { processor: 'adyen', paymentId: payment.pspReference } });
    expect((await world.lifecycle.listCreditNotes({ paymentId: payment.pspReference }))._unsafeUnwrap().map((view) => view.creditNoteId).sort()).toEqual(
      [`adyen-${outside.pspReference}`, 'cn_ours'].sort(),
    );
    expect(world.notified()).toEqual([[`adyen-${outside.pspReference}`, 'refund_completed', 'client']]);
    expect(world.fake.refunds()).toHaveLength(2);
  });
});

describe('payments on several merchant accounts (a company-level API credential and webhook)', () => {
  it('refunds each payment on the merchant account it names, and routes its notifications back to it', async () => {
    const world = await startAdyenWorld({ fake: { otherMerchantAccounts: ['OtherMerchant'] }, notifications: { accounts: ['OtherMerchant'] } });
    const own = world.fake.createPayment({ amount: 10_000, currency: 'EUR' });
    const other = world.fake.createPayment({ amount: 8_000, currency: 'EUR', merchantAccount: 'OtherMerchant' });
    await deliverTwice(world);
    await world.issue({ creditNoteId: 'cn_own', paymentId: own.pspReference, amount: 2_000 });
    await world.issue({ creditNoteId: 'cn_other', paymentId: other.pspReference, amount: 3_000, account: 'OtherMerchant' });

    expect(world.refundRequests().map((request) => [request.paymentPspReference, (request.body as { merchantAccount: string }).merchantAccount, request.status])).toEqual([
      [own.pspReference, world.fake.merchantAccount, 201],
      [other.pspReference, 'OtherMerchant', 201],
    ]);
    for (const refund of world.fake.refunds()) world.fake.settleRefund(refund.pspReference, { success: true });
    expect(world.fake.notifications().slice(-2).map((item) => item.merchantAccountCode)).toEqual([world.fake.merchantAccount, 'OtherMerchant']);
    await deliverTwice(world);

    expect(await world.view('cn_own')).toMatchObject({ status: 'succeeded' });
    expect(await world.view('cn_other')).toMatchObject({ status: 'succeeded', payment: { account: 'OtherMerchant' } });
  });

  it('a payment refunded on the wrong merchant account is unknown there (Adyen 167): definitive', async () => {
    const world = await startAdyenWorld({ fake: { otherMerchantAccounts: ['OtherMerchant'] }, notifications: { accounts: ['OtherMerchant'] } });
    const other = world.fake.createPayment({ amount: 8_000, currency: 'EUR', merchantAccount: 'OtherMerchant' });
    await deliverTwice(world);

    // The host forgot to record the payment's account: the refund goes to the default merchant account.
    const issued = (await world.issue({ creditNoteId: 'cn_wrong', paymentId: other.pspReference, amount: 1_000 }))._unsafeUnwrap();

    expect(issued).toMatchObject({ status: 'failed', failure: { processorReason: '167' } });
    expect(world.fake.refunds()).toEqual([]);
  });
});

describe('Refresh', () => {
  // Depends on the lead's core change (capabilities honoured by refreshStatus and the Credit Notes view).
  it('is not offered, and answers refresh_unavailable with what to do in the Customer Area', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay(10_000);
    await deliverTwice(world);
    await world.issue({ creditNoteId: 'cn_1', paymentId: payment.pspReference, amount: 2_000 });

    expect((await world.view('cn_1')).allowedActions).not.toContain('refresh');
    const refreshed = await world.lifecycle.refreshStatus('cn_1', { actor });

    expect(refreshed.isErr() && refreshed.error).toMatchObject({ code: 'refresh_unavailable', message: expect.stringContaining('Customer Area') });
    expect(world.fake.requests).toHaveLength(1);
  });
});
