import { assign, setup, transition } from 'xstate';
import type { RefundRequestEvent, RefundRequestEventType } from '../events/refundRequestEvents.js';
import {
  initialRefundRequestState,
  type RefundRequestContext,
  type RefundRequestMachineStatus,
  type RefundRequestState,
} from './refundRequestState.js';

/*
 * The refund request's lifecycle: submitted → approved, rejected or withdrawn.
 * Requests are few and short (at most two events), so decisions ask xstate
 * itself; the credit note's hot path needed a table interpreter, this does not.
 */

export type RefundRequestNoticeKind = 'refund_request_received' | 'refund_request_approved' | 'refund_request_rejected';
export type RefundRequestRecipient = 'client' | 'merchant';
export type RefundRequestHookName = 'cancelSubscription';

/** Side effects the request machine asks for; recorded in the outbox, never performed here. */
export type RefundRequestIntent =
  | { type: 'notify'; params: { kind: RefundRequestNoticeKind; recipient: RefundRequestRecipient } }
  | { type: 'runHook'; params: { hook: RefundRequestHookName } };

type Payload<K extends RefundRequestEventType> = Extract<RefundRequestEvent, { type: K }>;

const intent = () => {
  // Intentionally empty: decisions run through the pure `transition`, which returns intents unexecuted.
};

const machineSetup = setup({
  types: {
    context: {} as RefundRequestContext,
    events: {} as RefundRequestEvent,
  },
  guards: {
    /** The approval ends the subscription the payment renews (refund + cancel, or cancel only). */
    cancelsSubscription: ({ context, event }) =>
      event.type === 'RefundRequestApproved' && context.subscriptionId !== null && event.data.option !== 'refund_only',
  },
  actions: {
    recordSubmission: assign(({ event }) => {
      const { data, occurredAt } = event as Payload<'RefundRequestSubmitted'>;
      return {
        requestId: data.requestId,
        payment: data.payment,
        amount: data.amount,
        currency: data.currency,
        reason: data.reason,
        details: data.details,
        customerId: data.customerId,
        purchasedAt: data.purchasedAt,
        product: data.product,
        subscriptionId: data.subscriptionId,
        submissionOverride: data.override,
        submittedAt: occurredAt,
      };
    }),
    recordApproval: assign(({ event }) => {
      const { data, occurredAt } = event as Payload<'RefundRequestApproved'>;
      const refund = data.option === 'cancel_only' ? { creditNoteId: null, amount: null } : { creditNoteId: data.creditNoteId, amount: data.amount };
      return { decision: { kind: 'approved' as const, option: data.option, ...refund, note: data.note, override: data.override, decidedAt: occurredAt } };
    }),
    recordRejection: assign(({ event }) => {
      const { data, occurredAt } = event as Payload<'RefundRequestRejected'>;
      return { decision: { kind: 'rejected' as const, note: data.note, decidedAt: occurredAt } };
    }),
    recordWithdrawal: assign(({ event }) => {
      const { data, occurredAt } = event as Payload<'RefundRequestWithdrawn'>;
      return { decision: { kind: 'withdrawn' as const, details: data.details, decidedAt: occurredAt } };
    }),
    notify: (_, _params: { kind: RefundRequestNoticeKind; recipient: RefundRequestRecipient }) => intent(),
    runHook: (_, _params: { hook: RefundRequestHookName }) => intent(),
  },
});

export const refundRequestMachine = machineSetup.createMachine({
  id: 'refundRequest',
  initial: 'unsubmitted',
  context: initialRefundRequestState.context,
  states: {
    unsubmitted: {
      on: {
        RefundRequestSubmitted: {
          target: 'pending',
          actions: ['recordSubmission', { type: 'notify', params: { kind: 'refund_request_received', recipient: 'merchant' } }],
        },
      },
    },
    pending: {
      on: {
        RefundRequestApproved: [
          {
            guard: 'cancelsSubscription',
            target: 'approved',
            actions: [
              'recordApproval',
              { type: 'notify', params: { kind: 'refund_request_approved', recipient: 'client' } },
              { type: 'runHook', params: { hook: 'cancelSubscription' } },
            ],
          },
          {
            target: 'approved',
            actions: ['recordApproval', { type: 'notify', params: { kind: 'refund_request_approved', recipient: 'client' } }],
          },
        ],
        RefundRequestRejected: {
          target: 'rejected',
          actions: ['recordRejection', { type: 'notify', params: { kind: 'refund_request_rejected', recipient: 'client' } }],
        },
        RefundRequestWithdrawn: { target: 'withdrawn', actions: ['recordWithdrawal'] },
      },
    },
    // The money outcome of an approval is its credit note's: the request's own story ends here.
    approved: { type: 'final' },
    rejected: { type: 'final' },
    withdrawn: { type: 'final' },
  },
});

export type RefundRequestDecision =
  | { accepted: true; state: RefundRequestState; intents: RefundRequestIntent[] }
  | { accepted: false; state: RefundRequestState };

/** Whether `event` may happen now and, if so, what follows and which side effects it asks for. */
export const decideRefundRequest = (state: RefundRequestState, event: RefundRequestEvent): RefundRequestDecision => {
  const snapshot = refundRequestMachine.resolveState({ value: state.status, context: state.context });
  if (!snapshot.can(event)) return { accepted: false, state };
  const [next, actions] = transition(refundRequestMachine, snapshot, event);
  return {
    accepted: true,
    state: { status: next.value as RefundRequestMachineStatus, context: next.context },
    intents: actions
      .filter((action) => action.type === 'notify' || action.type === 'runHook')
      .map((action) => ({ type: action.type, params: action.params }) as RefundRequestIntent),
  };
};

/** Replays a request's stream; a rejected event means the log was edited, and the caller learns which. */
export const foldRefundRequest = (
  events: Iterable<RefundRequestEvent>,
): { state: RefundRequestState; rejected: { index: number; event: RefundRequestEvent } | null } => {
  let state = initialRefundRequestState;
  let index = 0;
  for (const event of events) {
    const decision = decideRefundRequest(state, event);
    if (!decision.accepted) return { state, rejected: { index, event } };
    state = decision.state;
    index += 1;
  }
  return { state, rejected: null };
};
