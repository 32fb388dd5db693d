import { randomBytes } from 'node:crypto';
import { adyenError, type ApiAnswer } from './adyenErrors.js';
import {
  merchantRefundReasons,
  type AdyenAmount,
  type MerchantRefundReason,
  type NotificationRequestItemJson,
  type PaymentRefundResponseJson,
} from './adyenJson.js';

/**
 * The fake Adyen's state, without any HTTP: captured payments, refunds, and
 * the standard-webhook items waiting to be delivered. Every change Adyen
 * would notify queues an unsigned `NotificationRequestItem`; signing,
 * batching and delivery live in `notifications.ts`.
 *
 * Nothing settles by itself: a refund made over the API stays `received`
 * until the test calls `settleRefund` (the REFUND webhook), as with Adyen,
 * whose answer is always `received` and whose outcome comes only by webhook.
 */

export type RefundStatus =
  /** Accepted over the API, outcome not known yet. */
  | 'received'
  /** REFUND success=true. */
  | 'refunded'
  /** REFUND success=false. */
  | 'refused'
  /** REFUND_FAILED after a successful REFUND: the scheme rejected it. */
  | 'failed'
  /** REFUNDED_REVERSED: the refunded amount came back to the merchant. */
  | 'reversed';

export type RefundOrigin = 'api' | 'customer_area' | 'cancel_or_refund';

export type FakeAdyenPayment = {
  pspReference: string;
  /** The merchant account it was made on: its refunds must name it, its notifications carry it. */
  merchantAccount: string;
  merchantReference: string;
  amount: AdyenAmount;
  paymentMethod: string;
  createdAt: number;
  /** Released before capture (CANCEL_OR_REFUND with `modification.action: 'cancel'`): nothing left to refund. */
  cancelled: boolean;
};

export type FakeAdyenRefund = {
  pspReference: string;
  paymentPspReference: string;
  /** The `reference` of the refund request (null: none was sent, or a Customer Area refund). */
  reference: string | null;
  /** What its webhooks carry in `merchantReference`: the refund's reference, else the payment's. */
  merchantReference: string;
  amount: AdyenAmount;
  merchantRefundReason: MerchantRefundReason | null;
  /** The `Idempotency-Key` it was created under (null: none, or not made over the API). */
  idempotencyKey: string | null;
  status: RefundStatus;
  /** The reason of a refusal or a failure. */
  reason: string | null;
  origin: RefundOrigin;
  createdAt: number;
};

export type NewPayment = {
  /** Minor units, a positive integer. */
  amount: number;
  /** ISO 4217, upper case (`EUR`); lower case is accepted and upper-cased. */
  currency: string;
  /** The payment's `merchantReference`; default `payment-<n>`. */
  reference?: string;
  /** Default `visa`. */
  paymentMethod?: string;
  /** The merchant account it is made on: the fake's own (default) or one of its `otherMerchantAccounts`. */
  merchantAccount?: string;
};

/**
 * What the fake does with a refund larger than what is left of the payment
 * (or in another currency). `reject_request` (default): 422 `137 Invalid
 * amount specified`, nothing created. `refuse_by_notification`: 201
 * `received`, then at once a REFUND `success: 'false'` with
 * `reason: 'Insufficient balance on payment'` (the reason Adyen's own library
 * fixtures show), as Adyen checks the balance after answering.
 */
export type OverRefundBehaviour = 'reject_request' | 'refuse_by_notification';

export type FakeAdyenWorldOptions = {
  merchantAccount: string;
  /** Further merchant accounts of the company account that the API credential may refund on. */
  otherMerchantAccounts?: readonly string[];
  now: () => number;
  overRefund?: OverRefundBehaviour;
};

const pspAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** An ISO 8601 date with an explicit offset, like Adyen's `eventDate` (`2021-01-01T01:00:00+00:00`). */
export const adyenEventDate = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');

