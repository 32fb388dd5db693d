import { beforeEach, describe, expect, it } from 'vitest';
import type { RequestRefundInput } from '../src/requests/refundRequestInputs.js';
import type { RefundLifecycleConfig } from '../src/lifecycle/createRefundLifecycle.js';
import { recordingLogger } from './support/observability.js';
import { actor, buildFixture, errValue, okValue, storeSnapshot, type Fixture } from './support/fixtures.js';

/*
 * Customer refund requests (issue 14, seed 004): submitted → approved (a
 * credit note issued in the same append), rejected with a note, or withdrawn;
 * the policy decides at submission and again at approval.
 */

const customer = { kind: 'customer', id: 'cus_1' } as const;
const DAY = 24 * 60 * 60 * 1000;

let fx: Fixture;
let lifecycle: Fixture['lifecycle'];
const withConfig = (config: Partial<RefundLifecycleConfig>) => {
  lifecycle = fx.lifecycleWith(config);
};

beforeEach(() => {
  fx = buildFixture();
  fx.gateway.capture('pi_1', 10_000);
  fx.gateway.setChargeConfirmed('pi_1', true);
  lifecycle = fx.lifecycle;
});

const requestInput = (overrides: Partial<RequestRefundInput> = {}): RequestRefundInput => ({
  requestId: 'rr_1',
  payment: { paymentId: 'pi_1' },
  amount: 4_000,
  currency: 'EUR',
  reason: 'not_as_described',
  details: 'The course did not cover what was advertised.',
  customerId: 'cus_1',
  purchasedAt: new Date(fx.clock.now().getTime() - 3 * DAY).toISOString(),
  actor: customer,
  ...overrides,
});

const noticesOf = (kind: string) => fx.notifier.deliveredRequestNotices().filter((notice) => notice.kind === kind);

describe('a customer submits a refund request', () => {
  it('is pending, tells the merchant once, and is listed in the review queue with its age', async () => {
    const submitted = okValue(await lifecycle.requestRefund(requestInput()));
    expect(submitted).toMatchObject({ requestId: 'rr_1', status: 'pending', amount: 4_000, currency: 'eur', creditNoteId: null, allowedActions: ['approve', 'reject', 'withdraw'] });
    expect(noticesOf('refund_request_received')).toEqual([
      expect.objectContaining({ recipient: 'merchant', idempotencyKey: 'rr_1:request:refund_request_received', decided: expect.objectContaining({ status: 'pending', amount: 4_000 }) }),
    ]);
    // The same submission again (a double click) changes nothing and tells nobody twice.
    okValue(await lifecycle.requestRefund(requestInput()));
    expect(fx.notifier.requestCalls).toHaveLength(1);
    fx.clock.advance(2 * 60 * 60 * 1000);
    const queue = okValue(await lifecycle.listRefundRequests({ status: 'pending' }));
    expect(queue).toEqual([expect.objectContaining({ requestId: 'rr_1', status: 'pending', ageMs: 2 * 60 * 60 * 1000 })]);
    // The status endpoint shows how long the oldest request has awaited review.
    expect(okValue(await lifecycle.health()).oldestRequestAwaitingReviewAgeMs).toBe(2 * 60 * 60 * 1000);
    expect(fx.gateway.createCalls).toBe(0);
  });

  it('refuses the same id with other terms, writing nothing', async () => {
    okValue(await lifecycle.requestRefund(requestInput()));
    const before = await storeSnapshot(fx.store);
    expect(errValue(await lifecycle.requestRefund(requestInput({ amount: 100 })))).toMatchObject({ code: 'refund_request_conflict', requestId: 'rr_1' });
    expect(await storeSnapshot(fx.store)).toEqual(before);
  });

  it('refuses bad input with every wrong field and writes nothing', async () => {
    const refused = errValue(
      await lifecycle.requestRefund({ ...requestInput(), amount: -1, reason: 'because' as never, purchasedAt: 'yesterday' }),
    );
    expect(refused.code).toBe('validation_failed');
    expect(refused.code === 'validation_failed' && refused.issues.map((issue) => issue.path).sort()).toEqual(['amount', 'purchasedAt', 'reason']);
    const future = errValue(await lifecycle.requestRefund(requestInput({ purchasedAt: new Date(fx.clock.now().getTime() + DAY).toISOString() })));
    expect(future).toMatchObject({ code: 'validation_failed', field: 'purchasedAt' });
    expect((await fx.store.readAll()).length).toBe(0);
  });
});

