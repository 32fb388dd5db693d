import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CheckoutAPI, Client, hmacValidator } from '@adyen/api-library';
import NotificationRequest from '@adyen/api-library/lib/src/notification/notificationRequest';
import { afterEach, describe, expect, it } from 'vitest';
import { openFakeAdyen as startFake } from './support.js';
import {
  notificationSignature,
  startFakeAdyenServer,
  type NotificationBatch,
  type NotificationRequestItemJson,
} from '../../src/testing/adyen/index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});


const itemsOf = (batch: NotificationBatch) => batch.body.notificationItems.map((container) => container.NotificationRequestItem);
/** What a webhook handler sees: the items parsed back from the text posted. */
const parsedItems = (batch: NotificationBatch): NotificationRequestItemJson[] =>
  (JSON.parse(batch.rawBody) as NotificationBatch['body']).notificationItems.map((container) => container.NotificationRequestItem);

/** The library's validator, as an adapter calls it. */
const validate = (item: NotificationRequestItemJson, key: string) =>
  new hmacValidator().validateHMAC(item as unknown as Parameters<hmacValidator['validateHMAC']>[0], key);

/** A fake with a payment, one API refund received, and the AUTHORISATION already taken. */
const withApiRefund = async (options?: Parameters<typeof startFakeAdyenServer>[0]) => {
  const fake = await startFake(options);
  const payment = fake.createPayment({ amount: 5_000, currency: 'EUR', reference: 'order-42' });
  fake.takeNotifications();
  const modifications = new CheckoutAPI(new Client({ ...fake.clientConfig })).ModificationsApi;
  const refund = await modifications.refundCapturedPayment(
    payment.pspReference,
    { merchantAccount: fake.merchantAccount, amount: { value: 1_500, currency: 'EUR' }, reference: 'cn_1:1' },
    { idempotencyKey: 'cn_1:refund:1' },
  );
  return { fake, payment, refund, modifications };
};

