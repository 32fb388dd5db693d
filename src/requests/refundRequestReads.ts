import { ok, safeTry } from 'neverthrow';
import type { StoredEvent } from '../events/envelope.js';
import { creditNoteStreamId, loadCreditNote, type KnownCreditNote } from '../lifecycle/streams.js';
import type { CreditNoteStatus } from '../machine/creditNoteState.js';
import type { EventStore } from '../ports/eventStore.js';
import { loadSubmittedRefundRequest, type KnownRefundRequest } from './refundRequestStream.js';
import { toRefundRequestView, type RefundRequestView } from './refundRequestView.js';

const approvedCreditNoteOf = (request: KnownRefundRequest): string | null =>
  request.state.context.decision?.kind === 'approved' ? request.state.context.decision.creditNoteId : null;

/**
 * The request with its credit note's status: the credit note as a decision just
 * left it (`latest`, by stream id), else as stored.
 */
export const viewOfRequest = (store: EventStore, request: KnownRefundRequest, latest: ReadonlyMap<string, KnownCreditNote> = new Map()) =>
  safeTry(async function* () {
    const creditNoteId = approvedCreditNoteOf(request);
    let creditNoteStatus: CreditNoteStatus | null = null;
    if (creditNoteId !== null) {
      const known = latest.get(creditNoteStreamId(creditNoteId)) ?? (yield* await loadCreditNote(store, creditNoteId));
      creditNoteStatus = known.state.status;
    }
    return ok<RefundRequestView>(toRefundRequestView(request.state, request.version, creditNoteStatus));
  });

/** The request replayed from its stream, or not found. */
export const loadRefundRequestView = (store: EventStore, requestId: string) =>
  safeTry(async function* () {
    const loaded = yield* await loadSubmittedRefundRequest(store, requestId);
    return ok(yield* await viewOfRequest(store, loaded));
  });

/**
 * Who decided what: the request's events and, once approved, its credit
 * note's, in the order they were committed. Each carries its actor.
 */
export const refundRequestHistory = (store: EventStore, requestId: string) =>
  safeTry(async function* () {
    const loaded = yield* await loadSubmittedRefundRequest(store, requestId);
    const creditNoteId = approvedCreditNoteOf(loaded);
    const creditNoteEvents: StoredEvent[] = creditNoteId === null ? [] : (yield* await loadCreditNote(store, creditNoteId)).events;
    return ok([...loaded.events, ...creditNoteEvents].sort((a, b) => a.globalPosition - b.globalPosition));
  });
