import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { canonicalForm, parseForm, type FormRecord } from './formEncoding.js';
import {
  createFakeStripeWorld,
  type NewCharge,
  type NewPaymentIntent,
  type RefundStatusDetail,
} from './fakeStripeWorld.js';
import { createIdempotencyStore } from './idempotency.js';
import { routeApiRequest } from './routes.js';
import { createScripts, type DelayScript, type DropScript, type FailureScript } from './scripts.js';
import { stripeError, type ApiAnswer } from './stripeErrors.js';
import {
  fakeStripeApiVersion,
  type RefundPendingReason,
  type RefundStatus,
  type StripeChargeJson,
  type StripeEventJson,
  type StripePaymentIntentJson,
  type StripeRefundJson,
} from './stripeJson.js';
import {
  deliverSignedWebhooks,
  signEvents,
  signWebhookPayload,
  type SignedWebhook,
  type WebhookDeliveryOptions,
  type WebhookDeliveryResult,
  type WebhookTarget,
} from './webhooks.js';

/**
 * A fake Stripe API on 127.0.0.1 for test suites: the real `stripe` SDK talks
 * to it over HTTP (`new Stripe(key, fake.sdkOptions)`), so the SDK's own
 * encoding, retries, idempotency keys and error classes run for real. The test
 * sets up the world (payments, dashboard refunds, settlements, disputes),
 * scripts trouble (failures, slow answers, dropped connections, forgotten
 * idempotency keys), observes what arrived, and delivers signed webhooks.
 */

export type RecordedRequest = {
  requestId: string;
  method: string;
  /** Without the query string. */
  path: string;
  query: FormRecord;
  /** The parsed form body (`metadata[creditNoteId]=cn_1` → `{ metadata: { creditNoteId: 'cn_1' } }`). */
  body: FormRecord;
  idempotencyKey: string | null;
  account: string | null;
  /** The status answered (or about to be, for a dropped answer); null while the request is held. */
  status: number | null;
  /** Answered from the idempotency store (`Idempotent-Replayed: true`). */
  replayed: boolean;
  /** The connection was broken instead of answering. */
  dropped: boolean;
};

/**
 * The defaults are today's Stripe (API version {@link fakeStripeApiVersion},
 * a test-mode account). The behaviour options bring back what older API
 * versions, or other payment methods and accounts, do.
 */
export type FakeStripeServerOptions = {
  /** Default: a random `whsec_…`. */
  webhookSecret?: string;
  /** Written on objects and events; default false. */
  livemode?: boolean;
  /**
   * Whether a charge carries its `refunds` list.
   * - `'expand_only'` (default; API versions since 2022-11-15): only when asked
   *   for with `expand[]=refunds`. The charge in `charge.refunded` has no
   *   `refunds` field: a webhook handler must list the charge's refunds
   *   (`GET /v1/refunds?charge=…`) or rely on the `refund.*` events.
   * - `'always'` (API versions before 2022-11-15): every charge, in answers
   *   and in `charge.*` webhooks, lists its refunds (newest first).
   */
  chargeRefunds?: 'expand_only' | 'always';
  /**
   * When a card refund made without an explicit status settles.
   * - `'at_creation'` (default; Stripe test mode and most live cards): it is
   *   created `succeeded`, so `refund.created` already says `succeeded`.
   * - `'later'`: it is created `pending` (`pending_reason: 'processing'`) and
   *   settles when the test calls `setRefundStatus`.
   * Bank debits (`sepa_debit`, `us_bank_account`, `bacs_debit`) always start
   * `pending`. `setInitialRefundStatus` overrides both for API-made refunds.
   */
  cardRefundsSettle?: 'at_creation' | 'later';
  /**
   * Which refunds' changes also send `charge.refund.updated` (alongside
   * `refund.updated`, which every change sends). Stripe documents it "on
   * selected payment methods" without naming them; captured events show it
   * for card refunds too (a test-mode card refund going succeeded → failed
   * with `expired_or_canceled_card`, a live card refund's reference becoming
   * available), so the default is `'all_methods'`. `'non_card'` and `'never'`
   * test that a handler does not depend on it.
   */
  chargeRefundUpdated?: 'all_methods' | 'non_card' | 'never';
};

