import { assign, setup, transition } from 'xstate';
import type { CreditNoteEvent, CreditNoteEventType } from '../events/creditNoteEvents.js';
import {
  emptyCreditNoteContext,
  type CreditNoteContext,
  type CreditNoteState,
  type CreditNoteStatus,
} from './creditNoteState.js';
import { evolveCreditNote } from './fold.js';
import { runGuard, runUpdate, updates, type GuardName, type UpdateName } from './rules.js';

/*
 * The only module that touches xstate: the lifecycle's one definition (diagram, guards, intents). Decisions run
 * through the table interpreter in fold.ts; `decideWithXState` asks xstate itself, for the differential test.
 * xstate 6 moves the persistence API; keeping every call here keeps that upgrade to one file.
 */

export type NotificationKind = 'refund_completed' | 'refund_failed' | 'manual_refund_recorded';
export type Recipient = 'client' | 'merchant';
export type HookName = 'refundSucceeded' | 'refundFailed' | 'refundedManually';

/** Side effects the machine asks for. They are recorded in the outbox, never performed here. */
export type Intent =
  | { type: 'requestRefund' }
  | { type: 'scheduleRefundRetry' }
  | { type: 'notify'; params: { kind: NotificationKind; recipient: Recipient } }
  | { type: 'runHook'; params: { hook: HookName } };

const guard = (name: GuardName) => ({ context, event }: { context: CreditNoteContext; event: CreditNoteEvent }) =>
  runGuard(name, context, event);
const update = (name: UpdateName) =>
  assign<CreditNoteContext, CreditNoteEvent, undefined, CreditNoteEvent, never>(({ context, event }) =>
    runUpdate(name, context, event),
  );
const intent = () => {
  // Intentionally empty: decisions run through the pure `transition`, which returns intents unexecuted.
};

const machineSetup = setup({
  types: {
    context: {} as CreditNoteContext,
    events: {} as CreditNoteEvent,
  },
  guards: {
    isNextAttempt: guard('isNextAttempt'),
    awaitsChargeConfirmation: guard('awaitsChargeConfirmation'),
    isTransientErrorOfCurrentAttempt: guard('isTransientErrorOfCurrentAttempt'),
    isAutoRetriedTransientError: guard('isAutoRetriedTransientError'),
    isAcceptanceOfCurrentAttempt: guard('isAcceptanceOfCurrentAttempt'),
    isAdoptionOfProcessorRefund: guard('isAdoptionOfProcessorRefund'),
    isProgressOfAcceptedAttempt: guard('isProgressOfAcceptedAttempt'),
    isOutcomeOfCurrentAttempt: guard('isOutcomeOfCurrentAttempt'),
    isReversalOfSucceededRefund: guard('isReversalOfSucceededRefund'),
    hasNoRefundInFlight: guard('hasNoRefundInFlight'),
    isHostOrigin: guard('isHostOrigin'),
  },
  actions: {
    recordIssue: update('recordIssue'),
    recordRequest: update('recordRequest'),
    recordAcceptance: update('recordAcceptance'),
    recordAdoption: update('recordAdoption'),
    recordProgress: update('recordProgress'),
    recordSuccess: update('recordSuccess'),
    recordFailure: update('recordFailure'),
    recordDeferral: update('recordDeferral'),
    recordRetry: update('recordRetry'),
    recordManualRefund: update('recordManualRefund'),
    requestRefund: intent,
    scheduleRefundRetry: intent,
    notify: (_, _params: { kind: NotificationKind; recipient: Recipient }) => intent(),
    runHook: (_, _params: { hook: HookName }) => intent(),
  },
});

// Transitions shared by several states, named so the table below stays one line per row.
const settleManually = [
  {
    guard: 'hasNoRefundInFlight',
    target: 'manual',
    actions: [
      'recordManualRefund',
      { type: 'notify', params: { kind: 'manual_refund_recorded', recipient: 'client' } },
      { type: 'runHook', params: { hook: 'refundedManually' } },
    ],
  },
] as const;
const settleAsSucceeded = [
  {
    guard: 'isOutcomeOfCurrentAttempt',
    target: 'succeeded',
    actions: [
      'recordSuccess',
      { type: 'notify', params: { kind: 'refund_completed', recipient: 'client' } },
      { type: 'runHook', params: { hook: 'refundSucceeded' } },
    ],
  },
] as const;
const failWhen = <G extends 'isOutcomeOfCurrentAttempt' | 'isReversalOfSucceededRefund'>(guard: G) =>
  [
    {
      guard,
      target: 'failed',
      actions: [
        'recordFailure',
        { type: 'notify', params: { kind: 'refund_failed', recipient: 'merchant' } },
        { type: 'runHook', params: { hook: 'refundFailed' } },
      ],
    },
  ] as const;
const settleAsFailed = failWhen('isOutcomeOfCurrentAttempt');
const deferTransientError = [
  { guard: 'isAutoRetriedTransientError', target: 'pending', actions: ['recordDeferral', 'scheduleRefundRetry'] },
  { guard: 'isTransientErrorOfCurrentAttempt', target: 'pending', actions: ['recordDeferral'] },
] as const;

