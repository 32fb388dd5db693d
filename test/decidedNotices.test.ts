import { beforeEach, describe, expect, it } from 'vitest';
import type { CreditNoteNotification, HookCall } from '../src/ports/notifier.js';
import { actor, buildFixture, issueInput, okValue, type Fixture } from './support/fixtures.js';

/*
 * Issue 6, defect 7: a notice and a hook describe what was decided (the
 * attempt, its outcome, the failure and its advice), recorded with the outbox
 * entry, not the credit note as it is when the dispatcher gets round to it.
 * Inline dispatch is off, so the merchant acts between the decision and the send.
 */

const insufficientFunds = {
  processorReason: 'insufficient_funds',
  classification: { retry: 'after_action', recovery: 'top_up_balance' },
  message: 'The refund failed: insufficient_funds',
} as const;

let fx: Fixture;
beforeEach(() => {
  fx = buildFixture({ dispatchInline: false });
});

const dispatch = async (lifecycle = fx.lifecycle) => okValue(await lifecycle.dispatch());
const view = async () => okValue(await fx.lifecycle.getCreditNote('cn_1'));
const sent = (kind: CreditNoteNotification['kind']) => fx.notifier.delivered().filter((n) => n.kind === kind);
const called = (hook: HookCall['hook']) => fx.hookCalls.filter((c) => c.hook === hook);

/** The processor fails attempt 1 (webhook), and the merchant presses Retry before any notice went out. */
const failedThenRetried = async () => {
  await fx.lifecycle.issueCreditNote(issueInput());
  await dispatch(); // attempt 1 accepted, pending at the processor
  fx.gateway.setRefundStatus('re_fake_1', 'failed', 'insufficient_funds');
  await fx.deliver(fx.gateway.takeNotices());
  const failedAt = fx.clock.now().toISOString();
  const failedVersion = (await view()).version;
  fx.clock.advance(5_000);
  expect(okValue(await fx.lifecycle.retryRefund('cn_1', { actor }))).toMatchObject({ status: 'requested', attempt: 2 });
  expect(fx.notifier.calls).toHaveLength(0);
  expect(fx.hookCalls).toHaveLength(0);
  return { failedAt, failedVersion };
};

const expectFailureOfAttempt1 = (
  call: CreditNoteNotification | HookCall,
  { failedAt, failedVersion }: { failedAt: string; failedVersion: number },
) => {
  expect(call.decided).toEqual({
    status: 'failed',
    attempt: 1,
    amount: 5_000,
    currency: 'eur',
    payment: { processor: 'fake', paymentId: 'pi_1', account: null },
    processorRefundId: 're_fake_1',
    failure: insufficientFunds,
    manual: null,
    settledAt: null,
    decidedAt: failedAt,
    streamVersion: failedVersion,
  });
  // The current credit note, for hosts that want it, has moved on.
  expect(call.creditNote).toMatchObject({ status: 'requested', attempt: 2, failure: null });
};

