import { describe, expect, it } from 'vitest';
import {
  adyenCausationId,
  adyenNotificationAnswer,
  AdyenNotificationRejectedError,
} from '../../src/adapters/adyen/adyenNotifications.js';
import { adyenRefundReference } from '../../src/adapters/adyen/references.js';
import { StoreError } from '../../src/errors.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import type { NotificationBatch, NotificationRequestItemJson } from '../../src/testing/adyen/index.js';
import { startAdyenWorld, type AdyenWorld } from './support.js';

/*
 * The notification endpoint against the fake Adyen's HMAC-signed batches, with the lifecycle behind it: what
 * each event code does, what is refused (and then writes nothing), and what a redelivery changes (nothing).
 */

const batchOf = (world: AdyenWorld, items: NotificationRequestItemJson[], live = world.fake.live): NotificationBatch => {
  const body = { live: live ? 'true' : 'false', notificationItems: items.map((item) => ({ NotificationRequestItem: item })) } as const;
  return { body: structuredClone(body) as NotificationBatch['body'], rawBody: JSON.stringify(body) };
};

/** A signed item of the fake's merchant account, for event codes the fake does not generate itself. */
const signedItem = (world: AdyenWorld, fields: Partial<NotificationRequestItemJson> & Pick<NotificationRequestItemJson, 'eventCode' | 'pspReference'>) =>
  world.fake.sign({
    amount: { currency: 'EUR', value: 10_000 },
    eventDate: '2026-03-02T10:00:00+01:00',
    merchantAccountCode: world.fake.merchantAccount,
    merchantReference: 'payment-1',
    success: 'true',
    ...fields,
  });

const handle = (world: AdyenWorld, batch: NotificationBatch) => world.notifications.handleNotification({ body: batch.rawBody });

const rejectionOf = async (world: AdyenWorld, batch: NotificationBatch) => {
  const result = await handle(world, batch);
  if (result.isOk()) throw new Error(`expected a rejection, got ${JSON.stringify(result.value)}`);
  expect(result.error).toBeInstanceOf(AdyenNotificationRejectedError);
  return result.error as AdyenNotificationRejectedError;
};

/** A paid payment whose AUTHORISATION was delivered, and a credit note on it whose refund Adyen received. */
const requestedRefund = async (world: AdyenWorld, input: { creditNoteId?: string; amount?: number } = {}) => {
  const payment = world.pay();
  await world.deliver();
  const creditNoteId = input.creditNoteId ?? 'cn_1';
  const issued = (await world.issue({ creditNoteId, paymentId: payment.pspReference, amount: input.amount ?? 2_500 }))._unsafeUnwrap();
  expect(issued).toMatchObject({ status: 'requested', attempt: 1 });
  const refund = world.fake.refunds({ paymentPspReference: payment.pspReference }).at(-1)!;
  return { payment, refund, creditNoteId };
};