describe('HMAC signatures', () => {
  it("reproduces @adyen/api-library's own test vector (hmacValidator.spec.ts)", () => {
    const item: NotificationRequestItemJson = {
      pspReference: 'pspReference',
      originalReference: 'originalReference',
      merchantAccountCode: 'merchantAccount',
      merchantReference: 'reference',
      amount: { currency: 'EUR', value: 1000 },
      eventCode: 'CAPTURE',
      eventDate: '1970-01-01T00:00:00+00:00',
      success: 'true',
    };
    expect(notificationSignature(item, 'DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00')).toBe(
      'xhpHvYq2u2Np0rstbZ6QjLGu7JWhvf7Iwaa6EviJSX0=',
    );
  });

  it("every item the fake sends passes the library's HmacValidator.validateHMAC with the fake's key, and no other", async () => {
    const { fake, payment, refund } = await withApiRefund();
    fake.createPayment({ amount: 700, currency: 'USD' }); // AUTHORISATION: no originalReference
    fake.settleRefund(refund.pspReference, { success: true });
    fake.failRefundLater(refund.pspReference, 'Refund Failed');
    const other = fake.refundInCustomerArea(payment.pspReference, { amount: 500, currency: 'EUR' });
    fake.reverseRefund(other.pspReference);
    fake.cancelOrRefund(payment.pspReference); // additionalData besides the signature

    const items = fake.takeNotifications({ batchSize: 10 }).flatMap(parsedItems);

    expect(items.map((item) => item.eventCode)).toEqual(['AUTHORISATION', 'REFUND', 'REFUND_FAILED', 'REFUND', 'REFUNDED_REVERSED', 'CANCEL_OR_REFUND']);
    for (const item of items) {
      expect(item.additionalData?.hmacSignature).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(validate(item, fake.hmacKey)).toBe(true);
      expect(validate(item, 'AA'.repeat(32))).toBe(false);
    }
  });

  it('tamper() produces batches the validator rejects; a missing signature makes validateHMAC throw', async () => {
    const { fake, refund } = await withApiRefund();
    fake.settleRefund(refund.pspReference, { success: false, reason: 'Insufficient balance on payment' });
    const [batch] = fake.takeNotifications();

    for (const how of ['payload', 'success', 'wrong_key'] as const) {
      const tampered = fake.tamper(batch!, { how });
      expect(tampered.rawBody).toBe(JSON.stringify(tampered.body));
      expect(validate(parsedItems(tampered)[0]!, fake.hmacKey)).toBe(false);
    }
    expect(parsedItems(fake.tamper(batch!))[0]!.amount.value).toBe(1_501);
    expect(() => validate(parsedItems(fake.tamper(batch!, { how: 'remove_signature' }))[0]!, fake.hmacKey)).toThrow('Missing hmacSignature');
    // The original is untouched.
    expect(validate(parsedItems(batch!)[0]!, fake.hmacKey)).toBe(true);
  });

  it('tamper({ item }) spoils one item of a batch and leaves the others valid', async () => {
    const { fake, payment } = await withApiRefund();
    fake.refundInCustomerArea(payment.pspReference, { amount: 100, currency: 'EUR' });
    fake.refundInCustomerArea(payment.pspReference, { amount: 200, currency: 'EUR' });
    const [batch] = fake.takeNotifications({ batchSize: 2 });
    const tampered = parsedItems(fake.tamper(batch!, { item: 1 }));
    expect(tampered.map((item) => validate(item, fake.hmacKey))).toEqual([true, false]);
  });

  it('sign() signs hand-made items (unknown event codes included) with the fake key or another', async () => {
    const fake = await startFake({ hmacKey: '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056' });
    const item: NotificationRequestItemJson = {
      amount: { currency: 'EUR', value: 0 },
      eventCode: 'REPORT_AVAILABLE',
      eventDate: '2026-01-01T00:00:00+00:00',
      merchantAccountCode: fake.merchantAccount,
      merchantReference: 'report.csv',
      pspReference: 'ABCDEFGHIJKLMNOP',
      success: 'true',
    };
    expect(validate(fake.sign(item), fake.hmacKey)).toBe(true);
    expect(validate(fake.sign(item, 'BB'.repeat(32)), fake.hmacKey)).toBe(false);
  });
});

