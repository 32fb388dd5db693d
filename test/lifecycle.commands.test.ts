import { beforeEach, describe, expect, it } from 'vitest';
import { TransitionConflictError } from '../src/errors.js';
import type { CreditNoteView } from '../src/lifecycle/creditNoteView.js';
import type { CreditNoteStatus } from '../src/machine/creditNoteState.js';
import type { FakeRefundNotice } from '../src/testing/fakeGateway.js';
import {
  actor,
  buildFixture,
  creditNoteEventTypes,
  errValue,
  issueInput,
  okValue,
  sideEffectCounts,
  storeSnapshot,
  type Fixture,
} from './support/fixtures.js';

/*
 * Example-based behaviour of every command: refresh status when the webhook
 * was lost, retry semantics, the charge-confirmation gate and mark refunded
 * (docs/glossary.md). Each test names the real side effects it expects: refunds the
 * fake processor created, notifications delivered, hooks run.
 */

let fx: Fixture;
beforeEach(() => {
  fx = buildFixture();
});

const view = async (creditNoteId = 'cn_1'): Promise<CreditNoteView> =>
  okValue(await fx.lifecycle.getCreditNote(creditNoteId));

const createRequests = () => fx.gatewayCalls.flatMap((call) => (call.method === 'createRefund' ? [call.request] : []));

const deliveredOf = (kind: string) => fx.notifier.delivered().filter((notification) => notification.kind === kind);

/** The refund the fake created for the credit note's attempt, settled by the processor. */
const settleAtProcessor = (processorRefundId: string, status: 'succeeded' | 'failed', reason?: string) => {
  fx.gateway.setRefundStatus(processorRefundId, status, reason);
  return fx.gateway.takeNotices();
};

// The states a test can start from, reached only through public commands.
const reach = {
  issued: async () => okValue(await fx.lifecycle.issueCreditNote(issueInput({ payment: null }))),
  pending: async () => okValue(await fx.lifecycle.issueCreditNote(issueInput({ chargeConfirmed: false }))),
  requested: async () => okValue(await fx.lifecycle.issueCreditNote(issueInput())),
  failed: async () => {
    fx.gateway.queue({ kind: 'fail', reason: 'insufficient_funds' });
    return okValue(await fx.lifecycle.issueCreditNote(issueInput()));
  },
  succeeded: async () => {
    await reach.requested();
    await fx.deliver(settleAtProcessor('re_fake_1', 'succeeded'));
    return view();
  },
  manual: async () => {
    await reach.issued();
    return okValue(await fx.lifecycle.markRefunded('cn_1', { reason: 'SEPA transfer', actor }));
  },
} satisfies Record<Exclude<CreditNoteStatus, 'unissued'>, () => Promise<CreditNoteView>>;

describe('issueCreditNote', () => {
  it('on a confirmed charge asks the processor at once: requested, accepted under key cn_1:refund:1', async () => {
    const issued = okValue(await fx.lifecycle.issueCreditNote(issueInput()));

    expect(issued).toMatchObject({
      creditNoteId: 'cn_1',
      status: 'requested',
      amount: 5_000,
      currency: 'eur',
      payment: { processor: 'fake', paymentId: 'pi_1', account: null },
      attempt: 1,
      refund: { attempt: 1, idempotencyKey: 'cn_1:refund:1', processorRefundId: 're_fake_1', status: 'accepted' },
      failure: null,
    });
    expect(createRequests()).toEqual([
      {
        idempotencyKey: 'cn_1:refund:1',
        payment: { processor: 'fake', paymentId: 'pi_1', account: null },
        amount: 5_000,
        currency: 'eur',
        metadata: { creditNoteId: 'cn_1', attempt: 1 },
      },
    ]);
    expect(fx.gateway.refunds()).toMatchObject([
      { processorRefundId: 're_fake_1', metadata: { creditNoteId: 'cn_1', attempt: 1 } },
    ]);
  });

  it('passes the Connect account of a direct charge to the processor', async () => {
    await fx.lifecycle.issueCreditNote(issueInput({ payment: { paymentId: 'pi_1', account: 'acct_merchant' } }));
    expect(createRequests()[0]?.payment).toEqual({ processor: 'fake', paymentId: 'pi_1', account: 'acct_merchant' });
  });

  it('without a processor payment stays issued, asks nothing, and offers only mark refunded', async () => {
    const issued = await reach.issued();
    expect(issued).toMatchObject({ status: 'issued', payment: null, refund: null, attempt: 0 });
    expect(issued.allowedActions).toEqual(['mark_refunded']);
    expect(fx.gatewayCalls).toEqual([]);
    expect(await creditNoteEventTypes(fx.store, 'cn_1')).toEqual(['CreditNoteIssued']);
  });
});

