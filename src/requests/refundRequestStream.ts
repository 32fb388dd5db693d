import { err, ok, type Result } from 'neverthrow';
import { EventValidationError, RefundRequestNotFoundError } from '../errors.js';
import { isRefundRequestEvent, type StoredEvent } from '../events/envelope.js';
import { readValidated } from '../lifecycle/streams.js';
import type { RefundRequestEvent } from '../events/refundRequestEvents.js';
import { foldRefundRequest } from '../machine/refundRequestMachine.js';
import type { RefundRequestState } from '../machine/refundRequestState.js';
import type { EventStore, RefundRequestSummary } from '../ports/eventStore.js';

export const REFUND_REQUEST_STREAM_PREFIX = 'refund-request-';
export const refundRequestStreamId = (requestId: string): string => `${REFUND_REQUEST_STREAM_PREFIX}${requestId}`;

export type KnownRefundRequest = { streamId: string; version: number; state: RefundRequestState };
export type LoadedRefundRequest = KnownRefundRequest & { events: StoredEvent[] };

/** The request replayed from its stream: every stored event validated, and the replay one the machine accepts. */
export const loadRefundRequest = async (store: EventStore, requestId: string): Promise<Result<LoadedRefundRequest, EventValidationError>> => {
  const streamId = refundRequestStreamId(requestId);
  const read = await readValidated(store, streamId);
  if (read.isErr()) return err(read.error);
  const { version, events: parsed } = read.value;
  const replay = foldRefundRequest(parsed.filter(isRefundRequestEvent) as RefundRequestEvent[]);
  if (replay.rejected !== null) {
    return err(
      new EventValidationError([
        { path: `${streamId}[${replay.rejected.index}]`, message: `${replay.rejected.event.type} is not a transition a refund request allows from ${replay.state.status}` },
      ]),
    );
  }
  return ok({ streamId, version, state: replay.state, events: parsed });
};

/** The request replayed from its stream; not found when it was never submitted. */
export const loadSubmittedRefundRequest = async (
  store: EventStore,
  requestId: string,
): Promise<Result<LoadedRefundRequest, EventValidationError | RefundRequestNotFoundError>> =>
  (await loadRefundRequest(store, requestId)).andThen((loaded) =>
    loaded.state.status === 'unsubmitted' ? err(new RefundRequestNotFoundError(requestId)) : ok(loaded),
  );

/** The read-model row of a request at a stream version, written in the same append as the events that led there. */
export const refundRequestSummary = (known: KnownRefundRequest, updatedAt: string): RefundRequestSummary => {
  const { status, context } = known.state;
  if (status === 'unsubmitted' || context.payment === null || context.reason === null || context.submittedAt === null) {
    throw new Error(`A summary of refund request ${context.requestId} before its submission`);
  }
  const approval = context.decision?.kind === 'approved' ? context.decision : null;
  return {
    requestId: context.requestId,
    streamId: known.streamId,
    status,
    paymentId: context.payment.paymentId,
    creditNoteId: approval?.creditNoteId ?? null,
    reason: context.reason,
    amount: context.amount,
    approvedAmount: approval?.amount ?? null,
    currency: context.currency,
    // Canonical UTC: rows are ordered by this text.
    submittedAt: new Date(context.submittedAt).toISOString(),
    updatedAt: new Date(updatedAt).toISOString(),
    version: known.version,
    state: known.state,
  };
};
