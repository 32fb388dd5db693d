import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { EnvironmentEnum } from '@adyen/api-library';
import { adyenError, unauthorized, type ApiAnswer } from './adyenErrors.js';
import type { NotificationRequestItemJson } from './adyenJson.js';
import {
  createFakeAdyenWorld,
  type FakeAdyenPayment,
  type FakeAdyenRefund,
  type NewPayment,
  type OverRefundBehaviour,
} from './fakeAdyenWorld.js';
import { canonicalJson, createIdempotencyStore, maxIdempotencyKeyLength } from './idempotency.js';
import {
  buildBatches,
  deliverBatches,
  signNotificationItem,
  tamperBatch,
  unsignedItem,
  type NotificationBatch,
  type NotificationDeliveryOptions,
  type NotificationDeliveryResult,
  type NotificationOptions,
  type NotificationTarget,
  type TamperHow,
} from './notifications.js';
import { createScripts, type FailureScript, type TimeoutMode, type TimeoutScript } from './scripts.js';
import { createSelfSignedCertificate } from './selfSignedCertificate.js';

/**
 * A fake Adyen Checkout API on 127.0.0.1 for test suites: the real
 * `@adyen/api-library` talks to it over HTTPS, so the library's serialisation,
 * headers (`X-API-Key`, `Idempotency-Key`), error classes and timeouts run for
 * real. The test sets up the world (captured payments, Customer Area refunds,
 * settlements, scheme failures, reversals), scripts trouble (error answers,
 * answers that never come), observes what arrived, and takes or delivers
 * HMAC-signed standard webhooks, batched, duplicated and reordered on request.
 *
 * ## Wiring the library's client to the fake
 *
 * `@adyen/api-library` 32 has no setting for a custom Checkout URL: the
 * ModificationsApi builds `https://checkout-test.adyen.com/v72` (TEST) or, in
 * LIVE, replaces `https://checkout-test.adyen.com/` with
 * `https://{liveEndpointUrlPrefix}-checkout-live.adyenpayments.com/checkout/`
 * (lib/src/service.js, `createBaseUrl`). With the prefix `127.0.0.1:{port}/`
 * that becomes `https://127.0.0.1:{port}/-checkout-live.adyenpayments.com/checkout/v72`,
 * i.e. this server, which serves every path ending in
 * `/v{N}/payments/{pspReference}/refunds`. The library's HTTP client always
 * uses `https.request`, so the fake speaks TLS with a throwaway self-signed
 * certificate, and `certificatePath: 'unencrypted'` is the library's own
 * switch for `rejectUnauthorized: false`. Hence, in a host's test:
 *
 * ```ts
 * import { CheckoutAPI, Client } from '@adyen/api-library';
 * const fake = await startFakeAdyenServer();
 * const client = new Client({ ...fake.clientConfig, connectionTimeoutMillis: 5_000 });
 * await new CheckoutAPI(client).ModificationsApi.refundCapturedPayment(payment.pspReference, {
 *   merchantAccount: fake.merchantAccount, amount: { value: 1_000, currency: 'EUR' }, reference: 'cn_1:1',
 * }, { idempotencyKey: 'cn_1:refund:1' });
 * ```
 *
 * `clientConfig.environment` is therefore `LIVE` even though the fake is a
 * test: whether webhooks say `live: "true"` is the fake's own `live` option,
 * so an adapter must take the webhook mode from its own configuration, not
 * from `client.config.environment`.
 */

export type FakeAdyenServerOptions = {
  /** Default `TestMerchant`. */
  merchantAccount?: string;
  /**
   * Further merchant accounts of the same company account that the API key may refund on (a company-level
   * credential): `createPayment({ merchantAccount })` makes a payment on one, whose refunds must name it and whose
   * notifications carry it. Any other merchant account is refused with Adyen's 403 `901`.
   */
  otherMerchantAccounts?: readonly string[];
  /** The webhook HMAC key, hex; default 32 random bytes. */
  hmacKey?: string;
  /** Written in every webhook's `live` (`"true"`/`"false"`); default false. */
  live?: boolean;
  /** Milliseconds since the epoch for `eventDate`, `createdAt` and the 31-day key retention; default `Date.now`. */
  clock?: () => number;
  /** The API key the fake accepts in `X-API-Key`; default a random `AQE…` string. */
  apiKey?: string;
  /** See {@link OverRefundBehaviour}; default `reject_request` (422). */
  overRefund?: OverRefundBehaviour;
};

