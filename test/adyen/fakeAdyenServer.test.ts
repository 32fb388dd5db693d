import { CheckoutAPI, Client, HttpClientException, Types } from '@adyen/api-library';
import ApiException from '@adyen/api-library/lib/src/services/exception/apiException';
import { describe, expect, it } from 'vitest';
import { openFakeAdyen as startFake } from './support.js';
import { startFakeAdyenServer, type FakeAdyenServer } from '../../src/testing/adyen/index.js';

// Every test talks to the fake through the real @adyen/api-library (32.x): its
// URL building, headers, serialisation, error classes and timeouts run for real.


/** The host wiring, exactly as a host test writes it. */
const modificationsFor = (fake: FakeAdyenServer, config: Partial<ConstructorParameters<typeof Client>[0]> = {}) =>
  new CheckoutAPI(new Client({ ...fake.clientConfig, connectionTimeoutMillis: 5_000, ...config })).ModificationsApi;

const paid = async (options?: Parameters<typeof startFakeAdyenServer>[0]) => {
  const fake = await startFake(options);
  const modifications = modificationsFor(fake);
  const payment = fake.createPayment({ amount: 5_000, currency: 'EUR', reference: 'order-42' });
  const refundRequest = (value = 1_500, reference = 'cn_1:1') => ({
    merchantAccount: fake.merchantAccount,
    amount: { value, currency: 'EUR' },
    reference,
    merchantRefundReason: Types.checkout.PaymentRefundRequest.MerchantRefundReasonEnum.CustomerRequest,
  });
  return { fake, modifications, payment, refundRequest };
};

/** What the library rejected with, flattened for assertions. */
const rejection = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    const e = error as Record<string, unknown>;
    return {
      error,
      name: e.name,
      isError: error instanceof Error,
      message: e.message,
      statusCode: e.statusCode,
      errorCode: e.errorCode,
      apiError: e.apiError,
      responseHeaders: e.responseHeaders as Record<string, string> | undefined,
    };
  }
  throw new Error('expected the call to fail');
};

describe('wiring the real library to the fake', () => {
  it('reaches the fake with clientConfig: LIVE + liveEndpointUrlPrefix "127.0.0.1:{port}/" + certificatePath "unencrypted"', async () => {
    const fake = await startFake();
    expect(fake.url).toBe(`https://127.0.0.1:${fake.port}`);
    expect(fake.clientConfig).toEqual({
      apiKey: fake.apiKey,
      environment: 'LIVE',
      liveEndpointUrlPrefix: `127.0.0.1:${fake.port}/`,
      certificatePath: 'unencrypted',
    });
    const payment = fake.createPayment({ amount: 1_000, currency: 'EUR' });
    const client = new Client({ ...fake.clientConfig });
    await new CheckoutAPI(client).ModificationsApi.refundCapturedPayment(payment.pspReference, {
      merchantAccount: 'TestMerchant',
      amount: { value: 100, currency: 'EUR' },
    });

    // The library 32.1.0 targets Checkout v72; the live prefix adds its host name and /checkout to the path.
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      rawPath: `/-checkout-live.adyenpayments.com/checkout/v72/payments/${payment.pspReference}/refunds`,
      path: `/v72/payments/${payment.pspReference}/refunds`,
      apiVersion: 72,
      apiKey: fake.apiKey,
      headers: { 'content-type': 'application/json', 'adyen-library-name': 'adyen-node-api-library' },
      status: 201,
      outcome: 'answered',
    });
  });
});

