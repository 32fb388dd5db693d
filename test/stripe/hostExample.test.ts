import { readFileSync } from 'node:fs';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { createHost } from '../../examples/stripe-host.js';
import { stripeFailureReasons, stripeGateway, stripeWebhooks } from '../../src/adapters/stripe/index.js';
import { startFakeStripeServer } from '../../src/testing/stripe/index.js';
import { createRefundLifecycle, type EventStore } from '../../src/index.js';
import { inMemoryEventStore, recordingNotifier } from '../../src/testing/index.js';

/*
 * The host example over real HTTP on 127.0.0.1: the fake Stripe server talks to
 * the real SDK, and its signed webhooks are POSTed to the host's raw-body route.
 */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The in-memory store, with a switch that makes every read fail like a database that went away. */
const storeWithOutages = () => {
  const inner = inMemoryEventStore();
  const outage = { on: false };
  const store: EventStore = {
    ...inner,
    readStream: (...args) => (outage.on ? Promise.reject(new Error('database unreachable')) : inner.readStream(...args)),
  };
  return { store, outage };
};

const startHostWithFakeStripe = async () => {
  // The walkthrough settles the card refund by webhook, so it starts pending (Stripe's default settles card refunds at creation).
  const fake = await startFakeStripeServer({ cardRefundsSettle: 'later' });
  cleanups.push(() => fake.close());
  const stripe = new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });
  const { store, outage } = storeWithOutages();
  const notifier = recordingNotifier();
  const lifecycle = createRefundLifecycle({ store, gateway: stripeGateway({ stripe }), notifier });
  const webhooks = stripeWebhooks({ lifecycle, stripe, webhookSecret: fake.webhookSecret });
  const host = await createHost({ lifecycle, webhooks });
  cleanups.push(() => host.close());

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(host.url + path, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-User-Id': 'merchant_ada' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const postWebhook = (rawBody: string, signature: string | null) =>
    fetch(`${host.url}/stripe/webhook`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(signature === null ? {} : { 'Stripe-Signature': signature }) },
      body: rawBody,
    }).then(async (response) => ({ status: response.status, body: (await response.json()) as any }));

  /** A paid card charge on a connected account and a credit note for part of it, refund requested at Stripe. */
  const issueOnConnectedAccount = async (creditNoteId = 'cn_workshop', amount = 4_000) => {
    const payment = fake.createPaymentIntent({ amount: 10_000, currency: 'eur', account: 'acct_studio' });
    const issued = await call('POST', '/credit-notes', {
      creditNoteId,
      amount,
      currency: 'EUR',
      payment: { paymentId: payment.id, account: 'acct_studio' },
      reason: 'Workshop cancelled',
      chargeConfirmed: true,
    });
    return { payment, issued };
  };

  const storedEvents = () => store.readAll({ after: 0, limit: 10_000 });

  return { fake, host, notifier, outage, call, postWebhook, issueOnConnectedAccount, storedEvents };
};

