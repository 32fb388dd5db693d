/**
 * The JSON the fake answers and posts, shaped like Adyen's. Written out here
 * rather than imported from `@adyen/api-library`, so the fake stays an
 * independent witness of what the adapter must cope with.
 *
 * Checked against Adyen's own OpenAPI files (github.com/Adyen/adyen-openapi,
 * `json/CheckoutService-v72.json` and `json/Webhooks-v1.json`):
 * - `POST /payments/{paymentPspReference}/refunds`: request `amount` and
 *   `merchantAccount` required, `reference` at most 80 characters,
 *   `merchantRefundReason` one of {@link merchantRefundReasons}; answer 201
 *   `{ merchantAccount, paymentPspReference, reference, pspReference,
 *   status: 'received', amount }` with the `Idempotency-Key` header echoed
 *   (201 and 422); errors are `ServiceError`s, e.g. 401
 *   `{ status: 401, errorCode: '000', message: 'HTTP Status Response - Unauthorized', errorType: 'security' }`,
 *   403 `{ status: 403, errorCode: '901', message: 'Invalid Merchant Account', errorType: 'security', pspReference }`,
 *   400 `{ status: 400, errorCode: '702', message: 'Unexpected input: …', errorType: 'validation' }`.
 * - Standard webhooks: `{ live: 'false', notificationItems: [{ NotificationRequestItem }] }`,
 *   `success` and `live` are strings, `eventDate` is ISO 8601 with an offset
 *   (`2021-01-01T01:00:00+01:00`), REFUND_FAILED carries `reason: 'Refund Failed'`
 *   and `success: 'true'`, CANCEL_OR_REFUND carries
 *   `additionalData['modification.action']`. A webhook is accepted "on the basis
 *   of the HTTP status code" (any 2xx).
 * - `@adyen/api-library`'s own fixtures: a refused REFUND says
 *   `reason: 'Insufficient balance on payment'`; an unknown payment answers 422
 *   `{ errorCode: '167', message: 'Original pspReference required for this operation', errorType: 'validation' }`.
 */

export type AdyenAmount = { currency: string; value: number };

/** Adyen's `ServiceError`: `status` repeats the HTTP status. */
export type AdyenErrorJson = {
  status: number;
  errorCode: string;
  message: string;
  errorType: string;
  pspReference?: string;
};

export const merchantRefundReasons = ['FRAUD', 'CUSTOMER REQUEST', 'RETURN', 'DUPLICATE', 'OTHER'] as const;
export type MerchantRefundReason = (typeof merchantRefundReasons)[number];

/** The 201 answer of `POST /payments/{paymentPspReference}/refunds`. */
export type PaymentRefundResponseJson = {
  merchantAccount: string;
  paymentPspReference: string;
  reference?: string;
  pspReference: string;
  status: 'received';
  amount: AdyenAmount;
  merchantRefundReason?: MerchantRefundReason | null;
};

/** The event codes the fake sends; a test can inject any other string through its own items. */
export type AdyenEventCode = 'AUTHORISATION' | 'REFUND' | 'REFUND_FAILED' | 'REFUNDED_REVERSED' | 'CANCEL_OR_REFUND';

export type NotificationRequestItemJson = {
  additionalData?: Record<string, string>;
  amount: AdyenAmount;
  eventCode: AdyenEventCode | (string & {});
  eventDate: string;
  merchantAccountCode: string;
  merchantReference: string;
  /** For modifications: the payment's pspReference. Absent on AUTHORISATION. */
  originalReference?: string;
  paymentMethod?: string;
  operations?: string[];
  pspReference: string;
  reason?: string;
  success: 'true' | 'false';
};

/** The body Adyen POSTs to a standard webhook endpoint. */
export type NotificationRequestJson = {
  live: 'true' | 'false';
  notificationItems: Array<{ NotificationRequestItem: NotificationRequestItemJson }>;
};
