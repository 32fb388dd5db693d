import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CreditNoteEvent } from '../src/events/creditNoteEvents.js';
import { decideWithMachine, type Intent } from '../src/machine/creditNoteMachine.js';
import { initialCreditNoteState, type CreditNoteState } from '../src/machine/creditNoteState.js';
import { numRuns } from './support/numRuns.js';
import {
  CREDIT_NOTE_ID,
  ISSUED_AMOUNT,
  ISSUED_CURRENCY,
  creditNoteEventArb,
  creditNoteIssuedArb,
} from './support/creditNoteEventArbitraries.js';
import {
  initialRefState,
  refExpectedAttempt,
  refKey,
  refLifecycleStatuses,
  referenceRuleKeys,
  referenceStep,
  type RefEffect,
  type RefState,
} from './support/referenceModel.js';

/*
 * The differential test compares the fold with XState, but both run the rules
 * of src/machine/rules.ts, so a wrong guard or update cannot fail it. Here the
 * machine is checked against test/support/referenceModel.ts, written from the
 * README and docs/glossary.md and sharing no code with src/machine: same decision,
 * same status, same side effects owed and the same essential context, at every
 * step of generated sequences. The events come from the generators the
 * differential test uses too; aiming uses the reference model's view of the state.
 */

// ---- aiming the generated events --------------------------------------------------------------------------------

type Step = { aimed: boolean; event: CreditNoteEvent };

/** Makes an event fit the current attempt (as the reference model sees it), so sequences go deep. */
const aim = (event: CreditNoteEvent, state: RefState): CreditNoteEvent => {
  const attempt = state.attempt;
  switch (event.type) {
    case 'RefundRequested': {
      const number = refExpectedAttempt(state);
      return { ...event, data: { ...event.data, attempt: number, idempotencyKey: refKey(state.creditNoteId, number) } };
    }
    case 'RefundDeferred':
      return event.data.reason === 'transient_error' && attempt !== null
        ? { ...event, data: { ...event.data, attempt: attempt.number, consecutiveFailures: attempt.consecutiveFailures + 1 } }
        : event;
    case 'RefundFailed':
      // A generated null id stays null, so reversals that name no refund come up aimed at the succeeded attempt.
      return attempt === null
        ? event
        : {
            ...event,
            data: {
              ...event.data,
              attempt: attempt.number,
              processorRefundId: event.data.processorRefundId === null ? null : (attempt.processorRefundId ?? event.data.processorRefundId),
            },
          };
    case 'RefundAccepted':
    case 'RefundProgressed':
    case 'RefundSucceeded':
      return attempt === null
        ? event
        : ({
            ...event,
            data: {
              ...event.data,
              attempt: attempt.number,
              processorRefundId: attempt.processorRefundId ?? event.data.processorRefundId,
            },
          } as CreditNoteEvent);
    default:
      return event;
  }
};

const stepArb: fc.Arbitrary<Step> = fc.record({
  aimed: fc.oneof({ arbitrary: fc.constant(true), weight: 2 }, fc.constant(false)),
  event: creditNoteEventArb({ namedFailureOdds: 2 }),
});

const stepSequenceArb = fc
  .tuple(
    fc.oneof(
      { arbitrary: creditNoteIssuedArb.map((event): Step[] => [{ aimed: false, event }]), weight: 9 },
      fc.constant([]),
    ),
    fc.array(stepArb, { maxLength: 60, size: 'max' }),
  )
  .map(([start, rest]) => [...start, ...rest]);

// ---- comparing the machine with the reference ------------------------------------------------------------------

/** The machine's intents in the reference's vocabulary. */
const effectsOf = (intents: Intent[]): RefEffect[] =>
  intents
    .map((intent): RefEffect => {
      switch (intent.type) {
        case 'requestRefund':
        case 'scheduleRefundRetry':
          return 'create_refund';
        case 'notify':
          return `notify:${intent.params.kind}`;
        case 'runHook':
          return `hook:${intent.params.hook}`;
      }
    })
    .sort();