describe('the merchant approves', () => {
  it('issues the credit note in the same append, refunds once, and the request follows its credit note to succeeded', async () => {
    okValue(await lifecycle.requestRefund(requestInput()));
    const approved = okValue(await lifecycle.approveRequest('rr_1', { actor, note: 'Sorry about that.' }));
    expect(approved).toMatchObject({ status: 'processing', creditNoteId: 'rr-rr_1', creditNoteStatus: 'requested' });
    expect(approved.decision).toMatchObject({ kind: 'approved', option: 'refund_only', amount: 4_000, note: 'Sorry about that.' });

    // One append: the approval, the credit note's issue and its refund request, and the payment's attachment.
    const approval = (await fx.store.readAll()).filter((event) => event.type === 'RefundRequestApproved')[0]!;
    const sameAppend = (await fx.store.readAll()).filter((event) => event.correlationId === approval.correlationId).map((event) => event.type);
    expect(sameAppend).toEqual(expect.arrayContaining(['RefundRequestApproved', 'CreditNoteIssued', 'RefundRequested', 'CreditNoteAttached', 'RefundRequestClosed']));

    const creditNote = okValue(await lifecycle.getCreditNote('rr-rr_1'));
    expect(creditNote).toMatchObject({ amount: 4_000, currency: 'eur', status: 'requested' });
    expect(fx.gateway.createCalls).toBe(1);

    const [refund] = fx.gateway.refunds();
    fx.gateway.setRefundStatus(refund!.processorRefundId, 'succeeded');
    await fx.deliver(fx.gateway.takeNotices());
    expect(okValue(await lifecycle.getRefundRequest('rr_1'))).toMatchObject({ status: 'succeeded', creditNoteStatus: 'succeeded' });
    expect(okValue(await lifecycle.listRefundRequests({ status: 'succeeded' })).map((request) => request.requestId)).toEqual(['rr_1']);

    // Approved and completed: each once, to the client.
    expect(noticesOf('refund_request_approved')).toEqual([expect.objectContaining({ recipient: 'client', decided: expect.objectContaining({ note: 'Sorry about that.', approvedAmount: 4_000 }) })]);
    expect(fx.notifier.delivered().filter((notice) => notice.kind === 'refund_completed')).toHaveLength(1);
    expect(fx.gateway.createCalls).toBe(1);
  });

  it('approves a different amount (a proportional partial refund)', async () => {
    okValue(await lifecycle.requestRefund(requestInput({ reason: 'service_unavailable' })));
    okValue(await lifecycle.approveRequest('rr_1', { actor, amount: 1_000, creditNoteId: 'cn_partial' }));
    expect(okValue(await lifecycle.getCreditNote('cn_partial'))).toMatchObject({ amount: 1_000 });
    expect(fx.gateway.refunds().map((refund) => refund.amount)).toEqual([1_000]);
  });

  it('approving twice with the same terms issues one credit note; other terms conflict', async () => {
    okValue(await lifecycle.requestRefund(requestInput()));
    const [first, second] = await Promise.all([lifecycle.approveRequest('rr_1', { actor }), lifecycle.approveRequest('rr_1', { actor })]);
    okValue(first);
    okValue(second);
    expect(fx.gateway.createCalls).toBe(1);
    expect(noticesOf('refund_request_approved')).toHaveLength(1);
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor, amount: 10 }))).toMatchObject({ code: 'refund_request_conflict', status: 'approved' });
  });

  it('a credit note id already taken by another credit note refuses the approval, writing nothing', async () => {
    okValue(await lifecycle.issueCreditNote({ creditNoteId: 'cn_taken', amount: 1_000, currency: 'EUR', payment: { paymentId: 'pi_1' }, reason: 'earlier', actor }));
    okValue(await lifecycle.requestRefund(requestInput()));
    const before = await storeSnapshot(fx.store);
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor, creditNoteId: 'cn_taken' }))).toMatchObject({ code: 'credit_note_exists', creditNoteId: 'cn_taken' });
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor, creditNoteId: 'cn_taken', amount: 1_000 }))).toMatchObject({ code: 'credit_note_exists' });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    expect(okValue(await lifecycle.getRefundRequest('rr_1')).status).toBe('pending');
  });

  it('is held to the balance guard: more than is left refuses, writing nothing', async () => {
    okValue(await lifecycle.issueCreditNote({ creditNoteId: 'cn_0', amount: 8_000, currency: 'EUR', payment: { paymentId: 'pi_1' }, reason: 'earlier', actor }));
    okValue(await lifecycle.requestRefund(requestInput()));
    const before = await storeSnapshot(fx.store);
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor }))).toMatchObject({ code: 'refundable_balance_exceeded' });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    // A smaller amount fits.
    okValue(await lifecycle.approveRequest('rr_1', { actor, amount: 2_000 }));
    expect(fx.gateway.refunds().map((refund) => refund.amount).sort()).toEqual([2_000, 8_000]);
  });

  it('is held to the charge gate: an unconfirmed charge waits, and the request stays processing', async () => {
    fx.gateway.capture('pi_2', 5_000);
    okValue(await lifecycle.requestRefund(requestInput({ payment: { paymentId: 'pi_2' } })));
    const approved = okValue(await lifecycle.approveRequest('rr_1', { actor }));
    expect(approved).toMatchObject({ status: 'processing', creditNoteStatus: 'pending' });
    expect(fx.gateway.createCalls).toBe(0);
    okValue(await lifecycle.confirmCharge({ paymentId: 'pi_2', actor: { kind: 'processor', id: 'fake' } }));
    expect(fx.gateway.createCalls).toBe(1);
  });

  it('a failed refund makes the request failed; a retry that succeeds makes it succeeded', async () => {
    okValue(await lifecycle.requestRefund(requestInput()));
    okValue(await lifecycle.approveRequest('rr_1', { actor }));
    fx.gateway.setRefundStatus(fx.gateway.refunds()[0]!.processorRefundId, 'failed', 'insufficient_funds');
    await fx.deliver(fx.gateway.takeNotices());
    expect(okValue(await lifecycle.getRefundRequest('rr_1')).status).toBe('failed');
    expect(okValue(await lifecycle.listRefundRequests({ status: 'failed' }))).toHaveLength(1);
    okValue(await lifecycle.retryRefund('rr-rr_1', { actor }));
    expect(okValue(await lifecycle.getRefundRequest('rr_1')).status).toBe('processing');
    fx.gateway.setRefundStatus(fx.gateway.refunds()[1]!.processorRefundId, 'succeeded');
    await fx.deliver(fx.gateway.takeNotices());
    expect(okValue(await lifecycle.getRefundRequest('rr_1')).status).toBe('succeeded');
  });
});