describe('what each event looks like (Adyen Webhooks-v1 examples)', () => {
  it('AUTHORISATION of a captured payment', async () => {
    const fake = await startFake({ clock: () => Date.UTC(2026, 0, 2, 3, 4, 5) });
    const payment = fake.createPayment({ amount: 5_000, currency: 'eur', reference: 'order-42' });
    const [batch] = fake.takeNotifications();

    expect(payment.pspReference).toMatch(/^[A-Z0-9]{16}$/);
    expect(batch!.body.live).toBe('false');
    expect(itemsOf(batch!)).toEqual([
      {
        additionalData: { hmacSignature: expect.any(String) },
        amount: { currency: 'EUR', value: 5_000 },
        eventCode: 'AUTHORISATION',
        eventDate: '2026-01-02T03:04:05+00:00',
        merchantAccountCode: 'TestMerchant',
        merchantReference: 'order-42',
        operations: ['CANCEL', 'CAPTURE', 'REFUND'],
        paymentMethod: 'visa',
        pspReference: payment.pspReference,
        reason: expect.any(String),
        success: 'true',
      },
    ]);
  });

  it('REFUND (success and refusal), REFUND_FAILED and REFUNDED_REVERSED name the refund and the payment', async () => {
    const { fake, payment, refund, modifications } = await withApiRefund({ merchantAccount: 'ShopEU', live: true });
    const second = await modifications.refundCapturedPayment(payment.pspReference, {
      merchantAccount: 'ShopEU',
      amount: { value: 200, currency: 'EUR' },
      reference: 'cn_2:1',
    });
    fake.settleRefund(refund.pspReference, { success: true });
    fake.settleRefund(second.pspReference, { success: false, reason: 'Insufficient balance on payment' });
    fake.failRefundLater(refund.pspReference);
    const third = fake.refundInCustomerArea(payment.pspReference, { amount: 300, currency: 'EUR' });
    fake.reverseRefund(third.pspReference);

    const batches = fake.takeNotifications();
    expect(batches.map((batch) => batch.body.live)).toEqual(['true', 'true', 'true', 'true', 'true']);
    const common = { merchantAccountCode: 'ShopEU', originalReference: payment.pspReference, paymentMethod: 'visa' };
    expect(batches.flatMap(itemsOf)).toEqual([
      expect.objectContaining({ ...common, eventCode: 'REFUND', pspReference: refund.pspReference, merchantReference: 'cn_1:1', success: 'true', reason: '', amount: { currency: 'EUR', value: 1_500 } }),
      expect.objectContaining({ ...common, eventCode: 'REFUND', pspReference: second.pspReference, merchantReference: 'cn_2:1', success: 'false', reason: 'Insufficient balance on payment' }),
      expect.objectContaining({ ...common, eventCode: 'REFUND_FAILED', pspReference: refund.pspReference, merchantReference: 'cn_1:1', success: 'true', reason: 'Refund Failed' }),
      // A Customer Area refund carries the payment's merchantReference, not one of ours.
      expect.objectContaining({ ...common, eventCode: 'REFUND', pspReference: third.pspReference, merchantReference: 'order-42', success: 'true' }),
      expect.objectContaining({ ...common, eventCode: 'REFUNDED_REVERSED', pspReference: third.pspReference, success: 'true' }),
    ]);
    expect(fake.refunds().map((r) => [r.origin, r.status, r.idempotencyKey])).toEqual([
      ['api', 'failed', 'cn_1:refund:1'],
      ['api', 'refused', null],
      ['customer_area', 'reversed', null],
    ]);
  });

  it('CANCEL_OR_REFUND refunds what is left, under a new pspReference, with modification.action', async () => {
    const { fake, payment } = await withApiRefund();
    const reversal = fake.cancelOrRefund(payment.pspReference);
    const [item] = fake.takeNotifications().flatMap(itemsOf);

    expect(item).toMatchObject({
      additionalData: { 'modification.action': 'refund', hmacSignature: expect.any(String) },
      amount: { currency: 'EUR', value: 3_500 },
      eventCode: 'CANCEL_OR_REFUND',
      merchantReference: 'order-42',
      originalReference: payment.pspReference,
      pspReference: reversal.pspReference,
      success: 'true',
    });
    expect(fake.refundableAmount(payment.pspReference)).toBe(0);
    expect(fake.refunds().at(-1)).toMatchObject({ pspReference: reversal.pspReference, origin: 'cancel_or_refund', status: 'refunded' });
  });

  it('a Customer Area refund can stay received until settled, and refuses more than is left', async () => {
    const fake = await startFake();
    const payment = fake.createPayment({ amount: 1_000, currency: 'EUR' });
    fake.takeNotifications();
    const pending = fake.refundInCustomerArea(payment.pspReference, { amount: 600, currency: 'EUR', settled: false, reference: 'CA-7' });
    expect(fake.pendingNotifications()).toBe(0);
    expect(() => fake.refundInCustomerArea(payment.pspReference, { amount: 500, currency: 'EUR' })).toThrow(/only 400 EUR left/);
    fake.settleRefund(pending.pspReference, { success: true });
    expect(fake.takeNotifications().flatMap(itemsOf)).toEqual([expect.objectContaining({ eventCode: 'REFUND', merchantReference: 'CA-7', success: 'true' })]);
  });

  it('refuses moves that Adyen would not make', async () => {
    const { fake, refund } = await withApiRefund();
    expect(() => fake.failRefundLater(refund.pspReference)).toThrow(/received, not refunded/);
    expect(() => fake.reverseRefund(refund.pspReference)).toThrow(/received, not refunded/);
    fake.settleRefund(refund.pspReference, { success: true });
    expect(() => fake.settleRefund(refund.pspReference, { success: true })).toThrow(/refunded, not received/);
    expect(() => fake.settleRefund('NOPE', { success: true })).toThrow(/no refund NOPE/);
  });

  it("the library's NotificationRequest reads the fake's bodies", async () => {
    const { fake, refund } = await withApiRefund();
    fake.settleRefund(refund.pspReference, { success: true });
    const [batch] = fake.takeNotifications();
    const parsed = new NotificationRequest(JSON.parse(batch!.rawBody));
    expect(parsed.live).toBe('false');
    expect(parsed.notificationItems?.map((item) => [item.eventCode, item.pspReference, item.success])).toEqual([['REFUND', refund.pspReference, 'true']]);
  });
});

