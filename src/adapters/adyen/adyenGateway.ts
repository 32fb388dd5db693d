import { err, ok, type Result } from 'neverthrow';
import type { CheckoutAPI, Client } from '@adyen/api-library';
import { GatewayError } from '../../errors.js';
import type { PaymentRef } from '../../events/primitives.js';
import type {
  CreateRefundRequest,
  GatewayCapabilities,
  ProcessorPayment,
  ProcessorRefund,
  RefundGateway,
} from '../../ports/refundGateway.js';
import { checkoutOf } from './adyenLibrary.js';
import { adviseOnRefusal, adyenFailureReasons, classificationOf } from './failureReasons.js';
import { adyenIdempotencyKey, adyenIdempotencyKeyPrefixPattern, adyenRefundReference } from './references.js';

/** Adyen's `merchantRefundReason` values. */
export const adyenMerchantRefundReasons = ['FRAUD', 'CUSTOMER REQUEST', 'RETURN', 'DUPLICATE', 'OTHER'] as const;
export type AdyenMerchantRefundReason = (typeof adyenMerchantRefundReasons)[number];

/** The one Checkout call the gateway makes: `ModificationsApi.refundCapturedPayment`. */
export type AdyenRefundsApi = Pick<CheckoutAPI['ModificationsApi'], 'refundCapturedPayment'>;

export type AdyenGatewayOptions = {
  /**
   * A configured client: `new Client({ apiKey, environment: 'TEST' })`, or for live
   * `{ apiKey, environment: 'LIVE', liveEndpointUrlPrefix }`. Set `connectionTimeoutMillis`: a call that times out
   * is in doubt and is asked again under the same key.
   */
  client?: Client;
  /** Instead of `client`: a `CheckoutAPI` (or its `ModificationsApi`) to call through. */
  checkout?: CheckoutAPI | AdyenRefundsApi;
  /** The merchant account payments are refunded on, unless a payment names another in `payment.account`. */
  merchantAccount: string;
  /** Sent as `merchantRefundReason` on every refund. Default `OTHER`. */
  merchantRefundReason?: AdyenMerchantRefundReason;
  /** What the Credit Notes page says instead of offering Refresh. Default `adyenRefreshAdvice`. */
  refreshAdvice?: string;
  /**
   * Written before every `Idempotency-Key` (`<prefix>:<creditNoteId>:refund:<attempt>`, a digest of it past 64
   * characters). Adyen keeps keys per company account, shared by every merchant account and every application using
   * its credentials: give each application (or merchant account) its own prefix when two of them may number credit
   * notes alike. Printable ASCII without spaces. Never change it while attempts are in doubt: their next request
   * would carry another key, and could refund twice.
   */
  idempotencyKeyPrefix?: string;
};

/** What a person can do instead of Refresh, since Adyen cannot be asked for a refund's status. */
export const adyenRefreshAdvice =
  "Adyen cannot be asked for a refund's status: its outcome arrives by notification (REFUND, then REFUND_FAILED or " +
  'REFUNDED_REVERSED if it comes back). To check by hand, open the payment in your Customer Area (Transactions > Payments, ' +
  'by its PSP reference) and read its refund events; a notification that did not reach this service is shown as failing ' +
  'under Developers > Webhooks and Adyen keeps retrying it. Once you know the money reached the client another way, ' +
  'mark the credit note refunded.';

export const adyenCapabilities = (refreshAdvice = adyenRefreshAdvice): GatewayCapabilities => ({
  pullsRefundStatus: false,
  refreshAdvice,
});

/** What an error thrown by `@adyen/api-library` tells, whichever of its shapes it has. */
type AdyenFailure =
  /** Adyen (or something in front of it) answered with this HTTP status. */
  | { kind: 'http'; status: number; errorCode: string | null; message: string; transientHeader: boolean }
  /**
   * An error answer whose status the library dropped (a body of `errors` comes back as a plain `Error`): the
   * request reached something, which may have been Adyen, and nobody can tell whether it ran.
   */
  | { kind: 'no_status'; message: string }
  /** No answer: a refused connection, a reset, a timeout (the library aborts the request), a cut-off body. */
  | { kind: 'network'; message: string }
  /** The library refused before sending (no API key). */
  | { kind: 'configuration'; status: number; message: string }
  /** The request could not be built, so it was never sent (a LIVE client without its URL prefix, a bad URL or header). */
  | { kind: 'not_sent'; message: string };

