/*
 * A small host on `node:http` (no framework) that mounts the Stripe webhook on
 * the raw body and exposes the credit note routes a merchant's page needs.
 *
 *   npx tsx examples/stripe-host.ts
 *
 * Run directly, it starts the fake Stripe server, wires the Stripe gateway and
 * webhooks to an in-memory store, and walks through one refund over HTTP: issue,
 * Stripe settles it, the webhooks arrive twice and out of order, the credit note
 * is read back. `test/stripe/hostExample.test.ts` exercises the same host.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResultAsync } from 'neverthrow';
import Stripe from 'stripe';
import {
  createRefundLifecycle,
  RefundableBalanceExceededError,
  RefundWindowClosedError,
  TransitionConflictError,
  ValidationError,
  type Actor,
  type IssueCreditNoteInput,
  type ListCreditNotesInput,
  type MarkRefundedInput,
  type RefundLifecycle,
  type RefundLifecycleError,
} from '../src/index.js';
import { stripeGateway, stripeWebhooks, WebhookRejectedError, type StripeWebhooks } from '../src/adapters/stripe/index.js';
import { startFakeStripeServer } from '../src/testing/stripe/index.js';
import { inMemoryEventStore, recordingNotifier } from '../src/testing/index.js';

export type HostOptions = {
  lifecycle: RefundLifecycle;
  webhooks: StripeWebhooks;
  /** Default 0: any free port. The host listens on 127.0.0.1 only. */
  port?: number;
};

export type Host = { url: string; close(): Promise<void> };

type Reply = { status: number; body: unknown };

/** Bodies larger than this are refused before they are read to the end. */
const maxBodyBytes = 1024 * 1024;

class BodyTooLargeError extends Error {}

/** The request body exactly as it arrived: the webhook's signature is computed over these bytes. */
const readRawBody = async (request: http.IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
};

/** A JSON body for the merchant's routes; `{ ok: false }` when it is not JSON (answered 400). */
const readJson = async (request: http.IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false }> => {
  const raw = await readRawBody(request);
  if (raw.length === 0) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
};

const field = (body: unknown, name: string): unknown =>
  typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)[name] : undefined;

/**
 * Who clicked. A real host takes the user from its session; this example reads
 * an `X-User-Id` header so the walkthrough and the test can name one.
 */
const actorOf = (request: http.IncomingMessage): Actor => {
  const header = request.headers['x-user-id'];
  const id = (Array.isArray(header) ? header[0] : header)?.trim();
  return { kind: 'user', id: id || 'merchant' };
};

/** A typed error as an HTTP answer: the code is stable, the extra fields are what the page needs to show. */
export const errorReply = (error: RefundLifecycleError): Reply => {
  const base = { error: error.code, message: error.message };
  if (error instanceof WebhookRejectedError) return { status: 400, body: { ...base, reason: error.reason } };
  if (error instanceof ValidationError) return { status: 422, body: { ...base, issues: error.issues } };
  // A refused retry answers 409 with the current status, so the page shows the right banner (docs/glossary.md#retry).
  if (error instanceof TransitionConflictError) return { status: 409, body: { error: error.code, status: error.status, detail: error.detail } };
  if (error instanceof RefundableBalanceExceededError) {
    return { status: 422, body: { ...base, availableAmount: error.availableAmount, chargedAmount: error.chargedAmount } };
  }
  if (error instanceof RefundWindowClosedError) {
    return { status: 422, body: { ...base, recovery: error.recovery, method: error.method, refundableUntil: error.refundableUntil } };
  }
  switch (error.code) {
    case 'credit_note_not_found':
      return { status: 404, body: base };
    case 'credit_note_exists':
    case 'concurrency_conflict':
      return { status: 409, body: base };
    case 'gateway_error':
      return { status: 502, body: base };
    default:
      // store_unavailable, invalid_event: our side broke; for a webhook this asks Stripe to deliver again later.
      return { status: 500, body: base };
  }
};

const answer = async <T>(result: ResultAsync<T, RefundLifecycleError>, status = 200): Promise<Reply> => {
  const settled = await result;
  return settled.isOk() ? { status, body: settled.value } : errorReply(settled.error);
};

const send = (response: http.ServerResponse, { status, body }: Reply) => {
  const payload = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(payload) });
  response.end(payload);
};