describe('the charge-confirmation gate: never refund a charge whose confirmation has not been seen', () => {
  it('issuing before the confirmation leaves the credit note pending, asking the processor for nothing but the payment', async () => {
    const pending = await reach.pending();
    expect(pending).toMatchObject({
      status: 'pending',
      pendingReason: 'charge_not_confirmed',
      refund: null,
      attempt: 0,
    });
    // Reads only: what was charged, and which refunds the dashboard already made.
    expect(fx.gatewayCalls).toEqual([
      { method: 'describePayment', paymentId: 'pi_1' },
      { method: 'findRefunds', paymentId: 'pi_1' },
    ]);
    expect(fx.gateway.createCalls).toBe(0);
  });

  it('the confirmation releases it: requested, exactly one refund at the processor', async () => {
    await reach.pending();
    const confirmed = okValue(
      await fx.lifecycle.confirmCharge({ paymentId: 'pi_1', source: 'webhook', causationId: 'evt_pi_ok' }),
    );

    expect(confirmed).toEqual({ paymentId: 'pi_1', changed: true, released: ['cn_1'] });
    expect(await view()).toMatchObject({
      status: 'requested',
      pendingReason: null,
      refund: { attempt: 1, status: 'accepted' },
    });
    expect(fx.gateway.refunds()).toHaveLength(1);
    expect(createRequests().map((request) => request.idempotencyKey)).toEqual(['cn_1:refund:1']);
  });

  it('releases every credit note waiting on the same payment, and no other', async () => {
    await fx.lifecycle.issueCreditNote(issueInput({ creditNoteId: 'cn_a', chargeConfirmed: false }));
    await fx.lifecycle.issueCreditNote(issueInput({ creditNoteId: 'cn_b', amount: 1_000, chargeConfirmed: false }));
    await fx.lifecycle.issueCreditNote(
      issueInput({ creditNoteId: 'cn_other', payment: { paymentId: 'pi_2' }, chargeConfirmed: false }),
    );

    const confirmed = okValue(await fx.lifecycle.confirmCharge({ paymentId: 'pi_1' }));

    expect(confirmed.released.sort()).toEqual(['cn_a', 'cn_b']);
    expect((await view('cn_other')).status).toBe('pending');
    expect(
      fx.gateway
        .refunds()
        .map((refund) => refund.metadata.creditNoteId)
        .sort(),
    ).toEqual(['cn_a', 'cn_b']);
  });

  it('a second confirmation (Stripe redelivers payment_intent.succeeded) is an idempotent Ok that writes nothing', async () => {
    await reach.pending();
    await fx.lifecycle.confirmCharge({ paymentId: 'pi_1' });
    const before = await storeSnapshot(fx.store);
    const effects = sideEffectCounts(fx);

    expect(okValue(await fx.lifecycle.confirmCharge({ paymentId: 'pi_1', causationId: 'evt_pi_ok_again' }))).toEqual({
      paymentId: 'pi_1',
      changed: false,
      released: [],
    });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    expect(sideEffectCounts(fx)).toEqual(effects);
  });

  it('a credit note issued after the confirmation goes straight to requested', async () => {
    await fx.lifecycle.confirmCharge({ paymentId: 'pi_1' });
    const issued = okValue(await fx.lifecycle.issueCreditNote(issueInput({ chargeConfirmed: false })));
    expect(issued).toMatchObject({ status: 'requested', refund: { attempt: 1 } });
    expect(fx.gateway.refunds()).toHaveLength(1);
  });

  it('a retry while the charge is still unconfirmed is Ok but stays pending, and creates no refund', async () => {
    await reach.pending();
    const retried = okValue(await fx.lifecycle.retryRefund('cn_1', { actor }));
    expect(retried).toMatchObject({ status: 'pending', pendingReason: 'charge_not_confirmed', attempt: 0 });
    expect(fx.gateway.createCalls).toBe(0);
    // The later confirmation still releases it.
    expect(okValue(await fx.lifecycle.confirmCharge({ paymentId: 'pi_1' })).released).toEqual(['cn_1']);
  });
});