describe('the merchant rejects, or the customer withdraws', () => {
  it('a rejection sends its note to the customer once and never refunds', async () => {
    okValue(await lifecycle.requestRefund(requestInput()));
    const rejected = okValue(await lifecycle.rejectRequest('rr_1', { actor, note: 'The course was completed in full.' }));
    expect(rejected).toMatchObject({ status: 'rejected', allowedActions: [], decision: { kind: 'rejected', note: 'The course was completed in full.' } });
    okValue(await lifecycle.rejectRequest('rr_1', { actor, note: 'The course was completed in full.' }));
    expect(noticesOf('refund_request_rejected')).toEqual([
      expect.objectContaining({ recipient: 'client', decided: expect.objectContaining({ note: 'The course was completed in full.' }) }),
    ]);
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor }))).toMatchObject({ code: 'refund_request_conflict', status: 'rejected' });
    expect(errValue(await lifecycle.withdrawRequest('rr_1', { actor: customer }))).toMatchObject({ code: 'refund_request_conflict' });
    expect(fx.gateway.createCalls).toBe(0);
    expect(okValue(await lifecycle.listCreditNotes())).toEqual([]);
  });

  it('a withdrawn request is closed without a notice and frees the payment for another request', async () => {
    okValue(await lifecycle.requestRefund(requestInput()));
    expect(okValue(await lifecycle.withdrawRequest('rr_1', { actor: customer }))).toMatchObject({ status: 'withdrawn' });
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor }))).toMatchObject({ code: 'refund_request_conflict', status: 'withdrawn' });
    expect(noticesOf('refund_request_approved')).toHaveLength(0);
    okValue(await lifecycle.requestRefund(requestInput({ requestId: 'rr_2' })));
  });

  it('an unknown request is not found', async () => {
    expect(errValue(await lifecycle.rejectRequest('rr_x', { actor }))).toMatchObject({ code: 'refund_request_not_found', requestId: 'rr_x' });
    expect(errValue(await lifecycle.getRefundRequest('rr_x'))).toMatchObject({ code: 'refund_request_not_found' });
    expect(errValue(await lifecycle.approveRequest('rr_x', { actor }))).toMatchObject({ code: 'refund_request_not_found' });
  });
});

