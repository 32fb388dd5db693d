import Stripe from 'stripe';
import { expect, it } from 'vitest';
import { createRefundLifecycle } from '../../src/index.js';
import { stripeGateway, stripeWebhooks } from '../../src/adapters/stripe/index.js';
import { startFakeStripeServer } from '../../src/testing/stripe/index.js';
import { inMemoryEventStore, recordingNotifier } from '../../src/testing/index.js';

// The README's "fake Stripe server for host test suites" example, as written there.
it('refunds once at Stripe and tells the client once, whatever the webhooks do', async () => {
  const fake = await startFakeStripeServer();
  const stripe = new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });
  const notifier = recordingNotifier();
  const refunds = createRefundLifecycle({ store: inMemoryEventStore(), gateway: stripeGateway({ stripe }), notifier });
  const stripeEvents = stripeWebhooks({ lifecycle: refunds, stripe, webhookSecret: fake.webhookSecret });
  const payment = fake.createPaymentIntent({ amount: 5_000, currency: 'eur', account: 'acct_merchant' });

  await refunds.issueCreditNote({
    creditNoteId: 'cn_1', amount: 5_000, currency: 'EUR', payment: { paymentId: payment.id, account: 'acct_merchant' },
    reason: 'cancelled', chargeConfirmed: true, actor: { kind: 'user', id: 'u1' },
  });
  // Test-mode card refunds succeed at creation, as at Stripe; `setRefundStatus` moves a refund on when needed.
  // Or POST them to your own route: fake.deliverWebhooks(`${hostUrl}/stripe/webhook`, …).
  const deliveries = await fake.deliverWebhooks(
    async (webhook) => ((await stripeEvents.handleWebhook(webhook)).isOk() ? 200 : 400),
    { copies: 2, order: 'reversed' },
  );

  expect(deliveries.every((delivery) => delivery.ok)).toBe(true);
  expect((await refunds.getCreditNote('cn_1'))._unsafeUnwrap().status).toBe('succeeded');
  expect(notifier.delivered().map((notification) => notification.kind)).toEqual(['refund_completed']);
  expect(fake.refunds()).toHaveLength(1);
  await fake.close();
});