describe('refunds', () => {
  it('answers 201 received, with its own pspReference, and settles nothing by itself', async () => {
    const { fake, modifications, payment, refundRequest } = await paid();

    const answer = await modifications.refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'cn_1:refund:1' });

    expect(answer).toEqual({
      merchantAccount: 'TestMerchant',
      paymentPspReference: payment.pspReference,
      reference: 'cn_1:1',
      pspReference: expect.stringMatching(/^[A-Z0-9]{16}$/),
      status: 'received',
      amount: { value: 1_500, currency: 'EUR' },
      merchantRefundReason: 'CUSTOMER REQUEST',
    });
    expect(answer.pspReference).not.toBe(payment.pspReference);
    expect(fake.refunds()).toEqual([
      expect.objectContaining({
        pspReference: answer.pspReference,
        paymentPspReference: payment.pspReference,
        reference: 'cn_1:1',
        merchantReference: 'cn_1:1',
        idempotencyKey: 'cn_1:refund:1',
        status: 'received',
        origin: 'api',
        amount: { value: 1_500, currency: 'EUR' },
      }),
    ]);
    expect(fake.requests[0]).toMatchObject({
      idempotencyKey: 'cn_1:refund:1',
      body: { merchantAccount: 'TestMerchant', amount: { value: 1_500, currency: 'EUR' }, reference: 'cn_1:1' },
      replayed: false,
    });
    // Only the payment's AUTHORISATION is waiting: the outcome of a refund comes when the test settles it.
    expect(fake.notifications().map((item) => item.eventCode)).toEqual(['AUTHORISATION']);
  });

  it('accepts any Checkout version in the path (v68 to v72 and later)', async () => {
    const { fake, payment } = await paid();
    for (const version of [68, 70, 71]) {
      const response = await fetchRefund(fake, `/v${version}/payments/${payment.pspReference}/refunds`, {
        merchantAccount: 'TestMerchant',
        amount: { value: 100, currency: 'EUR' },
      });
      expect(response.status).toBe(201);
    }
    expect(fake.requests.map((request) => request.apiVersion)).toEqual([68, 70, 71]);
  });

  it('replays the first answer to the same key and body, without a second refund', async () => {
    const { fake, modifications, payment, refundRequest } = await paid();
    const first = await modifications.refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' });
    const again = await modifications.refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' });

    expect(again).toEqual(first);
    expect(fake.refunds()).toHaveLength(1);
    expect(fake.requests.map((request) => request.replayed)).toEqual([false, true]);
  });

  it('refuses the same key with another body (422, errorCode 704, not transient) and keeps the first refund alone', async () => {
    const { fake, modifications, payment, refundRequest } = await paid();
    await modifications.refundCapturedPayment(payment.pspReference, refundRequest(1_500), { idempotencyKey: 'k1' });

    const refused = await rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest(1_600), { idempotencyKey: 'k1' }));

    expect(refused).toMatchObject({ name: 'HttpClientException', statusCode: 422, errorCode: '704' });
    expect(refused.apiError).toMatchObject({ status: 422, errorCode: '704', message: 'request already processed or in progress', errorType: 'validation' });
    expect(refused.responseHeaders?.['transient-error']).toBeUndefined();
    expect(fake.refunds()).toHaveLength(1);
  });

  it('makes a new refund for a new key, and forgets keys after their retention (31 days on the clock)', async () => {
    let now = Date.UTC(2026, 0, 1);
    const { fake, modifications, payment, refundRequest } = await paid({ clock: () => now });
    await modifications.refundCapturedPayment(payment.pspReference, refundRequest(1_000), { idempotencyKey: 'k1' });
    await modifications.refundCapturedPayment(payment.pspReference, refundRequest(1_000), { idempotencyKey: 'k2' });
    now += 30 * 86_400_000;
    await modifications.refundCapturedPayment(payment.pspReference, refundRequest(1_000), { idempotencyKey: 'k1' });
    expect(fake.refunds()).toHaveLength(2);
    now += 2 * 86_400_000;
    await modifications.refundCapturedPayment(payment.pspReference, refundRequest(1_000), { idempotencyKey: 'k1' });
    expect(fake.refunds()).toHaveLength(3);
  });

  it('answers 401 without the API key (or with another one), and nothing happens', async () => {
    const { fake, payment, refundRequest } = await paid();
    const { apiKey: _apiKey, ...withoutKey } = fake.clientConfig;

    const noKey = await rejection(
      modificationsFor(fake, { ...withoutKey, apiKey: undefined }).refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' }),
    );
    const wrongKey = await rejection(
      modificationsFor(fake, { apiKey: 'AQE_wrong' }).refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' }),
    );

    for (const refused of [noKey, wrongKey]) {
      expect(refused).toMatchObject({ name: 'HttpClientException', isError: true, statusCode: 401, errorCode: '000' });
      expect(refused.apiError).toEqual({ status: 401, errorCode: '000', message: 'HTTP Status Response - Unauthorized', errorType: 'security' });
    }
    // Without an apiKey the library sends HTTP basic auth ("undefined:undefined"), which the fake refuses too.
    expect(fake.requests[0]).toMatchObject({ apiKey: null, headers: { authorization: expect.stringMatching(/^Basic /) } });
    expect(fake.refunds()).toEqual([]);
    // A 401 keeps nothing under the key: the same key works once the credentials are right.
    await modificationsFor(fake).refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' });
    expect(fake.refunds()).toHaveLength(1);
  });

  it('validates like Adyen: merchant account, amount, reference, reason, payment, currency, balance', async () => {
    const { fake, modifications, payment, refundRequest } = await paid();
    const psp = payment.pspReference;
    const cases: Array<[string, Promise<unknown>, number, string]> = [
      ['another merchant account', modifications.refundCapturedPayment(psp, { ...refundRequest(), merchantAccount: 'Other' }), 403, '901'],
      ['no amount', modifications.refundCapturedPayment(psp, { merchantAccount: 'TestMerchant' } as never), 422, '100'],
      ['zero amount', modifications.refundCapturedPayment(psp, refundRequest(0)), 422, '137'],
      ['fractional amount', modifications.refundCapturedPayment(psp, refundRequest(10.5)), 422, '137'],
      ['reference over 80 characters', modifications.refundCapturedPayment(psp, refundRequest(100, 'r'.repeat(81))), 422, '000'],
      ['unknown reason', modifications.refundCapturedPayment(psp, { ...refundRequest(), merchantRefundReason: 'BORED' as never }), 422, '000'],
      ['unknown payment', modifications.refundCapturedPayment('ZZZZZZZZZZZZZZZZ', refundRequest()), 422, '167'],
      ['another currency', modifications.refundCapturedPayment(psp, { ...refundRequest(), amount: { value: 100, currency: 'USD' } }), 422, '137'],
      ['more than captured', modifications.refundCapturedPayment(psp, refundRequest(5_001)), 422, '137'],
    ];
    for (const [name, call, status, errorCode] of cases) {
      const refused = await rejection(call);
      expect({ name, statusCode: refused.statusCode, errorCode: refused.errorCode }).toEqual({ name, statusCode: status, errorCode });
      expect(refused.name).toBe('HttpClientException');
      expect(refused.apiError).toMatchObject({ status, errorCode, pspReference: expect.stringMatching(/^[A-Z0-9]{16}$/) });
    }
    expect((await rejection(modifications.refundCapturedPayment('ZZZZZZZZZZZZZZZZ', refundRequest()))).apiError).toMatchObject({
      message: 'Original pspReference required for this operation',
      errorType: 'validation',
    });
    expect(fake.refunds()).toEqual([]);
  });

  it('counts refunds received or refunded against the payment; refused, failed and reversed ones give the amount back', async () => {
    const { fake, modifications, payment, refundRequest } = await paid();
    const a = await modifications.refundCapturedPayment(payment.pspReference, refundRequest(3_000, 'a'));
    await modifications.refundCapturedPayment(payment.pspReference, refundRequest(2_000, 'b'));
    expect(fake.refundableAmount(payment.pspReference)).toBe(0);
    expect((await rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest(1, 'c')))).errorCode).toBe('137');

    fake.settleRefund(a.pspReference, { success: true });
    fake.failRefundLater(a.pspReference);
    expect(fake.refundableAmount(payment.pspReference)).toBe(3_000);
    await modifications.refundCapturedPayment(payment.pspReference, refundRequest(3_000, 'a-retry'));
    expect(fake.refunds().map((refund) => [refund.reference, refund.status])).toEqual([
      ['a', 'failed'],
      ['b', 'received'],
      ['a-retry', 'received'],
    ]);
  });

  it("with overRefund 'refuse_by_notification', answers received and refuses by a REFUND success=false", async () => {
    const { fake, modifications, payment, refundRequest } = await paid({ overRefund: 'refuse_by_notification' });
    const answer = await modifications.refundCapturedPayment(payment.pspReference, refundRequest(9_000));

    expect(answer.status).toBe('received');
    expect(fake.refunds()[0]).toMatchObject({ pspReference: answer.pspReference, status: 'refused', reason: 'Insufficient balance on payment' });
    expect(fake.notifications().at(-1)).toMatchObject({
      eventCode: 'REFUND',
      pspReference: answer.pspReference,
      originalReference: payment.pspReference,
      success: 'false',
      reason: 'Insufficient balance on payment',
    });
  });
});

