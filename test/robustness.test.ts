import { err, ok } from 'neverthrow';
import { describe, expect, it } from 'vitest';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { GatewayError, StoreError, UnexpectedError } from '../src/errors.js';
import type { EventStore } from '../src/ports/eventStore.js';
import type { ProcessorRefund, RefundGateway } from '../src/ports/refundGateway.js';
import { fakeGateway, type FakeGateway } from '../src/testing/fakeGateway.js';
import { manualClock } from '../src/testing/manualClock.js';
import { recordingNotifier } from '../src/testing/recordingNotifier.js';

/* Each case here is a way the outside world misbehaves that once broke a promise of the library. */

const actor = { kind: 'user', id: 'freelancer' } as const;
const issue = (creditNoteId: string, extra: Record<string, unknown> = {}) => ({
  creditNoteId,
  amount: 4_000,
  currency: 'EUR',
  payment: { paymentId: `pi_${creditNoteId}` },
  reason: 'proposal amended',
  chargeConfirmed: true,
  actor,
  ...extra,
});

const setup = (options: { gateway?: RefundGateway & Partial<FakeGateway>; store?: EventStore; dispatchInline?: boolean } = {}) => {
  const fake = fakeGateway();
  const store = options.store ?? inMemoryEventStore();
  const notifier = recordingNotifier();
  const clock = manualClock();
  const refunds = createRefundLifecycle({
    store,
    gateway: options.gateway ?? fake,
    notifier,
    clock,
    dispatchInline: options.dispatchInline ?? true,
    retryPolicy: { maxAutomaticRefundRetries: 1, maxSideEffectDeliveries: 2, backoffBaseMs: 1_000, leaseMs: 60_000 },
  });
  return { fake, store, notifier, clock, refunds };
};

describe('observations that only claim to be about our refund', () => {
  const otherRefund = (overrides: Partial<ProcessorRefund>): ProcessorRefund => ({
    processorRefundId: 're_other',
    paymentId: 'pi_cn_1',
    amount: 4_000,
    currency: 'eur',
    status: 'succeeded',
    failure: null,
    metadata: { creditNoteId: 'cn_1', attempt: 1 },
    ...overrides,
  });

  it.each([
    ['another payment', { paymentId: 'pi_999' }],
    ['another amount', { amount: 1 }],
    ['another currency', { currency: 'usd' }],
  ])('do not settle a credit note when they refund %s', async (_, overrides) => {
    const { refunds, notifier, store } = setup({ dispatchInline: false });
    await refunds.issueCreditNote(issue('cn_1'));
    const before = await store.readAll();

    const observed = await refunds.observeRefund({ refund: otherRefund(overrides), source: 'webhook' });

    expect(observed._unsafeUnwrap()).toMatchObject({ changed: false, creditNote: { status: 'requested' } });
    expect(await store.readAll()).toEqual(before);
    expect(notifier.calls).toEqual([]);
  });

  it('do not settle a credit note with a refund other than the one the processor accepted', async () => {
    const { refunds, fake, notifier } = setup();
    await refunds.issueCreditNote(issue('cn_1'));
    const accepted = fake.refunds()[0]!;

    const observed = await refunds.observeRefund({
      refund: otherRefund({ processorRefundId: 're_forged', paymentId: accepted.paymentId }),
      source: 'webhook',
    });

    expect(observed._unsafeUnwrap()).toMatchObject({ changed: false, creditNote: { status: 'requested' } });
    await refunds.dispatch();
    expect(notifier.calls).toEqual([]);
  });
});

describe('a processor that answers nonsense', () => {
  it.each([
    ['an error without a code', async () => err(new GatewayError('transient', '', 'no code'))],
    ['a refund with an unknown status', async () => ok({ status: 'exploded' } as unknown as ProcessorRefund)],
  ])('answering %s leaves the attempt in doubt, never buried, and a later answer settles it', async (_, badAnswer) => {
    const fake = fakeGateway();
    let broken = 3;
    const gateway: RefundGateway = {
      processor: fake.processor,
      createRefund: async (request) => (broken-- > 0 ? badAnswer() : fake.createRefund(request)) as ReturnType<RefundGateway['createRefund']>,
      retrieveRefund: fake.retrieveRefund,
      findRefunds: fake.findRefunds,
      describePayment: fake.describePayment,
    };
    const { refunds, clock, store } = setup({ gateway });

    const issued = await refunds.issueCreditNote(issue('cn_1'));
    expect(issued._unsafeUnwrap()).toMatchObject({
      status: 'pending',
      transientError: { code: 'invalid_processor_answer' },
      refund: { status: 'in_doubt' },
    });
    // Automatic retries used up: a person retries, then again after another bad answer.
    for (let round = 0; round < 3; round += 1) {
      clock.advance(120_000);
      await refunds.dispatch();
      await refunds.retryRefund('cn_1', { actor });
    }
    expect((await refunds.getCreditNote('cn_1'))._unsafeUnwrap()).toMatchObject({ status: 'requested', refund: { status: 'accepted' } });
    expect(fake.refunds()).toHaveLength(1);
    expect((await store.listOutbox()).filter((entry) => entry.deadAt !== null)).toEqual([]);
  });
});