describe('refresh status when the webhook did not land', () => {
  it('pulls the processor’s verdict: succeeded, and the client is told once', async () => {
    await reach.requested();
    fx.gateway.takeNotices(); // refund.created lost
    const lostWebhooks = settleAtProcessor('re_fake_1', 'succeeded'); // refund.updated lost too

    const refreshed = okValue(await fx.lifecycle.refreshStatus('cn_1', { actor }));

    expect(refreshed.changed).toBe(true);
    expect(refreshed.creditNote).toMatchObject({
      status: 'succeeded',
      refund: { status: 'succeeded', processorRefundId: 're_fake_1' },
    });
    expect(refreshed.creditNote.settledAt).not.toBeNull();
    expect(fx.gatewayCalls.at(-1)).toEqual({ method: 'retrieveRefund', processorRefundId: 're_fake_1' });
    expect(deliveredOf('refund_completed')).toMatchObject([
      { recipient: 'client', idempotencyKey: 'cn_1:notify:refund_completed:1', creditNote: { status: 'succeeded' } },
    ]);
    expect(fx.hookCalls.map((call) => call.idempotencyKey)).toEqual(['cn_1:hook:refundSucceeded:1']);

    // A second click and the webhook finally arriving late change nothing and fire nothing.
    const before = await storeSnapshot(fx.store);
    const effects = { notifierCalls: fx.notifier.calls.length, hookCalls: fx.hookCalls.length };
    expect(okValue(await fx.lifecycle.refreshStatus('cn_1', { actor })).changed).toBe(false);
    for (const outcome of await fx.deliver(lostWebhooks)) expect(outcome.changed).toBe(false);
    expect(await storeSnapshot(fx.store)).toEqual(before);
    expect({ notifierCalls: fx.notifier.calls.length, hookCalls: fx.hookCalls.length }).toEqual(effects);
    expect(fx.gateway.refunds()).toHaveLength(1);
  });

  it('while the processor is still pending: changed false, nothing written', async () => {
    await reach.requested();
    const before = await storeSnapshot(fx.store);

    const refreshed = okValue(await fx.lifecycle.refreshStatus('cn_1'));

    expect(refreshed).toMatchObject({
      changed: false,
      creditNote: { status: 'requested', refund: { processorStatus: 'pending' } },
    });
    expect(refreshed.creditNote.allowedActions).toEqual(['refresh']);
    expect(await storeSnapshot(fx.store)).toEqual(before);
  });

  it('a failure pulled by refresh offers retry and mark refunded, and tells the merchant', async () => {
    await reach.requested();
    settleAtProcessor('re_fake_1', 'failed', 'declined');

    const refreshed = okValue(await fx.lifecycle.refreshStatus('cn_1'));

    expect(refreshed.creditNote).toMatchObject({
      status: 'failed',
      failure: { processorReason: 'declined', classification: { retry: 'will_not_help', recovery: 'manual_refund' } },
      allowedActions: ['retry', 'mark_refunded'],
    });
    expect(deliveredOf('refund_failed')).toMatchObject([{ recipient: 'merchant' }]);
  });

  it('finds an in-doubt attempt (the create call timed out) by its metadata among the payment’s refunds', async () => {
    fx.gateway.queue({ kind: 'acceptThenTimeout' });
    const inDoubt = await reach.requested();
    expect(inDoubt).toMatchObject({
      status: 'pending',
      pendingReason: 'transient_error',
      refund: { status: 'in_doubt', processorRefundId: null },
    });

    const refreshed = okValue(await fx.lifecycle.refreshStatus('cn_1'));

    expect(fx.gatewayCalls.at(-1)).toEqual({ method: 'findRefunds', paymentId: 'pi_1' });
    expect(refreshed).toMatchObject({
      changed: true,
      creditNote: {
        status: 'requested',
        pendingReason: null,
        transientError: null,
        refund: { attempt: 1, processorRefundId: 're_fake_1', status: 'accepted' },
      },
    });
    expect(fx.gateway.refunds()).toHaveLength(1);
  });

  it('of a credit note with nothing at the processor (issued, manual) is Ok and changes nothing', async () => {
    await reach.issued();
    expect(okValue(await fx.lifecycle.refreshStatus('cn_1'))).toMatchObject({
      changed: false,
      creditNote: { status: 'issued' },
    });
    expect(fx.gatewayCalls).toEqual([]);
  });
});

