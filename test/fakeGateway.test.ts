import { describe, expect, it } from 'vitest';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import type { CreateRefundRequest } from '../src/ports/refundGateway.js';

const request = (overrides: Partial<CreateRefundRequest> = {}): CreateRefundRequest => ({
  idempotencyKey: 'cn_1:refund:1',
  payment: { processor: 'fake', paymentId: 'pi_1', account: null },
  amount: 1_000,
  currency: 'eur',
  metadata: { creditNoteId: 'cn_1', attempt: 1 },
  ...overrides,
});

describe('the fake processor', () => {
  it('honours idempotency keys as Stripe does', async () => {
    const gateway = fakeGateway();
    const first = (await gateway.createRefund(request()))._unsafeUnwrap();
    const again = (await gateway.createRefund(request()))._unsafeUnwrap();
    expect(again).toEqual(first);
    const reused = await gateway.createRefund(request({ amount: 999 }));
    expect(reused._unsafeUnwrapErr()).toMatchObject({ kind: 'definitive', processorCode: 'idempotency_error' });
    expect(gateway.refunds()).toHaveLength(1);
    expect(gateway.createCalls).toBe(3);
  });

  it('plays queued behaviours in order, then the default', async () => {
    const gateway = fakeGateway();
    gateway.queue(
      { kind: 'transient' },
      { kind: 'reject', code: 'charge_disputed' },
      { kind: 'fail', reason: 'insufficient_funds' },
      { kind: 'acceptThenTimeout' },
    );
    const transient = await gateway.createRefund(request({ idempotencyKey: 'k1' }));
    expect(transient._unsafeUnwrapErr()).toMatchObject({ kind: 'transient', processorCode: 'rate_limit' });
    const rejected = await gateway.createRefund(request({ idempotencyKey: 'k2' }));
    expect(rejected._unsafeUnwrapErr()).toMatchObject({
      kind: 'definitive',
      processorCode: 'charge_disputed',
      classification: { retry: 'will_not_help', recovery: 'resolve_dispute' },
    });
    const failed = (await gateway.createRefund(request({ idempotencyKey: 'k3' })))._unsafeUnwrap();
    expect(failed).toMatchObject({ status: 'failed', failure: { reason: 'insufficient_funds' } });
    const timedOut = await gateway.createRefund(request({ idempotencyKey: 'k4' }));
    expect(timedOut._unsafeUnwrapErr()).toMatchObject({ kind: 'transient', processorCode: 'timeout' });
    // The timed-out request did create the refund: asking again under its key finds it.
    const found = (await gateway.createRefund(request({ idempotencyKey: 'k4' })))._unsafeUnwrap();
    expect(found.status).toBe('pending');
    const accepted = (await gateway.createRefund(request({ idempotencyKey: 'k5' })))._unsafeUnwrap();
    expect(accepted.status).toBe('pending');
    expect(gateway.refunds().map((refund) => refund.status)).toEqual(['failed', 'pending', 'pending']);
  });

  it('refuses refunds beyond a captured charge', async () => {
    const gateway = fakeGateway();
    gateway.capture('pi_1', 1_500);
    expect((await gateway.createRefund(request())).isOk()).toBe(true);
    const tooMuch = await gateway.createRefund(request({ idempotencyKey: 'cn_2:refund:1', metadata: { creditNoteId: 'cn_2', attempt: 1 } }));
    expect(tooMuch._unsafeUnwrapErr().processorCode).toBe('amount_too_large');
  });

  it('reports status changes as notices, delivered as often and in the order asked', async () => {
    const gateway = fakeGateway();
    const refund = (await gateway.createRefund(request()))._unsafeUnwrap();
    gateway.setRefundStatus(refund.processorRefundId, 'succeeded');
    const notices = gateway.takeNotices({ copies: 2, order: 'reversed' });
    expect(notices.map((notice) => [notice.noticeId, notice.type, notice.refund.status])).toEqual([
      ['evt_fake_2', 'refund.updated', 'succeeded'],
      ['evt_fake_1', 'refund.created', 'pending'],
      ['evt_fake_2', 'refund.updated', 'succeeded'],
      ['evt_fake_1', 'refund.created', 'pending'],
    ]);
    expect(gateway.takeNotices()).toEqual([]);
    expect((await gateway.retrieveRefund({ payment: request().payment, processorRefundId: refund.processorRefundId }))._unsafeUnwrap().status).toBe(
      'succeeded',
    );
    expect((await gateway.findRefunds(request().payment))._unsafeUnwrap()).toHaveLength(1);
  });

  it('waits for its latency before every request takes effect', async () => {
    let release: () => void = () => {};
    const gateway = fakeGateway({ latency: () => new Promise<void>((resolve) => (release = resolve)) });
    const pending = gateway.createRefund(request());
    await new Promise((resolve) => setImmediate(resolve));
    expect(gateway.refunds()).toHaveLength(0);
    release();
    await pending;
    expect(gateway.refunds()).toHaveLength(1);
  });
});