/** What the library (and Node, building the request) throw before a byte is sent. */
const notSentMessages = [
  /Live endpoint URL prefix must be provided/i,
  /Endpoint URL must be provided/i,
  /Environment must be defined/i,
  /Invalid region provided/i,
  /Error loading certificate from path/i,
];
const notSentCodes = new Set([
  'ERR_INVALID_URL',
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_HTTP_INVALID_HEADER_VALUE',
  'ERR_INVALID_PROTOCOL',
  'ERR_UNESCAPED_CHARACTERS',
]);

/** The library's `ApiException` is no `Error` (it only implements its shape): its message is read as a field. */
const messageOf = (error: unknown): string =>
  typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string'
    ? (error as { message: string }).message
    : String(error);

const headerValue = (headers: unknown, name: string): string | null => {
  if (typeof headers !== 'object' || headers === null) return null;
  const value = Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : null;
};

/**
 * Reads the library's errors by shape (its classes come from a CommonJS
 * module and `ApiException` is not exported): `HttpClientException` (an HTTP
 * answer, with Adyen's `status`, `errorCode` and `message` when the body was
 * Adyen's JSON), `ApiException` (the request failed on the socket, with a
 * default `statusCode` of 500 that is no answer at all), and plain errors
 * (a connection cut mid-answer, a body of `errors` without a status).
 */
export const readAdyenFailure = (error: unknown): AdyenFailure => {
  if (typeof error === 'object' && error !== null) {
    const { name, statusCode, errorCode, apiError, responseHeaders } = error as {
      name?: unknown;
      statusCode?: unknown;
      errorCode?: unknown;
      apiError?: { errorCode?: unknown; message?: unknown; status?: unknown } | null;
      responseHeaders?: unknown;
    };
    const message = typeof apiError?.message === 'string' && apiError.message !== '' ? apiError.message : messageOf(error);
    const { code: nodeCode } = error as { code?: unknown };
    if ((typeof nodeCode === 'string' && notSentCodes.has(nodeCode)) || notSentMessages.some((pattern) => pattern.test(messageOf(error)))) {
      return { kind: 'not_sent', message: messageOf(error) };
    }
    if (name === 'HttpClientException' && typeof statusCode === 'number') {
      const code = typeof errorCode === 'string' ? errorCode : typeof apiError?.errorCode === 'string' ? apiError.errorCode : null;
      return {
        kind: 'http',
        status: statusCode,
        errorCode: code,
        message,
        transientHeader: headerValue(responseHeaders, 'transient-error') === 'true',
      };
    }
    if (name === 'ApiException') {
      // The one refusal the library makes itself; every other ApiException is a socket error.
      if (statusCode === 401) return { kind: 'configuration', status: 401, message };
      return { kind: 'network', message };
    }
    if (error instanceof Error) {
      // An answer of `{ "errors": … }` without a status comes back as a plain Error carrying the body: its status,
      // and so whether the request ran, is unknown.
      try {
        const body = JSON.parse(error.message) as unknown;
        if (typeof body === 'object' && body !== null && 'errors' in body) return { kind: 'no_status', message: error.message };
      } catch {
        // Not a body: a connection cut or a refused redirect.
      }
      return { kind: 'network', message: error.message };
    }
  }
  return { kind: 'network', message: messageOf(error) };
};

/** Statuses after which the request may or may not have run, or will run if asked again: same attempt, same key. */
const transientStatuses = new Set([408, 409, 425, 429]);

/** Advice for a request the client could not build: nothing reached Adyen, so fixing the setup and retrying is safe. */
const notSentAdvice = {
  retry: 'after_action',
  recovery: 'retry',
} as const;

/** Advice for a key Adyen already used for another request (704 without `Transient-Error`). */
const keyReusedAdvice = {
  retry: 'after_action',
  recovery: 'retry',
} as const;

/**
 * What an Adyen error means for the refund. Transient (the credit note waits
 * in `pending` and the same attempt is asked again under the same key): no
 * answer (network error, timeout), an error answer whose status the library
 * lost, 408, 409, 425, 429, any 5xx, an answer flagged `Transient-Error: true`
 * (Adyen's 704 while the same key is still being processed). Definitive (the
 * attempt fails with advice): a request the client could not build (nothing
 * was sent: fix the client's configuration, then retry), 401 and 403 (the API
 * credential, its role or the merchant account: fix the setup, then retry),
 * 704 without `Transient-Error` (the key was already used for another
 * request), 422 and every other 4xx (Adyen validated the request and refused
 * it; error code 167 is an unknown payment, 137 an invalid amount…).
 */