// Which statuses allow a retry or a manual refund, and what each decides, are specified in deciders.test.ts.
describe('retry', () => {
  it('refused (here from succeeded) answers the conflict; nothing written, nothing sent', async () => {
    await reach.succeeded();
    const before = await storeSnapshot(fx.store);
    const effects = sideEffectCounts(fx);

    const error = errValue(await fx.lifecycle.retryRefund('cn_1', { actor }));

    expect(error).toBeInstanceOf(TransitionConflictError);
    expect(error).toMatchObject({ code: 'transition_not_allowed', status: 'succeeded', command: 'retry', creditNoteId: 'cn_1' });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    expect(sideEffectCounts(fx)).toEqual(effects);
  });

  it('from failed clears the failure and asks again as attempt 2 under a new key', async () => {
    const failed = await reach.failed();
    expect(failed).toMatchObject({ status: 'failed', failure: { processorReason: 'insufficient_funds' } });

    const retried = okValue(await fx.lifecycle.retryRefund('cn_1', { actor }));

    expect(retried).toMatchObject({
      status: 'requested',
      failure: null,
      attempt: 2,
      amount: 5_000,
      payment: { paymentId: 'pi_1', account: null },
      refund: { attempt: 2, idempotencyKey: 'cn_1:refund:2', processorRefundId: 're_fake_2', status: 'accepted' },
    });
    expect(fx.gateway.refunds().map((refund) => [refund.metadata.attempt, refund.status])).toEqual([
      [1, 'failed'],
      [2, 'pending'],
    ]);
    // Same amount, payment and account as the first attempt: only the key and attempt change.
    const [first, second] = createRequests();
    expect({ ...second, idempotencyKey: first?.idempotencyKey, metadata: first?.metadata }).toEqual(first);
    expect(await creditNoteEventTypes(fx.store, 'cn_1')).toEqual([
      'CreditNoteIssued',
      'RefundRequested',
      'RefundAccepted',
      'RefundFailed',
      'RetryRequested',
      'RefundRequested',
      'RefundAccepted',
    ]);
  });

  it('from pending after a transient error asks again for the SAME attempt under the same key', async () => {
    fx.gateway.queue({ kind: 'acceptThenTimeout' });
    await reach.requested();

    const retried = okValue(await fx.lifecycle.retryRefund('cn_1', { actor }));

    expect(retried).toMatchObject({
      status: 'requested',
      attempt: 1,
      refund: { attempt: 1, idempotencyKey: 'cn_1:refund:1', processorRefundId: 're_fake_1' },
    });
    expect(createRequests().map((request) => request.idempotencyKey)).toEqual(['cn_1:refund:1', 'cn_1:refund:1']);
    // The processor had the refund all along: the same key returns it, no second refund exists.
    expect(fx.gateway.refunds()).toHaveLength(1);
  });

  it('returns the resolved state when the processor refuses again: Ok, failed with the new reason', async () => {
    await reach.failed();
    fx.gateway.queue({ kind: 'reject', code: 'charge_disputed' });

    const retried = okValue(await fx.lifecycle.retryRefund('cn_1', { actor }));

    expect(retried).toMatchObject({
      status: 'failed',
      attempt: 2,
      failure: {
        processorReason: 'charge_disputed',
        classification: { retry: 'will_not_help', recovery: 'resolve_dispute' },
      },
    });
  });

  it('never throws, even when the processor client itself throws: Ok, pending for a later try', async () => {
    await reach.failed();
    const throwing = fx.lifecycleWith({
      gateway: {
        ...fx.gatewayPort,
        createRefund: async () => {
          throw new Error('socket hang up');
        },
      },
    });

    const retried = okValue(await throwing.retryRefund('cn_1', { actor }));

    expect(retried).toMatchObject({
      status: 'pending',
      pendingReason: 'transient_error',
      refund: { attempt: 2, status: 'in_doubt' },
    });
    expect(retried.transientError?.code).toBe('unexpected_error');
  });
});