describe('batches, copies and order', () => {
  /** Three REFUND items in a known order: A, B, C. */
  const threeRefunds = async () => {
    const fake = await startFake();
    const payment = fake.createPayment({ amount: 1_000, currency: 'EUR' });
    fake.takeNotifications();
    const refs = ['A', 'B', 'C'].map((reference, index) =>
      fake.refundInCustomerArea(payment.pspReference, { amount: 100 * (index + 1), currency: 'EUR', reference }),
    );
    return { fake, refs };
  };
  const referencesOf = (batches: NotificationBatch[]) => batches.map((batch) => itemsOf(batch).map((item) => item.merchantReference));

  it('one item per batch by default, in the order sent; the queue is drained', async () => {
    const { fake } = await threeRefunds();
    const batches = fake.takeNotifications();
    expect(referencesOf(batches)).toEqual([['A'], ['B'], ['C']]);
    for (const batch of batches) expect(batch.rawBody).toBe(JSON.stringify(batch.body));
    expect(fake.takeNotifications()).toEqual([]);
    expect(fake.notifications()).toHaveLength(4); // the AUTHORISATION and the three REFUNDs, kept for observation
  });

  it('batchSize groups items into one POST', async () => {
    const { fake } = await threeRefunds();
    expect(referencesOf(fake.takeNotifications({ batchSize: 2 }))).toEqual([['A', 'B'], ['C']]);
  });

  it('copies repeat the whole run (duplicates), and order reverses or shuffles it', async () => {
    const { fake } = await threeRefunds();
    expect(referencesOf(fake.takeNotifications({ copies: 2, batchSize: 3 }))).toEqual([['A', 'B', 'C'], ['A', 'B', 'C']]);

    const again = await threeRefunds();
    expect(referencesOf(again.fake.takeNotifications({ copies: 2, order: 'reversed' }))).toEqual([['C'], ['B'], ['A'], ['C'], ['B'], ['A']]);

    const third = await threeRefunds();
    const shuffled = third.fake.takeNotifications({ order: (items) => [items[1]!, items[2]!, items[0]!], batchSize: 3 });
    expect(referencesOf(shuffled)).toEqual([['B', 'C', 'A']]);
    for (const item of shuffled.flatMap(parsedItems)) expect(validate(item, third.fake.hmacKey)).toBe(true);
  });

  it('refuses nonsense counts', async () => {
    const { fake } = await threeRefunds();
    expect(() => fake.takeNotifications({ copies: 0 })).toThrow(/copies/);
    expect(() => fake.takeNotifications({ batchSize: 0 })).toThrow(/batchSize/);
  });
});