describe('verification', () => {
  it('applies a batch whose every item is signed with the key, and acknowledges it with [accepted]', async () => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: true });

    const [batch] = world.fake.takeNotifications();
    const result = await handle(world, batch!);

    expect(adyenNotificationAnswer(result)).toEqual({ status: 200, body: '[accepted]' });
    expect(result._unsafeUnwrap()).toMatchObject({
      answer: { status: 200, body: '[accepted]' },
      items: [{ index: 0, eventCode: 'REFUND', outcome: 'applied', causationId: `adyen:REFUND:${refund.pspReference}:true`, creditNoteIds: ['cn_1'] }],
    });
    expect(await world.view('cn_1')).toMatchObject({ status: 'succeeded' });
    // What it wrote names the item as its cause: the same id on every redelivery.
    const written = (await world.store.readAll()).filter((event) => event.causationId === `adyen:REFUND:${refund.pspReference}:true`);
    expect(written.map((event) => event.type)).toEqual(['RefundSucceeded']);
  });

  it('takes the body parsed, as a string or as a Buffer', async () => {
    const world = await startAdyenWorld();
    const item = signedItem(world, { eventCode: 'REPORT_AVAILABLE', pspReference: 'REPORT0000000001' });
    const batch = batchOf(world, [item]);

    for (const body of [batch.body, batch.rawBody, Buffer.from(batch.rawBody)]) {
      expect((await world.notifications.handleNotification({ body })).isOk()).toBe(true);
    }
  });

  it.each([
    ['payload', 'hmac_invalid'],
    ['success', 'hmac_invalid'],
    ['wrong_key', 'hmac_invalid'],
    ['remove_signature', 'hmac_missing'],
  ] as const)('refuses an item tampered by %s (%s), answering 401 and writing nothing', async (how, reason) => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: true });
    const [batch] = world.fake.takeNotifications();
    const before = await world.snapshot();

    const tampered = world.fake.tamper(batch!, { how });
    const result = await handle(world, tampered);

    expect(result.isErr() && result.error).toMatchObject({ code: 'webhook_rejected', reason, itemIndex: 0 });
    expect(adyenNotificationAnswer(result)).toEqual({ status: 401, body: reason });
    expect(await world.snapshot()).toEqual(before);
    expect(world.notified()).toEqual([]);
    // The genuine batch, sent again by Adyen, is applied.
    expect((await handle(world, batch!)).isOk()).toBe(true);
    expect(await world.view('cn_1')).toMatchObject({ status: 'succeeded' });
  });

  it('refuses a whole batch for one forged item among genuine ones, writing nothing', async () => {
    const world = await startAdyenWorld();
    const first = await requestedRefund(world, { creditNoteId: 'cn_1' });
    const payment = world.pay();
    await world.deliver();
    await world.issue({ creditNoteId: 'cn_2', paymentId: payment.pspReference, amount: 1_000 });
    const second = world.fake.refunds({ paymentPspReference: payment.pspReference })[0]!;
    world.fake.settleRefund(first.refund.pspReference, { success: true });
    world.fake.settleRefund(second.pspReference, { success: true });
    const [batch] = world.fake.takeNotifications({ batchSize: 2 });
    expect(batch!.body.notificationItems).toHaveLength(2);
    const before = await world.snapshot();

    const error = await rejectionOf(world, world.fake.tamper(batch!, { how: 'payload', item: 1 }));

    expect(error).toMatchObject({ reason: 'hmac_invalid', itemIndex: 1 });
    expect(await world.snapshot()).toEqual(before);
    expect((await world.view('cn_1')).status).toBe('requested');
  });

  it('refuses notifications of the other mode (live against test), answering 400', async () => {
    const world = await startAdyenWorld({ fake: { live: true }, notifications: { live: false } });
    const payment = world.pay();
    const before = await world.snapshot();

    const [batch] = world.fake.takeNotifications();
    const result = await handle(world, batch!);

    expect(result.isErr() && result.error).toMatchObject({ reason: 'live_mismatch' });
    expect(adyenNotificationAnswer(result)).toEqual({ status: 400, body: 'live_mismatch' });
    expect(await world.snapshot()).toEqual(before);
    expect(payment.pspReference).toBeTruthy();
  });

  it('refuses a test notification at a live endpoint', async () => {
    const world = await startAdyenWorld({ notifications: { live: true } });
    world.pay();
    const [batch] = world.fake.takeNotifications();
    expect((await rejectionOf(world, batch!)).reason).toBe('live_mismatch');
  });

  it('acknowledges and ignores a signed item of a merchant account it does not serve, and takes one it was given', async () => {
    const ignoring = await startAdyenWorld({ notifications: { merchantAccount: 'OtherMerchant' } });
    ignoring.pay();
    const before = await ignoring.snapshot();
    const [batch] = ignoring.fake.takeNotifications();
    const result = await handle(ignoring, batch!);
    expect(adyenNotificationAnswer(result)).toEqual({ status: 200, body: '[accepted]' });
    expect(result._unsafeUnwrap().items).toMatchObject([{ eventCode: 'AUTHORISATION', outcome: 'ignored', reason: 'merchant_account_not_served' }]);
    expect(await ignoring.snapshot()).toEqual(before);
    // Still verified first: a forged item of another merchant account refuses the batch.
    const forged = ignoring.fake.tamper(batch!);
    expect((await rejectionOf(ignoring, forged)).reason).toBe('hmac_invalid');

    // A company-level webhook: every merchant account it serves is listed.
    const serving = await startAdyenWorld({ notifications: { merchantAccount: 'OtherMerchant', accounts: ['TestMerchant'] } });
    serving.pay();
    expect((await handle(serving, serving.fake.takeNotifications()[0]!)).isOk()).toBe(true);
  });

  it('refuses what is not a batch of notifications, saying which field', async () => {
    const world = await startAdyenWorld();
    expect((await world.notifications.handleNotification({ body: '{"live":' })).isErr()).toBe(true);
    expect(await rejectionOf(world, { body: {} as never, rawBody: 'not json' })).toMatchObject({ reason: 'payload_not_json' });
    expect(await rejectionOf(world, { body: {} as never, rawBody: '{"live":"false","notificationItems":[]}' })).toMatchObject({ reason: 'payload_invalid' });
    const noAmount = { ...signedItem(world, { eventCode: 'REFUND', pspReference: 'P000000000000001' }) } as Partial<NotificationRequestItemJson>;
    delete noAmount.amount;
    const error = await rejectionOf(world, batchOf(world, [noAmount as NotificationRequestItemJson]));
    expect(error).toMatchObject({ reason: 'payload_invalid', itemIndex: 0 });
    expect(error.issues.map((issue) => issue.path)).toContain('notificationItems.0.NotificationRequestItem.amount');
  });

  it('does not let one odd item of an event code it does not handle block the batch, once signed', async () => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: true });
    const [settled] = world.fake.takeNotifications();
    // A report notification: a fractional amount and no success, none of which the strict schema takes.
    const odd = world.fake.sign({
      amount: { currency: 'EUR', value: 0.5 },
      eventCode: 'REPORT_AVAILABLE',
      eventDate: '2026-03-02T10:00:00+01:00',
      merchantAccountCode: world.fake.merchantAccount,
      merchantReference: '',
      pspReference: 'settlement_detail_report_batch_1.csv',
      reason: 'https://ca-test.adyen.com/reports/download/settlement_detail_report_batch_1.csv',
      success: 'maybe',
    } as unknown as NotificationRequestItemJson);
    const batch = batchOf(world, [odd, settled!.body.notificationItems[0]!.NotificationRequestItem]);

    const result = await handle(world, batch);

    expect(adyenNotificationAnswer(result)).toEqual({ status: 200, body: '[accepted]' });
    expect(result._unsafeUnwrap().items).toMatchObject([
      { eventCode: 'REPORT_AVAILABLE', outcome: 'ignored', reason: 'unhandled_event_code' },
      { eventCode: 'REFUND', outcome: 'applied' },
    ]);
    expect((await world.view('cn_1')).status).toBe('succeeded');
    // Forged, it refuses the batch as before.
    expect((await rejectionOf(world, world.fake.tamper(batch, { how: 'wrong_key', item: 0 }))).reason).toBe('hmac_invalid');
    // A handled event code is still read strictly.
    const oddRefund = world.fake.sign({ ...odd, eventCode: 'REFUND' });
    expect(await rejectionOf(world, batchOf(world, [oddRefund]))).toMatchObject({ reason: 'payload_invalid', itemIndex: 0 });
  });

  it('refuses to be set up without a hexadecimal HMAC key', async () => {
    const world = await startAdyenWorld();
    const { adyenNotifications } = await import('../../src/adapters/adyen/adyenNotifications.js');
    expect(() => adyenNotifications({ lifecycle: world.lifecycle, hmacKey: 'not-hex', merchantAccount: 'M' })).toThrow(/HMAC key/);
    expect(() => adyenNotifications({ lifecycle: world.lifecycle, hmacKey: 'AB', merchantAccount: '' })).toThrow(/merchantAccount/);
  });
});