describe('one entry that cannot be performed', () => {
  it('does not hold up the rest of the outbox', async () => {
    const inner = inMemoryEventStore();
    const poisoned: EventStore = {
      ...inner,
      readStream: async (streamId) => {
        if (streamId === 'credit-note-cn_1' && poisonActive) throw new Error('row is corrupt');
        return inner.readStream(streamId);
      },
    };
    let poisonActive = false;
    const { refunds, fake } = setup({ store: poisoned, dispatchInline: false });
    for (const id of ['cn_1', 'cn_2', 'cn_3']) await refunds.issueCreditNote(issue(id));
    poisonActive = true;

    const report = (await refunds.dispatch())._unsafeUnwrap();

    expect(report).toMatchObject({ performed: 2, retried: 1 });
    expect(fake.refunds().map((refund) => refund.metadata.creditNoteId).sort()).toEqual(['cn_2', 'cn_3']);
  });

  it('is skipped once its lease ran out during a slow batch, left to whoever owns it now', async () => {
    const clock = manualClock();
    const fake = fakeGateway({ latency: async () => void clock.advance(61_000) });
    const store = inMemoryEventStore();
    const refunds = createRefundLifecycle({ store, gateway: fake, clock, dispatchInline: false, retryPolicy: { leaseMs: 60_000 } });
    for (const id of ['cn_1', 'cn_2']) await refunds.issueCreditNote(issue(id));

    const first = (await refunds.dispatch())._unsafeUnwrap();
    expect(first).toMatchObject({ performed: 1, lost: 1 });
    expect(fake.createCalls).toBe(1);

    const second = (await refunds.dispatch())._unsafeUnwrap();
    expect(second.performed).toBe(1);
    expect(fake.refunds()).toHaveLength(2);
  });
});

describe('payments of another processor', () => {
  it('are refused with a typed error naming the field, nothing written', async () => {
    const { refunds, store, fake } = setup();
    const issued = await refunds.issueCreditNote(issue('cn_1', { payment: { processor: 'paypal', paymentId: 'PAYID-1' } }));
    expect(issued._unsafeUnwrapErr()).toMatchObject({ code: 'validation_failed', field: 'payment.processor' });
    expect(await store.readAll()).toEqual([]);
    expect(fake.createCalls).toBe(0);
  });
});

describe('an attempt that never reached the processor', () => {
  it('is closed as failed by a refresh that finds nothing, which opens Retry and Mark refunded', async () => {
    const { refunds, fake, clock } = setup();
    fake.queue({ kind: 'transient' }, { kind: 'transient' });
    await refunds.issueCreditNote(issue('cn_1'));
    clock.advance(5_000);
    await refunds.dispatch();
    const stuck = (await refunds.getCreditNote('cn_1'))._unsafeUnwrap();
    expect(stuck).toMatchObject({ status: 'pending', transientError: { retryAt: null }, allowedActions: ['retry', 'refresh'] });

    const refreshed = (await refunds.refreshStatus('cn_1'))._unsafeUnwrap();

    expect(refreshed).toMatchObject({
      changed: true,
      processorRefund: null,
      creditNote: { status: 'failed', failure: { processorReason: 'not_found_at_processor' }, allowedActions: ['retry', 'mark_refunded'] },
    });
    const manual = await refunds.markRefunded('cn_1', { reason: 'paid by bank transfer', actor });
    expect(manual._unsafeUnwrap().status).toBe('manual');
    expect(fake.refunds()).toEqual([]);
  });

  it('is left alone while its automatic retries are still scheduled', async () => {
    const { refunds, fake } = setup();
    fake.queue({ kind: 'transient' });
    await refunds.issueCreditNote(issue('cn_1'));
    const refreshed = (await refunds.refreshStatus('cn_1'))._unsafeUnwrap();
    expect(refreshed).toMatchObject({ changed: false, creditNote: { status: 'pending', pendingReason: 'transient_error' } });
  });
});