describe('the Stripe host example', () => {
  it('settles a refund from webhooks delivered twice and out of order, and tells the client once', async () => {
    const { fake, host, notifier, call, issueOnConnectedAccount } = await startHostWithFakeStripe();
    const { issued } = await issueOnConnectedAccount();
    expect(issued.status).toBe(201);
    expect(issued.body).toMatchObject({ creditNoteId: 'cn_workshop', status: 'requested', amount: 4_000 });
    const [refund] = fake.refunds({ account: 'acct_studio' });
    expect(refund?.metadata).toMatchObject({ creditNoteId: 'cn_workshop', attempt: '1' });

    fake.setRefundStatus(refund!.id, 'succeeded');
    const deliveries = await fake.deliverWebhooks(`${host.url}/stripe/webhook`, { copies: 2, order: 'reversed' });

    expect(deliveries.length).toBeGreaterThanOrEqual(4);
    expect(deliveries.map((delivery) => delivery.status)).toEqual(deliveries.map(() => 200));
    expect(deliveries.map((delivery) => delivery.type)).toContain('refund.updated');
    const creditNote = await call('GET', '/credit-notes/cn_workshop');
    expect(creditNote.status).toBe(200);
    expect(creditNote.body).toMatchObject({ status: 'succeeded', refund: { processorRefundId: refund!.id } });
    expect(notifier.delivered().map((notification) => notification.kind)).toEqual(['refund_completed']);
    expect(fake.refunds()).toHaveLength(1);

    const succeeded = await call('GET', '/credit-notes?status=succeeded');
    expect(succeeded.body.creditNotes.map((view: { creditNoteId: string }) => view.creditNoteId)).toEqual(['cn_workshop']);
  });

  it('answers each webhook with what it did: applied the first time, unchanged when redelivered', async () => {
    const { fake, postWebhook, issueOnConnectedAccount } = await startHostWithFakeStripe();
    await issueOnConnectedAccount();
    fake.setRefundStatus(fake.refunds()[0]!.id, 'succeeded');
    const refundUpdated = fake.takeWebhooks().find((webhook) => webhook.event.type === 'refund.updated')!;

    const first = await postWebhook(refundUpdated.rawBody, refundUpdated.signature);
    const again = await postWebhook(refundUpdated.rawBody, refundUpdated.signature);

    expect(first).toEqual({
      status: 200,
      body: {
        received: true,
        outcome: { eventId: refundUpdated.event.id, eventType: 'refund.updated', outcome: 'applied', reason: null, creditNoteIds: ['cn_workshop'] },
      },
    });
    expect(again.status).toBe(200);
    expect(again.body.outcome.outcome).toBe('unchanged');
  });

  it('refuses a tampered body, a re-serialised (parsed) body and a missing signature with 400 and the reason, writing nothing', async () => {
    const { fake, call, postWebhook, issueOnConnectedAccount, storedEvents } = await startHostWithFakeStripe();
    await issueOnConnectedAccount();
    fake.setRefundStatus(fake.refunds()[0]!.id, 'succeeded');
    const refundUpdated = fake.takeWebhooks().find((webhook) => webhook.event.type === 'refund.updated')!;
    const before = await storedEvents();

    const tampered = await postWebhook(refundUpdated.rawBody.replace('"amount": 4000', '"amount": 9000'), refundUpdated.signature);
    // What a host sends on when a JSON body parser ran first: the same event, serialised again.
    const reserialised = await postWebhook(JSON.stringify(JSON.parse(refundUpdated.rawBody)), refundUpdated.signature);
    const unsigned = await postWebhook(refundUpdated.rawBody, null);

    expect(refundUpdated.rawBody).toContain('"amount": 4000');
    expect(tampered).toMatchObject({ status: 400, body: { error: 'webhook_rejected', reason: 'signature_invalid' } });
    expect(reserialised).toMatchObject({ status: 400, body: { error: 'webhook_rejected', reason: 'signature_invalid' } });
    expect(unsigned).toMatchObject({ status: 400, body: { error: 'webhook_rejected', reason: 'signature_missing' } });
    expect(await storedEvents()).toEqual(before);
    expect((await call('GET', '/credit-notes/cn_workshop')).body.status).toBe('requested');
  });

  it('answers 500 while the store is down, so Stripe delivers the event again, and applies it once it is back', async () => {
    const { fake, outage, call, postWebhook, issueOnConnectedAccount } = await startHostWithFakeStripe();
    await issueOnConnectedAccount();
    fake.setRefundStatus(fake.refunds()[0]!.id, 'succeeded');
    const refundUpdated = fake.takeWebhooks().find((webhook) => webhook.event.type === 'refund.updated')!;

    outage.on = true;
    const duringOutage = await postWebhook(refundUpdated.rawBody, refundUpdated.signature);
    outage.on = false;
    const redelivered = await postWebhook(refundUpdated.rawBody, refundUpdated.signature);

    expect(duringOutage).toMatchObject({ status: 500, body: { error: 'store_unavailable' } });
    expect(redelivered).toMatchObject({ status: 200, body: { outcome: { outcome: 'applied' } } });
    expect((await call('GET', '/credit-notes/cn_workshop')).body.status).toBe('succeeded');
  });

  it('refuses a retry of a requested credit note with 409 and its status', async () => {
    const { fake, call, issueOnConnectedAccount } = await startHostWithFakeStripe();
    await issueOnConnectedAccount();

    const retried = await call('POST', '/credit-notes/cn_workshop/retry');

    expect(retried).toMatchObject({ status: 409, body: { error: 'transition_not_allowed', status: 'requested' } });
    expect(fake.refunds()).toHaveLength(1);
  });

  it('retries a failed refund with a new attempt', async () => {
    const { fake, host, call, issueOnConnectedAccount } = await startHostWithFakeStripe();
    await issueOnConnectedAccount();
    fake.setRefundStatus(fake.refunds()[0]!.id, 'failed', 'insufficient_funds');
    await fake.deliverWebhooks(`${host.url}/stripe/webhook`);
    const failed = await call('GET', '/credit-notes/cn_workshop');
    expect(failed.body).toMatchObject({
      status: 'failed',
      failure: { processorReason: 'insufficient_funds' },
      allowedActions: expect.arrayContaining(['retry', 'mark_refunded']),
    });

    const retried = await call('POST', '/credit-notes/cn_workshop/retry');

    expect(retried).toMatchObject({ status: 200, body: { status: 'requested', attempt: 2 } });
    expect(fake.refunds().map((refund) => refund.metadata.attempt)).toEqual(['1', '2']);
  });

  it('refuses mark-refunded without a reason with 422 naming the field', async () => {
    const { fake, host, call, issueOnConnectedAccount } = await startHostWithFakeStripe();
    await issueOnConnectedAccount();
    fake.setRefundStatus(fake.refunds()[0]!.id, 'failed', 'lost_or_stolen_card');
    await fake.deliverWebhooks(`${host.url}/stripe/webhook`);

    const withoutReason = await call('POST', '/credit-notes/cn_workshop/mark-refunded', { reference: 'SEPA-0042' });
    expect(withoutReason.status).toBe(422);
    expect(withoutReason.body.error).toBe('validation_failed');
    expect(withoutReason.body.issues.map((issue: { path: string }) => issue.path)).toEqual(['reason']);

    const marked = await call('POST', '/credit-notes/cn_workshop/mark-refunded', {
      reason: 'Refunded by bank transfer',
      reference: 'SEPA-0042',
      method: 'bank_transfer',
    });
    expect(marked).toMatchObject({
      status: 200,
      body: { status: 'manual', manual: { reason: 'Refunded by bank transfer', reference: 'SEPA-0042', method: 'bank_transfer' } },
    });
  });

  it('refreshes a credit note whose webhook was lost', async () => {
    const { fake, call, issueOnConnectedAccount } = await startHostWithFakeStripe();
    await issueOnConnectedAccount();
    fake.setRefundStatus(fake.refunds()[0]!.id, 'succeeded');
    fake.takeWebhooks(); // lost on the way

    const refreshed = await call('POST', '/credit-notes/cn_workshop/refresh');
    const clickedAgain = await call('POST', '/credit-notes/cn_workshop/refresh');

    expect(refreshed).toMatchObject({
      status: 200,
      body: { changed: true, creditNote: { status: 'succeeded' }, processorRefund: { status: 'succeeded' } },
    });
    expect(clickedAgain).toMatchObject({ status: 200, body: { changed: false, creditNote: { status: 'succeeded' } } });
  });

  it('answers 404 for an unknown credit note, and 422 for a bad filter or when the refundable balance is exceeded', async () => {
    const { fake, call, issueOnConnectedAccount } = await startHostWithFakeStripe();
    const { payment } = await issueOnConnectedAccount('cn_first', 7_000);

    const unknown = await call('GET', '/credit-notes/cn_nowhere');
    const unknownRetry = await call('POST', '/credit-notes/cn_nowhere/retry');
    const tooMuch = await call('POST', '/credit-notes', {
      creditNoteId: 'cn_second',
      amount: 4_000,
      currency: 'EUR',
      payment: { paymentId: payment.id, account: 'acct_studio' },
      reason: 'Second session cancelled',
      chargeConfirmed: true,
    });

    const badFilter = await call('GET', '/credit-notes?status=refunded');
    expect(badFilter.status).toBe(422);
    expect(badFilter.body.issues.map((issue: { path: string }) => issue.path)).toEqual(['status']);
    expect(unknown).toMatchObject({ status: 404, body: { error: 'credit_note_not_found' } });
    expect(unknownRetry).toMatchObject({ status: 404, body: { error: 'credit_note_not_found' } });
    expect(tooMuch).toMatchObject({ status: 422, body: { error: 'refundable_balance_exceeded', availableAmount: 3_000 } });
    expect(fake.refunds()).toHaveLength(1);
  });
});

describe('the README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  it('lists every Stripe failure reason with the retry and recovery the adapter classifies it with', () => {
    const rows = new Map(
      readme
        .split('\n')
        .map((line) => /^\| `([a-z_]+)` \| `([a-z_]+)` \| `([a-z_]+)` \|/.exec(line))
        .filter((row) => row !== null)
        .map(([, reason, retry, recovery]) => [reason, { retry, recovery }]),
    );
    const reasons = Object.keys(stripeFailureReasons);
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) {
      const { retry, recovery } = stripeFailureReasons[reason as keyof typeof stripeFailureReasons];
      expect(rows.get(reason), `README row for ${reason}`).toEqual({ retry, recovery });
    }
  });

  it('points to the host example', () => {
    expect(readme).toContain('examples/stripe-host.ts');
  });
});