describe('event codes', () => {
  it('REFUND success: the refund succeeded, the client is told once', async () => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: true });

    await world.deliver();

    expect(await world.view('cn_1')).toMatchObject({ status: 'succeeded', refund: { processorRefundId: refund.pspReference, status: 'succeeded' } });
    expect(world.notified()).toEqual([['cn_1', 'refund_completed', 'client']]);
  });

  it('REFUND refused: failed, with the reason classified and Adyen words kept', async () => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: false, reason: 'Insufficient in-process funds on account' });

    await world.deliver();

    const failed = await world.view('cn_1');
    expect(failed).toMatchObject({
      status: 'failed',
      failure: { processorReason: 'insufficient_in_process_funds', classification: { retry: 'after_action', recovery: 'top_up_balance' } },
    });
    expect(failed.failure!.message).toContain('Insufficient in-process funds on account');
    expect(failed.allowedActions).toContain('retry');
    expect(world.notified()).toEqual([['cn_1', 'refund_failed', 'merchant']]);
  });

  it('REFUND_FAILED after a successful REFUND: succeeded becomes failed (scheme rejection), the merchant is told once', async () => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: true });
    await world.deliver();
    world.fake.failRefundLater(refund.pspReference);

    await world.deliver({ copies: 2 });

    expect(await world.view('cn_1')).toMatchObject({
      status: 'failed',
      failure: { processorReason: 'scheme_rejected', classification: { retry: 'will_not_help', recovery: 'manual_refund' } },
    });
    expect(world.notified()).toEqual([
      ['cn_1', 'refund_completed', 'client'],
      ['cn_1', 'refund_failed', 'merchant'],
    ]);
  });

  it('REFUNDED_REVERSED after a successful REFUND: failed (the money came back)', async () => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: true });
    await world.deliver();
    world.fake.reverseRefund(refund.pspReference);

    await world.deliver();

    expect(await world.view('cn_1')).toMatchObject({ status: 'failed', failure: { processorReason: 'refund_reversed' } });
    expect(world.notified().filter(([, kind]) => kind === 'refund_failed')).toHaveLength(1);
  });

  it('CANCEL_OR_REFUND made outside the library on a known payment: adopted as a succeeded credit note', async () => {
    const world = await startAdyenWorld();
    const { payment } = await requestedRefund(world, { amount: 2_500 });
    const reversal = world.fake.cancelOrRefund(payment.pspReference);

    const [delivery] = await world.deliver();

    expect(delivery).toMatchObject({ ok: true });
    expect(await world.view(`adyen-${reversal.pspReference}`)).toMatchObject({ status: 'succeeded', amount: 7_500 });
  });

  it('CANCEL_OR_REFUND whose action was cancel moved no money: acknowledged and ignored, nothing adopted', async () => {
    const world = await startAdyenWorld();
    const { payment } = await requestedRefund(world, { amount: 2_500 });
    const before = await world.snapshot();
    const cancel = signedItem(world, {
      eventCode: 'CANCEL_OR_REFUND',
      pspReference: 'CANC000000000001',
      originalReference: payment.pspReference,
      merchantReference: 'payment-1',
      additionalData: { 'modification.action': 'cancel' },
    });

    const result = (await handle(world, batchOf(world, [cancel])))._unsafeUnwrap();

    expect(result.items).toMatchObject([{ eventCode: 'CANCEL_OR_REFUND', outcome: 'ignored', reason: 'payment_cancelled' }]);
    expect(await world.snapshot()).toEqual(before);
    expect((await world.lifecycle.getCreditNote('adyen-CANC000000000001')).isErr()).toBe(true);
  });

  it('CANCEL_OR_REFUND from the fake: cancel is ignored, refund is a succeeded refund', async () => {
    const world = await startAdyenWorld();
    const cancelled = world.pay(4_000);
    const refunded = world.pay(6_000);
    await world.deliver();
    await world.issue({ creditNoteId: 'cn_c', paymentId: cancelled.pspReference, amount: 1_000 });
    await world.issue({ creditNoteId: 'cn_r', paymentId: refunded.pspReference, amount: 1_000 });
    const cancel = world.fake.cancelOrRefund(cancelled.pspReference, { action: 'cancel' });
    const refund = world.fake.cancelOrRefund(refunded.pspReference);
    expect(cancel.item.additionalData).toMatchObject({ 'modification.action': 'cancel' });
    expect(refund.item.additionalData).toMatchObject({ 'modification.action': 'refund' });
    const [batch] = world.fake.takeNotifications({ batchSize: 2 });

    const result = (await handle(world, batch!))._unsafeUnwrap();

    expect(result.items).toMatchObject([
      { outcome: 'ignored', reason: 'payment_cancelled' },
      { outcome: 'applied', creditNoteIds: [`adyen-${refund.pspReference}`] },
    ]);
    expect(await world.view(`adyen-${refund.pspReference}`)).toMatchObject({ status: 'succeeded', amount: 5_000 });
    expect((await world.lifecycle.getCreditNote(`adyen-${cancel.pspReference}`)).isErr()).toBe(true);
  });

  it("confirmChargeOn: 'capture' leaves AUTHORISATION alone and waits for the CAPTURE (manual capture)", async () => {
    const world = await startAdyenWorld({ notifications: { confirmChargeOn: 'capture' } });
    const payment = world.pay();
    await world.issue({ creditNoteId: 'cn_wait', paymentId: payment.pspReference, amount: 1_000, chargeConfirmed: false });

    const [authorised] = await world.deliver();
    expect(authorised).toMatchObject({ ok: true, eventCodes: ['AUTHORISATION'] });
    expect((await world.view('cn_wait')).status).toBe('pending');

    const capture = signedItem(world, { eventCode: 'CAPTURE', pspReference: 'CAPT000000000009', originalReference: payment.pspReference });
    const confirmed = (await handle(world, batchOf(world, [capture])))._unsafeUnwrap();
    expect(confirmed.items).toMatchObject([{ outcome: 'applied', creditNoteIds: ['cn_wait'] }]);
    expect((await world.view('cn_wait')).status).toBe('requested');
  });

  it('AUTHORISATION confirms the charge: a credit note waiting for it moves on to its refund', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay();
    const waiting = (await world.issue({ creditNoteId: 'cn_wait', paymentId: payment.pspReference, amount: 1_000, chargeConfirmed: false }))._unsafeUnwrap();
    expect(waiting.status).toBe('pending');
    expect(world.fake.refunds()).toEqual([]);

    const [delivery] = await world.deliver();

    expect(delivery).toMatchObject({ ok: true, eventCodes: ['AUTHORISATION'] });
    expect(await world.view('cn_wait')).toMatchObject({ status: 'requested' });
    expect(world.fake.refunds()).toHaveLength(1);
  });

  it('CAPTURE confirms the charge of its originalReference; an unsuccessful one is ignored', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay();
    world.fake.takeNotifications(); // the AUTHORISATION is lost
    await world.issue({ creditNoteId: 'cn_wait', paymentId: payment.pspReference, amount: 1_000, chargeConfirmed: false });

    const failedCapture = signedItem(world, { eventCode: 'CAPTURE', pspReference: 'CAPT000000000001', originalReference: payment.pspReference, success: 'false' });
    const refused = (await handle(world, batchOf(world, [failedCapture])))._unsafeUnwrap();
    expect(refused.items).toMatchObject([{ outcome: 'ignored', reason: 'unsuccessful_event' }]);
    expect((await world.view('cn_wait')).status).toBe('pending');

    const capture = signedItem(world, { eventCode: 'CAPTURE', pspReference: 'CAPT000000000002', originalReference: payment.pspReference });
    const confirmed = (await handle(world, batchOf(world, [capture])))._unsafeUnwrap();
    expect(confirmed.items).toMatchObject([{ outcome: 'applied', creditNoteIds: ['cn_wait'] }]);
    expect((await world.view('cn_wait')).status).toBe('requested');
  });

  it('acknowledges and ignores an event code it does not handle', async () => {
    const world = await startAdyenWorld();
    const before = await world.snapshot();
    const item = signedItem(world, { eventCode: 'CHARGEBACK', pspReference: 'CHBK000000000001', originalReference: 'PAY0000000000001' });

    const result = await handle(world, batchOf(world, [item]));

    expect(adyenNotificationAnswer(result)).toEqual({ status: 200, body: '[accepted]' });
    expect(result._unsafeUnwrap().items).toMatchObject([{ eventCode: 'CHARGEBACK', outcome: 'ignored', reason: 'unhandled_event_code' }]);
    expect(await world.snapshot()).toEqual(before);
  });

  it('ignores a refund of a payment no credit note refunds', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay();
    await world.deliver();
    world.fake.refundInCustomerArea(payment.pspReference, { amount: 500, currency: 'EUR' });
    const [delivery] = await world.deliver();
    expect(delivery).toMatchObject({ ok: true });
    expect(await world.lifecycle.listCreditNotes()).toEqual(expect.objectContaining({ value: [] }));
  });
});