const notFound: Reply = { status: 404, body: { error: 'route_not_found' } };
const invalidJson: Reply = { status: 400, body: { error: 'invalid_json', message: 'The request body is not JSON' } };

const creditNoteRoute = /^\/credit-notes\/([^/]+)(?:\/(refresh|retry|mark-refunded))?$/;

/** Mounts the routes; every handler answers from the library's typed results, nothing is thrown on purpose. */
const route = async (
  { lifecycle, webhooks }: Pick<HostOptions, 'lifecycle' | 'webhooks'>,
  request: http.IncomingMessage,
): Promise<Reply> => {
  const url = new URL(request.url ?? '/', 'http://host.invalid');
  const method = request.method ?? 'GET';

  if (url.pathname === '/stripe/webhook') {
    if (method !== 'POST') return { status: 405, body: { error: 'method_not_allowed' } };
    // The raw bytes, never parsed: a body parsed and serialised again no longer matches its signature.
    const rawBody = await readRawBody(request);
    const handled = await webhooks.handleWebhook({ rawBody, signature: request.headers['stripe-signature'] });
    // Ok covers applied, already known (a redelivery) and not ours: all are acknowledged so Stripe stops retrying.
    if (handled.isOk()) return { status: 200, body: { received: true, outcome: handled.value } };
    // A delivery that must not be trusted is refused for good; anything else asks Stripe to deliver it again later.
    if (handled.error instanceof WebhookRejectedError) return errorReply(handled.error);
    return { status: 500, body: { error: handled.error.code, message: handled.error.message } };
  }

  if (url.pathname === '/credit-notes') {
    if (method === 'GET') {
      // Query strings are untyped: the library validates the filter and names a wrong field (422).
      const limit = url.searchParams.get('limit');
      return answer(
        lifecycle
          .listCreditNotes({
            ...(url.searchParams.has('status') ? { status: url.searchParams.get('status') as ListCreditNotesInput['status'] } : {}),
            ...(url.searchParams.has('paymentId') ? { paymentId: url.searchParams.get('paymentId') ?? '' } : {}),
            ...(url.searchParams.has('after') ? { after: url.searchParams.get('after') ?? '' } : {}),
            ...(limit === null ? {} : { limit: Number(limit) }),
          })
          .map((creditNotes) => ({ creditNotes })),
      );
    }
    if (method !== 'POST') return { status: 405, body: { error: 'method_not_allowed' } };
    const body = await readJson(request);
    if (!body.ok) return invalidJson;
    // The actor comes from the session, never from the body. The library validates the rest (422 naming each field).
    const input = typeof body.value === 'object' && body.value !== null ? { ...body.value, actor: actorOf(request) } : body.value;
    return answer(lifecycle.issueCreditNote(input as IssueCreditNoteInput), 201);
  }

  const match = creditNoteRoute.exec(url.pathname);
  if (match === null) return notFound;
  let creditNoteId: string;
  try {
    creditNoteId = decodeURIComponent(match[1] ?? '');
  } catch {
    return notFound;
  }
  const action = match[2];
  const actor = actorOf(request);

  if (action === undefined) {
    return method === 'GET' ? answer(lifecycle.getCreditNote(creditNoteId)) : { status: 405, body: { error: 'method_not_allowed' } };
  }
  if (method !== 'POST') return { status: 405, body: { error: 'method_not_allowed' } };
  switch (action) {
    case 'refresh':
      // The "Refresh status" button (docs/glossary.md#refresh-status): the same transition logic as the webhook.
      return answer(lifecycle.refreshStatus(creditNoteId, { actor }));
    case 'retry':
      return answer(lifecycle.retryRefund(creditNoteId, { actor }));
    case 'mark-refunded': {
      const body = await readJson(request);
      if (!body.ok) return invalidJson;
      return answer(
        lifecycle.markRefunded(creditNoteId, {
          reason: field(body.value, 'reason') as MarkRefundedInput['reason'],
          reference: field(body.value, 'reference') as MarkRefundedInput['reference'],
          method: field(body.value, 'method') as MarkRefundedInput['method'],
          actor,
        }),
      );
    }
    default:
      return notFound;
  }
};