/** The part of the machine's state the reference model keeps. */
const projectMachine = ({ status, context }: CreditNoteState): RefState => ({
  status,
  creditNoteId: context.creditNoteId,
  amount: context.amount,
  currency: context.currency,
  hasPayment: context.payment !== null,
  origin: context.origin,
  attempt:
    context.refund === null
      ? null
      : {
          number: context.refund.attempt,
          status: context.refund.status,
          idempotencyKey: context.refund.idempotencyKey,
          processorRefundId: context.refund.processorRefundId,
          processorStatus: context.refund.processorStatus,
          processorPendingReason: context.refund.processorPendingReason,
          consecutiveFailures: context.refund.consecutiveFailures,
        },
  settledAt: context.settledAt,
  hasFailure: context.failure !== null,
});

const describeEvent = (event: CreditNoteEvent): string => {
  const data = event.data as Record<string, unknown>;
  const fields = ['reason', 'attempt', 'processorRefundId', 'consecutiveFailures', 'retryAt', 'payment', 'origin', 'amount', 'currency', 'idempotencyKey', 'processorStatus', 'pendingReason']
    .filter((field) => field in data)
    .map((field) => `${field}=${JSON.stringify(data[field])}`);
  return `${event.type}(${fields.join(', ')}) @${event.occurredAt.slice(5, 10)}`;
};

type Agreement = { machine: CreditNoteState; reference: RefState; rule: string | null; accepted: boolean };

/** Applies one event to both and asserts they agree; `log` is the sequence so far, printed on a mismatch. */
const applyBoth = (machineState: CreditNoteState, referenceState: RefState, event: CreditNoteEvent, log: string[]): Agreement => {
  const fromMachine = decideWithMachine(machineState, event);
  const fromReference = referenceStep(referenceState, event);
  log.push(
    `#${log.length} [${referenceState.status}] ${describeEvent(event)} → machine ${fromMachine.accepted ? fromMachine.state.status : 'refused'}, ` +
      `reference ${fromReference.accepted ? `${fromReference.state.status} (${fromReference.rule})` : 'refused'}`,
  );
  const where = `machine and reference disagree at the last step of:\n  ${log.join('\n  ')}\n`;
  expect(fromMachine.accepted, `${where}accepted?`).toBe(fromReference.accepted);
  expect(fromMachine.state.status, `${where}status`).toBe(fromReference.state.status);
  expect(fromMachine.accepted ? effectsOf(fromMachine.intents) : [], `${where}side effects owed`).toEqual(
    [...fromReference.effects].sort(),
  );
  expect(projectMachine(fromMachine.state), `${where}context`).toEqual(fromReference.state);
  return { machine: fromMachine.state, reference: fromReference.state, rule: fromReference.rule, accepted: fromReference.accepted };
};

const runBoth = (events: CreditNoteEvent[]) => {
  let machine = initialCreditNoteState;
  let reference = initialRefState;
  const log: string[] = [];
  let last: Agreement | null = null;
  for (const event of events) {
    last = applyBoth(machine, reference, event, log);
    machine = last.machine;
    reference = last.reference;
  }
  return { machine, reference, last };
};

// ---- the property ----------------------------------------------------------------------------------------------

