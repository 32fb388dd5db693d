import { describe, expect, it, vi } from 'vitest';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import { recordingNotifier } from '../src/testing/recordingNotifier.js';
import type { StoreError, UnexpectedError } from '../src/errors.js';

const actor = { kind: 'user', id: 'u1' } as const;

describe('startDispatching, the long-running worker loop', () => {
  it('performs what commands enqueued, and stops cleanly', async () => {
    const gateway = fakeGateway();
    const notifier = recordingNotifier();
    const refunds = createRefundLifecycle({ store: inMemoryEventStore(), gateway, notifier, dispatchInline: false });
    await refunds.issueCreditNote({
      creditNoteId: 'cn_worker',
      amount: 900,
      currency: 'EUR',
      payment: { paymentId: 'pi_worker' },
      reason: 'cancelled booking',
      chargeConfirmed: true,
      actor,
    });
    expect(gateway.refunds()).toHaveLength(0);

    const worker = refunds.startDispatching({ intervalMs: 5 });
    await vi.waitFor(() => expect(gateway.refunds()).toHaveLength(1));
    await worker.stop();
    expect((await refunds.getCreditNote('cn_worker'))._unsafeUnwrap().status).toBe('requested');

    // Once stopped, nothing runs any more: new work waits for the next worker.
    await refunds.issueCreditNote({
      creditNoteId: 'cn_after_stop',
      amount: 100,
      currency: 'EUR',
      payment: { paymentId: 'pi_worker' },
      reason: 'second credit note',
      actor,
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(gateway.refunds()).toHaveLength(1);
  });

  it('reports a failing store to onError and keeps going', async () => {
    const store = inMemoryEventStore();
    let failures = 2;
    const flaky = {
      ...store,
      claimOutbox: async (request: Parameters<typeof store.claimOutbox>[0]) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('connection reset');
        }
        return store.claimOutbox(request);
      },
    };
    const errors: Array<StoreError | UnexpectedError> = [];
    const refunds = createRefundLifecycle({ store: flaky, gateway: fakeGateway() });
    const worker = refunds.startDispatching({ intervalMs: 1, onError: (error) => errors.push(error) });
    await vi.waitFor(() => expect(failures).toBe(0));
    await worker.stop();
    expect(errors.map((error) => error.code)).toEqual(['store_unavailable', 'store_unavailable']);
    expect(errors[0]?.message).toContain('connection reset');
  });
});
