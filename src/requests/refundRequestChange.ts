import { err, ok, type Result } from 'neverthrow';
import { RefundRequestConflictError } from '../errors.js';
import type { RefundRequestEvent } from '../events/refundRequestEvents.js';
import { decideRefundRequest, type RefundRequestIntent } from '../machine/refundRequestMachine.js';
import type { RefundRequestState } from '../machine/refundRequestState.js';
import type { DistributiveOmit } from '../lifecycle/creditNoteChange.js';
import type { KnownRefundRequest } from './refundRequestStream.js';

export type ProposedRefundRequestEvent = DistributiveOmit<RefundRequestEvent, 'occurredAt'>;

/** The events a command adds to one refund request, each accepted by its machine, and the side effects they ask for. */
export type RefundRequestChange = {
  loaded: KnownRefundRequest;
  state: RefundRequestState;
  events: RefundRequestEvent[];
  effects: Array<{ intent: RefundRequestIntent; state: RefundRequestState; version: number }>;
};

export const startRequestChange = (loaded: KnownRefundRequest): RefundRequestChange => ({ loaded, state: loaded.state, events: [], effects: [] });

/** Adds the event if the request's machine allows it now; otherwise a conflict naming where the request is. */
export const proposeRequestEvent = (
  change: RefundRequestChange,
  proposed: ProposedRefundRequestEvent,
  now: Date,
  command: 'submit' | 'approve' | 'reject' | 'withdraw',
): Result<RefundRequestChange, RefundRequestConflictError> => {
  const event = { ...proposed, occurredAt: now.toISOString() } as RefundRequestEvent;
  const decision = decideRefundRequest(change.state, event);
  if (!decision.accepted) {
    return err(new RefundRequestConflictError(change.loaded.state.context.requestId || requestIdOf(proposed), command, change.state.status));
  }
  const version = change.loaded.version + change.events.length + 1;
  return ok({
    loaded: change.loaded,
    state: decision.state,
    events: [...change.events, event],
    effects: [...change.effects, ...decision.intents.map((intent) => ({ intent, state: decision.state, version }))],
  });
};

const requestIdOf = (proposed: ProposedRefundRequestEvent): string => ('requestId' in proposed.data ? proposed.data.requestId : '');
