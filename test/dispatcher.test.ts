import { beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../src/errors.js';
import type { EventStore, OutboxEntry } from '../src/ports/eventStore.js';
import type { Notifier } from '../src/ports/notifier.js';
import { actor, buildFixture, errValue, issueInput, okValue, type Fixture } from './support/fixtures.js';

/*
 * The outbox dispatcher with inline dispatch turned off, so each test decides
 * when side effects run and how much time passes: backoff, leases, crashes
 * after the side effect, dead letters, obsolete entries.
 */

const policy = {
  backoffBaseMs: 1_000,
  backoffMaxMs: 30_000,
  maxAutomaticRefundRetries: 3,
  maxSideEffectDeliveries: 3,
  leaseMs: 60_000,
};

class SimulatedCrash extends Error {}

/**
 * A store whose next `append` or `completeOutbox` dies before writing: the process crashed after its side
 * effect. A dead process cannot hand its claim back either, so the release that follows fails too.
 */
const crashableStore = (store: EventStore) => {
  const armed = new Set<'append' | 'completeOutbox' | 'releaseOutbox'>();
  const crash = (method: 'append' | 'completeOutbox', message: string) => {
    if (!armed.delete(method)) return;
    armed.add('releaseOutbox');
    throw new SimulatedCrash(message);
  };
  const wrapped: EventStore = {
    ...store,
    append: async (request) => {
      crash('append', 'crashed before recording the processor’s answer');
      return store.append(request);
    },
    completeOutbox: async (claim, now) => {
      crash('completeOutbox', 'crashed before completing the entry');
      return store.completeOutbox(claim, now);
    },
    releaseOutbox: async (claim, release) => {
      if (armed.delete('releaseOutbox')) throw new SimulatedCrash('the process is gone');
      return store.releaseOutbox(claim, release);
    },
  };
  return { store: wrapped, crashOnNext: (method: 'append' | 'completeOutbox') => void armed.add(method) };
};

let fx: Fixture;
let crashable: ReturnType<typeof crashableStore>;
beforeEach(() => {
  fx = buildFixture({
    dispatchInline: false,
    retryPolicy: policy,
    wrapStore: (store) => (crashable = crashableStore(store)).store,
  });
});

const dispatch = async (lifecycle = fx.lifecycle) => okValue(await lifecycle.dispatch());
const view = async () => okValue(await fx.lifecycle.getCreditNote('cn_1'));
const at = (offsetMs: number) => new Date(fx.clock.now().getTime() + offsetMs).toISOString();
const createKeys = () =>
  fx.gatewayCalls.flatMap((call) => (call.method === 'createRefund' ? [call.request.idempotencyKey] : []));
const outboxOf = async (kind: OutboxEntry['kind']) =>
  (await fx.store.listOutbox()).filter((entry) => entry.kind === kind);

/** A requested credit note whose refund the processor accepted (dispatched), then settled as succeeded by webhook. */
const settledBySucceededWebhook = async () => {
  await fx.lifecycle.issueCreditNote(issueInput());
  await dispatch();
  fx.gateway.setRefundStatus('re_fake_1', 'succeeded');
  await fx.deliver(fx.gateway.takeNotices());
  expect((await view()).status).toBe('succeeded');
};

describe('transient processor errors', () => {
  it('leave the credit note pending with retryAt = now + backoff, and the same key is used on every try', async () => {
    fx.gateway.queue({ kind: 'transient' }, { kind: 'transient' }, { kind: 'transient' });
    const issued = okValue(await fx.lifecycle.issueCreditNote(issueInput()));
    expect(issued).toMatchObject({ status: 'requested', refund: { status: 'requested' } });
    expect(fx.gateway.createCalls).toBe(0); // nothing runs until the dispatcher does

    expect(await dispatch()).toMatchObject({ performed: 1 });
    expect(await view()).toMatchObject({
      status: 'pending',
      pendingReason: 'transient_error',
      transientError: { code: 'rate_limit', retryAt: at(1_000) },
      refund: { attempt: 1, status: 'in_doubt', consecutiveFailures: 1 },
    });

    // Not claimable before retryAt.
    fx.clock.advance(999);
    expect(await dispatch()).toMatchObject({ performed: 0 });
    expect(fx.gateway.createCalls).toBe(1);

    fx.clock.advance(1);
    await dispatch();
    expect(fx.gateway.createCalls).toBe(2);
    // The backoff doubles.
    expect((await view()).transientError?.retryAt).toBe(at(2_000));

    fx.clock.advance(2_000);
    await dispatch();
    expect((await view()).transientError?.retryAt).toBe(at(4_000));

    fx.clock.advance(4_000);
    await dispatch();
    expect(await view()).toMatchObject({
      status: 'requested',
      refund: { attempt: 1, status: 'accepted', processorRefundId: 're_fake_1' },
    });
    expect(createKeys()).toEqual(['cn_1:refund:1', 'cn_1:refund:1', 'cn_1:refund:1', 'cn_1:refund:1']);
    expect(fx.gateway.refunds()).toHaveLength(1);
  });

  it('stop after maxAutomaticRefundRetries: pending with retryAt null until a person retries, same key again', async () => {
    fx.gateway.queue(...Array.from({ length: 4 }, () => ({ kind: 'transient' as const })));
    await fx.lifecycle.issueCreditNote(issueInput());
    await dispatch(); // try 1
    for (const backoff of [1_000, 2_000, 4_000]) {
      fx.clock.advance(backoff);
      await dispatch(); // tries 2, 3 and 4
    }
    expect(fx.gateway.createCalls).toBe(4);
    expect(await view()).toMatchObject({
      status: 'pending',
      transientError: { retryAt: null },
      refund: { attempt: 1, status: 'in_doubt', consecutiveFailures: 4 },
      allowedActions: ['retry', 'refresh'],
    });

    // Nothing more happens by itself, however long we wait.
    fx.clock.advance(24 * 3_600_000);
    expect(await dispatch()).toMatchObject({ performed: 0, retried: 0 });
    expect(fx.gateway.createCalls).toBe(4);

    expect(okValue(await fx.lifecycle.retryRefund('cn_1', { actor }))).toMatchObject({
      status: 'requested',
      attempt: 1,
    });
    await dispatch();
    expect(await view()).toMatchObject({ status: 'requested', refund: { attempt: 1, status: 'accepted' } });
    expect(new Set(createKeys())).toEqual(new Set(['cn_1:refund:1']));
    expect(fx.gateway.refunds()).toHaveLength(1);
  });
});

describe('a dispatcher that crashes after its side effect', () => {
  it('create_refund: the lease expires, a second dispatcher repeats the call under the same key, ONE refund exists', async () => {
    await fx.lifecycle.issueCreditNote(issueInput());
    crashable.crashOnNext('append');

    const crashed = errValue(await fx.lifecycle.dispatch());
    expect(crashed).toBeInstanceOf(StoreError);
    expect(fx.gateway.refunds()).toHaveLength(1);
    expect((await view()).refund?.status).toBe('requested'); // the answer was never recorded

    const second = fx.lifecycleWith();
    // The dead dispatcher's lease still holds the entry.
    expect(await dispatch(second)).toMatchObject({ performed: 0 });
    expect(fx.gateway.createCalls).toBe(1);

    fx.clock.advance(policy.leaseMs);
    expect(await dispatch(second)).toMatchObject({ performed: 1 });

    expect(fx.gateway.createCalls).toBe(2);
    expect(createKeys()).toEqual(['cn_1:refund:1', 'cn_1:refund:1']);
    expect(fx.gateway.refunds()).toHaveLength(1);
    expect(await view()).toMatchObject({
      status: 'requested',
      refund: { processorRefundId: 're_fake_1', status: 'accepted' },
    });
    const [entry] = await outboxOf('create_refund');
    expect(entry).toMatchObject({ deliveries: 2, claim: null });
    expect(entry?.completedAt).not.toBeNull();
  });

  it('notify: sent, then the crash; after the lease a second dispatcher sends under the same key, ONE delivered', async () => {
    await settledBySucceededWebhook();
    crashable.crashOnNext('completeOutbox');

    errValue(await fx.lifecycle.dispatch());
    expect(fx.notifier.delivered()).toHaveLength(1);

    const second = fx.lifecycleWith();
    fx.clock.advance(policy.leaseMs);
    await dispatch(second);

    const completedKey = 'cn_1:notify:refund_completed:1';
    expect(fx.notifier.calls.map((call) => call.idempotencyKey)).toEqual([completedKey, completedKey]);
    expect(fx.notifier.delivered()).toMatchObject([{ idempotencyKey: completedKey, kind: 'refund_completed' }]);
    // The hook, left claimed behind the crash, ran once after the lease too.
    expect(fx.hookCalls.map((call) => call.idempotencyKey)).toEqual(['cn_1:hook:refundSucceeded:1']);
    expect((await fx.store.listOutbox()).every((entry) => entry.completedAt !== null)).toBe(true);
  });

  it('notify: a notifier that sends then throws is tried again later under the same key, ONE delivered', async () => {
    let throwAfterSending = 1;
    const flaky: Notifier = {
      send: async (notification) => {
        await fx.notifier.send(notification);
        if (throwAfterSending-- > 0) throw new Error('connection reset after the provider accepted it');
      },
    };
    const host = fx.lifecycleWith({ notifier: flaky });
    await settledBySucceededWebhook();

    expect(await dispatch(host)).toMatchObject({ retried: 1 });
    fx.clock.advance(policy.backoffBaseMs);
    expect(await dispatch(host)).toMatchObject({ performed: 1 });

    expect(fx.notifier.calls).toHaveLength(2);
    expect(new Set(fx.notifier.calls.map((call) => call.idempotencyKey)).size).toBe(1);
    expect(fx.notifier.delivered()).toHaveLength(1);
  });
});

describe('a notifier that keeps failing', () => {
  it('is retried with backoff, then the entry is set aside as dead after maxSideEffectDeliveries', async () => {
    await fx.lifecycle.issueCreditNote(issueInput({ payment: null }));
    await fx.lifecycle.markRefunded('cn_1', { reason: 'SEPA transfer', actor });
    fx.notifier.failNext(100, 'smtp down');

    // The hook succeeds; the email goes back with a backoff.
    expect(await dispatch()).toEqual({ performed: 1, obsolete: 0, retried: 1, dead: 0, lost: 0 });
    const [afterFirst] = await outboxOf('notify');
    expect(afterFirst).toMatchObject({
      deliveries: 1,
      availableAt: at(1_000),
      lastError: 'smtp down',
      deadAt: null,
      completedAt: null,
    });

    expect(await dispatch()).toMatchObject({ retried: 0 }); // not due yet
    fx.clock.advance(1_000);
    expect(await dispatch()).toMatchObject({ retried: 1 });
    expect((await outboxOf('notify'))[0]).toMatchObject({ deliveries: 2, availableAt: at(2_000) });

    fx.clock.advance(2_000);
    expect(await dispatch()).toMatchObject({ dead: 1 });
    const [dead] = await outboxOf('notify');
    expect(dead?.deadAt).not.toBeNull();
    expect(dead).toMatchObject({ deliveries: 3, completedAt: null, lastError: 'smtp down' });

    // A dead entry is never claimed again.
    fx.clock.advance(24 * 3_600_000);
    expect(await dispatch()).toEqual({ performed: 0, obsolete: 0, retried: 0, dead: 0, lost: 0 });
    expect(fx.notifier.calls).toHaveLength(3);
    expect(fx.notifier.delivered()).toEqual([]);
  });
});

describe('hooks', () => {
  it('run once, with their idempotency key and the settled credit note, however often dispatch runs', async () => {
    await settledBySucceededWebhook();
    await dispatch();
    fx.clock.advance(policy.leaseMs * 10);
    await dispatch();

    expect(fx.hookCalls).toHaveLength(1);
    expect(fx.hookCalls[0]).toMatchObject({
      hook: 'refundSucceeded',
      idempotencyKey: 'cn_1:hook:refundSucceeded:1',
      decided: { status: 'succeeded', attempt: 1, processorRefundId: 're_fake_1', failure: null },
      creditNote: { creditNoteId: 'cn_1', status: 'succeeded' },
    });
  });

  it('a hook that throws is called again later with the same key', async () => {
    const keys: string[] = [];
    let failures = 1;
    const host = fx.lifecycleWith({
      hooks: {
        refundSucceeded: ({ idempotencyKey }) => {
          keys.push(idempotencyKey);
          if (failures-- > 0) throw new Error('proposal service down');
        },
      },
    });
    await settledBySucceededWebhook();

    expect(await dispatch(host)).toMatchObject({ retried: 1 });
    fx.clock.advance(policy.backoffBaseMs);
    await dispatch(host);

    expect(keys).toEqual(['cn_1:hook:refundSucceeded:1', 'cn_1:hook:refundSucceeded:1']);
    expect((await outboxOf('run_hook')).every((entry) => entry.completedAt !== null)).toBe(true);
  });
});

describe('obsolete create_refund entries are completed without calling the processor', () => {
  /** Attempt 1 timed out after the processor created it: pending, in doubt, an automatic retry scheduled. */
  const inDoubtWithScheduledRetry = async () => {
    fx.gateway.queue({ kind: 'acceptThenTimeout' });
    await fx.lifecycle.issueCreditNote(issueInput());
    await dispatch();
    expect(await view()).toMatchObject({
      status: 'pending',
      refund: { status: 'in_doubt' },
      transientError: { retryAt: at(1_000) },
    });
    const scheduled = (await outboxOf('create_refund')).filter((entry) => entry.completedAt === null);
    expect(scheduled).toHaveLength(1);
  };

  it('the credit note was marked refunded manually (after the processor failed the attempt) before the retry was due', async () => {
    await inDoubtWithScheduledRetry();
    fx.gateway.setRefundStatus('re_fake_1', 'failed', 'expired_or_canceled_card');
    await fx.deliver(fx.gateway.takeNotices());
    expect((await view()).status).toBe('failed');
    okValue(await fx.lifecycle.markRefunded('cn_1', { reason: 'Paid back in cash', method: 'cash', actor }));
    const createCalls = fx.gateway.createCalls;

    fx.clock.advance(1_000);
    const report = await dispatch();

    expect(report.obsolete).toBe(1);
    expect(fx.gateway.createCalls).toBe(createCalls);
    expect((await outboxOf('create_refund')).every((entry) => entry.completedAt !== null)).toBe(true);
    expect((await view()).status).toBe('manual');
  });

  it('a refresh found the in-doubt refund accepted before the retry was due', async () => {
    await inDoubtWithScheduledRetry();
    expect(okValue(await fx.lifecycle.refreshStatus('cn_1')).creditNote.status).toBe('requested');
    const createCalls = fx.gateway.createCalls;

    fx.clock.advance(1_000);
    expect(await dispatch()).toMatchObject({ obsolete: 1, performed: 0 });
    expect(fx.gateway.createCalls).toBe(createCalls);
    expect(fx.gateway.refunds()).toHaveLength(1);
  });

  it('a manual refund is refused while the create_refund entry is still waiting (the refund is in flight)', async () => {
    await fx.lifecycle.issueCreditNote(issueInput());
    expect(errValue(await fx.lifecycle.markRefunded('cn_1', { reason: 'SEPA transfer', actor }))).toMatchObject({
      code: 'transition_not_allowed',
      status: 'requested',
    });
    await dispatch();
    expect(fx.gateway.refunds()).toHaveLength(1);
  });
});

describe('several dispatchers at once', () => {
  it('share the due entries through leases: one refund, one email', async () => {
    await fx.lifecycle.issueCreditNote(issueInput());
    const [a, b, c] = [fx.lifecycleWith(), fx.lifecycleWith(), fx.lifecycleWith()];

    await Promise.all([a.dispatch(), b.dispatch(), c.dispatch()]);
    expect(fx.gateway.createCalls).toBe(1);

    fx.gateway.setRefundStatus('re_fake_1', 'succeeded');
    await fx.deliver(fx.gateway.takeNotices());
    await Promise.all([a.dispatch(), b.dispatch(), c.dispatch()]);
    expect(fx.notifier.calls).toHaveLength(1);
    expect(fx.hookCalls).toHaveLength(1);
  });
});
