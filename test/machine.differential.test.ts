import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { creditNoteEventDataSchemas, type CreditNoteEvent } from '../src/events/creditNoteEvents.js';
import {
  decideWithMachine,
  decideWithXState,
  finalStatuses,
  transitionTable,
  type TransitionRow,
} from '../src/machine/creditNoteMachine.js';
import {
  creditNoteStatuses,
  initialCreditNoteState,
  type CreditNoteState,
  type CreditNoteStatus,
} from '../src/machine/creditNoteState.js';
import { foldCreditNote } from '../src/machine/fold.js';
import { expectedAttempt, guards, runGuard, runUpdate, updates } from '../src/machine/rules.js';
import { numRuns } from './support/numRuns.js';

/*
 * The table interpreter (fold.ts) decides and replays; xstate, running the
 * same machine, is the reference. They must never disagree, or the lifecycle
 * would not be the one the machine draws. Sequences mix plausible and wrong events; fields come from small
 * pools so attempts, refund ids and keys collide often enough to reach every
 * state and every guard, both ways.
 */

const CREDIT_NOTE_ID = 'cn_1';
const ISSUED_AMOUNT = 5000;
const ISSUED_CURRENCY = 'eur';
const lifecycleStatuses = ['issued', 'pending', 'requested', 'succeeded', 'failed', 'manual'] as const;

// Attempt 1 is the one that fits most states, so it comes up most.
const attemptArb = fc.oneof({ arbitrary: fc.constant(1), weight: 3 }, fc.constantFrom(2, 3));
const processorRefundIdArb = fc.constantFrom('re_1', 're_2', 're_3');
const occurredAtArb = fc.constantFrom('2025-03-01T10:00:00.000Z', '2025-03-02T11:30:00.000Z', '2025-03-05T08:15:00.000Z');
const classificationArb = fc.record({
  retry: fc.constantFrom('may_help', 'after_action', 'will_not_help'),
  recovery: fc.constantFrom('retry', 'top_up_balance', 'resolve_dispute', 'manual_refund', 'none'),
});

const creditNoteIssuedArb = fc.record({
  type: fc.constant('CreditNoteIssued' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    creditNoteId: fc.constant(CREDIT_NOTE_ID),
    amount: fc.constant(ISSUED_AMOUNT),
    currency: fc.constant(ISSUED_CURRENCY),
    // Without a processor payment only a manual refund fits.
    payment: fc.oneof(
      { arbitrary: fc.constant({ processor: 'stripe', paymentId: 'pi_1', account: 'acct_1' }), weight: 7 },
      fc.constant(null),
    ),
    reason: fc.constantFrom('order cancelled', 'duplicate charge'),
    // A refund made in the processor's dashboard is followed as a credit note of processor origin.
    origin: fc.oneof({ arbitrary: fc.constant('host' as const), weight: 4 }, fc.constant('processor' as const)),
  }),
});

const refundAdoptedArb = fc.record({
  type: fc.constant('RefundAdopted' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    attempt: fc.constant(1 as const),
    processorRefundId: processorRefundIdArb,
    amount: fc.oneof({ arbitrary: fc.constant(ISSUED_AMOUNT), weight: 4 }, fc.constant(1)),
    currency: fc.oneof({ arbitrary: fc.constant(ISSUED_CURRENCY), weight: 4 }, fc.constant('usd')),
    processorStatus: fc.constantFrom('pending', 'action_required', 'succeeded', 'failed', 'canceled'),
  }),
});

const refundRequestedArb = fc
  .record({
    attempt: attemptArb,
    keyAttemptOffset: fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, fc.constant(1)),
    amount: fc.oneof({ arbitrary: fc.constant(ISSUED_AMOUNT), weight: 6 }, fc.constant(ISSUED_AMOUNT - 1)),
    currency: fc.oneof({ arbitrary: fc.constant(ISSUED_CURRENCY), weight: 6 }, fc.constant('usd')),
    occurredAt: occurredAtArb,
  })
  .map(
    ({ attempt, keyAttemptOffset, amount, currency, occurredAt }): CreditNoteEvent => ({
      type: 'RefundRequested',
      occurredAt,
      data: {
        attempt,
        // Usually the deterministic key; sometimes one that names another attempt.
        idempotencyKey: `${CREDIT_NOTE_ID}:refund:${attempt + keyAttemptOffset}`,
        amount,
        currency,
      },
    }),
  );

const chargeNotConfirmedArb = fc.record({
  type: fc.constant('RefundDeferred' as const),
  occurredAt: occurredAtArb,
  data: fc.constant({ reason: 'charge_not_confirmed' as const }),
});