describe('redeliveries and order', () => {
  it('writes nothing for a duplicated item or a redelivered batch', async () => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: true });
    const batches = world.fake.takeNotifications({ copies: 3 });
    expect(batches).toHaveLength(3);

    const first = (await handle(world, batches[0]!))._unsafeUnwrap();
    const after = await world.snapshot();
    const again = await Promise.all(batches.slice(1).map(async (batch) => (await handle(world, batch))._unsafeUnwrap()));
    const oneMore = (await handle(world, batches[0]!))._unsafeUnwrap();

    expect(first.items[0]!.outcome).toBe('applied');
    expect([...again, oneMore].map((outcome) => outcome.items[0]!.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(await world.snapshot()).toEqual(after);
    expect(world.notified()).toEqual([['cn_1', 'refund_completed', 'client']]);
  });

  it('a batch carrying the same item twice applies it once', async () => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: true });
    const [batch] = world.fake.takeNotifications({ copies: 2, batchSize: 2 });

    const outcome = (await handle(world, batch!))._unsafeUnwrap();

    expect(outcome.items.map((item) => item.outcome)).toEqual(['applied', 'unchanged']);
  });

  it('REFUND_FAILED before its REFUND: failed, and the late REFUND changes nothing', async () => {
    const world = await startAdyenWorld();
    const { refund } = await requestedRefund(world);
    world.fake.settleRefund(refund.pspReference, { success: true });
    world.fake.failRefundLater(refund.pspReference);

    const results = await world.deliver({ order: 'reversed' });

    expect(results.map((result) => result.eventCodes)).toEqual([['REFUND_FAILED'], ['REFUND']]);
    expect(results.every((result) => result.ok)).toBe(true);
    expect(await world.view('cn_1')).toMatchObject({ status: 'failed', failure: { processorReason: 'scheme_rejected' } });
    expect(world.notified()).toEqual([['cn_1', 'refund_failed', 'merchant']]);
  });

  it('a causation id is the same on every redelivery of an item, and differs by event code and outcome', () => {
    const item = { eventCode: 'REFUND', pspReference: 'PSP0000000000001', success: 'true' };
    expect(adyenCausationId(item)).toBe('adyen:REFUND:PSP0000000000001:true');
    expect(adyenCausationId({ ...item })).toBe(adyenCausationId(item));
    expect(adyenCausationId({ ...item, eventCode: 'REFUND_FAILED' })).not.toBe(adyenCausationId(item));
    expect(adyenCausationId({ ...item, success: 'false' })).not.toBe(adyenCausationId(item));
  });

  it('does not acknowledge a batch when the store is down; its redelivery is applied once, skipping what was', async () => {
    let down = false;
    const world = await startAdyenWorld({
      wrapStore: (store: EventStore): EventStore =>
        new Proxy(store, {
          get(target, property, receiver) {
            const value = Reflect.get(target, property, receiver) as unknown;
            if (property === 'append' && typeof value === 'function') {
              return (...args: unknown[]) => {
                if (down) throw new Error('connection refused');
                return (value as (...a: unknown[]) => unknown).apply(target, args);
              };
            }
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
    });
    const first = await requestedRefund(world, { creditNoteId: 'cn_1' });
    const payment = world.pay();
    await world.deliver();
    await world.issue({ creditNoteId: 'cn_2', paymentId: payment.pspReference, amount: 1_000 });
    const second = world.fake.refunds({ paymentPspReference: payment.pspReference })[0]!;
    world.fake.settleRefund(first.refund.pspReference, { success: true });
    world.fake.settleRefund(second.pspReference, { success: true });
    const [batch] = world.fake.takeNotifications({ batchSize: 2 });

    down = true;
    const failed = await handle(world, batch!);
    expect(failed.isErr() && failed.error).toBeInstanceOf(StoreError);
    expect(adyenNotificationAnswer(failed)).toEqual({ status: 500, body: 'store_unavailable' });

    down = false;
    const applied = (await handle(world, batch!))._unsafeUnwrap();
    expect(applied.items.map((item) => item.outcome)).toEqual(['applied', 'applied']);
    expect((await handle(world, batch!))._unsafeUnwrap().items.map((item) => item.outcome)).toEqual(['unchanged', 'unchanged']);
    expect(world.notified()).toEqual([
      ['cn_1', 'refund_completed', 'client'],
      ['cn_2', 'refund_completed', 'client'],
    ]);
  });
});

describe('routing a refund whose create answer was lost', () => {
  it('by its <creditNoteId>:<attempt> reference', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay();
    await world.deliver();
    world.fake.timeoutNext({ mode: 'reset' });
    const inDoubt = (await world.issue({ creditNoteId: 'cn_lost', paymentId: payment.pspReference, amount: 2_000 }))._unsafeUnwrap();
    expect(inDoubt.status).toBe('pending');
    const [made] = world.fake.refunds();
    expect(made!.merchantReference).toBe('cn_lost:1');
    world.fake.settleRefund(made!.pspReference, { success: true });

    await world.deliver();

    expect(await world.view('cn_lost')).toMatchObject({ status: 'succeeded', refund: { processorRefundId: made!.pspReference } });
  });

  it('by recomputing the digest reference of a long credit note id among the payment’s credit notes', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay();
    await world.deliver();
    const longId = `cn_${'q'.repeat(150)}`;
    world.fake.timeoutNext({ mode: 'reset' });
    await world.issue({ creditNoteId: longId, paymentId: payment.pspReference, amount: 2_000 });
    const [made] = world.fake.refunds();
    expect(made!.merchantReference).toBe(adyenRefundReference(longId, 1));
    world.fake.settleRefund(made!.pspReference, { success: true });

    await world.deliver();

    expect(await world.view(longId)).toMatchObject({ status: 'succeeded', refund: { processorRefundId: made!.pspReference } });
    // Never mistaken for a refund made outside the library.
    expect((await world.lifecycle.listCreditNotes())._unsafeUnwrap().map((view) => view.creditNoteId)).toEqual([longId]);
  });
});