describe('a refund_failed notice sent after the merchant retried', () => {
  it('carries the failed attempt 1 and its reason; creditNote shows attempt 2 as it is now', async () => {
    const decision = await failedThenRetried();
    await dispatch();

    const [failed, ...others] = sent('refund_failed');
    expect(others).toHaveLength(0);
    expect(failed).toMatchObject({ idempotencyKey: 'cn_1:notify:refund_failed:1', recipient: 'merchant' });
    expectFailureOfAttempt1(failed!, decision);

    const [hook, ...moreHooks] = called('refundFailed');
    expect(moreHooks).toHaveLength(0);
    expectFailureOfAttempt1(hook!, decision);
  });

  it('the same when the processor refused attempt 1 at once and the dispatcher stopped before sending', async () => {
    // A dispatcher that stops right after recording the processor's answer: the notices wait for the next run.
    const stopsAfterAnswer = fx.lifecycleWith({
      store: {
        ...fx.store,
        claimOutbox: async (request) => (request.entryIds === undefined ? fx.store.claimOutbox(request) : []),
      },
    });
    fx.gateway.queue({ kind: 'fail', reason: 'insufficient_funds' });
    await fx.lifecycle.issueCreditNote(issueInput());
    await dispatch(stopsAfterAnswer);
    expect((await view()).status).toBe('failed');
    const decision = { failedAt: fx.clock.now().toISOString(), failedVersion: (await view()).version };
    expect(fx.notifier.calls).toHaveLength(0);

    fx.clock.advance(5_000);
    okValue(await fx.lifecycle.retryRefund('cn_1', { actor }));
    await dispatch();

    expectFailureOfAttempt1(sent('refund_failed')[0]!, decision);
    expectFailureOfAttempt1(called('refundFailed')[0]!, decision);
  });

  it('names the attempt and processor refund that succeeded, though the processor reversed it before the send', async () => {
    await fx.lifecycle.issueCreditNote(issueInput());
    await dispatch();
    fx.gateway.setRefundStatus('re_fake_1', 'succeeded');
    await fx.deliver(fx.gateway.takeNotices());
    const succeeded = await view();
    expect(succeeded.status).toBe('succeeded');

    fx.clock.advance(60_000);
    fx.gateway.setRefundStatus('re_fake_1', 'failed', 'charge_disputed');
    await fx.deliver(fx.gateway.takeNotices());
    okValue(await fx.lifecycle.retryRefund('cn_1', { actor }));
    await dispatch();

    for (const call of [...sent('refund_completed'), ...called('refundSucceeded')]) {
      expect(call.decided).toMatchObject({
        status: 'succeeded',
        attempt: 1,
        processorRefundId: 're_fake_1',
        failure: null,
        settledAt: succeeded.settledAt,
        streamVersion: succeeded.version,
      });
      expect(call.creditNote).toMatchObject({ status: 'requested', attempt: 2 });
    }
    expect(sent('refund_completed')).toHaveLength(1);
    expect(called('refundSucceeded')).toHaveLength(1);
    // The reversal has its own notice, about the same attempt, with its own reason.
    expect(sent('refund_failed')[0]?.decided).toMatchObject({
      status: 'failed',
      attempt: 1,
      failure: { processorReason: 'charge_disputed' },
    });
  });
});

describe('a manual_refund_recorded notice', () => {
  it('carries how it was refunded, and the earlier refund_failed still carries its own failure', async () => {
    await fx.lifecycle.issueCreditNote(issueInput());
    await dispatch();
    fx.gateway.setRefundStatus('re_fake_1', 'failed', 'expired_or_canceled_card');
    await fx.deliver(fx.gateway.takeNotices());
    fx.clock.advance(5_000);
    okValue(
      await fx.lifecycle.markRefunded('cn_1', { reason: 'Paid back by transfer', reference: 'SEPA-42', method: 'bank_transfer', actor }),
    );
    const manual = await view();
    await dispatch();

    for (const call of [...sent('manual_refund_recorded'), ...called('refundedManually')]) {
      expect(call.decided).toMatchObject({
        status: 'manual',
        amount: 5_000,
        currency: 'eur',
        manual: { reason: 'Paid back by transfer', reference: 'SEPA-42', method: 'bank_transfer' },
        settledAt: manual.settledAt,
        decidedAt: fx.clock.now().toISOString(),
        streamVersion: manual.version,
      });
    }
    expect(sent('manual_refund_recorded')).toHaveLength(1);
    expect(called('refundedManually')).toHaveLength(1);
    const [failed] = sent('refund_failed');
    expect(failed?.decided).toMatchObject({
      status: 'failed',
      attempt: 1,
      manual: null,
      failure: { processorReason: 'expired_or_canceled_card', classification: { recovery: 'manual_refund' } },
    });
    expect(failed?.creditNote).toMatchObject({ status: 'manual' });
  });
});