describe("the processor's interim status (the banner reflects it)", () => {
  it('follows a refund that needs action and back, through refresh', async () => {
    const { refunds, fake } = setup();
    await refunds.issueCreditNote(issue('cn_1'));
    const refundId = fake.refunds()[0]!.processorRefundId;

    fake.setRefundStatus(refundId, 'action_required');
    const needsAction = (await refunds.refreshStatus('cn_1'))._unsafeUnwrap();
    expect(needsAction).toMatchObject({
      changed: true,
      processorRefund: { status: 'action_required' },
      creditNote: { status: 'requested', refund: { processorStatus: 'action_required' } },
    });
    expect((await refunds.refreshStatus('cn_1'))._unsafeUnwrap().changed).toBe(false);

    fake.setRefundStatus(refundId, 'pending');
    expect((await refunds.refreshStatus('cn_1'))._unsafeUnwrap().creditNote.refund?.processorStatus).toBe('pending');
  });
});

describe('dispatch options and confirmations', () => {
  it.each([[{ limit: 0 }], [{ limit: 'x' }], [{ limit: 1.5 }], [{ lmit: 3 }]])('dispatch(%j) is a validation error', async (options) => {
    const { refunds } = setup();
    const dispatched = await refunds.dispatch(options as never);
    expect(dispatched._unsafeUnwrapErr().code).toBe('validation_failed');
  });

  it('records who confirmed a charge when a person did', async () => {
    const { refunds, store } = setup();
    await refunds.confirmCharge({ paymentId: 'pi_1', actor, source: 'dashboard' });
    const [confirmation] = await store.readAll();
    expect(confirmation).toMatchObject({ type: 'ChargeConfirmed', actor, source: 'dashboard' });
  });
});

describe('credit note ids', () => {
  it('are capped at 200 characters so every idempotency key fits a processor’s 255', async () => {
    const { refunds, store } = setup();
    const longest = 'c'.repeat(200);
    expect((await refunds.issueCreditNote(issue(longest))).isOk()).toBe(true);
    const keys = (await store.listOutbox()).map((entry) => entry.idempotencyKey);
    expect(Math.max(...keys.map((key) => key.length))).toBeLessThanOrEqual(255);

    const tooLong = await refunds.issueCreditNote(issue('c'.repeat(201)));
    expect(tooLong._unsafeUnwrapErr()).toMatchObject({ code: 'validation_failed', field: 'creditNoteId' });
  });
});

describe('a refund Stripe reverses after its success', () => {
  it('is news again when the retry succeeds: one completion notice per attempt, never two for one', async () => {
    const { refunds, fake, notifier } = setup();
    await refunds.issueCreditNote(issue('cn_1'));
    const first = fake.refunds()[0]!.processorRefundId;
    fake.setRefundStatus(first, 'succeeded');
    fake.setRefundStatus(first, 'failed', 'expired_or_canceled_card');
    for (const notice of fake.takeNotices({ copies: 2 })) {
      await refunds.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId });
    }
    expect((await refunds.getCreditNote('cn_1'))._unsafeUnwrap().status).toBe('failed');

    await refunds.retryRefund('cn_1', { actor });
    fake.setRefundStatus(fake.refunds()[1]!.processorRefundId, 'succeeded');
    for (const notice of fake.takeNotices({ copies: 2 })) {
      await refunds.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId });
    }

    expect(notifier.delivered().map((n) => n.idempotencyKey)).toEqual([
      'cn_1:notify:refund_completed:1',
      'cn_1:notify:refund_failed:1',
      'cn_1:notify:refund_completed:2',
    ]);
  });
});

describe('what a failure is called', () => {
  it('is a StoreError only when the store itself failed', async () => {
    const store = inMemoryEventStore();
    const down: EventStore = {
      ...store,
      readStream: async () => {
        throw new Error('connection refused');
      },
    };
    const { refunds } = setup({ store: down });

    const error = (await refunds.getCreditNote('cn_1'))._unsafeUnwrapErr();

    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toContain('connection refused');
  });

  it('is an UnexpectedError, never a store outage, when anything else throws (a bug), and nothing is written', async () => {
    const store = inMemoryEventStore();
    const refunds = createRefundLifecycle({
      store,
      gateway: fakeGateway(),
      generateId: () => {
        throw new TypeError("Cannot read properties of null (reading 'id')");
      },
    });

    const error = (await refunds.issueCreditNote(issue('cn_1')))._unsafeUnwrapErr();

    expect(error).toBeInstanceOf(UnexpectedError);
    expect(error.code).toBe('unexpected_error');
    expect(error).not.toBeInstanceOf(StoreError);
    expect(await store.readAll()).toEqual([]);
  });
});