describe('refunds made in the Customer Area', () => {
  it('are adopted as credit notes of processor origin, once however often told', async () => {
    const world = await startAdyenWorld();
    const { payment } = await requestedRefund(world, { amount: 2_500 });
    const outside = world.fake.refundInCustomerArea(payment.pspReference, { amount: 1_000, currency: 'EUR' });

    await world.deliver({ copies: 2 });

    expect(await world.view(`adyen-${outside.pspReference}`)).toMatchObject({ status: 'succeeded', amount: 1_000, attempt: 1 });
    expect((await world.lifecycle.listCreditNotes())._unsafeUnwrap()).toHaveLength(2);
  });

  it('a reference that looks like ours but names no credit note is somebody else’s: adopted', async () => {
    const world = await startAdyenWorld();
    const { payment } = await requestedRefund(world, { amount: 2_500 });
    const outside = world.fake.refundInCustomerArea(payment.pspReference, { amount: 1_000, currency: 'EUR', reference: 'order:7' });

    await world.deliver();

    expect(await world.view(`adyen-${outside.pspReference}`)).toMatchObject({ status: 'succeeded' });
  });

  it('an adopted refund that fails later fails its credit note; one that failed at first sight is not adopted', async () => {
    const world = await startAdyenWorld();
    const { payment } = await requestedRefund(world, { amount: 2_500 });
    const outside = world.fake.refundInCustomerArea(payment.pspReference, { amount: 1_000, currency: 'EUR' });
    await world.deliver();
    world.fake.failRefundLater(outside.pspReference);
    const refused = world.fake.refundInCustomerArea(payment.pspReference, { amount: 500, currency: 'EUR', settled: false });
    world.fake.settleRefund(refused.pspReference, { success: false, reason: 'Refused' });

    const results = await world.deliver();

    expect(results.every((result) => result.ok)).toBe(true);
    expect(await world.view(`adyen-${outside.pspReference}`)).toMatchObject({ status: 'failed', failure: { processorReason: 'scheme_rejected' } });
    expect((await world.lifecycle.getCreditNote(`adyen-${refused.pspReference}`)).isErr()).toBe(true);
  });

  it('are ignored with adoptExternalRefunds: false', async () => {
    const world = await startAdyenWorld({ notifications: { adoptExternalRefunds: false } });
    const { payment } = await requestedRefund(world, { amount: 2_500 });
    world.fake.refundInCustomerArea(payment.pspReference, { amount: 1_000, currency: 'EUR' });
    const [batch] = world.fake.takeNotifications();

    const outcome = (await handle(world, batch!))._unsafeUnwrap();

    expect(outcome.items).toMatchObject([{ outcome: 'ignored', reason: 'external_refund' }]);
    expect((await world.lifecycle.listCreditNotes())._unsafeUnwrap()).toHaveLength(1);
  });
});

