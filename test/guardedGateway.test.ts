import { describe, expect, it } from 'vitest';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import { GatewayError } from '../src/errors.js';

const actor = { kind: 'user', id: 'u1' } as const;

describe('a gateway that throws instead of returning its error', () => {
  it('is a transient GatewayError on refresh, not a store failure, and writes nothing', async () => {
    const store = inMemoryEventStore();
    const gateway = fakeGateway();
    let processorDown = false;
    const retrieveRefund = gateway.retrieveRefund;
    gateway.retrieveRefund = async (request) => {
      if (processorDown) throw new Error('ECONNRESET');
      return retrieveRefund(request);
    };
    const refunds = createRefundLifecycle({ store, gateway });
    await refunds.issueCreditNote({
      creditNoteId: 'cn_1',
      amount: 700,
      currency: 'EUR',
      payment: { paymentId: 'pi_1' },
      reason: 'refund',
      chargeConfirmed: true,
      actor,
    });
    processorDown = true;
    const before = await store.readAll();

    const refreshed = await refunds.refreshStatus('cn_1');

    expect(refreshed._unsafeUnwrapErr()).toBeInstanceOf(GatewayError);
    expect(refreshed._unsafeUnwrapErr()).toMatchObject({ code: 'gateway_error', kind: 'transient', processorCode: 'unexpected_error' });
    expect(await store.readAll()).toEqual(before);
  });

  it('leaves the attempt in doubt when creating the refund throws, to be retried under the same key', async () => {
    const gateway = fakeGateway();
    const createRefund = gateway.createRefund;
    let throws = 1;
    gateway.createRefund = async (request) => {
      if (throws-- > 0) throw new Error('socket hang up');
      return createRefund(request);
    };
    const refunds = createRefundLifecycle({ store: inMemoryEventStore(), gateway });
    const issued = await refunds.issueCreditNote({
      creditNoteId: 'cn_2',
      amount: 700,
      currency: 'EUR',
      payment: { paymentId: 'pi_2' },
      reason: 'refund',
      chargeConfirmed: true,
      actor,
    });
    expect(issued._unsafeUnwrap()).toMatchObject({
      status: 'pending',
      pendingReason: 'transient_error',
      transientError: { code: 'unexpected_error', message: 'socket hang up' },
      refund: { attempt: 1, status: 'in_doubt', idempotencyKey: 'cn_2:refund:1' },
    });
    const retried = await refunds.retryRefund('cn_2', { actor });
    expect(retried._unsafeUnwrap()).toMatchObject({ status: 'requested', refund: { attempt: 1, status: 'accepted' } });
    expect(gateway.refunds()).toHaveLength(1);
  });
});