describe('errors, as the library raises them', () => {
  // The table the adapter's error mapping relies on: which class, which fields.
  it.each([
    { status: 400, errorCode: '702' },
    { status: 403, errorCode: '010' },
    { status: 422, errorCode: '000' },
    { status: 429, errorCode: '000' },
    { status: 500, errorCode: '905' },
    { status: 503, errorCode: '000' },
  ])('a scripted $status becomes HttpClientException { statusCode: $status, errorCode: $errorCode, apiError }', async ({ status, errorCode }) => {
    const { fake, modifications, payment, refundRequest } = await paid();
    fake.failNext({ status });

    const refused = await rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' }));

    expect(refused.error).toBeInstanceOf(HttpClientException);
    expect(refused).toMatchObject({ name: 'HttpClientException', isError: true, statusCode: status, errorCode });
    expect(refused.apiError).toMatchObject({ status, errorCode, errorType: expect.any(String), message: expect.any(String) });
    expect(String(refused.message)).toMatch(new RegExp(`^HTTP Exception: ${status}\\. `));
    // Nothing ran: no refund, and the key is free for the retry.
    expect(fake.refunds()).toEqual([]);
    await modifications.refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' });
    expect(fake.refunds()).toHaveLength(1);
  });

  it('passes scripted error codes, messages and transient-error through', async () => {
    const { fake, modifications, payment, refundRequest } = await paid();
    fake.failNext({ status: 409, errorCode: '704', message: 'request already processed or in progress', errorType: 'validation', transient: true });
    fake.failNext({ status: 503, errorCode: '703', count: 2 });

    const inProgress = await rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest()));
    const unavailable = await rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest()));
    await rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest()));

    expect(inProgress).toMatchObject({ statusCode: 409, errorCode: '704', responseHeaders: { 'transient-error': 'true' } });
    expect(unavailable).toMatchObject({ statusCode: 503, errorCode: '703' });
    expect((await modifications.refundCapturedPayment(payment.pspReference, refundRequest())).status).toBe('received');
    expect(fake.requests.map((request) => request.scripted)).toEqual(['failure', 'failure', 'failure', null]);
  });

  it('a body that is not Adyen JSON (a proxy page) becomes HttpClientException with the HTTP status and no errorCode', async () => {
    const { fake, modifications, payment, refundRequest } = await paid();
    fake.failNext({ status: 502, rawBody: '<html>Bad Gateway</html>' });

    const refused = await rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest()));

    expect(refused).toMatchObject({ name: 'HttpClientException', statusCode: 502, errorCode: undefined, apiError: undefined });
    expect(String(refused.message)).toContain('while parsing response');
  });
});

