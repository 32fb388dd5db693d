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
import {
  CREDIT_NOTE_ID,
  ISSUED_AMOUNT,
  ISSUED_CURRENCY,
  creditNoteEventArb,
  creditNoteIssuedArb,
} from './support/creditNoteEventArbitraries.js';

/*
 * The table interpreter (fold.ts) decides and replays; xstate, running the
 * same machine, is the reference. They must never disagree, or the lifecycle
 * would not be the one the machine draws. Sequences mix plausible and wrong events; fields come from small
 * pools so attempts, refund ids and keys collide often enough to reach every
 * state and every guard, both ways.
 */

const lifecycleStatuses = ['issued', 'pending', 'requested', 'succeeded', 'failed', 'manual'] as const;

// Attempt 1 is the one that fits most states, so it comes up most.

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
  event: creditNoteEventArb(),
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
