import type { ResultAsync } from 'neverthrow';
import { describe, expect, it } from 'vitest';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { createOperations } from '../src/operations/operations.js';
import type { EventStore } from '../src/ports/eventStore.js';
import type { RefundGateway } from '../src/ports/refundGateway.js';
import { fakeGateway, inMemoryEventStore, manualClock, recordingNotifier } from '../src/testing/index.js';

/*
 * Nothing silently stuck: with every webhook lost, `sweep` asks the processor
 * and settles each credit note once, oldest first, within its bounds and its
 * rate; the operations API shows and requeues what the dispatcher gave up on.
 * Time is a manual clock: the sweep's waits move it, so the rate is checked
 * by counting processor calls per second of that clock.
 */

const actor = { kind: 'user', id: 'user_anna' } as const;
const MINUTE = 60_000;

/** The fake processor with the instant of every call recorded on the lifecycle's clock. */
const world = (options: { sideEffectDeliveries?: number } = {}) => {
  const clock = manualClock('2026-03-02T09:00:00.000Z');
  const fake = fakeGateway();
  const calls: Array<{ at: number; operation: string }> = [];
  const recorded = <K extends 'createRefund' | 'retrieveRefund' | 'findRefunds' | 'describePayment'>(operation: K) =>
    (async (...args: unknown[]) => {
      calls.push({ at: clock.now().getTime(), operation });
      return (fake[operation] as (...a: unknown[]) => unknown)(...args);
    }) as RefundGateway[K];
  const gateway: RefundGateway = {
    processor: fake.processor,
    createRefund: recorded('createRefund'),
    retrieveRefund: recorded('retrieveRefund'),
    findRefunds: recorded('findRefunds'),
    describePayment: recorded('describePayment'),
  };
  const store = inMemoryEventStore();
  const notifier = recordingNotifier();
  const lifecycle = createRefundLifecycle({
    store,
    gateway,
    notifier,
    clock,
    sleep: clock.sleep,
    ...(options.sideEffectDeliveries === undefined ? {} : { retryPolicy: { maxSideEffectDeliveries: options.sideEffectDeliveries } }),
  });
  const issue = async (creditNoteId: string, extra: { chargeConfirmed?: boolean } = {}) => {
    const issued = await lifecycle.issueCreditNote({
      creditNoteId,
      amount: 2_500,
      currency: 'EUR',
      reason: 'Cancelled booking',
      payment: { paymentId: `pi_${creditNoteId}` },
      chargeConfirmed: extra.chargeConfirmed ?? true,
      actor,
    });
    if (issued.isErr()) throw issued.error;
    return issued.value;
  };
  const refundOf = (creditNoteId: string) => fake.refunds().find((refund) => refund.metadata.creditNoteId === creditNoteId)!;
  return { clock, fake, calls, store, notifier, lifecycle, issue, refundOf };
};

const unwrap = async <T, E>(result: ResultAsync<T, E>): Promise<T> => {
  const settled = await result;
  if (settled.isErr()) throw settled.error;
  return settled.value;
};