export const creditNoteMachine = machineSetup.createMachine({
  id: 'creditNote',
  initial: 'unissued',
  context: emptyCreditNoteContext,
  states: {
    unissued: {
      on: {
        CreditNoteIssued: [{ target: 'issued', actions: ['recordIssue'] }],
      },
    },
    issued: {
      on: {
        RefundRequested: [{ guard: 'isNextAttempt', target: 'requested', actions: ['recordRequest', 'requestRefund'] }],
        RefundAdopted: [{ guard: 'isAdoptionOfProcessorRefund', target: 'requested', actions: ['recordAdoption'] }],
        RefundDeferred: [{ guard: 'awaitsChargeConfirmation', target: 'pending', actions: ['recordDeferral'] }],
        MarkedRefundedManually: settleManually,
      },
    },
    pending: {
      on: {
        RefundRequested: [{ guard: 'isNextAttempt', target: 'requested', actions: ['recordRequest', 'requestRefund'] }],
        RefundAccepted: [{ guard: 'isAcceptanceOfCurrentAttempt', target: 'requested', actions: ['recordAcceptance'] }],
        RefundSucceeded: settleAsSucceeded,
        RefundFailed: settleAsFailed,
        RefundDeferred: [
          ...deferTransientError,
          { guard: 'awaitsChargeConfirmation', target: 'pending', actions: ['recordDeferral'] },
        ],
        RetryRequested: [{ guard: 'isHostOrigin', target: 'pending', actions: ['recordRetry'] }],
        MarkedRefundedManually: settleManually,
      },
    },
    requested: {
      on: {
        RefundAccepted: [{ guard: 'isAcceptanceOfCurrentAttempt', target: 'requested', actions: ['recordAcceptance'] }],
        RefundProgressed: [{ guard: 'isProgressOfAcceptedAttempt', target: 'requested', actions: ['recordProgress'] }],
        RefundSucceeded: settleAsSucceeded,
        RefundFailed: settleAsFailed,
        RefundDeferred: deferTransientError,
      },
    },
    failed: {
      on: {
        RetryRequested: [{ guard: 'isHostOrigin', target: 'pending', actions: ['recordRetry'] }],
        MarkedRefundedManually: settleManually,
      },
    },
    // Not final: the processor may still reverse the refund, and the merchant must then act.
    succeeded: { on: { RefundFailed: failWhen('isReversalOfSucceededRefund') } },
    manual: { type: 'final' },
  },
});

/** One row of the machine's table: on `event` in `from`, if `guard`, go to `to` doing `actions`. */
export type TransitionRow = {
  from: CreditNoteStatus;
  event: CreditNoteEventType;
  guard: GuardName | null;
  to: CreditNoteStatus;
  actions: Array<UpdateName | Intent>;
};

type ConfigTransition = {
  guard?: GuardName;
  target?: string;
  actions?: Array<string | { type: string; params?: unknown }>;
};

/** The machine's table as plain data, read from its own config: the fold and the README diagram use it. */
export const transitionTable: readonly TransitionRow[] = Object.entries(
  creditNoteMachine.config.states as Record<string, { on?: Record<string, ConfigTransition[]> }>,
).flatMap(([from, node]) =>
  Object.entries(node.on ?? {}).flatMap(([event, candidates]) =>
    candidates.map(
      (candidate): TransitionRow => ({
        from: from as CreditNoteStatus,
        event: event as CreditNoteEventType,
        guard: candidate.guard ?? null,
        to: (candidate.target ?? from) as CreditNoteStatus,
        actions: (candidate.actions ?? []).map((action) =>
          typeof action === 'string' && Object.hasOwn(updates, action)
            ? (action as UpdateName)
            : ((typeof action === 'string' ? { type: action } : action) as Intent),
        ),
      }),
    ),
  ),
);

export const finalStatuses: readonly CreditNoteStatus[] = Object.entries(
  creditNoteMachine.config.states as Record<string, { type?: string }>,
)
  .filter(([, node]) => node.type === 'final')
  .map(([status]) => status as CreditNoteStatus);

export type MachineDecision =
  | { accepted: true; state: CreditNoteState; intents: Intent[] }
  | { accepted: false; state: CreditNoteState };

// Call-time delegation: fold.ts imports this module, so its exports may not exist yet when this one loads.
/** Whether `event` may happen now and, if so, what follows and which side effects it wants: the hot path. */
export const decideWithMachine = (state: CreditNoteState, event: CreditNoteEvent): MachineDecision =>
  evolveCreditNote(state, event);

/** Whether the machine accepts an event of this type now, for events whose guards look only at the state. */
export const machineAccepts = (state: CreditNoteState, event: CreditNoteEvent): boolean =>
  evolveCreditNote(state, event).accepted;

/** The same decision asked of xstate itself (`resolveState`, `can`, `transition`): the differential test's reference. */
export const decideWithXState = (state: CreditNoteState, event: CreditNoteEvent): MachineDecision => {
  const snapshot = creditNoteMachine.resolveState({ value: state.status, context: state.context });
  if (!snapshot.can(event)) return { accepted: false, state };
  const [next, actions] = transition(creditNoteMachine, snapshot, event);
  return {
    accepted: true,
    state: { status: next.value as CreditNoteStatus, context: next.context },
    intents: actions.map((action) =>
      action.params === undefined
        ? ({ type: action.type } as Intent)
        : ({ type: action.type, params: action.params } as Intent),
    ),
  };
};