/** Spread into `new Client({...})` of `@adyen/api-library`. */
export type FakeAdyenClientConfig = {
  apiKey: string;
  environment: EnvironmentEnum;
  liveEndpointUrlPrefix: string;
  certificatePath: string;
};

export type RequestOutcome = 'answered' | TimeoutMode;

export type RecordedRequest = {
  requestId: string;
  method: string;
  /** The API path (`/v72/payments/{psp}/refunds`) when recognised, else the path as received. */
  path: string;
  /** The path as received (the live prefix wiring adds `/-checkout-live.adyenpayments.com/checkout`). */
  rawPath: string;
  /** The Checkout API version of the path (72 for `@adyen/api-library` 32), null when not recognised. */
  apiVersion: number | null;
  paymentPspReference: string | null;
  idempotencyKey: string | null;
  /** The `X-API-Key` sent, null when none. */
  apiKey: string | null;
  /** Headers of interest, lower-case names: content-type, user-agent, adyen-library-name, adyen-library-version, authorization. */
  headers: Record<string, string>;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  rawBody: string;
  /** The status answered (or that would have been, for a request whose answer was dropped); null while held. */
  status: number | null;
  /** Answered from the idempotency store. */
  replayed: boolean;
  /** `failNext` answered it, or `timeoutNext` dropped its answer. */
  scripted: 'failure' | 'timeout' | null;
  outcome: RequestOutcome | null;
};

export type FakeAdyenServer = Awaited<ReturnType<typeof startFakeAdyenServer>>;
export type { FailureScript, TimeoutMode, TimeoutScript } from './scripts.js';
export type {
  FakeAdyenPayment,
  FakeAdyenRefund,
  NewPayment,
  OverRefundBehaviour,
  RefundOrigin,
  RefundStatus,
} from './fakeAdyenWorld.js';
export type {
  NotificationBatch,
  NotificationDeliveryOptions,
  NotificationDeliveryResult,
  NotificationOptions,
  NotificationTarget,
  NotificationTargetAnswer,
  TamperHow,
} from './notifications.js';
export type {
  AdyenAmount,
  AdyenErrorJson,
  AdyenEventCode,
  MerchantRefundReason,
  NotificationRequestItemJson,
  NotificationRequestJson,
  PaymentRefundResponseJson,
} from './adyenJson.js';
import { header, readBody } from '../http.js';

const refundPath = /^(?:\/.*)?\/v(\d+)\/payments\/([^/]+)\/refunds\/?$/;


const parseJson = (raw: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
};

const interestingHeaders = ['content-type', 'user-agent', 'adyen-library-name', 'adyen-library-version', 'authorization'];