describe('sweep', () => {
  it('settles every credit note whose webhook was lost, once, and a second sweep changes nothing', async () => {
    const w = world();
    for (let i = 0; i < 12; i += 1) {
      await w.issue(`cn_${i}`);
      w.clock.advance(MINUTE);
    }
    // Stripe settled them all; every webhook was lost.
    for (let i = 0; i < 12; i += 1) w.fake.setRefundStatus(w.refundOf(`cn_${i}`).processorRefundId, i % 4 === 0 ? 'failed' : 'succeeded', i % 4 === 0 ? 'expired_or_canceled_card' : undefined);
    w.fake.takeNotices();
    w.clock.advance(30 * MINUTE);
    const refundsBefore = w.fake.refunds().length;

    const report = await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE }));
    expect(report).toMatchObject({ checked: 12, changed: 12, failed: 0 });
    const statuses = await Promise.all(Array.from({ length: 12 }, async (_, i) => (await unwrap(w.lifecycle.getCreditNote(`cn_${i}`))).status));
    expect(statuses).toEqual(Array.from({ length: 12 }, (_, i) => (i % 4 === 0 ? 'failed' : 'succeeded')));
    // One email per outcome: 9 completions to clients, 3 failures to the merchant; no refund created by asking.
    expect(w.notifier.delivered().filter((n) => n.kind === 'refund_completed')).toHaveLength(9);
    expect(w.notifier.delivered().filter((n) => n.kind === 'refund_failed')).toHaveLength(3);
    expect(w.fake.refunds()).toHaveLength(refundsBefore);

    w.clock.advance(30 * MINUTE);
    const again = await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE }));
    expect(again).toMatchObject({ checked: 0, changed: 0 });
    expect(w.notifier.delivered()).toHaveLength(12);
  });

  it('keeps to its rate: never more processor calls in a second of the clock than asked, and waits for the rest', async () => {
    const w = world();
    for (let i = 0; i < 30; i += 1) await w.issue(`cn_${i}`);
    w.clock.advance(20 * MINUTE);
    const started = w.clock.now().getTime();
    const from = w.calls.length;

    const report = await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE, ratePerSecond: 4 }));
    const sweepCalls = w.calls.slice(from);
    expect(report.processorCalls).toBe(sweepCalls.length);
    expect(sweepCalls).toHaveLength(30);
    const perSecond = new Map<number, number>();
    for (const call of sweepCalls) perSecond.set(Math.floor(call.at / 1000), (perSecond.get(Math.floor(call.at / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(4);
    // 30 calls at 4 a second take at least 7 seconds of the clock.
    expect(w.clock.now().getTime() - started).toBeGreaterThanOrEqual(7_000);
  });

  it('goes oldest first and stops at its limit; the newest wait for the next run', async () => {
    const w = world();
    for (let i = 0; i < 6; i += 1) {
      await w.issue(`cn_${i}`);
      w.clock.advance(MINUTE);
    }
    w.clock.advance(20 * MINUTE);
    const report = await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE, limit: 4 }));
    expect(report.creditNotes.map((swept) => swept.creditNoteId)).toEqual(['cn_0', 'cn_1', 'cn_2', 'cn_3']);
    expect(report.creditNotes.every((swept) => swept.action === 'refreshed' && swept.outcome === 'unchanged')).toBe(true);
  });

  it('takes turns across runs: credit notes that stay unchanged cannot keep the newer ones from being swept', async () => {
    const w = world();
    for (let i = 0; i < 4; i += 1) {
      await w.issue(`cn_${i}`);
      w.clock.advance(MINUTE);
    }
    for (const id of ['cn_2', 'cn_3']) w.fake.setRefundStatus(w.refundOf(id).processorRefundId, 'succeeded');
    w.fake.takeNotices();
    w.clock.advance(20 * MINUTE);

    const first = await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE, limit: 2 }));
    expect(first.creditNotes.map((swept) => [swept.creditNoteId, swept.outcome])).toEqual([['cn_0', 'unchanged'], ['cn_1', 'unchanged']]);
    const second = await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE, limit: 2 }));
    expect(second.creditNotes.map((swept) => [swept.creditNoteId, swept.outcome])).toEqual([['cn_2', 'changed'], ['cn_3', 'changed']]);
    // The end reached, the next run starts again from the oldest.
    const third = await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE, limit: 2 }));
    expect(third.creditNotes.map((swept) => swept.creditNoteId)).toEqual(['cn_0', 'cn_1']);
  });

  it('asks about the charge of a credit note waiting for its confirmation, and releases it when the processor confirms', async () => {
    const w = world();
    const waiting = await w.issue('cn_gate', { chargeConfirmed: false });
    expect(waiting.status).toBe('pending');
    w.clock.advance(20 * MINUTE);

    const notYet = await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE }));
    expect(notYet.creditNotes).toEqual([{ creditNoteId: 'cn_gate', status: 'pending', action: 'charge_checked', outcome: 'unchanged', note: 'charge_not_confirmed' }]);
    expect(w.fake.refunds()).toHaveLength(0);

    w.fake.setChargeConfirmed('pi_cn_gate', true);
    w.clock.advance(20 * MINUTE);
    const released = await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE }));
    expect(released.creditNotes[0]).toMatchObject({ action: 'charge_checked', outcome: 'changed' });
    expect((await unwrap(w.lifecycle.getCreditNote('cn_gate'))).status).toBe('requested');
    expect(w.fake.refunds()).toHaveLength(1);

    w.clock.advance(20 * MINUTE);
    await unwrap(w.lifecycle.sweep({ olderThanMs: 15 * MINUTE }));
    expect(w.fake.refunds()).toHaveLength(1);
  });

  it('needs no sweep when the confirmation webhook was lost before the credit note: the issue asks the processor', async () => {
    const w = world();
    w.fake.setChargeConfirmed('pi_cn_lost_webhook', true);
    const issued = await w.issue('cn_lost_webhook', { chargeConfirmed: false });
    expect(issued.status).toBe('requested');
    expect(w.calls.filter((call) => call.operation === 'describePayment')).toHaveLength(1);
    expect(w.fake.refunds()).toHaveLength(1);
  });

  it('refuses bad input with a typed error and writes nothing', async () => {
    const w = world();
    await w.issue('cn_1');
    const before = await w.store.readAll();
    for (const input of [{ olderThanMs: -1 }, { olderThanMs: 0, limit: 0 }, { olderThanMs: 0, ratePerSecond: 0 }, { olderThanMs: 0, extra: true }]) {
      const refused = await w.lifecycle.sweep(input as never);
      expect(refused._unsafeUnwrapErr()).toMatchObject({ code: 'validation_failed' });
    }
    expect(await w.store.readAll()).toEqual(before);
  });

  it('runs as a loop beside the dispatcher until stopped', async () => {
    const w = world();
    await w.issue('cn_1');
    w.fake.setRefundStatus(w.refundOf('cn_1').processorRefundId, 'succeeded');
    w.clock.advance(20 * MINUTE);
    const reports: number[] = [];
    const loop = w.lifecycle.startSweeping({ olderThanMs: 15 * MINUTE, intervalMs: 10, onReport: (report) => reports.push(report.changed) });
    await new Promise((resolve) => setTimeout(resolve, 60));
    await loop.stop();
    expect(reports[0]).toBe(1);
    expect(reports.slice(1).every((changed) => changed === 0)).toBe(true);
    expect((await unwrap(w.lifecycle.getCreditNote('cn_1'))).status).toBe('succeeded');
  });
});