export const toAdyenGatewayError = (error: unknown): GatewayError => {
  const failure = readAdyenFailure(error);
  if (failure.kind === 'network') {
    return new GatewayError('transient', 'network_error', `Adyen could not be reached or did not answer: ${failure.message}`, {
      cause: error,
    });
  }
  if (failure.kind === 'no_status') {
    return new GatewayError(
      'transient',
      'unknown_status',
      `Adyen (or something in front of it) answered an error without a status, so whether the refund was made is unknown; it is asked again under the same key: ${failure.message}`,
      { cause: error },
    );
  }
  if (failure.kind === 'not_sent') {
    return new GatewayError(
      'definitive',
      'request_not_sent',
      `The Adyen client could not build the refund request, so nothing reached Adyen: ${failure.message}. ` +
        "Fix the client's configuration (environment, liveEndpointUrlPrefix, certificate, API key), then retry.",
      { cause: error, classification: notSentAdvice },
    );
  }
  if (failure.kind === 'configuration') {
    return new GatewayError('definitive', 'api_key_missing', `The Adyen client has no API key: ${failure.message}`, {
      cause: error,
      classification: classificationOf(adyenFailureReasons.not_allowed),
    });
  }
  const { status, errorCode, message, transientHeader } = failure;
  const code = errorCode ?? `http_${status}`;
  const said = `Adyen answered ${status}${errorCode === null ? '' : ` (error ${errorCode})`}: ${message}`;
  if (transientHeader || transientStatuses.has(status) || status >= 500) {
    return new GatewayError('transient', code, said, { cause: error });
  }
  if (errorCode === '704') {
    // Not flagged transient: the key was already used for a request with another body (Adyen answers a same-body
    // duplicate with the first answer, or flags it transient while that one runs).
    return new GatewayError(
      'definitive',
      code,
      `${said}; the attempt's request changed while in doubt: Adyen already processed another request under this attempt's ` +
        'idempotency key, and a refund may have been made by it. Look for the payment\'s refunds in the Customer Area ' +
        '(their reference names the credit note and attempt): if one is there, its notification settles the credit note ' +
        '(or mark it refunded); if none is, retry.',
      { cause: error, classification: keyReusedAdvice },
    );
  }
  if (status === 401 || status === 403) {
    const advice = adyenFailureReasons.not_allowed;
    return new GatewayError(
      'definitive',
      errorCode ?? (status === 401 ? 'unauthorized' : 'forbidden'),
      `${said}. ${status === 401 ? 'The API key was refused' : 'The API credential may not refund on this merchant account'}: ${advice.banner}`,
      { cause: error, classification: classificationOf(advice) },
    );
  }
  const advice = adviseOnRefusal(errorCode, message);
  return new GatewayError('definitive', code, `${said}. ${advice.banner}`, { cause: error, classification: classificationOf(advice) });
};

const notSupported = (what: string) =>
  err<never, GatewayError>(
    new GatewayError(
      'definitive',
      'not_supported',
      `Adyen has no API to ${what}: refund outcomes arrive by notification (capabilities.pullsRefundStatus is false)`,
    ),
  );

/**
 * What the library would only find out when the first refund is sent (and
 * throw as a plain error then): checked when the gateway is built instead.
 */
const checkClientConfig = (client: Client): void => {
  const config = (client as { config?: Partial<Client['config']> }).config;
  if (typeof config !== 'object' || config === null) throw new TypeError('adyenGateway: the client has no config');
  const environment = String(config.environment ?? '');
  if (environment !== 'TEST' && environment !== 'LIVE') {
    throw new TypeError(`adyenGateway: the client's environment must be TEST or LIVE; got ${environment || 'none'}`);
  }
  if (environment === 'LIVE' && (typeof config.liveEndpointUrlPrefix !== 'string' || config.liveEndpointUrlPrefix.trim() === '')) {
    throw new TypeError(
      "adyenGateway: a LIVE client needs liveEndpointUrlPrefix (the prefix of your live Checkout URL, in the Customer Area under Developers > API URLs)",
    );
  }
  const hasKey = typeof config.apiKey === 'string' && config.apiKey !== '';
  const hasBasicAuth = typeof config.username === 'string' && config.username !== '' && typeof config.password === 'string' && config.password !== '';
  if (!hasKey && !hasBasicAuth) {
    throw new TypeError('adyenGateway: the client has no API key (apiKey), nor basic auth credentials (username and password)');
  }
};

