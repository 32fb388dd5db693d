import { ok } from 'neverthrow';
import { describe, expect, it } from 'vitest';
import {
  CreditNoteAlreadyExistsError,
  RefundableBalanceExceededError,
  RefundWindowClosedError,
  TransitionConflictError,
} from '../src/errors.js';
import { decideIssue, type PaymentFactsForIssue } from '../src/lifecycle/commands/issueCreditNote.js';
import { foldPayment } from '../src/machine/paymentState.js';
import { decideMarkRefunded } from '../src/lifecycle/commands/markRefunded.js';
import { decideRetry } from '../src/lifecycle/commands/retryRefund.js';
import { proposeAllowedEvents, startChange } from '../src/lifecycle/creditNoteChange.js';
import { eventsForObservation } from '../src/lifecycle/observation.js';
import type { ProcessorRefund } from '../src/ports/refundGateway.js';
import { deciderSpecification, refundId, story, type Decider } from './support/deciderSpecification.js';

/*
 * The decisions of retry, mark refunded and a processor's observation, as
 * given / when / then specifications: no store, no processor, no dispatcher.
 * What the host sees of them (refunds created, emails sent, answers) is in
 * lifecycle.commands.test.ts.
 */

const spec = deciderSpecification();
const { issued, requested, accepted, succeeded, failed, chargeNotConfirmed, transientError, adopted } = story;
const { retryRequested, markedRefundedManually } = story;

const retry = (chargeConfirmed = true): Decider<TransitionConflictError> => (creditNote, now) =>
  decideRetry(creditNote, { chargeConfirmed }, now);

const manualRefund = { reason: 'Refunded by bank transfer', reference: 'SEPA-2026-03-0042', method: 'bank_transfer' } as const;
const markRefunded: Decider<TransitionConflictError> = (creditNote, now) => decideMarkRefunded(creditNote, manualRefund, now);

/** What observeRefund decides: the events the machine allows of what the refund tells. */
const observe = (refund: Partial<ProcessorRefund> & Pick<ProcessorRefund, 'status'>): Decider<never> => (creditNote, now) =>
  ok(
    proposeAllowedEvents(
      startChange(creditNote),
      eventsForObservation(creditNote.state, {
        processorRefundId: refundId(1),
        paymentId: 'pi_1',
        amount: 5_000,
        currency: 'eur',
        failure: null,
        metadata: { creditNoteId: 'cn_1', attempt: 1 },
        ...refund,
      }),
      now.toISOString(),
    ),
  );

const request = (attempt: number) =>
  ({ type: 'RefundRequested', data: { attempt, idempotencyKey: `cn_1:refund:${attempt}`, amount: 5_000, currency: 'eur' } }) as const;

// Histories the specs start from, named by the status they leave the credit note in.
const history = {
  issued: [issued({ payment: null })],
  pendingChargeNotConfirmed: [issued(), chargeNotConfirmed()],
  requested: [issued(), requested(1)],
  inDoubt: [issued(), requested(1), transientError(1)],
  accepted: [issued(), requested(1), accepted(1)],
  succeeded: [issued(), requested(1), accepted(1), succeeded(1)],
  failed: [issued(), requested(1), accepted(1), failed(1)],
  manual: [issued({ payment: null }), markedRefundedManually()],
};

describe('retry', () => {
  it.each([
    ['issued', history.issued, null],
    ['requested', history.requested, 'refund attempt 1 is requested at the processor'],
    ['requested', history.accepted, 'refund attempt 1 is accepted at the processor'],
    ['succeeded', history.succeeded, null],
    ['manual', history.manual, null],
  ] as const)('is refused from %s with a conflict naming the status (%#)', (status, events, detail) => {
    spec
      .given(events)
      .when(retry())
      .thenError(TransitionConflictError, { creditNoteId: 'cn_1', command: 'retry', status, detail, code: 'transition_not_allowed' });
  });

  it('from failed clears the failure and asks again as attempt 2 under a new key', () => {
    const { change, thenEffects } = spec
      .given(history.failed)
      .when(retry())
      .then([{ type: 'RetryRequested', data: {} }, request(2)]);
    thenEffects(['requestRefund']);
    // The stale failure is gone: the view shows no failure while attempt 2 is asked.
    expect(change.state.context).toMatchObject({ failure: null, refund: { attempt: 2, status: 'requested' } });
  });

  it('from pending after a transient error asks again for the SAME attempt under the same key', () => {
    spec
      .given(history.inDoubt)
      .when(retry())
      .then([{ type: 'RetryRequested', data: {} }, request(1)])
      .thenEffects(['requestRefund']);
  });

  it('from a retry that is itself in doubt again still asks for the same attempt', () => {
    spec
      .given([...history.failed, retryRequested(), requested(2), transientError(2)])
      .when(retry())
      .then([{ type: 'RetryRequested', data: {} }, request(2)]);
  });

  it('while the charge is still unconfirmed stays pending: the gate defers again, nothing is asked', () => {
    const { change, thenEffects } = spec
      .given(history.pendingChargeNotConfirmed)
      .when(retry(false))
      .then([
        { type: 'RetryRequested', data: {} },
        { type: 'RefundDeferred', data: { reason: 'charge_not_confirmed' } },
      ]);
    thenEffects([]);
    expect(change.state).toMatchObject({ status: 'pending', context: { pendingReason: 'charge_not_confirmed' } });
  });

  it('from pending on a charge confirmed since asks for attempt 1', () => {
    spec
      .given(history.pendingChargeNotConfirmed)
      .when(retry(true))
      .then([{ type: 'RetryRequested', data: {} }, request(1)])
      .thenEffects(['requestRefund']);
  });

  it('of a processor-origin credit note (its refund made in the dashboard) is refused: the merchant redoes it', () => {
    spec
      .given([issued({ origin: 'processor' }), adopted(), failed(1)])
      .when(retry())
      .thenError(TransitionConflictError, { command: 'retry', status: 'failed', detail: null });
  });
});