describe('operations', () => {
  it('lists the side effects the dispatcher gave up on, requeues them, and they are performed once', async () => {
    const w = world({ sideEffectDeliveries: 1 });
    w.notifier.failNext(1, 'SMTP 421: try again later');
    await w.issue('cn_1');
    w.fake.setRefundStatus(w.refundOf('cn_1').processorRefundId, 'succeeded');
    await unwrap(w.lifecycle.refreshStatus('cn_1'));

    const parked = await unwrap(w.lifecycle.parkedSideEffects());
    expect(parked).toEqual([
      expect.objectContaining({ creditNoteId: 'cn_1', kind: 'notify', deliveries: 1, lastError: expect.stringContaining('SMTP 421') }),
    ]);
    expect((await unwrap(w.lifecycle.health())).outbox).toMatchObject({ parked: 1 });

    expect(await unwrap(w.lifecycle.requeueSideEffects({ all: true }))).toEqual({ requeued: 1 });
    expect(await unwrap(w.lifecycle.parkedSideEffects())).toEqual([]);
    await unwrap(w.lifecycle.dispatch());
    await unwrap(w.lifecycle.dispatch());
    expect(w.notifier.delivered().filter((n) => n.kind === 'refund_completed')).toHaveLength(1);
    expect((await unwrap(w.lifecycle.requeueSideEffects({ entryIds: [parked[0]!.entryId] })))).toEqual({ requeued: 0 });
  });

  it('shows credit notes by age, refunds in doubt and failures by reason, and a health summary', async () => {
    const w = world();
    await w.issue('cn_old');
    w.clock.advance(10 * MINUTE);
    w.fake.queue({ kind: 'transient', code: 'timeout' });
    await w.issue('cn_doubt');
    w.clock.advance(10 * MINUTE);
    for (const id of ['cn_f1', 'cn_f2', 'cn_f3']) {
      await w.issue(id);
      w.fake.setRefundStatus(w.refundOf(id).processorRefundId, 'failed', id === 'cn_f3' ? 'charge_disputed' : 'expired_or_canceled_card');
      await unwrap(w.lifecycle.refreshStatus(id));
    }
    w.clock.advance(5 * MINUTE);

    const aged = await unwrap(w.lifecycle.creditNotesByAge({ statuses: ['requested', 'pending'] }));
    expect(aged.map((row) => [row.creditNote.creditNoteId, row.creditNote.status, row.ageMs])).toEqual([
      ['cn_old', 'requested', 25 * MINUTE],
      ['cn_doubt', 'pending', 15 * MINUTE],
    ]);
    expect((await unwrap(w.lifecycle.refundsInDoubt())).map((row) => row.creditNote.creditNoteId)).toEqual(['cn_doubt']);
    expect(await unwrap(w.lifecycle.failuresByReason())).toEqual([
      { processorReason: 'expired_or_canceled_card', count: 2, retry: 'will_not_help', recovery: 'manual_refund', creditNoteIds: ['cn_f1', 'cn_f2'] },
      { processorReason: 'charge_disputed', count: 1, retry: 'will_not_help', recovery: 'resolve_dispute', creditNoteIds: ['cn_f3'] },
    ]);
    const health = await unwrap(w.lifecycle.health());
    expect(health).toMatchObject({ oldestRequestedAgeMs: 25 * MINUTE, oldestPendingAgeMs: 15 * MINUTE, oldestRequestAwaitingReviewAgeMs: null, lastReconcile: null });
    expect(health.outbox.parked).toBe(0);
  });

  it('refuses bad input with typed errors', async () => {
    const w = world();
    expect((await w.lifecycle.requeueSideEffects({ entryIds: [] }))._unsafeUnwrapErr()).toMatchObject({ code: 'validation_failed' });
    expect((await w.lifecycle.parkedSideEffects({ limit: 0 }))._unsafeUnwrapErr()).toMatchObject({ code: 'validation_failed' });
    for (const after of [
      'ob_1',
      { parkedAt: 'yesterday', entryId: 'ob_1' },
      { parkedAt: '2026-03-02T09:00:00.000Z', entryId: '' },
      { parkedAt: '2026-03-02T09:00:00.000Z' },
      { parkedAt: '2026-03-02T09:00:00.000Z', entryId: 'ob_1', deadAt: '2026-03-02T09:00:00.000Z' },
    ]) {
      expect((await w.lifecycle.parkedSideEffects({ after } as never))._unsafeUnwrapErr(), JSON.stringify(after)).toMatchObject({
        code: 'validation_failed',
      });
    }
    expect((await w.lifecycle.creditNotesByAge({ statuses: ['unissued' as never] }))._unsafeUnwrapErr()).toMatchObject({ code: 'validation_failed' });
  });
});

