import { fakeGateway } from '../src/testing/fakeGateway.js';
import { describeRefundGatewayContract, type GatewayWorld } from './contract/refundGatewayContract.js';

// The core's fake is what host test suites use in place of a processor: it must keep the same promises as Stripe.
describeRefundGatewayContract('fakeGateway', async (): Promise<GatewayWorld> => {
  const gateway = fakeGateway();
  let payments = 0;
  return {
    gateway,
    async payment({ amount, currency = 'eur', account = null, method = 'card' }) {
      payments += 1;
      const paymentId = `pi_fake_payment_${payments}`;
      gateway.capture(paymentId, amount, { currency, method });
      return { processor: gateway.processor, paymentId, account };
    },
    refuseNextCreate(kind) {
      gateway.queue(kind === 'transient' ? { kind: 'transient' } : { kind: 'reject', code: 'charge_disputed' });
    },
    // The fake keeps its idempotency keys for ever: no `forgetIdempotencyKeys`.
    close: async () => {},
  };
});