describe('markRefunded', () => {
  it('records the manual refund (here after a failure), tells the client once and runs the hook once', async () => {
    await reach.failed();
    const notificationsBefore = fx.notifier.delivered().length;

    const marked = okValue(
      await fx.lifecycle.markRefunded('cn_1', {
        reason: 'Refunded by bank transfer',
        reference: 'SEPA-2026-03-0042',
        method: 'bank_transfer',
        actor,
      }),
    );

    expect(marked).toMatchObject({
      status: 'manual',
      manual: { reason: 'Refunded by bank transfer', reference: 'SEPA-2026-03-0042', method: 'bank_transfer' },
      allowedActions: [],
    });
    expect(marked.settledAt).not.toBeNull();
    expect(fx.notifier.delivered()).toHaveLength(notificationsBefore + 1);
    expect(deliveredOf('manual_refund_recorded')).toMatchObject([
      { recipient: 'client', idempotencyKey: 'cn_1:notify:manual_refund_recorded', creditNote: { status: 'manual' } },
    ]);
    expect(fx.hookCalls.filter((call) => call.hook === 'refundedManually')).toMatchObject([
      { idempotencyKey: 'cn_1:hook:refundedManually', creditNote: { status: 'manual' } },
    ]);
  });

  it('measures a reason or reference in characters, as people write them: 255 emoji are a valid reference', async () => {
    await reach.issued();
    const reference = '🏦'.repeat(255); // 510 UTF-16 units, 255 characters
    const marked = okValue(await fx.lifecycle.markRefunded('cn_1', { reason: '🙏'.repeat(1000), reference, actor }));
    expect(marked.manual).toMatchObject({ reference });
    // And it reads back: the stream replays.
    expect((await view()).manual).toMatchObject({ reference });
  });

  it('defaults the method to other and the reference to null', async () => {
    await reach.issued();
    const marked = okValue(await fx.lifecycle.markRefunded('cn_1', { reason: 'cash at the front desk', actor }));
    expect(marked.manual).toEqual({ reason: 'cash at the front desk', reference: null, method: 'other' });
  });

  it('refused (here while attempt 1 is at the processor) answers the conflict; nothing written, nothing sent', async () => {
    await reach.requested();
    const before = await storeSnapshot(fx.store);
    const effects = sideEffectCounts(fx);

    const error = errValue(await fx.lifecycle.markRefunded('cn_1', { reason: 'SEPA transfer', actor }));

    expect(error).toBeInstanceOf(TransitionConflictError);
    expect(error).toMatchObject({ code: 'transition_not_allowed', status: 'requested', command: 'mark refunded' });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    expect(sideEffectCounts(fx)).toEqual(effects);
  });
});