type RefundRecord = FakeAdyenRefund & { sequence: number };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const createFakeAdyenWorld = (options: FakeAdyenWorldOptions) => {
  const payments = new Map<string, FakeAdyenPayment>();
  const refunds = new Map<string, RefundRecord>();
  const usedReferences = new Set<string>();
  const queue: NotificationRequestItemJson[] = [];
  const sent: NotificationRequestItemJson[] = [];
  const overRefund = options.overRefund ?? 'reject_request';
  const merchantAccounts = new Set([options.merchantAccount, ...(options.otherMerchantAccounts ?? [])]);

  /** Adyen's 16-character pspReference (upper-case letters and digits), unique within the fake. */
  const newPspReference = (): string => {
    for (;;) {
      const bytes = randomBytes(16);
      const reference = Array.from(bytes, (byte) => pspAlphabet[byte % pspAlphabet.length]).join('');
      if (!usedReferences.has(reference)) {
        usedReferences.add(reference);
        return reference;
      }
    }
  };

  /** Queues an item of the payment's merchant account. */
  const queueItem = (item: Omit<NotificationRequestItemJson, 'eventDate' | 'merchantAccountCode'>, merchantAccount: string) => {
    const full: NotificationRequestItemJson = {
      ...item,
      eventDate: adyenEventDate(options.now()),
      merchantAccountCode: merchantAccount,
    };
    queue.push(structuredClone(full));
    sent.push(structuredClone(full));
  };

  const paymentOrThrow = (pspReference: string) => {
    const payment = payments.get(pspReference);
    if (!payment) throw new Error(`fake Adyen: no payment ${pspReference}`);
    return payment;
  };
  const refundOrThrow = (pspReference: string) => {
    const refund = refunds.get(pspReference);
    if (!refund) throw new Error(`fake Adyen: no refund ${pspReference}`);
    return refund;
  };

  /** What is left to refund: refunds `received` or `refunded` hold their amount; refused, failed and reversed ones gave it back. */
  const remaining = (payment: FakeAdyenPayment) =>
    payment.cancelled ? 0 : payment.amount.value -
    [...refunds.values()]
      .filter((refund) => refund.paymentPspReference === payment.pspReference)
      .filter((refund) => refund.status === 'received' || refund.status === 'refunded')
      .reduce((sum, refund) => sum + refund.amount.value, 0);

  const accountOf = (refund: FakeAdyenRefund) => paymentOrThrow(refund.paymentPspReference).merchantAccount;

  const publicRefund = (refund: RefundRecord): FakeAdyenRefund => {
    const { sequence: _sequence, ...rest } = refund;
    return structuredClone(rest);
  };

  const modificationItem = (
    refund: RefundRecord,
    eventCode: NotificationRequestItemJson['eventCode'],
    success: boolean,
    reason: string,
  ): Omit<NotificationRequestItemJson, 'eventDate' | 'merchantAccountCode'> => ({
    amount: { ...refund.amount },
    eventCode,
    merchantReference: refund.merchantReference,
    originalReference: refund.paymentPspReference,
    paymentMethod: paymentOrThrow(refund.paymentPspReference).paymentMethod,
    pspReference: refund.pspReference,
    reason,
    success: success ? 'true' : 'false',
  });

  const newRefund = (
    payment: FakeAdyenPayment,
    fields: Pick<FakeAdyenRefund, 'reference' | 'merchantRefundReason' | 'idempotencyKey' | 'origin'> & {
      value: number;
      merchantReference?: string;
      pspReference?: string;
    },
  ): RefundRecord => {
    const refund: RefundRecord = {
      pspReference: fields.pspReference ?? newPspReference(),
      paymentPspReference: payment.pspReference,
      reference: fields.reference,
      merchantReference: fields.merchantReference ?? fields.reference ?? payment.merchantReference,
      amount: { currency: payment.amount.currency, value: fields.value },
      merchantRefundReason: fields.merchantRefundReason,
      idempotencyKey: fields.idempotencyKey,
      status: 'received',
      reason: null,
      origin: fields.origin,
      createdAt: options.now(),
      sequence: refunds.size,
    };
    refunds.set(refund.pspReference, refund);
    return refund;
  };

  const validationError = (errorCode: string, message: string) =>
    adyenError(422, { errorCode, message, errorType: 'validation', pspReference: newPspReference() });

  return {
    newPspReference,

    createPayment(input: NewPayment): { pspReference: string; merchantReference: string } {
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw new Error('fake Adyen: amount must be a positive integer (minor units)');
      if (!/^[A-Za-z]{3}$/.test(input.currency)) throw new Error('fake Adyen: currency must be a 3-letter ISO code');
      const merchantAccount = input.merchantAccount ?? options.merchantAccount;
      if (!merchantAccounts.has(merchantAccount)) {
        throw new Error(`fake Adyen: merchant account ${merchantAccount} is not served (add it to otherMerchantAccounts)`);
      }
      const payment: FakeAdyenPayment = {
        pspReference: newPspReference(),
        merchantAccount,
        merchantReference: input.reference ?? `payment-${payments.size + 1}`,
        amount: { currency: input.currency.toUpperCase(), value: input.amount },
        paymentMethod: input.paymentMethod ?? 'visa',
        createdAt: options.now(),
        cancelled: false,
      };
      payments.set(payment.pspReference, payment);
      queueItem({
        amount: { ...payment.amount },
        eventCode: 'AUTHORISATION',
        merchantReference: payment.merchantReference,
        operations: ['CANCEL', 'CAPTURE', 'REFUND'],
        paymentMethod: payment.paymentMethod,
        pspReference: payment.pspReference,
        reason: '012345:1111:03/2030',
        success: 'true',
      }, merchantAccount);
      return { pspReference: payment.pspReference, merchantReference: payment.merchantReference };
    },

    /**
     * `POST /payments/{paymentPspReference}/refunds`, after authentication and
     * idempotency: Adyen's checks in order, then a `received` refund.
     */
    refundRequest(paymentPspReference: string, body: unknown, idempotencyKey: string | null): ApiAnswer {
      if (!isRecord(body)) {
        return adyenError(400, { errorCode: '702', message: 'Unexpected input: the request body is not a JSON object', errorType: 'validation' });
      }
      if (typeof body.merchantAccount !== 'string' || !merchantAccounts.has(body.merchantAccount)) {
        return adyenError(403, { errorCode: '901', message: 'Invalid Merchant Account', errorType: 'security', pspReference: newPspReference() });
      }
      const amount = body.amount;
      if (!isRecord(amount)) return validationError('100', "Required object 'amount' is not provided.");
      const { value, currency } = amount;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) {
        return validationError('137', 'Invalid amount specified');
      }
      const reference = body.reference;
      if (reference !== undefined && (typeof reference !== 'string' || reference.length > 80)) {
        // The 80-character limit is Adyen's (CheckoutService-v72); the wording is the fake's.
        return validationError('000', "Field 'reference' must be a string of at most 80 characters");
      }
      const reason = body.merchantRefundReason;
      if (reason !== undefined && reason !== null && !merchantRefundReasons.includes(reason as MerchantRefundReason)) {
        return validationError('000', `Field 'merchantRefundReason' has an invalid value: ${JSON.stringify(reason)}`);
      }
      const payment = payments.get(paymentPspReference);
      // A payment of another merchant account is unknown on this one, as at Adyen.
      if (!payment || payment.merchantAccount !== body.merchantAccount) return validationError('167', 'Original pspReference required for this operation');

      const fits = currency === payment.amount.currency && value <= remaining(payment);
      if (!fits && overRefund === 'reject_request') return validationError('137', 'Invalid amount specified');

      const refund = newRefund(payment, {
        value,
        reference: (reference as string | undefined) ?? null,
        merchantRefundReason: (reason as MerchantRefundReason | null | undefined) ?? null,
        idempotencyKey,
        origin: 'api',
      });
      if (!fits) {
        // Adyen checks the balance after answering: the refund is `received`, then refused by webhook.
        refund.amount = { currency, value };
        refund.status = 'refused';
        refund.reason = 'Insufficient balance on payment';
        queueItem(modificationItem(refund, 'REFUND', false, refund.reason), accountOf(refund));
      }
      const response: PaymentRefundResponseJson = {
        merchantAccount: payment.merchantAccount,
        paymentPspReference: payment.pspReference,
        ...(refund.reference === null ? {} : { reference: refund.reference }),
        pspReference: refund.pspReference,
        status: 'received',
        amount: { currency, value },
        ...(reason === undefined ? {} : { merchantRefundReason: reason as MerchantRefundReason | null }),
      };
      return { status: 201, body: response };
    },

    /** The REFUND webhook: `received` → `refunded` (success) or `refused` (with `reason`). */
    settleRefund(refundPspReference: string, outcome: { success: boolean; reason?: string }): FakeAdyenRefund {
      const refund = refundOrThrow(refundPspReference);
      if (refund.status !== 'received') throw new Error(`fake Adyen: refund ${refundPspReference} is ${refund.status}, not received`);
      refund.status = outcome.success ? 'refunded' : 'refused';
      refund.reason = outcome.success ? null : (outcome.reason ?? 'Refused');
      queueItem(modificationItem(refund, 'REFUND', outcome.success, outcome.success ? '' : refund.reason!), accountOf(refund));
      return publicRefund(refund);
    },

    /** REFUND_FAILED: a refunded refund was rejected by the scheme (`success: 'true'`, Adyen's default reason `Refund Failed`). */
    failRefundLater(refundPspReference: string, reason = 'Refund Failed'): FakeAdyenRefund {
      const refund = refundOrThrow(refundPspReference);
      if (refund.status !== 'refunded') throw new Error(`fake Adyen: refund ${refundPspReference} is ${refund.status}, not refunded`);
      refund.status = 'failed';
      refund.reason = reason;
      queueItem(modificationItem(refund, 'REFUND_FAILED', true, reason), accountOf(refund));
      return publicRefund(refund);
    },

    /** REFUNDED_REVERSED: the refunded amount came back to the merchant. */
    reverseRefund(refundPspReference: string, reason = ''): FakeAdyenRefund {
      const refund = refundOrThrow(refundPspReference);
      if (refund.status !== 'refunded') throw new Error(`fake Adyen: refund ${refundPspReference} is ${refund.status}, not refunded`);
      refund.status = 'reversed';
      refund.reason = reason || null;
      queueItem(modificationItem(refund, 'REFUNDED_REVERSED', true, reason), accountOf(refund));
      return publicRefund(refund);
    },

    /** A refund made in the Customer Area: no idempotency key, the payment's merchantReference (or the one given). */
    refundInCustomerArea(
      paymentPspReference: string,
      input: { amount: number; currency: string; reference?: string; settled?: boolean },
    ): FakeAdyenRefund {
      const payment = paymentOrThrow(paymentPspReference);
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw new Error('fake Adyen: amount must be a positive integer');
      if (input.currency.toUpperCase() !== payment.amount.currency) {
        throw new Error(`fake Adyen: payment ${paymentPspReference} is in ${payment.amount.currency}, not ${input.currency}`);
      }
      if (input.amount > remaining(payment)) {
        throw new Error(`fake Adyen: only ${remaining(payment)} ${payment.amount.currency} left to refund on ${paymentPspReference}`);
      }
      const refund = newRefund(payment, {
        value: input.amount,
        reference: null,
        merchantReference: input.reference ?? payment.merchantReference,
        merchantRefundReason: null,
        idempotencyKey: null,
        origin: 'customer_area',
      });
      if (input.settled ?? true) {
        refund.status = 'refunded';
        queueItem(modificationItem(refund, 'REFUND', true, ''), accountOf(refund));
      }
      return publicRefund(refund);
    },

    /**
     * CANCEL_OR_REFUND (a reversal made outside the library). `action:
     * 'refund'` (default): whatever is left of the captured payment is
     * refunded (`modification.action: 'refund'`); with nothing left,
     * `success: 'false'`. `action: 'cancel'`: the payment was not captured
     * yet and is released (`modification.action: 'cancel'`, the payment's
     * amount): no money moved, no refund made, nothing is left to refund.
     */
    cancelOrRefund(
      paymentPspReference: string,
      input: { action?: 'refund' | 'cancel' } = {},
    ): { pspReference: string; item: NotificationRequestItemJson } {
      const payment = paymentOrThrow(paymentPspReference);
      const pspReference = newPspReference();
      if (input.action === 'cancel') {
        payment.cancelled = true;
        queueItem({
          additionalData: { 'modification.action': 'cancel' },
          amount: { ...payment.amount },
          eventCode: 'CANCEL_OR_REFUND',
          merchantReference: payment.merchantReference,
          originalReference: payment.pspReference,
          paymentMethod: payment.paymentMethod,
          pspReference,
          reason: '',
          success: 'true',
        }, payment.merchantAccount);
        return { pspReference, item: structuredClone(sent[sent.length - 1]!) };
      }
      const left = remaining(payment);
      if (left > 0) {
        const refund = newRefund(payment, {
          value: left,
          reference: null,
          merchantReference: payment.merchantReference,
          merchantRefundReason: null,
          idempotencyKey: null,
          origin: 'cancel_or_refund',
          // The reversal's pspReference is the refund's.
          pspReference,
        });
        refund.status = 'refunded';
      }
      queueItem({
        additionalData: { 'modification.action': 'refund' },
        amount: { currency: payment.amount.currency, value: left > 0 ? left : payment.amount.value },
        eventCode: 'CANCEL_OR_REFUND',
        merchantReference: payment.merchantReference,
        originalReference: payment.pspReference,
        paymentMethod: payment.paymentMethod,
        pspReference,
        reason: left > 0 ? '' : 'Insufficient balance on payment',
        success: left > 0 ? 'true' : 'false',
      }, payment.merchantAccount);
      return { pspReference, item: structuredClone(sent[sent.length - 1]!) };
    },

    /** What is left to refund on a payment. */
    refundableAmount: (paymentPspReference: string): number => remaining(paymentOrThrow(paymentPspReference)),
    payments: (): FakeAdyenPayment[] => [...payments.values()].map((payment) => structuredClone(payment)),
    /** Every refund, oldest first. */
    refunds: (): FakeAdyenRefund[] => [...refunds.values()].sort((a, b) => a.sequence - b.sequence).map(publicRefund),
    /** Drains the items waiting to be delivered (unsigned). */
    takeQueuedItems: (): NotificationRequestItemJson[] => queue.splice(0, queue.length),
    /** Puts items back at the end of the queue (a delivery that failed, to be retried). */
    requeueItems: (items: readonly NotificationRequestItemJson[]) => {
      queue.push(...items.map((item) => structuredClone(item)));
    },
    /** Every item ever generated, oldest first, delivered or not (unsigned). */
    allItems: (): NotificationRequestItemJson[] => sent.map((item) => structuredClone(item)),
    /** How many items wait in the queue. */
    queuedCount: (): number => queue.length,
  };
};

export type FakeAdyenWorld = ReturnType<typeof createFakeAdyenWorld>;