const isRefundsApi = (value: CheckoutAPI | AdyenRefundsApi): value is AdyenRefundsApi =>
  typeof (value as Partial<AdyenRefundsApi>).refundCapturedPayment === 'function';

/**
 * The `RefundGateway` port over `@adyen/api-library`'s Checkout API. A refund
 * is `POST /payments/{paymentPspReference}/refunds` with the attempt's key in
 * `Idempotency-Key` and the credit note and attempt in `reference`; Adyen
 * answers `received` and tells the outcome by notification
 * (`adyenNotifications`), so the refund is `pending` until then. Adyen cannot
 * be asked about a refund or a payment afterwards: `pullsRefundStatus: false`.
 */
export const adyenGateway = (options: AdyenGatewayOptions): RefundGateway => {
  const { merchantAccount, merchantRefundReason = 'OTHER' } = options;
  if (typeof merchantAccount !== 'string' || merchantAccount.trim() === '') {
    throw new TypeError('adyenGateway needs the merchantAccount payments are refunded on');
  }
  if (!(adyenMerchantRefundReasons as readonly string[]).includes(merchantRefundReason)) {
    throw new TypeError(`merchantRefundReason must be one of ${adyenMerchantRefundReasons.join(', ')}; got ${String(merchantRefundReason)}`);
  }
  const { idempotencyKeyPrefix } = options;
  if (idempotencyKeyPrefix !== undefined && (typeof idempotencyKeyPrefix !== 'string' || !adyenIdempotencyKeyPrefixPattern.test(idempotencyKeyPrefix))) {
    throw new TypeError('idempotencyKeyPrefix must be 1 to 64 printable ASCII characters without spaces');
  }
  if (options.checkout === undefined && options.client !== undefined) checkClientConfig(options.client);
  const source = options.checkout ?? (options.client === undefined ? undefined : checkoutOf(options.client));
  if (source === undefined) throw new TypeError('adyenGateway needs a client (or a checkout API)');
  // Read lazily: a CheckoutAPI builds its ModificationsApi on first use.
  const refunds = (): AdyenRefundsApi => (isRefundsApi(source) ? source : source.ModificationsApi);

  return {
    processor: 'adyen',
    capabilities: adyenCapabilities(options.refreshAdvice),

    createRefund: async (request: CreateRefundRequest): Promise<Result<ProcessorRefund, GatewayError>> => {
      const { creditNoteId, attempt } = request.metadata;
      let answer: { pspReference?: unknown; status?: unknown };
      try {
        answer = await refunds().refundCapturedPayment(
          request.payment.paymentId,
          {
            merchantAccount: request.payment.account ?? merchantAccount,
            amount: { value: request.amount, currency: request.currency.toUpperCase() },
            reference: adyenRefundReference(creditNoteId, attempt),
            merchantRefundReason: merchantRefundReason as NonNullable<
              Parameters<AdyenRefundsApi['refundCapturedPayment']>[1]['merchantRefundReason']
            >,
          },
          { idempotencyKey: adyenIdempotencyKey(request.idempotencyKey, idempotencyKeyPrefix) },
        );
      } catch (error) {
        return err(toAdyenGatewayError(error));
      }
      if (typeof answer?.pspReference !== 'string' || answer.pspReference === '') {
        // Whether it was made is unknown: asked again under the same key, Adyen answers the same refund.
        return err(new GatewayError('transient', 'invalid_processor_answer', 'Adyen answered the refund without a pspReference'));
      }
      return ok({
        processorRefundId: answer.pspReference,
        paymentId: request.payment.paymentId,
        amount: request.amount,
        currency: request.currency.toLowerCase(),
        // `received`: Adyen validated the request; the REFUND notification tells whether it succeeded.
        status: 'pending',
        failure: null,
        metadata: { creditNoteId, attempt },
      });
    },

    retrieveRefund: async () => notSupported('retrieve a refund'),
    findRefunds: async () => notSupported('list the refunds of a payment'),

    // Checkout has no payment look-up: nothing is guessed. No local balance check, and the charge is confirmed by
    // the AUTHORISATION / CAPTURE notification or by the host (`chargeConfirmed: true` at issue).
    describePayment: async (payment: PaymentRef): Promise<Result<ProcessorPayment, GatewayError>> =>
      ok({ paymentId: payment.paymentId, amount: null, currency: null, method: null, refundableUntil: null, chargeConfirmed: null }),
  };
};