const transientErrorArb = fc.record({
  type: fc.constant('RefundDeferred' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    reason: fc.constant('transient_error' as const),
    attempt: attemptArb,
    error: fc.record({ code: fc.constantFrom('rate_limit', 'api_error', 'timeout'), message: fc.constant('try later') }),
    consecutiveFailures: fc.oneof({ arbitrary: fc.constant(1), weight: 3 }, fc.constantFrom(2, 3)),
    // null once the automatic retries are used up.
    retryAt: fc.oneof({ arbitrary: fc.constant('2025-03-01T10:00:02.000Z'), weight: 3 }, fc.constant(null)),
  }),
});

// Transient errors come in runs: the second and third on one attempt must be reached too.
const refundDeferredArb = fc.oneof(
  { arbitrary: chargeNotConfirmedArb, weight: 1 },
  { arbitrary: transientErrorArb, weight: 2 },
);

const pendingReasonArb = fc.constantFrom(null, 'charge_pending' as const, 'insufficient_funds' as const, 'processing' as const);

const refundAcceptedArb = fc.record({
  type: fc.constant('RefundAccepted' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    attempt: attemptArb,
    processorRefundId: processorRefundIdArb,
    processorStatus: fc.constantFrom('pending', 'action_required', 'succeeded', 'failed', 'canceled'),
    pendingReason: pendingReasonArb,
  }),
});

const refundProgressedArb = fc.record({
  type: fc.constant('RefundProgressed' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    attempt: attemptArb,
    processorRefundId: processorRefundIdArb,
    processorStatus: fc.constantFrom('pending' as const, 'action_required' as const),
    pendingReason: pendingReasonArb,
  }),
});

const refundSucceededArb = fc.record({
  type: fc.constant('RefundSucceeded' as const),
  occurredAt: occurredAtArb,
  data: fc.record({ attempt: attemptArb, processorRefundId: processorRefundIdArb }),
});

const refundFailedArb = fc.record({
  type: fc.constant('RefundFailed' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    attempt: attemptArb,
    processorRefundId: fc.oneof(processorRefundIdArb, fc.constant(null)),
    processorReason: fc.constantFrom('insufficient_funds', 'declined', 'unknown'),
    classification: classificationArb,
    message: fc.constant('refund failed'),
  }),
});

const retryRequestedArb = fc.record({
  type: fc.constant('RetryRequested' as const),
  occurredAt: occurredAtArb,
  data: fc.constant({}),
});

const markedRefundedManuallyArb = fc.record({
  type: fc.constant('MarkedRefundedManually' as const),
  occurredAt: occurredAtArb,
  data: fc.record({
    reason: fc.constantFrom('SEPA transfer', 'cash at the desk'),
    reference: fc.oneof(fc.constant('BANK-REF-1'), fc.constant(null)),
    method: fc.constantFrom('bank_transfer', 'cash', 'paypal', 'cheque', 'card_terminal', 'other'),
  }),
});

// Weighted towards events that keep a refund in flight; settling ones are rarer so runs go deep before they end.
const creditNoteEventArb: fc.Arbitrary<CreditNoteEvent> = fc.oneof(
  { arbitrary: creditNoteIssuedArb, weight: 1 },
  { arbitrary: refundRequestedArb, weight: 8 },
  { arbitrary: refundDeferredArb, weight: 12 },
  { arbitrary: refundAcceptedArb, weight: 6 },
  { arbitrary: refundAdoptedArb, weight: 2 },
  { arbitrary: refundProgressedArb, weight: 3 },
  { arbitrary: refundSucceededArb, weight: 3 },
  { arbitrary: refundFailedArb, weight: 4 },
  { arbitrary: retryRequestedArb, weight: 4 },
  { arbitrary: markedRefundedManuallyArb, weight: 1 },
);

/**
 * One step of a sequence: an event as generated, or `aimed` at the current
 * state — its attempt, failure count and refund id made to fit — so that deep
 * paths (a transient error, then the processor's verdict on that attempt) are
 * reached often, while unaimed steps keep probing the guards with near misses.
 */
type Step = { aimed: boolean; event: CreditNoteEvent };

