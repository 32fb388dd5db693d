import { Client } from '@adyen/api-library';
import { adyenGateway } from '../../src/adapters/adyen/adyenGateway.js';
import { startFakeAdyenServer } from '../../src/testing/adyen/index.js';
import { describeRefundGatewayContract, type GatewayWorld } from '../contract/refundGatewayContract.js';

// The Adyen adapter through the real `@adyen/api-library` against the fake Adyen: one server per test, closed after
// it. Adyen cannot be asked about refunds (`pullsRefundStatus: false`): the contract skips the cases that need it.
describeRefundGatewayContract('adyenGateway', async (): Promise<GatewayWorld> => {
  const fake = await startFakeAdyenServer();
  const client = new Client({ ...fake.clientConfig, connectionTimeoutMillis: 5_000 });
  return {
    gateway: adyenGateway({ client, merchantAccount: fake.merchantAccount }),
    async payment({ amount, currency = 'eur', account = null }) {
      // The fake holds card payments; Adyen's payment method does not change how a refund is asked.
      const payment = fake.createPayment({ amount, currency: currency.toUpperCase() });
      return { processor: 'adyen', paymentId: payment.pspReference, account };
    },
    refuseNextCreate(kind) {
      if (kind === 'transient') fake.failNext({ status: 503 });
      // Adyen reports most disputes later (a REFUND refused with "Disputed Transaction"); a request it refuses at
      // once says the same in its message.
      else fake.failNext({ status: 422, errorCode: '000', message: 'Disputed Transaction' });
    },
    // Adyen forgets keys after at least 31 days; finding the attempt again would need a listing Adyen does not have.
    forgetIdempotencyKeys: () => fake.forgetIdempotencyKeys(),
    close: () => fake.close(),
  };
});