describe('markRefunded', () => {
  it.each([
    ['issued', history.issued],
    ['pending', history.pendingChargeNotConfirmed],
    ['failed', history.failed],
    ['pending', [...history.failed, retryRequested()]],
  ] as const)('from %s records the manual refund, owes the client one notice and one hook (%#)', (_status, events) => {
    const { change, thenEffects } = spec
      .given(events)
      .when(markRefunded)
      .then([{ type: 'MarkedRefundedManually', data: manualRefund }]);
    thenEffects([
      { type: 'notify', params: { kind: 'manual_refund_recorded', recipient: 'client' } },
      { type: 'runHook', params: { hook: 'refundedManually' } },
    ]);
    expect(change.state).toMatchObject({ status: 'manual', context: { manual: manualRefund, settledAt: '2026-01-01T10:00:00.000Z' } });
  });

  it.each([
    ['requested', history.requested, 'refund attempt 1 is requested at the processor'],
    ['succeeded', history.succeeded, null],
    ['manual', history.manual, null],
  ] as const)('is refused from %s with a conflict', (status, events, detail) => {
    spec
      .given(events)
      .when(markRefunded)
      .thenError(TransitionConflictError, { command: 'mark refunded', status, detail });
  });

  it('is refused while an in-doubt attempt may still be paid by the processor (it would refund twice)', () => {
    spec
      .given(history.inDoubt)
      .when(markRefunded)
      .thenError(TransitionConflictError, { status: 'pending', detail: 'refund attempt 1 is in doubt at the processor' });
  });
});

describe('observations: what a processor refund tells, whatever carried it', () => {
  const settled = (attempt: number) => ({ type: 'RefundSucceeded', data: { attempt, processorRefundId: refundId(attempt) } }) as const;

  it('succeeded before created (the create answer lost): accepted and succeeded at once; the client is owed one notice', () => {
    spec
      .given(history.inDoubt)
      .when(observe({ status: 'succeeded' }))
      .then([
        {
          type: 'RefundAccepted',
          data: { attempt: 1, processorRefundId: refundId(1), processorStatus: 'succeeded', pendingReason: null },
        },
        settled(1),
      ])
      .thenEffects([
        { type: 'notify', params: { kind: 'refund_completed', recipient: 'client' } },
        { type: 'runHook', params: { hook: 'refundSucceeded' } },
      ]);
  });

  it('the late "created" (still pending) after the success changes nothing', () => {
    spec.given(history.succeeded).when(observe({ status: 'pending' })).then([]);
  });

  it('a duplicate of the success changes nothing and owes nothing', () => {
    spec.given(history.succeeded).when(observe({ status: 'succeeded' })).then([]).thenEffects([]);
  });

  it('a stale notice of attempt 1 after attempt 2 was requested is history, not state', () => {
    const attemptTwo = [...history.failed, retryRequested(), requested(2), accepted(2)];
    const failure = { reason: 'insufficient_funds', classification: { retry: 'may_help', recovery: 'retry' }, message: 'no' } as const;
    spec.given(attemptTwo).when(observe({ status: 'failed', failure })).then([]);
    spec.given(attemptTwo).when(observe({ status: 'succeeded' })).then([]);
    // The same refund without metadata (a dashboard-made copy) is matched by id only, and is not the current one.
    spec
      .given(attemptTwo)
      .when(observe({ status: 'succeeded', metadata: { creditNoteId: 'cn_1', attempt: null } }))
      .then([]);
  });

  it('a reversal of the refund that succeeded: failed, the merchant is owed one notice', () => {
    const failure = {
      reason: 'expired_or_canceled_card',
      classification: { retry: 'after_action', recovery: 'manual_refund' },
      message: 'The card expired',
    } as const;
    const { change, thenEffects } = spec
      .given(history.succeeded)
      .when(observe({ status: 'failed', failure }))
      .then([
        {
          type: 'RefundFailed',
          data: {
            attempt: 1,
            processorRefundId: refundId(1),
            processorReason: 'expired_or_canceled_card',
            classification: failure.classification,
            message: 'The card expired',
          },
        },
      ]);
    thenEffects([
      { type: 'notify', params: { kind: 'refund_failed', recipient: 'merchant' } },
      { type: 'runHook', params: { hook: 'refundFailed' } },
    ]);
    expect(change.state).toMatchObject({ status: 'failed', context: { settledAt: null } });
  });

  it('only the refund that succeeded can be reversed: a failure of another refund id is ignored', () => {
    spec
      .given(history.succeeded)
      .when(observe({ processorRefundId: 're_other', status: 'failed' }))
      .then([]);
  });

  it('a refund of another payment, amount or currency never settles the attempt, whatever its metadata', () => {
    for (const other of [{ paymentId: 'pi_2' }, { amount: 4_999 }, { currency: 'usd' }]) {
      spec.given(history.requested).when(observe({ status: 'succeeded', ...other })).then([]);
    }
  });

  it('a terminal state never changes: a manual refund ignores a processor refund for it', () => {
    spec
      .given([issued(), chargeNotConfirmed(), markedRefundedManually()])
      .when(observe({ processorRefundId: 're_dashboard_1', status: 'succeeded' }))
      .then([]);
  });
});