const aim = (event: CreditNoteEvent, { context }: CreditNoteState): CreditNoteEvent => {
  const refund = context.refund;
  switch (event.type) {
    case 'RefundRequested': {
      const attempt = expectedAttempt(context);
      return { ...event, data: { ...event.data, attempt, idempotencyKey: `${context.creditNoteId}:refund:${attempt}` } };
    }
    case 'RefundDeferred':
      return event.data.reason === 'transient_error' && refund !== null
        ? {
            ...event,
            data: { ...event.data, attempt: refund.attempt, consecutiveFailures: refund.consecutiveFailures + 1 },
          }
        : event;
    case 'RefundAccepted':
    case 'RefundProgressed':
    case 'RefundSucceeded':
    case 'RefundFailed':
      return refund === null
        ? event
        : ({
            ...event,
            data: {
              ...event.data,
              attempt: refund.attempt,
              processorRefundId: refund.processorRefundId ?? event.data.processorRefundId,
            },
          } as CreditNoteEvent);
    default:
      return event;
  }
};

// Two in three steps are aimed; the rest probe the guards with near misses.
const stepArb: fc.Arbitrary<Step> = fc.record({
  aimed: fc.oneof({ arbitrary: fc.constant(true), weight: 2 }, fc.constant(false)),
  event: creditNoteEventArb,
});

/** Usually a stream that starts with its issue, as stored streams do; sometimes one that does not. */
const stepSequenceArb = fc
  .tuple(
    fc.oneof(
      { arbitrary: creditNoteIssuedArb.map((event): Step[] => [{ aimed: false, event }]), weight: 9 },
      fc.constant([]),
    ),
    fc.array(stepArb, { maxLength: 60, size: 'max' }),
  )
  .map(([start, rest]) => [...start, ...rest]);

/**
 * A taken transition, named so that it matches a table row: the two transient
 * rows differ only by the retry they schedule.
 */
const transitionKey = (from: CreditNoteStatus, event: string, to: CreditNoteStatus, schedulesRetry: boolean) =>
  `${from} --${event}--> ${to}${schedulesRetry ? ' +scheduleRefundRetry' : ''}`;
const rowKey = (row: TransitionRow) =>
  transitionKey(
    row.from,
    row.event,
    row.to,
    row.actions.some((action) => typeof action === 'object' && action.type === 'scheduleRefundRetry'),
  );

describe('table interpreter (decideWithMachine) vs XState (decideWithXState)', () => {
  it('agree on every prefix of generated sequences: decision, status, context and intents', () => {
    const seen = new Set<string>();
    const takenTransitions = new Set<string>();

    fc.assert(
      fc.property(stepSequenceArb, (steps) => {
        let folded: CreditNoteState = initialCreditNoteState;
        let decided: CreditNoteState = initialCreditNoteState;
        const acceptedEvents: CreditNoteEvent[] = [];

        for (const [index, step] of steps.entries()) {
          const event = step.aimed ? aim(step.event, decided) : step.event;
          const fromFold = decideWithMachine(folded, event);
          const fromMachine = decideWithXState(decided, event);

          // The shrunk counterexample shows steps before aiming; this names the event as it was applied.
          const where = `step ${index}: ${JSON.stringify(event)} in ${decided.status}`;
          expect(fromFold.accepted, where).toBe(fromMachine.accepted);
          expect(fromFold.state.status, where).toBe(fromMachine.state.status);
          expect(fromFold.state.context, where).toStrictEqual(fromMachine.state.context);
          expect(fromFold.accepted && fromFold.intents, where).toStrictEqual(fromMachine.accepted && fromMachine.intents);

          seen.add(`${decided.status}/${event.type}/${fromMachine.accepted}`);
          if (fromMachine.accepted) {
            acceptedEvents.push(event);
            const schedulesRetry = fromMachine.intents.some((intent) => intent.type === 'scheduleRefundRetry');
            takenTransitions.add(transitionKey(decided.status, event.type, fromMachine.state.status, schedulesRetry));
          } else {
            // A refused event changes nothing.
            expect(fromFold.state).toBe(folded);
          }
          folded = fromFold.state;
          decided = fromMachine.state;
        }

        // A stored stream holds only accepted events: replaying them gives the same state, with nothing refused.
        const replay = foldCreditNote(acceptedEvents);
        expect(replay.rejected).toBeNull();
        expect(replay.state).toStrictEqual(decided);
      }),
      // Five times the usual runs: the rarest table rows come up in a few percent of sequences, and the
      // coverage check below must not depend on luck. A run is a few dozen pure transitions.
      { numRuns: numRuns(1000) },
    );

    // The generator is not vacuous: every lifecycle status was reached, refused something and accepted
    // something (final statuses accept nothing), and every row of the machine's table was taken.
    const statusesReached = new Set([...seen].map((entry) => entry.split('/')[0]));
    expect([...statusesReached].sort()).toEqual([...lifecycleStatuses, 'unissued'].sort());
    for (const status of lifecycleStatuses) expect(seen).toContain(`${status}/RefundRequested/false`);
    for (const status of lifecycleStatuses.filter((candidate) => !finalStatuses.includes(candidate))) {
      expect([...seen].some((entry) => entry.startsWith(`${status}/`) && entry.endsWith('/true'))).toBe(true);
    }
    expect([...new Set(transitionTable.map(rowKey))].filter((key) => !takenTransitions.has(key))).toEqual([]);
  });
});