describe('timeouts: the refund is made, the answer is lost', () => {
  it("reset (default): ApiException 'socket hang up' (not an Error, statusCode 500), and the retry with the same key gets the refund", async () => {
    const { fake, modifications, payment, refundRequest } = await paid();
    fake.timeoutNext();

    const lost = await rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' }));

    expect(lost.error).toBeInstanceOf(ApiException);
    expect(lost).toMatchObject({ name: 'ApiException', isError: false, message: 'socket hang up', statusCode: 500 });
    const [refund] = fake.refunds();
    expect(refund).toMatchObject({ status: 'received', idempotencyKey: 'k1' });
    expect(fake.requests[0]).toMatchObject({ status: 201, outcome: 'reset', scripted: 'timeout' });

    const retried = await modifications.refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' });
    expect(retried.pspReference).toBe(refund!.pspReference);
    expect(fake.refunds()).toHaveLength(1);
    expect(fake.requests[1]).toMatchObject({ replayed: true, outcome: 'answered' });
  });

  it('hang: no answer until the client gives up (connectionTimeoutMillis)', async () => {
    const { fake, payment, refundRequest } = await paid();
    fake.timeoutNext({ mode: 'hang' });

    const started = Date.now();
    const lost = await rejection(
      modificationsFor(fake, { connectionTimeoutMillis: 200 }).refundCapturedPayment(payment.pspReference, refundRequest(), { idempotencyKey: 'k1' }),
    );

    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(lost).toMatchObject({ name: 'ApiException', message: 'socket hang up', statusCode: 500 });
    expect(fake.refunds()).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ outcome: 'hang' });
  });

  it("partial: the status and half the body, then the connection breaks: a plain Error 'aborted'", async () => {
    const { fake, modifications, payment, refundRequest } = await paid();
    fake.timeoutNext({ mode: 'partial' });

    const lost = await rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest()));

    expect(lost).toMatchObject({ name: 'Error', isError: true, message: 'aborted' });
    expect(lost.error).not.toBeInstanceOf(HttpClientException);
    expect(fake.refunds()).toHaveLength(1);
  });

  it('close() releases a hanging request', async () => {
    const { fake, modifications, payment, refundRequest } = await paid();
    fake.timeoutNext({ mode: 'hang' });
    const pending = rejection(modifications.refundCapturedPayment(payment.pspReference, refundRequest()));
    await waitFor(() => fake.requests.length === 1);
    await fake.close();
    expect((await pending).name).toBe('ApiException');
  });
});

/** A request the library would not send (another version, another body): node's https with the fake's self-signed certificate. */
const fetchRefund = async (fake: FakeAdyenServer, path: string, body: unknown) => {
  const https = await import('node:https');
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = https.request(
      `${fake.url}${path}`,
      { method: 'POST', rejectUnauthorized: false, headers: { 'X-API-Key': fake.apiKey, 'Content-Type': 'application/json' } },
      (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
};

const waitFor = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
};