describe('the refund policy', () => {
  it('refuses outside the window, naming the rule, and writes nothing', async () => {
    withConfig({ refundRequests: { policy: { windowDays: 7 } } });
    const refused = errValue(await lifecycle.requestRefund(requestInput({ purchasedAt: new Date(fx.clock.now().getTime() - 10 * DAY).toISOString() })));
    expect(refused).toMatchObject({ code: 'policy_refused', refusals: [{ rule: 'purchase_window', overridable: true }] });
    expect((await fx.store.readAll()).length).toBe(0);
    expect(fx.notifier.requestCalls).toHaveLength(0);
  });

  it('refuses excluded products and kinds', async () => {
    withConfig({ refundRequests: { policy: { excludedKinds: ['consumed_service'], excludedProductIds: ['prod_custom'] } } });
    const refused = errValue(await lifecycle.requestRefund(requestInput({ product: { productId: 'prod_custom', kind: 'consumed_service' } })));
    expect(refused.code === 'policy_refused' && refused.refusals.map((refusal) => refusal.rule)).toEqual(['excluded_product', 'excluded_kind']);
  });

  it('lets an operator allowed to override through with a reason, recorded on the request', async () => {
    const asked: string[] = [];
    withConfig({
      refundRequests: { policy: { windowDays: 7 } },
      authorize: (who, action) => {
        asked.push(`${who.id}:${action}`);
        return action !== 'override_policy' || who.id === 'owner_1';
      },
    });
    const late = requestInput({ purchasedAt: new Date(fx.clock.now().getTime() - 10 * DAY).toISOString(), actor: { kind: 'user', id: 'support_1' }, override: { reason: 'Shipping was delayed a week.' } });
    expect(errValue(await lifecycle.requestRefund(late))).toMatchObject({ code: 'forbidden', action: 'override_policy', requestId: 'rr_1' });
    expect((await fx.store.readAll()).length).toBe(0);
    const submitted = okValue(await lifecycle.requestRefund({ ...late, actor: { kind: 'user', id: 'owner_1' } }));
    expect(submitted.overrides).toEqual([{ reason: 'Shipping was delayed a week.', rules: ['purchase_window'] }]);
    // The window was set aside at submission: the approval does not need another override.
    okValue(await lifecycle.approveRequest('rr_1', { actor }));
    expect(asked).toContain('owner_1:override_policy');
  });

  it('allows one open request per payment, and that rule cannot be overridden', async () => {
    okValue(await lifecycle.requestRefund(requestInput()));
    const second = errValue(await lifecycle.requestRefund(requestInput({ requestId: 'rr_2', override: { reason: 'please' } })));
    expect(second).toMatchObject({ code: 'policy_refused', refusals: [{ rule: 'one_open_request', overridable: false }] });
    // Two customers' tabs at once: one request opens, the other is refused.
    const [a, b] = await Promise.all([lifecycle.requestRefund(requestInput({ requestId: 'rr_3', payment: { paymentId: 'pi_3' } })), lifecycle.requestRefund(requestInput({ requestId: 'rr_4', payment: { paymentId: 'pi_3' } }))]);
    expect([a.isOk(), b.isOk()].sort()).toEqual([false, true]);
    okValue(await lifecycle.rejectRequest('rr_1', { actor }));
    okValue(await lifecycle.requestRefund(requestInput({ requestId: 'rr_2' })));
  });

  it('is evaluated again at approval: a product excluded since refuses unless overridden', async () => {
    okValue(await lifecycle.requestRefund(requestInput({ product: { productId: 'prod_1', kind: 'customised' } })));
    withConfig({ refundRequests: { policy: { excludedKinds: ['customised'] } } });
    const before = await storeSnapshot(fx.store);
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor }))).toMatchObject({ code: 'policy_refused', refusals: [{ rule: 'excluded_kind' }] });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    const approved = okValue(await lifecycle.approveRequest('rr_1', { actor, override: { reason: 'Engraving was wrong: our mistake.' } }));
    expect(approved.overrides).toEqual([{ reason: 'Engraving was wrong: our mistake.', rules: ['excluded_kind'] }]);
  });

  it('the window measures when the customer asked, not how long the review took', async () => {
    withConfig({ refundRequests: { policy: { windowDays: 7 } } });
    okValue(await lifecycle.requestRefund(requestInput({ purchasedAt: new Date(fx.clock.now().getTime() - 6 * DAY).toISOString() })));
    fx.clock.advance(5 * DAY);
    okValue(await lifecycle.approveRequest('rr_1', { actor }));
  });
});