describe('a refund the processor fails or refuses', () => {
  it('failed with a reason → failed with its classification; the merchant is told once', async () => {
    const failed = await reach.failed();

    expect(failed).toMatchObject({
      status: 'failed',
      refund: { attempt: 1, processorRefundId: 're_fake_1', status: 'failed' },
      failure: {
        processorReason: 'insufficient_funds',
        classification: { retry: 'after_action', recovery: 'top_up_balance' },
      },
      allowedActions: ['retry', 'mark_refunded'],
    });
    expect(fx.notifier.delivered()).toMatchObject([
      { kind: 'refund_failed', recipient: 'merchant', idempotencyKey: 'cn_1:notify:refund_failed:1' },
    ]);
    expect(fx.hookCalls.map((call) => call.idempotencyKey)).toEqual(['cn_1:hook:refundFailed:1']);
  });

  it('refused outright (an open dispute) → failed, recovery resolve_dispute, no refund exists', async () => {
    fx.gateway.queue({ kind: 'reject', code: 'charge_disputed' });
    const failed = okValue(await fx.lifecycle.issueCreditNote(issueInput()));

    expect(failed).toMatchObject({
      status: 'failed',
      refund: { attempt: 1, processorRefundId: null, status: 'failed' },
      failure: {
        processorReason: 'charge_disputed',
        classification: { retry: 'will_not_help', recovery: 'resolve_dispute' },
      },
    });
    expect(fx.gateway.refunds()).toEqual([]);
    expect(deliveredOf('refund_failed')).toHaveLength(1);
  });

  it('each failed attempt tells the merchant once: two failures, two notices', async () => {
    await reach.failed();
    fx.gateway.queue({ kind: 'fail', reason: 'unknown' });
    await fx.lifecycle.retryRefund('cn_1', { actor });
    expect(deliveredOf('refund_failed').map((notification) => notification.idempotencyKey)).toEqual([
      'cn_1:notify:refund_failed:1',
      'cn_1:notify:refund_failed:2',
    ]);
  });
});

// What each observation decides (another refund's failure, a terminal state, a foreign payment) is in deciders.test.ts.
describe('webhooks out of order, duplicated or stale', () => {
  const deliverAll = (notices: readonly FakeRefundNotice[]) => fx.deliver(notices);

  it('succeeded before created (the create answer lost): one move to succeeded, the rest change nothing', async () => {
    fx.gateway.queue({ kind: 'acceptThenTimeout' });
    await reach.requested();
    const created = fx.gateway.takeNotices();
    const updated = settleAtProcessor('re_fake_1', 'succeeded');

    const outcomes = await deliverAll([...updated, ...created, ...updated, ...created]);

    expect(outcomes.map((outcome) => outcome.changed)).toEqual([true, false, false, false]);
    expect(await view()).toMatchObject({ status: 'succeeded', refund: { processorRefundId: 're_fake_1' } });
    expect(deliveredOf('refund_completed')).toHaveLength(1);
    expect(fx.notifier.calls).toHaveLength(1);
  });

  it('a stale notice of attempt 1 after attempt 2 was requested does not move the credit note back', async () => {
    await reach.failed();
    const attemptOneNotices = fx.gateway.takeNotices();
    await fx.lifecycle.retryRefund('cn_1', { actor });
    const before = await storeSnapshot(fx.store);

    const outcomes = await deliverAll(attemptOneNotices);
    // The same refund without metadata (a dashboard-made copy) is matched by id only, and is not the current one.
    const withoutMetadata = attemptOneNotices.map((notice) => ({
      ...notice,
      refund: { ...notice.refund, metadata: { creditNoteId: 'cn_1', attempt: null } },
    }));
    outcomes.push(...(await deliverAll(withoutMetadata)));

    expect(outcomes.every((outcome) => !outcome.changed)).toBe(true);
    expect(await view()).toMatchObject({ status: 'requested', attempt: 2, failure: null });
    expect(await storeSnapshot(fx.store)).toEqual(before);
  });

  it('a succeeded refund the processor later reverses becomes failed, and the merchant is told once', async () => {
    await reach.succeeded();
    const notices = settleAtProcessor('re_fake_1', 'failed', 'expired_or_canceled_card');

    expect((await deliverAll([...notices, ...notices])).map((outcome) => outcome.changed)).toEqual([true, false]);
    expect(await view()).toMatchObject({
      status: 'failed',
      settledAt: null,
      failure: { processorReason: 'expired_or_canceled_card' },
      allowedActions: ['retry', 'mark_refunded'],
    });
    expect(deliveredOf('refund_failed')).toHaveLength(1);
  });

});