describe('delivery', () => {
  /** A webhook endpoint on node:http that records what it got and answers as told. */
  const endpoint = async (answer: (body: string) => { status: number; body: string }) => {
    const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
    const server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body });
        const { status, body: text } = answer(body);
        response.writeHead(status, { 'Content-Type': 'text/plain' }).end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/adyen/webhook`, received };
  };

  it('POSTs each batch as JSON (with basic auth when asked) and reports the answers', async () => {
    const { fake, refund } = await withApiRefund();
    fake.settleRefund(refund.pspReference, { success: true });
    const host = await endpoint(() => ({ status: 200, body: '[accepted]' }));

    const results = await fake.deliverNotifications(host.url, { copies: 2, basicAuth: { username: 'adyen', password: 's3cret' } });

    expect(results.map((result) => [result.ok, result.status, result.body, result.accepted, result.eventCodes])).toEqual([
      [true, 200, '[accepted]', true, ['REFUND']],
      [true, 200, '[accepted]', true, ['REFUND']],
    ]);
    expect(host.received).toHaveLength(2);
    expect(host.received[0]!.headers['content-type']).toBe('application/json');
    expect(host.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('adyen:s3cret').toString('base64')}`);
    expect(host.received[0]!.body).toBe(results[0]!.batch.rawBody);
    expect(validate(parsedItems(results[0]!.batch)[0]!, fake.hmacKey)).toBe(true);
  });

  it('any 2xx is a success; a failure or a network error is reported, and requeued on request', async () => {
    const { fake, refund } = await withApiRefund();
    fake.settleRefund(refund.pspReference, { success: true });
    let status = 500;
    const host = await endpoint(() => ({ status, body: status === 500 ? 'down' : '' }));

    const failed = await fake.deliverNotifications(host.url, { requeueFailures: true });
    expect(failed).toEqual([expect.objectContaining({ ok: false, status: 500, body: 'down', accepted: false })]);
    expect(fake.pendingNotifications()).toBe(1);

    status = 204;
    const retried = await fake.deliverNotifications(host.url, { requeueFailures: true });
    expect(retried).toEqual([expect.objectContaining({ ok: true, status: 204, accepted: false, pspReferences: [refund.pspReference] })]);
    expect(fake.pendingNotifications()).toBe(0);
    // The retry is the same item, signed again.
    expect(parsedItems(retried[0]!.batch)).toEqual(parsedItems(failed[0]!.batch));

    fake.settleRefund(fake.refundInCustomerArea(fake.payments()[0]!.pspReference, { amount: 1, currency: 'EUR', settled: false }).pspReference, {
      success: true,
    });
    const unreachable = await fake.deliverNotifications('http://127.0.0.1:1/webhook');
    expect(unreachable).toEqual([expect.objectContaining({ ok: false, error: expect.any(String) })]);
    expect(fake.pendingNotifications()).toBe(0); // without requeueFailures, a failed delivery is gone, as after Adyen's last retry
  });

  it('hands batches to a callback, duplicated and reordered, and takes a bare status too', async () => {
    const { fake, payment, refund } = await withApiRefund();
    fake.settleRefund(refund.pspReference, { success: true });
    fake.refundInCustomerArea(payment.pspReference, { amount: 100, currency: 'EUR' });
    const seen: string[] = [];
    let calls = 0;

    const results = await fake.deliverNotifications(
      async (batch) => {
        seen.push(...batch.body.notificationItems.map((container) => container.NotificationRequestItem.merchantReference));
        calls += 1;
        return calls === 1 ? { status: 200, body: '[accepted]' } : 202;
      },
      { copies: 2, order: 'reversed', batchSize: 2 },
    );

    expect(seen).toEqual(['order-42', 'cn_1:1', 'order-42', 'cn_1:1']);
    expect(results.map((result) => [result.ok, result.status])).toEqual([
      [true, 200],
      [true, 202],
    ]);
  });

  it('reports a callback that throws', async () => {
    const { fake, refund } = await withApiRefund();
    fake.settleRefund(refund.pspReference, { success: true });
    const results = await fake.deliverNotifications(async () => {
      throw new Error('handler exploded');
    });
    expect(results).toEqual([expect.objectContaining({ ok: false, accepted: false, error: 'handler exploded' })]);
  });
});