export const startFakeAdyenServer = async (options: FakeAdyenServerOptions = {}) => {
  const merchantAccount = options.merchantAccount ?? 'TestMerchant';
  const hmacKey = options.hmacKey ?? randomBytes(32).toString('hex').toUpperCase();
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hmacKey)) throw new Error('fake Adyen: hmacKey must be hex');
  const live = options.live ?? false;
  const now = options.clock ?? Date.now;
  const apiKey = options.apiKey ?? `AQE${randomBytes(24).toString('base64url')}`;
  const otherMerchantAccounts = [...(options.otherMerchantAccounts ?? [])];
  const world = createFakeAdyenWorld({
    merchantAccount,
    otherMerchantAccounts,
    now,
    ...(options.overRefund ? { overRefund: options.overRefund } : {}),
  });
  const idempotency = createIdempotencyStore(now);
  const scripts = createScripts(world.newPspReference);
  const requests: RecordedRequest[] = [];
  const heldSockets = new Set<Socket>();
  let closed = false;

  const send = (response: http.ServerResponse, answer: ApiAnswer, headers: Record<string, string>) => {
    const payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    response.writeHead(answer.status, {
      'Content-Type': typeof answer.body === 'string' ? 'text/html;charset=UTF-8' : 'application/json;charset=UTF-8',
      'Content-Length': Buffer.byteLength(payload),
      ...headers,
      ...answer.headers,
    });
    response.end(payload);
  };

  /** The answer is lost: the request took effect, the client hears nothing (or half of it). */
  const drop = (response: http.ServerResponse, answer: ApiAnswer, headers: Record<string, string>, mode: TimeoutMode) => {
    const socket = response.socket;
    if (!socket) return;
    if (mode === 'reset') {
      socket.destroy();
      return;
    }
    if (mode === 'hang') {
      heldSockets.add(socket);
      socket.once('close', () => heldSockets.delete(socket));
      return;
    }
    const payload = Buffer.from(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    response.writeHead(answer.status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': payload.length, ...headers });
    response.write(payload.subarray(0, Math.floor(payload.length / 2)), () => socket.destroy());
  };

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    // The client may give up (a library timeout) while an answer is held: writing then must not crash the fake.
    response.on('error', () => {});
    const rawBody = await readBody(request);
    const url = new URL(request.url ?? '/', 'https://fake.invalid');
    const method = (request.method ?? 'GET').toUpperCase();
    const route = refundPath.exec(url.pathname);
    const paymentPspReference = route ? decodeURIComponent(route[2]!) : null;
    const parsed = parseJson(rawBody);
    const idempotencyKey = header(request, 'idempotency-key');
    const record: RecordedRequest = {
      requestId: `req_fake_${requests.length + 1}`,
      method,
      path: route ? `/v${route[1]}/payments/${route[2]}/refunds` : url.pathname,
      rawPath: url.pathname,
      apiVersion: route ? Number(route[1]) : null,
      paymentPspReference,
      idempotencyKey,
      apiKey: header(request, 'x-api-key'),
      headers: Object.fromEntries(
        interestingHeaders.flatMap((name) => {
          const value = header(request, name);
          return value === null ? [] : [[name, value]];
        }),
      ),
      body: parsed.ok ? parsed.value : rawBody,
      rawBody,
      status: null,
      replayed: false,
      scripted: null,
      outcome: null,
    };
    requests.push(record);
    const headers: Record<string, string> = idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {};

    const answerRequest = (): ApiAnswer => {
      if (record.apiKey !== apiKey) return unauthorized();
      if (!route || paymentPspReference === null) {
        return adyenError(404, { errorCode: '000', message: `Not Found: ${method} ${url.pathname} (the fake serves refunds only)`, errorType: 'validation' });
      }
      if (method !== 'POST') {
        return adyenError(405, { errorCode: '000', message: `Method ${method} not allowed`, errorType: 'validation' });
      }
      const failure = scripts.takeFailure();
      if (failure) {
        // Like an error at Adyen's edge: nothing ran, nothing is kept under the idempotency key.
        record.scripted = 'failure';
        return failure;
      }
      if (idempotencyKey !== null && idempotencyKey.length > maxIdempotencyKeyLength) {
        // The 64-character limit is Adyen's; the status and wording are the fake's.
        return adyenError(422, {
          errorCode: '000',
          message: `Idempotency-Key is longer than ${maxIdempotencyKeyLength} characters`,
          errorType: 'validation',
        });
      }
      if (!parsed.ok) {
        return adyenError(400, { errorCode: '702', message: 'Unexpected input: the request body is not valid JSON', errorType: 'validation' });
      }
      const endpoint = `${method} ${record.path.replace(/^\/v\d+/, '')}`;
      const fingerprint = canonicalJson(parsed.value);
      if (idempotencyKey !== null) {
        const verdict = idempotency.check(idempotencyKey, endpoint, fingerprint);
        if (verdict.kind === 'replay') record.replayed = true;
        if (verdict.kind !== 'first') return verdict.answer;
      }
      const answer = world.refundRequest(paymentPspReference, parsed.value, idempotencyKey);
      if (idempotencyKey !== null && answer.status < 500) idempotency.store(idempotencyKey, endpoint, fingerprint, answer);
      return answer;
    };

    const answer = answerRequest();
    record.status = answer.status;
    if (closed) {
      response.socket?.destroy();
      return;
    }
    // A lost answer applies to a request that reached the refund handler (not to a 401, 404 or scripted failure).
    const timeout = record.scripted === null && record.paymentPspReference !== null && answer.status !== 401 ? scripts.timeouts.take() : undefined;
    if (timeout) {
      record.scripted = 'timeout';
      record.outcome = timeout.mode ?? 'reset';
      drop(response, answer, headers, record.outcome);
      return;
    }
    record.outcome = 'answered';
    send(response, answer, answer.status === 401 ? {} : headers);
  };

  const { key, cert } = createSelfSignedCertificate();
  const server = https.createServer({ key, cert }, (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        send(response, adyenError(500, { errorCode: '000', message: `fake Adyen crashed: ${String(error)}`, errorType: 'internal' }), {});
      }
    });
  });
  // A client that gives up during the handshake must not crash the fake.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const clientConfig: FakeAdyenClientConfig = {
    apiKey,
    environment: 'LIVE' as unknown as EnvironmentEnum,
    liveEndpointUrlPrefix: `127.0.0.1:${port}/`,
    certificatePath: 'unencrypted',
  };

  const signItem = (item: NotificationRequestItemJson) => signNotificationItem(item, hmacKey);

  const takeNotifications = (delivery: NotificationOptions = {}): NotificationBatch[] =>
    buildBatches(world.takeQueuedItems(), signItem, live, delivery);

  return {
    port,
    /** `https://127.0.0.1:{port}`: TLS, since the library speaks nothing else. */
    url: `https://127.0.0.1:${port}`,
    /** `new Client({ ...fake.clientConfig })`: see the wiring note at the top of this file. */
    clientConfig,
    apiKey,
    hmacKey,
    merchantAccount,
    /** The further merchant accounts it serves (`otherMerchantAccounts`). */
    otherMerchantAccounts,
    live,

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const socket of [...heldSockets]) socket.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },

    // ── the world ────────────────────────────────────────────────────────────
    /** A captured payment (16-character pspReference) on `merchantAccount` (default the fake's); queues its AUTHORISATION (success true). */
    createPayment: (input: NewPayment): { pspReference: string; merchantReference: string } => world.createPayment(input),
    /** The REFUND webhook of a `received` refund: success, or a refusal with `reason` (default `Refused`). */
    settleRefund: (refundPspReference: string, outcome: { success: boolean; reason?: string }): FakeAdyenRefund =>
      world.settleRefund(refundPspReference, outcome),
    /** REFUND_FAILED for a refunded refund: the scheme rejected it later (reason default `Refund Failed`). */
    failRefundLater: (refundPspReference: string, reason?: string): FakeAdyenRefund => world.failRefundLater(refundPspReference, reason),
    /** REFUNDED_REVERSED for a refunded refund. */
    reverseRefund: (refundPspReference: string, reason?: string): FakeAdyenRefund => world.reverseRefund(refundPspReference, reason),
    /**
     * A refund made in the Customer Area, outside the library: no idempotency
     * key, `merchantReference` = the payment's (or `reference`). Queues its
     * REFUND (success) unless `settled: false`, which leaves it `received` for
     * `settleRefund`. Throws on an unknown payment, another currency, or more
     * than is left.
     */
    refundInCustomerArea: (
      paymentPspReference: string,
      input: { amount: number; currency: string; reference?: string; settled?: boolean },
    ): FakeAdyenRefund => world.refundInCustomerArea(paymentPspReference, input),
    /**
     * A reversal made outside the library, queueing CANCEL_OR_REFUND: by default it refunds what is left
     * (`modification.action: 'refund'`); `{ action: 'cancel' }` releases a payment not captured yet
     * (`modification.action: 'cancel'`: no money moved, nothing left to refund).
     */
    cancelOrRefund: (
      paymentPspReference: string,
      input: { action?: 'refund' | 'cancel' } = {},
    ): { pspReference: string; item: NotificationRequestItemJson } => world.cancelOrRefund(paymentPspReference, input),
    /** What is left to refund on a payment (refunds `received` or `refunded` hold their amount). */
    refundableAmount: (paymentPspReference: string): number => world.refundableAmount(paymentPspReference),

    // ── scripted trouble ─────────────────────────────────────────────────────
    /**
     * The next refund request(s) (after authentication) fail with this status
     * before anything runs: no refund, no idempotency key kept. E.g.
     * `failNext({ status: 503 })`, `failNext({ status: 429, count: 2 })`,
     * `failNext({ status: 422, errorCode: '704', message: 'request already processed or in progress', transient: true })`.
     */
    failNext: (script: FailureScript): void => scripts.failures.add(script),
    /**
     * The next refund request(s) take effect (the refund exists, its key is
     * kept), then the answer is lost (see {@link TimeoutMode}): the in-doubt case.
     */
    timeoutNext: (script: TimeoutScript = {}): void => scripts.timeouts.add(script),
    /** Forgets every script not used yet. */
    clearScripts: (): void => scripts.clear(),
    /** Forgets every idempotency key, as after their retention (at least 31 days; the `clock` does it too). */
    forgetIdempotencyKeys: (): void => idempotency.forget(),

    // ── observation ──────────────────────────────────────────────────────────
    /** Every refund the fake holds, oldest first, with its reference, idempotency key and status. */
    refunds: (filter: { paymentPspReference?: string } = {}): FakeAdyenRefund[] =>
      world.refunds().filter((refund) => filter.paymentPspReference === undefined || refund.paymentPspReference === filter.paymentPspReference),
    payments: (): FakeAdyenPayment[] => world.payments(),
    /** Every request received, in order (copies). */
    get requests(): ReadonlyArray<RecordedRequest> {
      return requests.map((request) => structuredClone(request));
    },
    /** Every notification item generated so far, oldest first, delivered or not (unsigned). */
    notifications: (): NotificationRequestItemJson[] => world.allItems(),
    /** How many items wait to be taken or delivered. */
    pendingNotifications: (): number => world.queuedCount(),

    // ── webhooks ─────────────────────────────────────────────────────────────
    /**
     * Drains the queue into signed batches `{ body, rawBody }`: each item
     * `copies` times, in `order`, `batchSize` items per batch (default 1).
     */
    takeNotifications,
    /**
     * Drains the queue and delivers each batch in turn: POSTed to a URL
     * (`Content-Type: application/json`, optional basic auth) or handed to a
     * callback answering `{ status, body }`. A 2xx is a success (`accepted`
     * also says whether the body contained `[accepted]`). With
     * `requeueFailures`, items no successful batch carried go back in the
     * queue, as Adyen retries them.
     */
    async deliverNotifications(target: NotificationTarget, delivery: NotificationDeliveryOptions = {}): Promise<NotificationDeliveryResult[]> {
      const items = world.takeQueuedItems();
      const batches = buildBatches(items, signItem, live, delivery);
      const results = await deliverBatches(target, batches, delivery.basicAuth ? { basicAuth: delivery.basicAuth } : {});
      if (delivery.requeueFailures) {
        const delivered = new Set(
          results
            .filter((result) => result.ok)
            .flatMap((result) => result.batch.body.notificationItems.map((container) => canonicalJson(unsignedItem(container.NotificationRequestItem)))),
        );
        world.requeueItems(items.filter((item) => !delivered.has(canonicalJson(item))));
      }
      return results;
    },
    /** A copy of the batch that no longer passes HMAC validation (see {@link TamperHow}); `item` picks one item (default all). */
    tamper: (batch: NotificationBatch, how: { how?: TamperHow; item?: number } = {}): NotificationBatch => tamperBatch(batch, how),
    /** Signs any item with the fake's key (or another): tests of verification with hand-made items. */
    sign: (item: NotificationRequestItemJson, key: string = hmacKey): NotificationRequestItemJson => signNotificationItem(item, key),
  };
};