describe('reads', () => {
  it.each<[Exclude<CreditNoteStatus, 'unissued'>, CreditNoteView['allowedActions']]>([
    ['issued', ['mark_refunded']],
    ['pending', ['retry', 'mark_refunded']],
    ['requested', ['refresh']],
    ['failed', ['retry', 'mark_refunded']],
    ['succeeded', []],
    ['manual', []],
  ])('getCreditNote of a %s credit note allows %j', async (status, actions) => {
    await reach[status]();
    expect(await view()).toMatchObject({ status, allowedActions: actions });
  });

  it('getCreditNote of an in-doubt attempt allows retry and refresh, not a manual refund', async () => {
    fx.gateway.queue({ kind: 'acceptThenTimeout' });
    await reach.requested();
    expect((await view()).allowedActions).toEqual(['retry', 'refresh']);
  });

  it('history lists the events in order with their envelopes: who, through what, caused by what', async () => {
    await reach.requested();
    const [created] = fx.gateway.takeNotices();
    const [updated] = settleAtProcessor('re_fake_1', 'succeeded');
    await fx.deliver([updated!, created!]);

    const history = okValue(await fx.lifecycle.history('cn_1'));

    expect(history.map((event) => [event.streamVersion, event.type, event.source, event.actor.kind])).toEqual([
      [1, 'CreditNoteIssued', 'command', 'user'],
      [2, 'RefundRequested', 'command', 'user'],
      [3, 'RefundAccepted', 'dispatcher', 'system'],
      [4, 'RefundSucceeded', 'webhook', 'processor'],
    ]);
    expect(history.every((event) => event.streamId === 'credit-note-cn_1')).toBe(true);
    expect(history[0]).toMatchObject({ actor, causationId: null, occurredAt: '2026-01-01T09:00:00.000Z' });
    // One command, one correlation; the webhook's event points at the notice that carried it.
    expect(history[1]?.correlationId).toBe(history[0]?.correlationId);
    expect(history[3]).toMatchObject({ causationId: updated!.noticeId, actor: { kind: 'processor', id: 'fake' } });
    const positions = history.map((event) => event.globalPosition);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('listCreditNotes filters by status and payment, ordered by id, paged by cursor', async () => {
    await fx.lifecycle.issueCreditNote(issueInput({ creditNoteId: 'cn_a' }));
    fx.gateway.queue({ kind: 'fail', reason: 'declined' });
    await fx.lifecycle.issueCreditNote(issueInput({ creditNoteId: 'cn_b', payment: { paymentId: 'pi_2' } }));
    await fx.lifecycle.issueCreditNote(issueInput({ creditNoteId: 'cn_c', payment: null }));
    await fx.lifecycle.issueCreditNote(
      issueInput({ creditNoteId: 'cn_d', payment: { paymentId: 'pi_3' }, chargeConfirmed: false }),
    );
    await fx.lifecycle.issueCreditNote(issueInput({ creditNoteId: 'cn_e', amount: 100 }));

    const ids = (rows: CreditNoteView[]) => rows.map((row) => [row.creditNoteId, row.status]);
    expect(ids(okValue(await fx.lifecycle.listCreditNotes()))).toEqual([
      ['cn_a', 'requested'],
      ['cn_b', 'failed'],
      ['cn_c', 'issued'],
      ['cn_d', 'pending'],
      ['cn_e', 'requested'],
    ]);
    expect(ids(okValue(await fx.lifecycle.listCreditNotes({ status: 'failed' })))).toEqual([['cn_b', 'failed']]);
    expect(ids(okValue(await fx.lifecycle.listCreditNotes({ status: 'requested' })))).toEqual([
      ['cn_a', 'requested'],
      ['cn_e', 'requested'],
    ]);
    expect(ids(okValue(await fx.lifecycle.listCreditNotes({ paymentId: 'pi_1' })))).toEqual([
      ['cn_a', 'requested'],
      ['cn_e', 'requested'],
    ]);
    expect(ids(okValue(await fx.lifecycle.listCreditNotes({ limit: 2 })))).toEqual([
      ['cn_a', 'requested'],
      ['cn_b', 'failed'],
    ]);
    expect(ids(okValue(await fx.lifecycle.listCreditNotes({ after: 'cn_b', limit: 2 })))).toEqual([
      ['cn_c', 'issued'],
      ['cn_d', 'pending'],
    ]);
    expect(okValue(await fx.lifecycle.listCreditNotes({ after: 'cn_e' }))).toEqual([]);
    // Each row is the same view getCreditNote gives, actions included.
    const [row] = okValue(await fx.lifecycle.listCreditNotes({ status: 'failed' }));
    expect(row).toEqual(await view('cn_b'));
  });
});