describe('subscriptions', () => {
  it('refund + cancel (the default for a subscription) cancels once through the outbox', async () => {
    okValue(await lifecycle.requestRefund(requestInput({ subscriptionId: 'sub_1', reason: 'unexpected_charge' })));
    fx.cancelCalls.length = 0;
    okValue(await lifecycle.approveRequest('rr_1', { actor }));
    okValue(await lifecycle.approveRequest('rr_1', { actor }));
    okValue(await lifecycle.dispatch());
    expect(fx.cancelCalls).toEqual([
      expect.objectContaining({ hook: 'cancelSubscription', subscriptionId: 'sub_1', requestId: 'rr_1', idempotencyKey: 'rr_1:request:cancelSubscription', decided: expect.objectContaining({ option: 'refund_and_cancel' }) }),
    ]);
    expect(fx.gateway.createCalls).toBe(1);
  });

  it('refund only keeps the subscription', async () => {
    okValue(await lifecycle.requestRefund(requestInput({ subscriptionId: 'sub_1' })));
    okValue(await lifecycle.approveRequest('rr_1', { actor, option: 'refund_only' }));
    expect(fx.cancelCalls).toEqual([]);
    expect(fx.gateway.createCalls).toBe(1);
  });

  it('cancel only refunds nothing and is done at once', async () => {
    okValue(await lifecycle.requestRefund(requestInput({ subscriptionId: 'sub_1' })));
    const approved = okValue(await lifecycle.approveRequest('rr_1', { actor, option: 'cancel_only' }));
    expect(approved).toMatchObject({ status: 'succeeded', creditNoteId: null });
    expect(fx.cancelCalls).toHaveLength(1);
    expect(fx.gateway.createCalls).toBe(0);
    expect(okValue(await lifecycle.listCreditNotes())).toEqual([]);
  });

  it('a cancellation that fails is tried again and runs once', async () => {
    let failures = 2;
    withConfig({
      hooks: {
        cancelSubscription: (call) => {
          if (failures-- > 0) throw new Error('billing system down');
          fx.cancelCalls.push(call);
        },
      },
    });
    okValue(await lifecycle.requestRefund(requestInput({ subscriptionId: 'sub_1' })));
    okValue(await lifecycle.approveRequest('rr_1', { actor, option: 'cancel_only' }));
    for (let round = 0; round < 4; round += 1) {
      fx.clock.advance(60 * 60 * 1000);
      okValue(await lifecycle.dispatch());
    }
    expect(fx.cancelCalls).toHaveLength(1);
  });

  it('a subscription option without a subscription is a validation error', async () => {
    okValue(await lifecycle.requestRefund(requestInput()));
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor, option: 'cancel_only' }))).toMatchObject({ code: 'validation_failed', field: 'option' });
    okValue(await lifecycle.requestRefund(requestInput({ requestId: 'rr_s', payment: { paymentId: 'pi_s' }, subscriptionId: 'sub_9' })));
    expect(errValue(await lifecycle.approveRequest('rr_s', { actor, option: 'cancel_only', amount: 100 }))).toMatchObject({ code: 'validation_failed', field: 'amount' });
  });
});

