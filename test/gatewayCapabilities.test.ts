import { describe, expect, it } from 'vitest';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { fakeGateway, inMemoryEventStore, manualClock } from '../src/testing/index.js';

/*
 * A processor that cannot be asked about a refund (Adyen) declares it, and
 * the lifecycle stops pretending: Refresh answers a typed refusal with advice
 * and writes nothing, the Credit Notes page does not offer it, the sweep
 * skips it, and an issue does not try to list the payment's refunds.
 */

const actor = { kind: 'user', id: 'user_anna' } as const;

const world = () => {
  const clock = manualClock('2026-03-02T09:00:00.000Z');
  const gateway = fakeGateway({ pullsRefundStatus: false, processor: 'adyen' });
  const store = inMemoryEventStore();
  const lifecycle = createRefundLifecycle({ store, gateway, clock, sleep: clock.sleep });
  return { clock, gateway, store, lifecycle };
};

describe('a processor that cannot be asked', () => {
  it('answers Refresh with refresh_unavailable and its advice, writes nothing, and is not offered Refresh', async () => {
    const { lifecycle, store } = world();
    const issued = (
      await lifecycle.issueCreditNote({ creditNoteId: 'cn_1', amount: 2_000, currency: 'EUR', reason: 'Returned', payment: { paymentId: 'PSP0001' }, chargeConfirmed: true, actor })
    )._unsafeUnwrap();
    expect(issued.status).toBe('requested');
    expect(issued.allowedActions).not.toContain('refresh');

    const before = await store.readAll();
    const refused = (await lifecycle.refreshStatus('cn_1'))._unsafeUnwrapErr();
    expect(refused).toMatchObject({ code: 'refresh_unavailable', processor: 'adyen', advice: expect.stringContaining('notification') });
    expect(await store.readAll()).toEqual(before);
    expect((await lifecycle.listCreditNotes())._unsafeUnwrap()[0]!.allowedActions).not.toContain('refresh');
  });

  it('is skipped by the sweep, and settles when its notification arrives', async () => {
    const { lifecycle, gateway, clock } = world();
    await lifecycle.issueCreditNote({ creditNoteId: 'cn_1', amount: 2_000, currency: 'EUR', reason: 'Returned', payment: { paymentId: 'PSP0001' }, chargeConfirmed: true, actor });
    clock.advance(30 * 60_000);
    const swept = (await lifecycle.sweep({ olderThanMs: 15 * 60_000 }))._unsafeUnwrap();
    expect(swept).toMatchObject({ processorCalls: 0, creditNotes: [{ creditNoteId: 'cn_1', outcome: 'skipped', note: 'processor_cannot_be_asked' }] });
    // Nor is it asked about a charge: Adyen confirms charges by notification only.
    await lifecycle.issueCreditNote({ creditNoteId: 'cn_2', amount: 2_000, currency: 'EUR', reason: 'Returned', payment: { paymentId: 'PSP0002' }, chargeConfirmed: false, actor });
    clock.advance(30 * 60_000);
    const gated = (await lifecycle.sweep({ olderThanMs: 15 * 60_000 }))._unsafeUnwrap();
    expect(gated.processorCalls).toBe(0);
    expect(gated.creditNotes.find((swept) => swept.creditNoteId === 'cn_2')).toMatchObject({ outcome: 'skipped', note: 'processor_cannot_be_asked' });

    const [refund] = gateway.refunds();
    gateway.setRefundStatus(refund!.processorRefundId, 'succeeded');
    for (const notice of gateway.takeNotices()) {
      (await lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId }))._unsafeUnwrap();
    }
    expect((await lifecycle.getCreditNote('cn_1'))._unsafeUnwrap().status).toBe('succeeded');
  });
});
