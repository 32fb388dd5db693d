import Stripe from 'stripe';
import { stripeGateway } from '../../src/adapters/stripe/stripeGateway.js';
import { startFakeStripeServer } from '../../src/testing/stripe/fakeStripeServer.js';
import type { PaymentMethodType } from '../../src/testing/stripe/fakeStripeServer.js';
import { describeRefundGatewayContract, type GatewayWorld } from '../contract/refundGatewayContract.js';

// The Stripe adapter through the real SDK against the fake Stripe server: one server per test, closed after it.
describeRefundGatewayContract('stripeGateway', async (): Promise<GatewayWorld> => {
  const fake = await startFakeStripeServer();
  const stripe = new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });
  return {
    gateway: stripeGateway({ stripe }),
    async payment({ amount, currency = 'eur', account = null, method = 'card' }) {
      const intent = fake.createPaymentIntent({ amount, currency, account, method: method as PaymentMethodType });
      return { processor: 'stripe', paymentId: intent.id, account };
    },
    refuseNextCreate(kind) {
      // Only the create (POST) is refused: the gateway's look-up of existing refunds (GET) goes through.
      if (kind === 'transient') fake.failNext({ path: '/v1/refunds', method: 'POST', status: 429 });
      else fake.failNext({ path: '/v1/refunds', method: 'POST', status: 400, code: 'charge_disputed', message: 'The charge is disputed.' });
    },
    forgetIdempotencyKeys: () => fake.pruneIdempotencyKeys(),
    close: () => fake.close(),
  };
});