describe('permissions', () => {
  it('a forbidden actor writes nothing, for each request action', async () => {
    const calls: Array<{ action: string; subject: unknown }> = [];
    withConfig({ authorize: (who, action, subject) => (calls.push({ action, subject }), who.id !== 'viewer_1') });
    const viewer = { kind: 'user', id: 'viewer_1' } as const;
    expect(errValue(await lifecycle.requestRefund(requestInput({ actor: viewer })))).toMatchObject({ code: 'forbidden', action: 'request_refund' });
    okValue(await lifecycle.requestRefund(requestInput()));
    const before = await storeSnapshot(fx.store);
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor: viewer }))).toMatchObject({ code: 'forbidden', action: 'approve_request' });
    expect(errValue(await lifecycle.rejectRequest('rr_1', { actor: viewer }))).toMatchObject({ code: 'forbidden', action: 'reject_request' });
    expect(errValue(await lifecycle.withdrawRequest('rr_1', { actor: viewer }))).toMatchObject({ code: 'forbidden', action: 'withdraw_request' });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    expect(calls.find((call) => call.action === 'approve_request')?.subject).toEqual({ requestId: 'rr_1', customerId: 'cus_1', creditNoteId: 'rr-rr_1', amount: 4_000, currency: 'eur', paymentId: 'pi_1' });
    expect(calls.find((call) => call.action === 'withdraw_request')?.subject).toEqual({ requestId: 'rr_1', customerId: 'cus_1', amount: 4_000, currency: 'eur', paymentId: 'pi_1' });
    expect(calls.find((call) => call.action === 'request_refund')?.subject).toEqual({ requestId: 'rr_1', amount: 4_000, currency: 'eur', paymentId: 'pi_1', customerId: 'cus_1' });
  });
});

describe('what a serious host would trip on', () => {
  it('a customer may ask and withdraw, never decide or override, even when the host allows everything', async () => {
    withConfig({ refundRequests: { policy: { windowDays: 7 } } });
    const late = requestInput({ purchasedAt: new Date(fx.clock.now().getTime() - 60 * DAY).toISOString(), override: { reason: 'I say so' } });
    expect(errValue(await lifecycle.requestRefund(late))).toMatchObject({ code: 'forbidden', action: 'override_policy' });
    okValue(await lifecycle.requestRefund(requestInput()));
    const before = await storeSnapshot(fx.store);
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor: customer }))).toMatchObject({ code: 'forbidden', action: 'approve_request' });
    expect(errValue(await lifecycle.rejectRequest('rr_1', { actor: customer }))).toMatchObject({ code: 'forbidden', action: 'reject_request' });
    expect(errValue(await lifecycle.issueCreditNote({ creditNoteId: 'cn_self', amount: 100, currency: 'EUR', payment: { paymentId: 'pi_1' }, reason: 'me', actor: customer }))).toMatchObject({ code: 'forbidden' });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    okValue(await lifecycle.withdrawRequest('rr_1', { actor: customer }));
  });

  it('refund + cancel needs a cancelSubscription hook: without one the default is refund only, and asking to cancel is refused', async () => {
    withConfig({ hooks: {} });
    okValue(await lifecycle.requestRefund(requestInput({ subscriptionId: 'sub_1' })));
    const before = await storeSnapshot(fx.store);
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor, option: 'refund_and_cancel' }))).toMatchObject({ code: 'validation_failed', field: 'option' });
    expect(await storeSnapshot(fx.store)).toEqual(before);
    expect(okValue(await lifecycle.approveRequest('rr_1', { actor })).decision).toMatchObject({ option: 'refund_only' });
  });

  it('a cancellation decided while a hook was configured, performed by a process without one, is parked, never marked done', async () => {
    okValue(await fx.lifecycleWith({ dispatchInline: false }).requestRefund(requestInput({ subscriptionId: 'sub_1' })));
    okValue(await fx.lifecycleWith({ dispatchInline: false }).approveRequest('rr_1', { actor, option: 'cancel_only' }));
    const worker = fx.lifecycleWith({ hooks: {}, retryPolicy: { maxSideEffectDeliveries: 2 } });
    for (let round = 0; round < 3; round += 1) {
      okValue(await worker.dispatch());
      fx.clock.advance(60 * 60 * 1000);
    }
    const [parked] = okValue(await worker.parkedSideEffects());
    expect(parked).toMatchObject({ kind: 'request_hook', lastError: expect.stringContaining('no cancelSubscription hook is configured') });
  });

  it('an approval refunds at most what the customer asked, and a cancel-only approval takes no refund terms', async () => {
    okValue(await lifecycle.requestRefund(requestInput({ subscriptionId: 'sub_1' })));
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor, amount: 4_001 }))).toMatchObject({ code: 'validation_failed', field: 'amount' });
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor, option: 'cancel_only', creditNoteId: 'cn_x' }))).toMatchObject({ code: 'validation_failed', field: 'creditNoteId' });
    expect(errValue(await lifecycle.approveRequest('rr_1', { actor, option: 'cancel_only', chargeConfirmed: true }))).toMatchObject({ code: 'validation_failed', field: 'chargeConfirmed' });
    expect((await fx.store.readAll()).filter((event) => event.type === 'RefundRequestApproved')).toEqual([]);
  });

  it('an empty details box or note is no text', async () => {
    expect(okValue(await lifecycle.requestRefund(requestInput({ details: '  ' }))).details).toBeNull();
    expect(okValue(await lifecycle.rejectRequest('rr_1', { actor, note: '' })).decision).toEqual(expect.objectContaining({ kind: 'rejected', note: null }));
  });
});