describe('the default merchant account named explicitly', () => {
  // The host may record `payment.account` as the default merchant account's name rather than null: the same account.
  it('a REFUND of a credit note whose payment names the default merchant account is applied', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay();
    await world.deliver();
    const issued = (
      await world.issue({ creditNoteId: 'cn_named', paymentId: payment.pspReference, amount: 2_000, account: world.fake.merchantAccount })
    )._unsafeUnwrap();
    expect(issued.status).toBe('requested');
    const [made] = world.fake.refunds();
    expect((world.refundRequests()[0]!.body as { merchantAccount: string }).merchantAccount).toBe(world.fake.merchantAccount);
    world.fake.settleRefund(made!.pspReference, { success: true });
    const [batch] = world.fake.takeNotifications();

    const result = (await handle(world, batch!))._unsafeUnwrap();

    expect(result.items).toMatchObject([{ eventCode: 'REFUND', outcome: 'applied', creditNoteIds: ['cn_named'] }]);
    expect(await world.view('cn_named')).toMatchObject({ status: 'succeeded' });
  });

  it('an AUTHORISATION releases a credit note whose payment names the default merchant account', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay();
    await world.issue({ creditNoteId: 'cn_wait', paymentId: payment.pspReference, amount: 1_000, chargeConfirmed: false, account: world.fake.merchantAccount });
    const [batch] = world.fake.takeNotifications();

    const result = (await handle(world, batch!))._unsafeUnwrap();

    expect(result.items).toMatchObject([{ eventCode: 'AUTHORISATION', outcome: 'applied', creditNoteIds: ['cn_wait'] }]);
    expect((await world.view('cn_wait')).status).toBe('requested');
  });

  it('a refund whose create answer was lost, and a Customer Area refund next to it, are routed alike', async () => {
    const world = await startAdyenWorld();
    const payment = world.pay();
    await world.deliver();
    world.fake.timeoutNext({ mode: 'reset' });
    await world.issue({ creditNoteId: 'cn_lost', paymentId: payment.pspReference, amount: 2_000, account: world.fake.merchantAccount });
    const [made] = world.fake.refunds();
    world.fake.settleRefund(made!.pspReference, { success: true });
    const outside = world.fake.refundInCustomerArea(payment.pspReference, { amount: 1_000, currency: 'EUR' });

    const results = await world.deliver();

    expect(results.every((result) => result.ok)).toBe(true);
    expect(await world.view('cn_lost')).toMatchObject({ status: 'succeeded', refund: { processorRefundId: made!.pspReference } });
    // Adopted on the account its sibling names, so that later news of it matches too.
    expect(await world.view(`adyen-${outside.pspReference}`)).toMatchObject({ status: 'succeeded', payment: { account: world.fake.merchantAccount } });
    world.fake.failRefundLater(outside.pspReference);
    await world.deliver();
    expect(await world.view(`adyen-${outside.pspReference}`)).toMatchObject({ status: 'failed' });
  });

  it('a credit note on another merchant account is still not moved by news of the default one', async () => {
    const world = await startAdyenWorld({ notifications: { accounts: ['OtherMerchant'] } });
    const payment = world.pay();
    await world.issue({ creditNoteId: 'cn_other', paymentId: payment.pspReference, amount: 1_000, chargeConfirmed: false, account: 'OtherMerchant' });
    const [batch] = world.fake.takeNotifications();

    const result = (await handle(world, batch!))._unsafeUnwrap();

    expect(result.items).toMatchObject([{ outcome: 'ignored', reason: 'account_mismatch' }]);
    expect((await world.view('cn_other')).status).toBe('pending');
  });
});