describe('issue', () => {
  const terms = {
    creditNoteId: 'cn_1',
    amount: 5_000,
    currency: 'eur',
    payment: { processor: 'fake', paymentId: 'pi_1', account: null },
    reason: 'proposal amended',
    origin: 'host',
  } as const;
  const noEvents = { streamId: 'payment-pi_1', version: 0, state: foldPayment([]), events: [] };
  const onPayment = (overrides: Partial<PaymentFactsForIssue> = {}): PaymentFactsForIssue => ({
    payment: terms.payment,
    stream: noEvents,
    siblings: [],
    described: { amount: 8_000, currency: 'eur', method: 'card', refundableUntil: null },
    describedNow: true,
    earlier: [],
    hostConfirmed: true,
    processorConfirmed: false,
    ...overrides,
  });
  const issue = (facts: PaymentFactsForIssue | null): Decider<unknown> => (creditNote, now) =>
    decideIssue(creditNote, terms, facts, now).map((plan) => plan.creditNotes?.[0] ?? startChange(creditNote));

  it('on a confirmed charge within its balance: issued and refund attempt 1 requested', () => {
    const { thenEffects } = spec.given([]).when(issue(onPayment())).then([
      { type: 'CreditNoteIssued', data: terms },
      { type: 'RefundRequested', data: { attempt: 1, idempotencyKey: 'cn_1:refund:1', amount: 5_000, currency: 'eur' } },
    ]);
    thenEffects(['requestRefund']);
  });

  it('on a charge not confirmed yet: issued and pending, nothing asked of the processor', () => {
    spec
      .given([])
      .when(issue(onPayment({ hostConfirmed: false })))
      .then([{ type: 'CreditNoteIssued', data: terms }, { type: 'RefundDeferred', data: { reason: 'charge_not_confirmed' } }]);
  });

  it('beyond what the payment has left to refund: refused with the balance', () => {
    spec
      .given([])
      .when(issue(onPayment({ described: { amount: 4_000, currency: 'eur', method: 'card', refundableUntil: null } })))
      .thenError(RefundableBalanceExceededError, { chargedAmount: 4_000, committedAmount: 0, requestedAmount: 5_000 });
  });

  it('after the refund window closed: refused, to be refunded by hand', () => {
    const closed = { amount: 8_000, currency: 'eur', method: 'sepa_debit', refundableUntil: '2025-01-01T00:00:00.000Z' };
    spec.given([]).when(issue(onPayment({ described: closed }))).thenError(RefundWindowClosedError, { recovery: 'manual_refund' });
  });

  it('the same terms again decide nothing; other terms under the same id conflict', () => {
    spec.given([issued()]).when(issue(onPayment())).then([]);
    spec
      .given([issued({ amount: 4_000 })])
      .when(issue(onPayment()))
      .thenError(CreditNoteAlreadyExistsError, { creditNoteId: 'cn_1' });
  });
});