describe('XState machine vs the reference model written from the docs', () => {
  it('agree at every step of generated sequences: decision, status, side effects owed and context', () => {
    const takenRules = new Set<string>();
    const seen = new Set<string>();

    fc.assert(
      fc.property(stepSequenceArb, (steps) => {
        let machine: CreditNoteState = initialCreditNoteState;
        let reference: RefState = initialRefState;
        const log: string[] = [];
        for (const step of steps) {
          const event = step.aimed ? aim(step.event, reference) : step.event;
          const from = reference.status;
          const result = applyBoth(machine, reference, event, log);
          seen.add(`${from}/${result.accepted ? 'accepted' : 'refused'}`);
          if (result.rule !== null) {
            takenRules.add(`${result.rule}@${from}`);
            if (result.rule === 'defer:transient_error') {
              takenRules.add(`defer:transient_error/${event.type === 'RefundDeferred' && event.data.reason === 'transient_error' && event.data.retryAt !== null ? 'auto' : 'exhausted'}`);
            }
          }
          // Issue 7 item 6, reached by the property too: a reversal naming no refund of the succeeded attempt.
          if (from === 'succeeded' && event.type === 'RefundFailed' && event.data.processorRefundId === null && event.data.attempt === reference.attempt?.number) {
            seen.add(`succeeded/reversal-without-refund-id/${result.accepted ? 'accepted' : 'refused'}`);
          }
          machine = result.machine;
          reference = result.reference;
        }
      }),
      { numRuns: numRuns(1000) },
    );

    // Not vacuous: every rule of the reference table was taken from every status it lists, both kinds of
    // transient error came up, every lifecycle status was reached and refused something, and every
    // non-final one accepted something.
    expect(referenceRuleKeys.filter((key) => !takenRules.has(key))).toEqual([]);
    expect(takenRules).toContain('defer:transient_error/auto');
    expect(takenRules).toContain('defer:transient_error/exhausted');
    for (const status of ['unissued', ...refLifecycleStatuses]) expect(seen).toContain(`${status}/refused`);
    for (const status of ['unissued', 'issued', 'pending', 'requested', 'succeeded', 'failed']) expect(seen).toContain(`${status}/accepted`);
    expect(seen).toContain('succeeded/reversal-without-refund-id/refused');
  });
});

// ---- examples --------------------------------------------------------------------------------------------------

const at = '2025-03-01T10:00:00.000Z';
const later = '2025-03-02T11:30:00.000Z';
const issue = (overrides: { payment?: null; origin?: 'host' | 'processor' } = {}): CreditNoteEvent => ({
  type: 'CreditNoteIssued',
  occurredAt: at,
  data: {
    creditNoteId: CREDIT_NOTE_ID,
    amount: ISSUED_AMOUNT,
    currency: ISSUED_CURRENCY,
    payment: overrides.payment === null ? null : { processor: 'stripe', paymentId: 'pi_1', account: 'acct_1' },
    reason: 'order cancelled',
    origin: overrides.origin ?? 'host',
  },
});
const request = (attempt: number): CreditNoteEvent => ({
  type: 'RefundRequested',
  occurredAt: at,
  data: { attempt, idempotencyKey: refKey(CREDIT_NOTE_ID, attempt), amount: ISSUED_AMOUNT, currency: ISSUED_CURRENCY },
});
const accepted = (attempt: number, processorRefundId: string): CreditNoteEvent => ({
  type: 'RefundAccepted',
  occurredAt: at,
  data: { attempt, processorRefundId, processorStatus: 'pending', pendingReason: null },
});
const succeeded = (attempt: number, processorRefundId: string): CreditNoteEvent => ({
  type: 'RefundSucceeded',
  occurredAt: later,
  data: { attempt, processorRefundId },
});
const failed = (attempt: number, processorRefundId: string | null): CreditNoteEvent => ({
  type: 'RefundFailed',
  occurredAt: later,
  data: {
    attempt,
    processorRefundId,
    processorReason: 'expired_or_canceled_card',
    classification: { retry: 'will_not_help', recovery: 'manual_refund' },
    message: 'The card has expired or its account is closed',
  },
});
const chargeNotConfirmed: CreditNoteEvent = { type: 'RefundDeferred', occurredAt: at, data: { reason: 'charge_not_confirmed' } };
const transient = (attempt: number, consecutiveFailures: number): CreditNoteEvent => ({
  type: 'RefundDeferred',
  occurredAt: at,
  data: { reason: 'transient_error', attempt, error: { code: 'api_error', message: '5xx' }, consecutiveFailures, retryAt: null },
});
const retry: CreditNoteEvent = { type: 'RetryRequested', occurredAt: later, data: {} };
const markedRefunded: CreditNoteEvent = {
  type: 'MarkedRefundedManually',
  occurredAt: later,
  data: { reason: 'SEPA transfer', reference: 'SEPA-1', method: 'bank_transfer' },
};
const adopted: CreditNoteEvent = {
  type: 'RefundAdopted',
  occurredAt: at,
  data: { attempt: 1, processorRefundId: 're_1', amount: ISSUED_AMOUNT, currency: ISSUED_CURRENCY, processorStatus: 'pending' },
};