/** Starts the host on 127.0.0.1. `close()` stops listening and ends kept-alive connections. */
export const createHost = async ({ lifecycle, webhooks, port = 0 }: HostOptions): Promise<Host> => {
  const server = http.createServer((request, response) => {
    route({ lifecycle, webhooks }, request).then(
      (reply) => send(response, reply),
      (error: unknown) => {
        if (response.headersSent) return;
        if (error instanceof BodyTooLargeError) {
          send(response, { status: 413, body: { error: 'body_too_large' } });
          request.resume();
          return;
        }
        send(response, { status: 500, body: { error: 'internal_error', message: error instanceof Error ? error.message : String(error) } });
      },
    );
  });
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
  const { port: boundPort } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${boundPort}`,
    close: () =>
      new Promise<void>((resolveClose, rejectClose) => {
        server.close((error) => (error ? rejectClose(error) : resolveClose()));
        server.closeAllConnections();
      }),
  };
};

// ── the walkthrough ─────────────────────────────────────────────────────────

const walkthrough = async (): Promise<boolean> => {
  // Stripe's test mode settles card refunds at creation; live ones may stay pending for days. The walkthrough shows
  // that case: the refund is accepted pending, and Stripe's webhooks settle it.
  const fake = await startFakeStripeServer({ cardRefundsSettle: 'later' });
  const stripe = new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });
  const notifier = recordingNotifier();
  const lifecycle = createRefundLifecycle({ store: inMemoryEventStore(), gateway: stripeGateway({ stripe }), notifier });
  const webhooks = stripeWebhooks({ lifecycle, stripe, webhookSecret: fake.webhookSecret });
  const host = await createHost({ lifecycle, webhooks });
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(host.url + path, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-User-Id': 'merchant_ada' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };

  try {
    console.log(`Fake Stripe on ${fake.url}, host on ${host.url}`);
    const payment = fake.createPaymentIntent({ amount: 12_000, currency: 'eur', account: 'acct_studio' });
    console.log(`▸ The client paid ${payment.id} (120.00 EUR) on the connected account acct_studio`);

    const issued = await call('POST', '/credit-notes', {
      creditNoteId: 'cn_workshop',
      amount: 12_000,
      currency: 'EUR',
      payment: { paymentId: payment.id, account: 'acct_studio' },
      reason: 'Workshop cancelled',
      chargeConfirmed: true,
    });
    console.log(`▸ POST /credit-notes → ${issued.status}, status ${issued.body.status}, refund ${issued.body.refund?.processorRefundId}`);

    const refund = fake.refunds({ account: 'acct_studio' })[0];
    if (refund === undefined) throw new Error('Stripe received no refund');
    fake.setRefundStatus(refund.id, 'succeeded');
    console.log(`⇢ Stripe settles ${refund.id}; its webhooks arrive twice, newest first`);

    const deliveries = await fake.deliverWebhooks(`${host.url}/stripe/webhook`, { copies: 2, order: 'reversed' });
    for (const delivery of deliveries) console.log(`  POST /stripe/webhook ${delivery.type} ${delivery.eventId} → ${delivery.status}`);

    const retried = await call('POST', '/credit-notes/cn_workshop/retry');
    console.log(`▸ POST /credit-notes/cn_workshop/retry → ${retried.status} ${JSON.stringify(retried.body)}`);

    const final = await call('GET', '/credit-notes/cn_workshop');
    console.log(`▸ GET /credit-notes/cn_workshop → ${final.status}, status ${final.body.status}, settled at ${final.body.settledAt}`);

    const emails = notifier.delivered().map((notification) => notification.kind);
    console.log(`Refunds at Stripe: ${fake.refunds().length}; emails sent: ${emails.join(', ') || 'none'}`);
    return (
      final.body.status === 'succeeded' &&
      deliveries.every((delivery) => delivery.ok) &&
      retried.status === 409 &&
      fake.refunds().length === 1 &&
      emails.length === 1
    );
  } finally {
    await host.close();
    await fake.close();
  }
};

const runAsScript = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;

if (runAsScript) {
  walkthrough().then(
    (passed) => {
      if (!passed) {
        console.error('The walkthrough did not end as expected.');
        process.exitCode = 1;
      }
    },
    (error: unknown) => {
      console.error('The walkthrough stopped on an unexpected error:', error);
      process.exitCode = 1;
    },
  );
}