describe('operations over many parked side effects', () => {
  const T0 = Date.parse('2026-03-02T09:00:00.000Z');
  /** `count` side effects on one stream, buried by the dispatcher in pairs (two per instant, so ties on parkedAt). */
  const parkMany = async (store: EventStore, count: number) => {
    const ids = Array.from({ length: count }, (_, k) => `ob_${String(k).padStart(4, '0')}`);
    const appended = await store.append({
      streams: [],
      outbox: ids.map((id) => ({
        id,
        streamId: 'credit-note-cn_many',
        kind: 'notify' as const,
        idempotencyKey: `${id}:key`,
        payload: {},
        availableAt: new Date(T0).toISOString(),
      })),
    });
    expect(appended.isOk()).toBe(true);
    const claimed = await store.claimOutbox({ owner: 'w', now: new Date(T0), leaseMs: 60_000, limit: count });
    expect(claimed).toHaveLength(count);
    for (const [k, entry] of claimed.entries()) {
      const buried = await store.releaseOutbox(
        { entryId: entry.id, token: entry.claim.token },
        { availableAt: new Date(T0 + Math.floor(k / 2) * 1000), error: 'gave up', dead: true },
      );
      expect(buried.isOk()).toBe(true);
    }
    return ids;
  };
  const setup = async (count: number) => {
    const store = inMemoryEventStore();
    const clock = manualClock(new Date(T0 + 3_600_000));
    const ids = await parkMany(store, count);
    return { store, clock, ids, operations: createOperations({ store, clock }) };
  };

  it('pages with the { parkedAt, entryId } cursor, also when the last side effect shown was requeued meanwhile', async () => {
    const { operations, ids } = await setup(7);
    const walked: string[] = [];
    let page = (await operations.parkedSideEffects({ limit: 2 }))._unsafeUnwrap();
    for (let pages = 1; page.length > 0 && pages <= 10; pages += 1) {
      walked.push(...page.map((effect) => effect.entryId));
      const last = page[page.length - 1]!;
      // The operator requeues the last one shown, then asks for the next page after it.
      expect((await operations.requeueSideEffects({ entryIds: [last.entryId] }))._unsafeUnwrap()).toEqual({ requeued: 1 });
      page = (await operations.parkedSideEffects({ limit: 2, after: { parkedAt: last.parkedAt, entryId: last.entryId } }))._unsafeUnwrap();
    }
    expect(walked).toEqual(ids);
    // The last of each page of two (a tie on parkedAt: ob_0000 and ob_0001 share it) was requeued, the rest still wait.
    const left = (await operations.parkedSideEffects({}))._unsafeUnwrap();
    expect(left.map((effect) => effect.entryId)).toEqual(['ob_0000', 'ob_0002', 'ob_0004']);
    expect(left.map((effect) => effect.parkedAt)).toEqual([0, 1, 2].map((s) => new Date(T0 + s * 1000).toISOString()));
  });

  it('requeues every parked side effect with { all: true }, over several store pages', async () => {
    const { operations, store } = await setup(1_203);
    expect((await operations.requeueSideEffects({ all: true }))._unsafeUnwrap()).toEqual({ requeued: 1_203 });
    expect((await store.outboxCounts(new Date(T0 + 3_600_000))).parked).toBe(0);
    expect((await operations.parkedSideEffects({}))._unsafeUnwrap()).toEqual([]);
    expect((await operations.requeueSideEffects({ all: true }))._unsafeUnwrap()).toEqual({ requeued: 0 });
  });

  it('counts only what it requeued itself when another requeue takes a page first', async () => {
    const { operations, store, clock } = await setup(1_000);
    // A second operator requeues the first 500 (one store page) while this requeue walks.
    const requeue = store.requeueOutbox.bind(store);
    let raced = false;
    const racing: EventStore = {
      ...store,
      requeueOutbox: async (entryIds, now) => {
        if (!raced) {
          raced = true;
          expect(await requeue(entryIds, now)).toBe(500);
        }
        return requeue(entryIds, now);
      },
    };
    const racingOperations = createOperations({ store: racing, clock });
    expect((await racingOperations.requeueSideEffects({ all: true }))._unsafeUnwrap()).toEqual({ requeued: 500 });
    expect((await operations.parkedSideEffects({}))._unsafeUnwrap()).toEqual([]);
  });
});