describe('transition table', () => {
  const intentTypes = ['requestRefund', 'scheduleRefundRetry', 'notify', 'runHook'];

  it('names only known states, event types, guards, updates and intents', () => {
    expect(transitionTable.length).toBeGreaterThan(0);
    for (const row of transitionTable) {
      expect(creditNoteStatuses).toContain(row.from);
      expect(creditNoteStatuses).toContain(row.to);
      expect(Object.keys(creditNoteEventDataSchemas)).toContain(row.event);
      if (row.guard !== null) expect(Object.keys(guards)).toContain(row.guard);
      for (const action of row.actions) {
        if (typeof action === 'string') expect(Object.keys(updates)).toContain(action);
        else expect(intentTypes).toContain(action.type);
      }
    }
  });

  it('uses every guard and every update: no rule lives outside the machine', () => {
    const usedGuards = new Set(transitionTable.map((row) => row.guard).filter((name) => name !== null));
    const usedUpdates = new Set(transitionTable.flatMap((row) => row.actions.filter((action) => typeof action === 'string')));

    expect([...usedGuards].sort()).toEqual(Object.keys(guards).sort());
    expect([...usedUpdates].sort()).toEqual(Object.keys(updates).sort());
  });

  it('routes to each guard and update only the event types it declares', () => {
    for (const row of transitionTable) {
      const where = `${row.from} --${row.event}-->`;
      if (row.guard !== null) expect(guards[row.guard].events, `${where} guard ${row.guard}`).toContain(row.event);
      for (const action of row.actions) {
        if (typeof action === 'string') expect(updates[action].events, `${where} update ${action}`).toContain(row.event);
      }
    }
  });

  it('throws on a mis-routed event instead of quietly refusing it or leaving the context as it was', () => {
    const issued = foldCreditNote([
      {
        type: 'CreditNoteIssued',
        occurredAt: '2025-03-01T10:00:00.000Z',
        data: {
          creditNoteId: CREDIT_NOTE_ID,
          amount: ISSUED_AMOUNT,
          currency: ISSUED_CURRENCY,
          payment: { processor: 'stripe', paymentId: 'pi_1', account: 'acct_1' },
          reason: 'order cancelled',
          origin: 'host',
        },
      },
    ]).state;
    const succeeded: CreditNoteEvent = {
      type: 'RefundSucceeded',
      occurredAt: '2025-03-02T11:30:00.000Z',
      data: { attempt: 1, processorRefundId: 're_1' },
    };
    expect(() => runGuard('isNextAttempt', issued.context, succeeded)).toThrow('guard isNextAttempt got RefundSucceeded');
    expect(() => runGuard('hasNoRefundInFlight', issued.context, succeeded)).toThrow('guard hasNoRefundInFlight got RefundSucceeded');
    expect(() => runUpdate('recordFailure', issued.context, succeeded)).toThrow('update recordFailure got RefundSucceeded');
    expect(runGuard('isOutcomeOfCurrentAttempt', issued.context, succeeded)).toBe(false);
  });

  it('ends in manual, which has no way out; succeeded is left only when the processor reverses that refund', () => {
    expect([...finalStatuses]).toEqual(['manual']);
    expect(transitionTable.filter((row) => finalStatuses.includes(row.from))).toEqual([]);
    expect(transitionTable.filter((row) => row.from === 'succeeded').map((row) => [row.event, row.guard, row.to])).toEqual([
      ['RefundFailed', 'isReversalOfSucceededRefund', 'failed'],
    ]);
  });

  it('settles with exactly one notification and one hook, so each fires once per settlement', () => {
    for (const row of transitionTable.filter((candidate) => ['succeeded', 'manual', 'failed'].includes(candidate.to))) {
      if (row.from === row.to) continue;
      const intents = row.actions.filter((action) => typeof action === 'object');
      expect(intents.filter((intent) => intent.type === 'notify')).toHaveLength(1);
      expect(intents.filter((intent) => intent.type === 'runHook')).toHaveLength(1);
    }
  });
});