describe('Retry is only meaningful on pending or failed', () => {
  const refusedFrom: Array<[string, CreditNoteEvent[]]> = [
    ['succeeded', [issue(), request(1), accepted(1, 're_1'), succeeded(1, 're_1')]],
    ['manual', [issue({ payment: null }), markedRefunded]],
    ['requested (asked)', [issue(), request(1)]],
    ['requested (accepted by the processor)', [issue(), request(1), accepted(1, 're_1')]],
    ['issued', [issue({ payment: null })]],
  ];
  it.each(refusedFrom)('refused from %s, which the refusal still names', (label, events) => {
    const status = label.split(' ')[0];
    const before = runBoth(events);
    expect(before.machine.status).toBe(status);
    const decision = decideWithMachine(before.machine, retry);
    expect(decision.accepted).toBe(false);
    expect(decision.state.status).toBe(status);
    expect(referenceStep(before.reference, retry)).toMatchObject({ accepted: false, state: { status } });
  });

  const allowedFrom: Array<[string, number, CreditNoteEvent[]]> = [
    ['pending (charge not confirmed)', 1, [issue(), chargeNotConfirmed]],
    ['pending (attempt in doubt)', 1, [issue(), request(1), transient(1, 1)]],
    ['failed', 2, [issue(), request(1), failed(1, null)]],
    ['failed (reversed success)', 2, [issue(), request(1), accepted(1, 're_1'), succeeded(1, 're_1'), failed(1, 're_1')]],
  ];
  it.each(allowedFrom)('allowed from %s, clears the failure, and the next request is attempt %i', (_label, next, events) => {
    const { last } = runBoth([...events, retry, request(next)]);
    expect(last?.accepted).toBe(true);
    expect(last?.machine.status).toBe('requested');
    expect(last?.machine.context.failure).toBeNull();
    expect(last?.machine.context.refund?.idempotencyKey).toBe(refKey(CREDIT_NOTE_ID, next));
  });

  it('refused for a refund made in the dashboard that failed: the library never made it', () => {
    const { machine, reference } = runBoth([issue({ origin: 'processor' }), adopted, failed(1, 're_1')]);
    expect(machine.status).toBe('failed');
    expect(decideWithMachine(machine, retry).accepted).toBe(false);
    expect(referenceStep(reference, retry).accepted).toBe(false);
  });
});

describe('issue 7 item 6: a reversal must name the refund that succeeded', () => {
  const succeededEvents = [issue(), request(1), accepted(1, 're_1'), succeeded(1, 're_1')];

  it('refuses RefundFailed with processorRefundId null after success', () => {
    const { machine, reference } = runBoth(succeededEvents);
    const decision = decideWithMachine(machine, failed(1, null));
    expect(decision).toEqual({ accepted: false, state: machine });
    expect(referenceStep(reference, failed(1, null))).toMatchObject({ accepted: false, effects: [], state: { status: 'succeeded' } });
  });

  it('refuses a failure of another refund or attempt, and accepts the very refund, owing the merchant notice and hook', () => {
    const { machine } = runBoth(succeededEvents);
    expect(decideWithMachine(machine, failed(1, 're_2')).accepted).toBe(false);
    expect(decideWithMachine(machine, failed(2, 're_1')).accepted).toBe(false);
    const { last } = runBoth([...succeededEvents, failed(1, 're_1')]);
    expect(last?.machine.status).toBe('failed');
    expect(last?.machine.context.settledAt).toBeNull();
    const reversal = decideWithMachine(machine, failed(1, 're_1'));
    expect(reversal.accepted && effectsOf(reversal.intents)).toEqual(['hook:refundFailed', 'notify:refund_failed']);
  });

  it('markRefunded is refused while an attempt may still pay out (in doubt), allowed once it failed', () => {
    const inDoubt = runBoth([issue(), request(1), transient(1, 1)]);
    expect(decideWithMachine(inDoubt.machine, markedRefunded).accepted).toBe(false);
    expect(referenceStep(inDoubt.reference, markedRefunded).accepted).toBe(false);
    const { last } = runBoth([issue(), request(1), failed(1, null), markedRefunded]);
    expect(last?.machine.status).toBe('manual');
  });
});