export type FakeStripeServer = Awaited<ReturnType<typeof startFakeStripeServer>>;
export type { SignedWebhook, WebhookDeliveryOptions, WebhookDeliveryResult, WebhookTarget } from './webhooks.js';
export type { FailureScript, DelayScript, DropScript, RequestMatch } from './scripts.js';
export type { NewCharge, NewPaymentIntent, RefundStatusDetail } from './fakeStripeWorld.js';
export type {
  PaymentMethodType,
  RefundPendingReason,
  RefundStatus,
  StripeChargeJson,
  StripeErrorJson,
  StripeEventJson,
  StripeEventType,
  StripePaymentIntentJson,
  StripeRefundJson,
} from './stripeJson.js';
import { header, readBody } from '../http.js';


export const startFakeStripeServer = async (options: FakeStripeServerOptions = {}) => {
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(24).toString('hex')}`;
  let fixedClock: number | null = null;
  const now = () => fixedClock ?? Math.floor(Date.now() / 1000);
  const world = createFakeStripeWorld({
    livemode: options.livemode ?? false,
    now,
    behaviour: {
      ...(options.chargeRefunds ? { chargeRefunds: options.chargeRefunds } : {}),
      ...(options.cardRefundsSettle ? { cardRefundsSettle: options.cardRefundsSettle } : {}),
      ...(options.chargeRefundUpdated ? { chargeRefundUpdated: options.chargeRefundUpdated } : {}),
    },
  });
  const idempotency = createIdempotencyStore();
  const scripts = createScripts();
  const requests: RecordedRequest[] = [];
  const initialStatuses: RefundStatus[] = [];
  /** Undefined: Stripe's default for the payment method (see `cardRefundsSettle`). */
  let defaultInitialStatus: RefundStatus | undefined;
  const heldRequests = new Set<() => void>();
  let closed = false;

  const initialRefundStatus = () => initialStatuses.shift() ?? defaultInitialStatus;

  /** Holds a request for a scripted delay; closing the server releases every held request. */
  const hold = (script: DelayScript) =>
    new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        heldRequests.delete(release);
        resolve();
      };
      const timer = script.ms === undefined ? undefined : setTimeout(release, script.ms);
      script.until?.then(release, release);
      heldRequests.add(release);
    });

  const respond = (response: http.ServerResponse, answer: ApiAnswer, headers: Record<string, string>) => {
    const payload = JSON.stringify(answer.body, null, 2);
    response.writeHead(answer.status, {
      ...headers,
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(payload),
    });
    response.end(payload);
  };

  /** Breaks the connection instead of answering (`after_headers`: half an answer, then nothing). */
  const drop = (response: http.ServerResponse, answer: ApiAnswer, headers: Record<string, string>, script: DropScript) => {
    const socket = response.socket;
    if (script.when === 'before_response' || !socket) {
      socket?.destroy();
      return;
    }
    const payload = Buffer.from(JSON.stringify(answer.body, null, 2));
    response.writeHead(answer.status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': payload.length });
    response.write(payload.subarray(0, Math.floor(payload.length / 2)), () => socket.destroy());
  };

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    // The client may give up (an SDK timeout) while an answer is held: writing then must not crash the fake.
    response.on('error', () => {});
    const raw = await readBody(request);
    const url = new URL(request.url ?? '/', 'http://fake.invalid');
    const method = (request.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const query = parseForm(url.search.slice(1));
    const body = method === 'POST' ? parseForm(raw) : {};
    const idempotencyKey = header(request, 'idempotency-key');
    const account = header(request, 'stripe-account');
    const record: RecordedRequest = {
      requestId: `req_fake_${requests.length + 1}`,
      method,
      path,
      query,
      body,
      idempotencyKey,
      account,
      status: null,
      replayed: false,
      dropped: false,
    };
    requests.push(record);
    const headers: Record<string, string> = {
      'Request-Id': record.requestId,
      'Stripe-Version': header(request, 'stripe-version') ?? fakeStripeApiVersion,
      ...(idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {}),
      ...(account ? { 'Stripe-Account': account } : {}),
    };

    const delay = scripts.delays.take(method, path);
    const failure = scripts.takeFailure(method, path);
    const dropScript = scripts.drops.take(method, path);
    const params = method === 'GET' ? query : body;
    const apiRequest = { method, path, params, account, cause: { requestId: record.requestId, idempotencyKey } };
    /** Waits out a `before_processing` delay; false when the server closed meanwhile (the request then never ran). */
    const heldBefore = async () => {
      if (delay && delay.stage === 'before_processing') await hold(delay);
      return !closed;
    };

    const answerRequest = async (): Promise<ApiAnswer | undefined> => {
      if (!/^Bearer \S+$/.test(header(request, 'authorization') ?? '')) {
        return stripeError(401, {
          type: 'invalid_request_error',
          message: 'You did not provide an API key. You need to provide your API key in the Authorization header.',
        });
      }
      if (failure) {
        // Like a 429 at Stripe's edge: nothing ran, nothing is kept under the idempotency key.
        Object.assign(headers, failure.headers);
        return (await heldBefore()) ? failure.answer : undefined;
      }
      if (method !== 'POST' || !idempotencyKey) {
        return (await heldBefore()) ? routeApiRequest(world, apiRequest, initialRefundStatus).answer : undefined;
      }
      const endpoint = `${method} ${path}`;
      const fingerprint = canonicalForm(params);
      const verdict = idempotency.check(account, idempotencyKey, endpoint, fingerprint);
      if (verdict.kind !== 'first') {
        if (verdict.kind === 'replay') {
          record.replayed = true;
          headers['Idempotent-Replayed'] = 'true';
        }
        return (await heldBefore()) ? verdict.answer : undefined;
      }
      idempotency.begin(account, idempotencyKey);
      try {
        if (!(await heldBefore())) return undefined;
        const routed = routeApiRequest(world, apiRequest, initialRefundStatus);
        if (routed.storable) idempotency.store(account, idempotencyKey, endpoint, fingerprint, routed.answer);
        return routed.answer;
      } finally {
        idempotency.end(account, idempotencyKey);
      }
    };

    const answer = await answerRequest();
    if (answer === undefined) {
      response.socket?.destroy();
      return;
    }
    record.status = answer.status;
    if (delay && delay.stage !== 'before_processing') await hold(delay);
    if (closed) {
      response.socket?.destroy();
      return;
    }
    if (dropScript) {
      record.dropped = true;
      drop(response, answer, headers, dropScript);
      return;
    }
    respond(response, answer, headers);
  };

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        respond(response, stripeError(500, { type: 'api_error', message: `fake Stripe crashed: ${String(error)}` }), {});
      }
    });
  });
  // The SDK keeps connections alive; a long server timeout avoids the race where both ends close an idle socket at once.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const takeWebhooks = (delivery: WebhookDeliveryOptions = {}): SignedWebhook[] =>
    signEvents(world.takeQueuedEvents(), (rawBody) => signWebhookPayload(rawBody, now(), webhookSecret), delivery);

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** Spread into the SDK's config: `new Stripe('sk_test_…', { ...fake.sdkOptions, maxNetworkRetries: 0 })`. */
    sdkOptions: { host: '127.0.0.1', port, protocol: 'http' as const },
    webhookSecret,

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const release of [...heldRequests]) release();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },

    // ── the world ────────────────────────────────────────────────────────────
    /** A payment intent and its charge; a succeeded one queues `payment_intent.succeeded`. */
    createPaymentIntent: (input: NewPaymentIntent): StripePaymentIntentJson => world.createPaymentIntent(input),
    /**
     * A charge made with the Charges API, without a payment intent (`ch_…`,
     * `payment_intent: null`); queues `charge.succeeded`. Refund it with
     * `refunds.create({ charge })`: its refunds carry `payment_intent: null`.
     */
    createCharge: (input: NewCharge): StripeChargeJson => world.createCharge(input),
    /** processing → succeeded (a bank debit clears); queues `payment_intent.succeeded`. */
    succeedPaymentIntent: (paymentIntentId: string): StripePaymentIntentJson => world.succeedPaymentIntent(paymentIntentId),
    /**
     * A refund made outside the library (the dashboard): no metadata. Queues
     * `refund.created` and `charge.refunded`. Starts as Stripe's default for
     * the method (a card refund `succeeded`, see `cardRefundsSettle`) unless
     * `status` says otherwise. Throws Stripe's refusal.
     */
    createDashboardRefund(input: {
      /** A payment intent (`pi_…`) or, for a charge made without one, the charge (`ch_…`). */
      paymentIntent: string;
      amount?: number;
      account?: string | null;
      status?: RefundStatus;
      pendingReason?: RefundPendingReason;
    }): StripeRefundJson {
      const account = input.account !== undefined ? input.account : world.accountOf(input.paymentIntent);
      const outcome = world.createRefund({
        account,
        ...(input.paymentIntent.startsWith('pi_') ? { paymentIntent: input.paymentIntent } : { charge: input.paymentIntent }),
        ...(input.amount === undefined ? {} : { amount: input.amount }),
        ...(input.status === undefined ? {} : { status: input.status }),
        ...(input.pendingReason === undefined ? {} : { pendingReason: input.pendingReason }),
      });
      if (!outcome.ok) {
        const { error } = outcome.answer.body as { error: { code?: string; message: string } };
        throw new Error(`fake Stripe refused the dashboard refund (${error.code ?? outcome.answer.status}): ${error.message}`);
      }
      return outcome.refund;
    },
    /**
     * Stripe moves a refund on: queues `refund.updated`, `refund.failed` when it
     * fails, and `charge.refund.updated` (see `chargeRefundUpdated`), each with
     * `previous_attributes`. Nothing is queued when nothing changed.
     * `detail` is the failure reason (default `unknown`), or
     * `{ failureReason?, pendingReason? }`: a pending refund's `pending_reason`
     * (`processing` by default; `insufficient_funds`, `charge_pending`) can
     * change on its own, e.g. `setRefundStatus(id, 'pending', { pendingReason: 'insufficient_funds' })`.
     */
    setRefundStatus: (refundId: string, status: RefundStatus, detail?: string | RefundStatusDetail): StripeRefundJson =>
      world.setRefundStatus(refundId, status, detail),
    /** The charge is disputed (named by its payment intent or charge): every later refund of it answers 400 `charge_disputed`. */
    disputeCharge: (paymentId: string): void => world.disputeCharge(paymentId),
    /**
     * The status refunds created over the API start in. By default Stripe's:
     * `succeeded` for cards (see `cardRefundsSettle`), `pending` for bank
     * debits. With `count`, only the next `count` refunds; without, every
     * later one; `null` returns to Stripe's default.
     */
    setInitialRefundStatus(status: 'pending' | 'requires_action' | 'succeeded' | null, options: { count?: number } = {}) {
      if (status === null) {
        defaultInitialStatus = undefined;
        initialStatuses.splice(0, initialStatuses.length);
      } else if (options.count === undefined) defaultInitialStatus = status;
      else initialStatuses.push(...Array.from({ length: options.count }, () => status));
    },

    // ── scripted trouble ─────────────────────────────────────────────────────
    /** The next matching request(s) fail with this status before anything runs (no idempotency key kept). */
    failNext: (script: FailureScript): void => scripts.failures.add(script),
    /** The next matching request(s) are answered late (see `stage`). Needs `ms` or `until`. */
    delayNext(script: DelayScript): void {
      if (script.ms === undefined && script.until === undefined) throw new Error('fake Stripe: delayNext needs ms or until');
      scripts.delays.add(script);
    },
    /** The next matching request(s) run (the refund exists, the key is kept), then the connection breaks (see `when`). */
    acceptThenDropNext: (script: DropScript = {}): void => scripts.drops.add(script),
    /** Stripe forgets every idempotency key, as it does after 24 hours. */
    pruneIdempotencyKeys: (): void => idempotency.prune(),
    /** Forgets every scripted failure, delay and drop not used yet. */
    clearScripts: (): void => scripts.clear(),
    /** Fixes "now" (unix seconds) for `created` and webhook signatures; `null` returns to real time. */
    setClock(unixSeconds: number | null): void {
      fixedClock = unixSeconds === null ? null : Math.floor(unixSeconds);
    },
    now,

    // ── observation ──────────────────────────────────────────────────────────
    /** Refunds, oldest first; `{ account }` keeps one account's (null: the platform's). */
    refunds(filter: { account?: string | null; paymentIntent?: string; charge?: string } = {}): StripeRefundJson[] {
      return world
        .allRefunds()
        .filter((refund) => !('account' in filter) || filter.account === undefined || refund.account === filter.account)
        .filter((refund) => filter.paymentIntent === undefined || refund.paymentIntentId === filter.paymentIntent)
        .filter((refund) => filter.charge === undefined || refund.chargeId === filter.charge)
        .map((refund) => world.refundJson(refund));
    },
    /** Every request received, in order (copies). */
    get requests(): ReadonlyArray<RecordedRequest> {
      return requests.map((request) => structuredClone(request));
    },
    /**
     * Every event generated so far, oldest first, delivered or not, and older
     * than 30 days too (which the Events API no longer serves). `pending_webhooks`
     * is 1 until the event's webhook is reported delivered, then 0.
     */
    events: (): StripeEventJson[] => world.allEvents(),

    // ── webhooks ─────────────────────────────────────────────────────────────
    /**
     * Drains the webhook queue, signed: each event `copies` times, in `order`.
     * The events stay undelivered (`pending_webhooks: 1`, listed by
     * `GET /v1/events?delivery_success=false`) until `markWebhooksDelivered`
     * reports that the endpoint answered 2xx; `deliverWebhooks` reports it itself.
     */
    takeWebhooks,
    /**
     * Drains the queue without delivering anything: the endpoint was down, or
     * the deliveries were lost. The events stay undelivered, as Stripe's do
     * once its retries give up; the Events API still serves them for 30 days.
     */
    dropWebhooks: (): StripeEventJson[] => world.takeQueuedEvents().map((event) => structuredClone(event)),
    /**
     * The endpoint answered 2xx to these events (taken with `takeWebhooks`):
     * `pending_webhooks` becomes 0 and `delivery_success=true` lists them.
     * Ids the fake never generated (a test's own events) are skipped; returns how many were marked.
     */
    markWebhooksDelivered: (...eventIds: string[]): number => eventIds.filter((eventId) => world.markDelivered(eventId)).length,
    /**
     * Drains the queue and delivers each webhook in turn: POSTed to a URL with
     * `Stripe-Signature`, or handed to a callback; a 2xx (or a callback that
     * resolves to no status) marks the event delivered. With `requeueFailures`,
     * events whose delivery failed go back in the queue, as Stripe retries them.
     */
    async deliverWebhooks(
      target: WebhookTarget,
      delivery: WebhookDeliveryOptions & { requeueFailures?: boolean } = {},
    ): Promise<WebhookDeliveryResult[]> {
      const webhooks = takeWebhooks(delivery);
      const results = await deliverSignedWebhooks(target, webhooks);
      for (const result of results) if (result.ok) world.markDelivered(result.eventId);
      if (delivery.requeueFailures) {
        const delivered = new Set(results.filter((result) => result.ok).map((result) => result.eventId));
        const failed = new Map(webhooks.filter((webhook) => !delivered.has(webhook.event.id)).map((webhook) => [webhook.event.id, webhook.event]));
        world.requeueEvents([...failed.values()]);
      }
      return results;
    },
    /** A `Stripe-Signature` header for any payload (tests of verification: wrong secret, old timestamp, edited body). */
    sign: (rawBody: string, timestamp: number = now(), secret: string = webhookSecret): string =>
      signWebhookPayload(rawBody, timestamp, secret),
  };
};
