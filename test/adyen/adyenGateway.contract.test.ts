import { Client } from '@adyen/api-library';
import { adyenGateway } from '../../src/adapters/adyen/adyenGateway.js';
import { startFakeAdyenServer } from '../../src/testing/adyen/index.js';
import { describeRefundGatewayContract, type GatewayWorld } from '../contract/refundGatewayContract.js';

// The Adyen adapter through the real `@adyen/api-library` against the fake Adyen: one server per test, closed after
// it. Adyen cannot be asked about refunds (`pullsRefundStatus: false`): the contract skips the cases that need it.
describeRefundGatewayContract('adyenGateway', async (): Promise<GatewayWorld> => {
  // `acct_x` is one more merchant account of the company account: the contract's "connected account".
  const fake = await startFakeAdyenServer({ otherMerchantAccounts: ['acct_x'] });
  const client = new Client({ ...fake.clientConfig, connectionTimeoutMillis: 5_000 });
  return {
    gateway: adyenGateway({ client, merchantAccount: fake.merchantAccount }),
    async payment({ amount, currency = 'eur', account = null }) {
      // The fake holds card payments; Adyen's payment method does not change how a refund is asked.
      const payment = fake.createPayment({ amount, currency: currency.toUpperCase(), ...(account === null ? {} : { merchantAccount: account }) });
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
    // The merchant account named by the request that made the refund; null for the default one.
    refundAccount(processorRefundId) {
      const made = fake.refunds().find((refund) => refund.pspReference === processorRefundId);
      const payment = fake.payments().find((candidate) => candidate.pspReference === made?.paymentPspReference);
      if (payment === undefined) throw new Error(`the fake Adyen made no refund ${processorRefundId}`);
      return payment.merchantAccount === fake.merchantAccount ? null : payment.merchantAccount;
    },
    close: () => fake.close(),
  };
});