describe('reads', () => {
  it('history shows who decided what, across the request and its credit note', async () => {
    okValue(await lifecycle.requestRefund(requestInput()));
    okValue(await lifecycle.approveRequest('rr_1', { actor }));
    const history = okValue(await lifecycle.refundRequestHistory('rr_1'));
    expect(history.map((event) => [event.type, event.actor.id])).toEqual([
      ['RefundRequestSubmitted', 'cus_1'],
      ['CreditNoteIssued', 'freelancer_1'],
      ['RefundRequested', 'freelancer_1'],
      ['RefundRequestApproved', 'freelancer_1'],
      ['RefundAccepted', expect.any(String)],
    ]);
  });

  it('reports requests by reason and outcome over a period', async () => {
    const submit = (requestId: string, paymentId: string, reason: RequestRefundInput['reason'], amount: number) =>
      lifecycle.requestRefund(requestInput({ requestId, payment: { paymentId }, reason, amount }));
    for (const id of ['a', 'b', 'c']) fx.gateway.capture(`pi_${id}`, 10_000), fx.gateway.setChargeConfirmed(`pi_${id}`, true);
    const from = fx.clock.now().toISOString();
    okValue(await submit('rr_a', 'pi_a', 'not_as_described', 1_000));
    okValue(await submit('rr_b', 'pi_b', 'not_as_described', 2_000));
    okValue(await submit('rr_c', 'pi_c', 'no_longer_needed', 3_000));
    okValue(await lifecycle.approveRequest('rr_a', { actor, amount: 500 }));
    okValue(await lifecycle.rejectRequest('rr_b', { actor }));
    fx.clock.advance(DAY);
    const to = fx.clock.now().toISOString();
    okValue(await submit('rr_later', 'pi_1', 'other', 100));
    expect(okValue(await lifecycle.refundRequestReport({ from, to }))).toEqual([
      { reason: 'no_longer_needed', ticketStatus: 'pending', currency: 'eur', count: 1, requestedAmount: 3_000, approvedAmount: 0 },
      { reason: 'not_as_described', ticketStatus: 'processing', currency: 'eur', count: 1, requestedAmount: 1_000, approvedAmount: 500 },
      { reason: 'not_as_described', ticketStatus: 'rejected', currency: 'eur', count: 1, requestedAmount: 2_000, approvedAmount: 0 },
    ]);
    expect(errValue(await lifecycle.refundRequestReport({ from: to, to: from }))).toMatchObject({ code: 'validation_failed' });
  });
});

describe('logs', () => {
  it('each request command logs one line naming the request, and each notice and hook its own', async () => {
    const recorded = recordingLogger();
    withConfig({ logger: recorded.logger });
    okValue(await lifecycle.requestRefund(requestInput({ subscriptionId: 'sub_1' })));
    okValue(await lifecycle.approveRequest('rr_1', { actor }));
    const commands = recorded.of('command').map((line) => [line.fields.command, line.fields.requestId, line.fields.creditNoteId]);
    expect(commands).toEqual([
      ['requestRefund', 'rr_1', undefined],
      // The approval's line also names the credit note it issued.
      ['approveRequest', 'rr_1', 'rr-rr_1'],
    ]);
    const effects = recorded.of('side_effect').map((line) => [line.fields.kind, line.fields.requestId, line.fields.notification ?? line.fields.hook]);
    expect(effects).toEqual(
      expect.arrayContaining([
        ['request_notify', 'rr_1', 'refund_request_received'],
        ['request_notify', 'rr_1', 'refund_request_approved'],
        ['request_hook', 'rr_1', 'cancelSubscription'],
      ]),
    );
  });
});
