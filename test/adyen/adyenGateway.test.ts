import { Client } from '@adyen/api-library';
import { describe, expect, it } from 'vitest';
import { adyenGateway, readAdyenFailure, toAdyenGatewayError } from '../../src/adapters/adyen/adyenGateway.js';
import { adviseOnFailureReason, adyenFailureReasonOf } from '../../src/adapters/adyen/failureReasons.js';
import {
  adyenIdempotencyKey,
  adyenRefundReference,
  parseAdyenReference,
} from '../../src/adapters/adyen/references.js';
import type { GatewayError } from '../../src/errors.js';
import type { CreateRefundRequest } from '../../src/ports/refundGateway.js';
import { startFakeAdyen } from './support.js';

const request = (paymentId: string, creditNoteId = 'cn_1', attempt = 1, amount = 1_500, account: string | null = null): CreateRefundRequest => ({
  idempotencyKey: `${creditNoteId}:refund:${attempt}`,
  payment: { processor: 'adyen', paymentId, account },
  amount,
  currency: 'eur',
  metadata: { creditNoteId, attempt },
});

const errorOf = <T>(result: { isErr(): boolean; isOk(): boolean; error?: unknown; value?: T }): GatewayError => {
  if (!result.isErr()) throw new Error(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error as GatewayError;
};

/** A gateway on a fresh fake with one captured payment of 50.00 EUR. */
const paidGateway = async (options: { merchantRefundReason?: 'RETURN' } = {}) => {
  const { fake, client } = await startFakeAdyen();
  const gateway = adyenGateway({ client, merchantAccount: fake.merchantAccount, ...options });
  const payment = fake.createPayment({ amount: 5_000, currency: 'EUR' });
  return { fake, client, gateway, payment };
};

describe('idempotency keys and references', () => {
  it('sends the lifecycle key as is when it fits in 64 characters', () => {
    expect(adyenIdempotencyKey('cn_1:refund:1')).toBe('cn_1:refund:1');
    const exactly64 = `${'a'.repeat(64 - ':refund:1'.length)}:refund:1`;
    expect(exactly64).toHaveLength(64);
    expect(adyenIdempotencyKey(exactly64)).toBe(exactly64);
  });

  it('derives a deterministic 64-character digest for a longer key, distinct per attempt and credit note', () => {
    const longId = `cn_${'x'.repeat(197)}`;
    expect(longId).toHaveLength(200);
    const first = adyenIdempotencyKey(`${longId}:refund:1`);
    expect(first).toMatch(/^rl-[0-9a-f]{61}$/);
    expect(first).toHaveLength(64);
    expect(adyenIdempotencyKey(`${longId}:refund:1`)).toBe(first);
    expect(adyenIdempotencyKey(`${longId}:refund:2`)).not.toBe(first);
    expect(adyenIdempotencyKey(`${longId.slice(0, -1)}y:refund:1`)).not.toBe(first);
    // 65 characters: the first length that no longer fits.
    expect(adyenIdempotencyKey(`${'a'.repeat(65 - ':refund:1'.length)}:refund:1`)).toMatch(/^rl-/);
  });

  it('writes <creditNoteId>:<attempt> as the reference when it fits in 80 characters, else a digest', () => {
    expect(adyenRefundReference('cn_1', 3)).toBe('cn_1:3');
    expect(parseAdyenReference('cn_1:3')).toEqual({ kind: 'attempt', creditNoteId: 'cn_1', attempt: 3 });
    // Credit note ids may contain ':' themselves: the attempt is what follows the last one.
    expect(parseAdyenReference('inv:2026:12')).toEqual({ kind: 'attempt', creditNoteId: 'inv:2026', attempt: 12 });

    const longId = `cn_${'y'.repeat(150)}`;
    const reference = adyenRefundReference(longId, 1);
    expect(reference).toMatch(/^rl-[0-9a-f]{61}$/);
    expect(reference.length).toBeLessThanOrEqual(80);
    expect(adyenRefundReference(longId, 1)).toBe(reference);
    expect(adyenRefundReference(longId, 2)).not.toBe(reference);
    expect(parseAdyenReference(reference)).toEqual({ kind: 'digest', reference });
  });

  it("takes a reference that is none of ours for another system's", () => {
    for (const foreign of ['payment-1', 'order 12', '', 'cn_1:0', 'cn_1:x', 'rl-abc', null, undefined]) {
      expect(parseAdyenReference(foreign)).toEqual({ kind: 'foreign' });
    }
  });
});

describe('createRefund through the real library against the fake Adyen', () => {
  it('refunds the payment by its pspReference with our key, reference and reason, and answers a pending refund', async () => {
    const { fake, gateway, payment } = await paidGateway();

    const created = await gateway.createRefund(request(payment.pspReference));

    expect(created.isOk()).toBe(true);
    const refund = created._unsafeUnwrap();
    const [made] = fake.refunds();
    expect(refund).toEqual({
      processorRefundId: made!.pspReference,
      paymentId: payment.pspReference,
      amount: 1_500,
      currency: 'eur',
      status: 'pending',
      failure: null,
      metadata: { creditNoteId: 'cn_1', attempt: 1 },
    });
    const [sent] = fake.requests;
    expect(sent).toMatchObject({
      method: 'POST',
      path: `/v72/payments/${payment.pspReference}/refunds`,
      idempotencyKey: 'cn_1:refund:1',
      body: {
        merchantAccount: fake.merchantAccount,
        amount: { value: 1_500, currency: 'EUR' },
        reference: 'cn_1:1',
        merchantRefundReason: 'OTHER',
      },
    });
  });

  it('sends the configured merchantRefundReason, and a payment account as the merchant account', async () => {
    const { fake, gateway, payment } = await paidGateway({ merchantRefundReason: 'RETURN' });

    await gateway.createRefund(request(payment.pspReference));
    const other = await gateway.createRefund(request(payment.pspReference, 'cn_2', 1, 500, 'OtherMerchant'));

    expect(fake.requests.map((sent) => (sent.body as { merchantAccount: string; merchantRefundReason: string }))).toMatchObject([
      { merchantAccount: fake.merchantAccount, merchantRefundReason: 'RETURN' },
      { merchantAccount: 'OtherMerchant', merchantRefundReason: 'RETURN' },
    ]);
    // The fake serves one merchant account: Adyen's 403 901 for any other, a setup error.
    expect(errorOf(other)).toMatchObject({ kind: 'definitive', processorCode: '901', classification: { retry: 'after_action', recovery: 'retry' } });
  });

  it('sends a long credit note id as digests within Adyen limits, the same for the same attempt', async () => {
    const { fake, gateway, payment } = await paidGateway();
    const longId = `cn_${'z'.repeat(197)}`;

    const first = (await gateway.createRefund(request(payment.pspReference, longId, 1)))._unsafeUnwrap();
    const again = (await gateway.createRefund(request(payment.pspReference, longId, 1)))._unsafeUnwrap();

    expect(again.processorRefundId).toBe(first.processorRefundId);
    expect(first.metadata).toEqual({ creditNoteId: longId, attempt: 1 });
    expect(fake.refunds()).toHaveLength(1);
    const keys = fake.requests.map((sent) => sent.idempotencyKey);
    expect(keys[0]).toBe(adyenIdempotencyKey(`${longId}:refund:1`));
    expect(keys[1]).toBe(keys[0]);
    expect(keys[0]!.length).toBeLessThanOrEqual(64);
    expect((fake.requests[0]!.body as { reference: string }).reference).toBe(adyenRefundReference(longId, 1));
  });

  it('is in doubt when the answer is lost, and the same attempt asked again makes one refund', async () => {
    const { fake, gateway, payment } = await paidGateway();
    fake.timeoutNext({ mode: 'reset' });

    const lost = errorOf(await gateway.createRefund(request(payment.pspReference)));
    expect(lost).toMatchObject({ kind: 'transient', processorCode: 'network_error' });
    expect(fake.refunds()).toHaveLength(1);

    const again = (await gateway.createRefund(request(payment.pspReference)))._unsafeUnwrap();
    expect(again.processorRefundId).toBe(fake.refunds()[0]!.pspReference);
    expect(fake.refunds()).toHaveLength(1);
  });

  it('reads an answer that never comes (the client times out) as transient', async () => {
    const { fake, gateway, payment } = await paidGateway();
    fake.timeoutNext({ mode: 'hang' });

    expect(errorOf(await gateway.createRefund(request(payment.pspReference)))).toMatchObject({ kind: 'transient', processorCode: 'network_error' });
  });

  it('cannot ask Adyen about refunds or payments', async () => {
    const { gateway, payment } = await paidGateway();
    const ref = { processor: 'adyen', paymentId: payment.pspReference, account: null };

    expect(gateway.processor).toBe('adyen');
    expect(gateway.capabilities).toMatchObject({ pullsRefundStatus: false, refreshAdvice: expect.stringContaining('Customer Area') });
    expect(errorOf(await gateway.retrieveRefund({ payment: ref, processorRefundId: 'X' }))).toMatchObject({ kind: 'definitive', processorCode: 'not_supported' });
    expect(errorOf(await gateway.findRefunds(ref))).toMatchObject({ kind: 'definitive', processorCode: 'not_supported' });
    expect((await gateway.describePayment(ref))._unsafeUnwrap()).toEqual({
      paymentId: payment.pspReference,
      amount: null,
      currency: null,
      method: null,
      refundableUntil: null,
      chargeConfirmed: null,
    });
  });

  it('refuses to be built without a merchant account or a client', () => {
    expect(() => adyenGateway({ merchantAccount: 'M' })).toThrow(/client/);
    expect(() => adyenGateway({ merchantAccount: ' ', checkout: { refundCapturedPayment: async () => ({}) as never } })).toThrow(/merchantAccount/);
    expect(() =>
      adyenGateway({ merchantAccount: 'M', merchantRefundReason: 'BORED' as never, checkout: { refundCapturedPayment: async () => ({}) as never } }),
    ).toThrow(/merchantRefundReason/);
  });

  it('takes a ModificationsApi-like object as checkout, and an answer without pspReference is in doubt', async () => {
    const gateway = adyenGateway({ merchantAccount: 'M', checkout: { refundCapturedPayment: async () => ({ status: 'received' }) as never } });
    expect(errorOf(await gateway.createRefund(request('PSP1')))).toMatchObject({ kind: 'transient', processorCode: 'invalid_processor_answer' });
  });
});

describe('error mapping', () => {
  const failing = async (script: Parameters<Awaited<ReturnType<typeof startFakeAdyen>>['fake']['failNext']>[0]) => {
    const { fake, gateway, payment } = await paidGateway();
    fake.failNext(script);
    const error = errorOf(await gateway.createRefund(request(payment.pspReference)));
    // A scripted failure never makes a refund: whatever the class, nothing happened at Adyen.
    expect(fake.refunds()).toEqual([]);
    return error;
  };

  it.each([
    [429, 'rate limited'],
    [500, 'internal error'],
    [502, 'bad gateway'],
    [503, 'unavailable'],
    [504, 'gateway timeout'],
  ])('%i (%s) is transient: the same attempt is asked again under the same key', async (status) => {
    const error = await failing({ status });
    expect(error.kind).toBe('transient');
    expect(error.message).toContain(`Adyen answered ${status}`);
  });

  it("a proxy's HTML 502 is transient too", async () => {
    const error = await failing({ status: 502, rawBody: '<html><body>Bad Gateway</body></html>' });
    expect(error).toMatchObject({ kind: 'transient', processorCode: 'http_502' });
  });

  it('704 is transient when Adyen flags it Transient-Error or answers 409 (the same key still in progress)', async () => {
    expect(await failing({ status: 422, errorCode: '704', message: 'request already processed or in progress', transient: true })).toMatchObject({
      kind: 'transient',
      processorCode: '704',
    });
    expect(await failing({ status: 409, errorCode: '704', message: 'request already processed or in progress' })).toMatchObject({
      kind: 'transient',
      processorCode: '704',
    });
  });

  it('422 704 without Transient-Error (the key was used for another request) is definitive, with advice', async () => {
    const error = await failing({ status: 422, errorCode: '704', message: 'request already processed or in progress' });
    expect(error).toMatchObject({ kind: 'definitive', processorCode: '704', classification: { retry: 'after_action', recovery: 'retry' } });
    expect(error.message).toContain("the attempt's request changed while in doubt");
    expect(error.message).toContain('Customer Area');
  });

  it('a key reused for another request, as the fake answers it, is definitive rather than retried forever', async () => {
    const { gateway, payment } = await paidGateway();
    (await gateway.createRefund(request(payment.pspReference, 'cn_1', 1, 1_000)))._unsafeUnwrap();
    // Same attempt (same key), another amount: what a changed request in doubt would send.
    const error = errorOf(await gateway.createRefund(request(payment.pspReference, 'cn_1', 1, 1_200)));
    expect(error).toMatchObject({ kind: 'definitive', processorCode: '704' });
  });

  it('any answer flagged Transient-Error: true is transient', async () => {
    expect(await failing({ status: 422, errorCode: '703', message: 'Resource temporarily unavailable', transient: true })).toMatchObject({ kind: 'transient' });
  });

  it('401 (the API key) is definitive: fix the setup, then retry', async () => {
    const { fake, payment } = await paidGateway();
    const wrongKey = adyenGateway({ client: new Client({ ...fake.clientConfig, apiKey: 'AQE_wrong' }), merchantAccount: fake.merchantAccount });

    const error = errorOf(await wrongKey.createRefund(request(payment.pspReference)));

    expect(error).toMatchObject({ kind: 'definitive', processorCode: '000', classification: { retry: 'after_action', recovery: 'retry' } });
    expect(error.message).toMatch(/401.*API key was refused/);
    expect(fake.refunds()).toEqual([]);
  });

  it('a client without an API key (or basic auth credentials) is refused when the gateway is built', async () => {
    const { fake } = await paidGateway();
    const { apiKey: _dropped, ...noKey } = fake.clientConfig;
    expect(() => adyenGateway({ client: new Client(noKey), merchantAccount: fake.merchantAccount })).toThrow(/API key/);
  });

  it('403 (the credential may not, or another merchant account) is definitive: fix the setup, then retry', async () => {
    const error = await failing({ status: 403 });
    expect(error).toMatchObject({ kind: 'definitive', processorCode: '010', classification: { retry: 'after_action', recovery: 'retry' } });
  });

  it('422 167 (an unknown payment) is definitive, saying so', async () => {
    const { gateway } = await paidGateway();
    const error = errorOf(await gateway.createRefund(request('8835999999999999')));
    expect(error).toMatchObject({ kind: 'definitive', processorCode: '167', classification: { retry: 'will_not_help', recovery: 'manual_refund' } });
    expect(error.message).toContain('Original pspReference required for this operation');
    expect(error.message).toContain('does not know this payment');
  });

  it('422 137 (more than is left of the payment) is definitive, saying so', async () => {
    const { gateway, payment } = await paidGateway();
    const error = errorOf(await gateway.createRefund(request(payment.pspReference, 'cn_1', 1, 6_000)));
    expect(error).toMatchObject({ kind: 'definitive', processorCode: '137', classification: { retry: 'will_not_help', recovery: 'manual_refund' } });
    expect(error.message).toContain('more than is left to refund');
  });

  it('422 naming a dispute points at the dispute', async () => {
    const error = await failing({ status: 422, errorCode: '000', message: 'Disputed Transaction' });
    expect(error).toMatchObject({ kind: 'definitive', classification: { recovery: 'resolve_dispute' } });
  });

  it('400 (a request Adyen cannot read) is definitive', async () => {
    expect(await failing({ status: 400 })).toMatchObject({ kind: 'definitive', processorCode: '702' });
  });

  it('reads the library error shapes it cannot get from the fake', () => {
    // A socket error: ApiException with its default statusCode 500, which is no answer at all.
    const socket = { name: 'ApiException', message: 'connect ECONNREFUSED 127.0.0.1:1', statusCode: 500 };
    expect(readAdyenFailure(socket)).toEqual({ kind: 'network', message: 'connect ECONNREFUSED 127.0.0.1:1' });
    expect(toAdyenGatewayError(socket)).toMatchObject({ kind: 'transient', processorCode: 'network_error' });
    // The library's own refusal to send without an API key.
    expect(toAdyenGatewayError({ name: 'ApiException', message: 'Invalid X-API-Key was used', statusCode: 401 })).toMatchObject({
      kind: 'definitive',
      processorCode: 'api_key_missing',
    });
    // A body of `errors` comes back as a plain Error carrying it, without its status: the request may have reached
    // Adyen, so it is in doubt and asked again under the same key.
    expect(readAdyenFailure(new Error('{"errors":[{"field":"amount"}]}'))).toMatchObject({ kind: 'no_status' });
    expect(toAdyenGatewayError(new Error('{"errors":[{"field":"amount"}]}'))).toMatchObject({ kind: 'transient', processorCode: 'unknown_status' });
    // A connection cut mid-answer, or anything else thrown: in doubt.
    expect(toAdyenGatewayError(new Error('The connection was terminated while the message was still being sent'))).toMatchObject({ kind: 'transient' });
    expect(toAdyenGatewayError('boom')).toMatchObject({ kind: 'transient' });
    // The Transient-Error header is read whatever its case.
    expect(
      toAdyenGatewayError({ name: 'HttpClientException', message: 'x', statusCode: 422, errorCode: '999', responseHeaders: { 'Transient-Error': 'true' } }),
    ).toMatchObject({ kind: 'transient', processorCode: '999' });
  });
});

describe('failure reasons', () => {
  it.each([
    ['Insufficient in-process funds on account', 'insufficient_in_process_funds', 'top_up_balance'],
    ['Insufficient balance on payment', 'amount_exceeds_balance', 'manual_refund'],
    ['Payment Already fully refunded', 'already_refunded', 'none'],
    ['Already fully disputed, no balance available for new requested refund', 'disputed', 'resolve_dispute'],
    ['Disputed Transaction', 'disputed', 'resolve_dispute'],
    ['Refund Failed due to Scheme Rejection', 'scheme_rejected', 'manual_refund'],
    ['Account configuration error', 'not_allowed', 'retry'],
    ['Adyen User Account Permissions', 'not_allowed', 'retry'],
    ['Incorrect Payment status', 'payment_status', 'retry'],
    ['Interac Payment refunded outside of original transaction date', 'refund_window_closed', 'manual_refund'],
    ['System Errors when performing a refund', 'processing_error', 'retry'],
    ['Refused', 'unknown', 'retry'],
    ['', 'unknown', 'retry'],
  ])('%j is %s (%s)', (text, code, recovery) => {
    expect(adyenFailureReasonOf(text)).toBe(code);
    expect(adviseOnFailureReason(text).recovery).toBe(recovery);
  });

  it('takes its own codes as well as Adyen words', () => {
    expect(adviseOnFailureReason('scheme_rejected')).toMatchObject({ retry: 'will_not_help', recovery: 'manual_refund' });
    expect(adviseOnFailureReason(null)).toMatchObject({ retry: 'may_help', recovery: 'retry' });
  });
});

describe('the client is checked before anything is sent', () => {
  const checkout = { refundCapturedPayment: async () => ({}) as never };

  it('refuses to be built on a LIVE client without liveEndpointUrlPrefix', () => {
    const client = new Client({ apiKey: 'AQE_key', environment: 'LIVE' as never });
    expect(() => adyenGateway({ client, merchantAccount: 'M' })).toThrow(/liveEndpointUrlPrefix/);
    // TEST needs no prefix; LIVE with one is fine.
    expect(() => adyenGateway({ client: new Client({ apiKey: 'AQE_key', environment: 'TEST' as never }), merchantAccount: 'M' })).not.toThrow();
    expect(() =>
      adyenGateway({ client: new Client({ apiKey: 'AQE_key', environment: 'LIVE' as never, liveEndpointUrlPrefix: 'abc-Company' }), merchantAccount: 'M' }),
    ).not.toThrow();
    expect(() => adyenGateway({ checkout, merchantAccount: 'M' })).not.toThrow();
  });

  it('maps an error the library throws while building the request (nothing sent) to definitive, with advice', async () => {
    const prefix = toAdyenGatewayError(new Error('Live endpoint URL prefix must be provided for LIVE environment.'));
    expect(prefix).toMatchObject({ kind: 'definitive', processorCode: 'request_not_sent', classification: { retry: 'after_action', recovery: 'retry' } });
    expect(prefix.message).toContain('nothing reached Adyen');
    const invalidUrl = Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' });
    expect(toAdyenGatewayError(invalidUrl)).toMatchObject({ kind: 'definitive', processorCode: 'request_not_sent' });
    expect(toAdyenGatewayError(Object.assign(new TypeError('Invalid character in header content ["Idempotency-Key"]'), { code: 'ERR_INVALID_CHAR' }))).toMatchObject({
      kind: 'definitive',
    });

    // Through the gateway: a checkout whose library throws before sending.
    const throwing = adyenGateway({
      merchantAccount: 'M',
      checkout: {
        refundCapturedPayment: async () => {
          throw new Error('Live endpoint URL prefix must be provided for LIVE environment.');
        },
      },
    });
    expect(errorOf(await throwing.createRefund(request('PSP1')))).toMatchObject({ kind: 'definitive', processorCode: 'request_not_sent' });
  });
});

describe('idempotencyKeyPrefix', () => {
  it('puts the prefix before the key, still deterministic and within 64 characters', async () => {
    expect(adyenIdempotencyKey('cn_1:refund:1', 'shop-a')).toBe('shop-a:cn_1:refund:1');
    expect(adyenIdempotencyKey('cn_1:refund:1', 'shop-b')).not.toBe(adyenIdempotencyKey('cn_1:refund:1', 'shop-a'));
    // A key that fits alone but not with its prefix becomes a digest of both.
    const fits = `${'a'.repeat(64 - ':refund:1'.length)}:refund:1`;
    const prefixed = adyenIdempotencyKey(fits, 'shop-a');
    expect(prefixed).toMatch(/^rl-[0-9a-f]{61}$/);
    expect(adyenIdempotencyKey(fits, 'shop-a')).toBe(prefixed);
    expect(adyenIdempotencyKey(fits, 'shop-b')).not.toBe(prefixed);
    expect(adyenIdempotencyKey(fits)).toBe(fits);

    const { fake, client, payment } = await paidGateway();
    const gateway = adyenGateway({ client, merchantAccount: fake.merchantAccount, idempotencyKeyPrefix: 'shop-a' });
    const first = (await gateway.createRefund(request(payment.pspReference)))._unsafeUnwrap();
    const again = (await gateway.createRefund(request(payment.pspReference)))._unsafeUnwrap();
    expect(again.processorRefundId).toBe(first.processorRefundId);
    expect(fake.requests.map((sent) => sent.idempotencyKey)).toEqual(['shop-a:cn_1:refund:1', 'shop-a:cn_1:refund:1']);
  });

  it('keeps two apps sharing a company account from answering each other under the same key', async () => {
    const { fake, client, payment } = await paidGateway();
    const shopA = adyenGateway({ client, merchantAccount: fake.merchantAccount, idempotencyKeyPrefix: 'shop-a' });
    const shopB = adyenGateway({ client, merchantAccount: fake.merchantAccount, idempotencyKeyPrefix: 'shop-b' });
    const a = (await shopA.createRefund(request(payment.pspReference, 'cn_1', 1, 1_000)))._unsafeUnwrap();
    const b = (await shopB.createRefund(request(payment.pspReference, 'cn_1', 1, 1_000)))._unsafeUnwrap();
    expect(b.processorRefundId).not.toBe(a.processorRefundId);
    expect(fake.refunds()).toHaveLength(2);
  });

  it('refuses a prefix that cannot go in a header', () => {
    const checkout = { refundCapturedPayment: async () => ({}) as never };
    expect(() => adyenGateway({ checkout, merchantAccount: 'M', idempotencyKeyPrefix: '' })).toThrow(/idempotencyKeyPrefix/);
    expect(() => adyenGateway({ checkout, merchantAccount: 'M', idempotencyKeyPrefix: 'shop a' })).toThrow(/idempotencyKeyPrefix/);
  });
});
