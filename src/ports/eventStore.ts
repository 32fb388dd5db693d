import type { Result } from 'neverthrow';
import type { DuplicateOutboxEntryError, OutboxClaimLostError, VersionConflictError } from '../errors.js';
import type { DomainEvent, StoredEvent } from '../events/envelope.js';
import type { CreditNoteState, CreditNoteStatus } from '../machine/creditNoteState.js';
import type { RefundRequestMachineStatus, RefundRequestState, RefundRequestStatus } from '../machine/refundRequestState.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Events to add to one stream; `expectedVersion` is the version read (0 for a new stream). */
export type StreamAppend = { streamId: string; expectedVersion: number; events: DomainEvent[] };

/** `request_notify` / `request_hook`: a refund request's notice or host hook (e.g. `cancelSubscription`). */
export type OutboxKind = 'create_refund' | 'notify' | 'run_hook' | 'request_notify' | 'request_hook';

/** A side effect to perform, written in the same atomic step as the events that decided it. */
export type OutboxDraft = {
  /** Unique and deterministic: the same decision can never enqueue twice. */
  id: string;
  streamId: string;
  kind: OutboxKind;
  /** Passed to the processor or notifier so a repeated call is recognised there too. */
  idempotencyKey: string;
  payload: { [key: string]: JsonValue };
  /** Not claimable before this instant (ISO 8601). */
  availableAt: string;
};

export type OutboxClaim = { entryId: string; token: string };

export type OutboxEntry = OutboxDraft & {
  createdAt: string;
  /** How many times a dispatcher claimed it. */
  deliveries: number;
  claim: { owner: string; token: string; leaseUntil: string } | null;
  completedAt: string | null;
  /** Set when the dispatcher gave up after its bounded retries. */
  deadAt: string | null;
  lastError: string | null;
};

export type ClaimedOutboxEntry = OutboxEntry & { claim: { owner: string; token: string; leaseUntil: string } };

/** The read model behind the Credit Notes page, written atomically with the events it summarises. */
export type CreditNoteSummary = {
  creditNoteId: string;
  streamId: string;
  status: CreditNoteStatus;
  paymentId: string | null;
  version: number;
  updatedAt: string;
  state: CreditNoteState;
};

/**
 * A processor's refund and the credit note attempt it belongs to. Once
 * written, a link never changes: the refund is that credit note's, whatever
 * its metadata says later (metadata can be edited or cleared at the processor).
 */
export type ProcessorRefundLink = {
  processor: string;
  processorRefundId: string;
  creditNoteId: string;
  attempt: number;
};

export type AppendRequest = {
  streams: StreamAppend[];
  outbox?: OutboxDraft[];
  /** Outbox entries this append settles (the dispatcher recording a side effect's result). */
  completeOutbox?: OutboxClaim[];
  creditNotes?: CreditNoteSummary[];
  /** Refund ids first recorded by this append; a link already stored is kept as it is. */
  processorRefunds?: ProcessorRefundLink[];
  /** Read-model rows of the refund requests this append changed: created or replaced. */
  refundRequests?: RefundRequestSummary[];
  /**
   * Whether dispatchers listening through `watchOutbox` hear of this append's
   * outbox entries (default true). The appender that performs them itself
   * right after passes false: waking every worker would only have them race
   * for its entries, and PostgreSQL serialises the commits of transactions
   * that notify.
   */
  wakeDispatchers?: boolean;
};

/**
 * The read model behind the refund requests page, written atomically with the
 * request's events. It holds the request's own status; an approved request's
 * money outcome is its credit note's row (see `ListedRefundRequest`).
 */
export type RefundRequestSummary = {
  requestId: string;
  streamId: string;
  /** Never `unsubmitted`: a row exists from the submission on. */
  status: Exclude<RefundRequestMachineStatus, 'unsubmitted'>;
  paymentId: string;
  /** The credit note an approval issued; null before, and for a cancel-only approval. */
  creditNoteId: string | null;
  reason: string;
  /** What the customer asked for, minor units. */
  amount: number;
  /** What the approval refunds; null unless approved with a refund. */
  approvedAmount: number | null;
  currency: string;
  /** When the customer submitted it (ISO 8601, UTC): the age a review queue shows. */
  submittedAt: string;
  /** The last change of the request's own stream (ISO 8601, UTC). */
  updatedAt: string;
  version: number;
  state: RefundRequestState;
};

/**
 * A request as listed: its row, its credit note's current status (null
 * without one) and the ticket status that follows from both, by
 * `refundRequestStatusOf`: an approved request is `processing` while its
 * credit note is issued, pending or requested, `succeeded` once it is
 * succeeded or manual (or approved as cancel only), `failed` while it is failed.
 */
export type ListedRefundRequest = RefundRequestSummary & {
  creditNoteStatus: CreditNoteStatus | null;
  ticketStatus: RefundRequestStatus;
};

export type ListRefundRequestsFilter = {
  /** The ticket status (derived as above): e.g. `pending` for the review queue, `failed` for the ones to chase. */
  status?: RefundRequestStatus;
  paymentId?: string;
  /** Cursor, exclusive: the (submittedAt, requestId) of the previous page's last row. */
  after?: { submittedAt: string; requestId: string };
  /** At most this many; 100 when absent. */
  limit?: number;
};

/** One line of the requests report: requests submitted in the period, by reason, ticket status and currency. */
export type RefundRequestReportRow = {
  reason: string;
  ticketStatus: RefundRequestStatus;
  currency: string;
  count: number;
  /** Sum of what was asked for. */
  requestedAmount: number;
  /** Sum of what approvals refund (0 for requests not approved with a refund). */
  approvedAmount: number;
};

export type AppendError = VersionConflictError | OutboxClaimLostError | DuplicateOutboxEntryError;

export type ListCreditNotesFilter = {
  status?: CreditNoteStatus;
  paymentId?: string;
  /** Cursor: the last `creditNoteId` of the previous page. */
  after?: string;
  limit?: number;
};

/** Credit notes of some statuses, least recently changed first: the sweep's and the operations page's read. */
export type ListCreditNotesByAgeFilter = {
  statuses: readonly CreditNoteStatus[];
  /** Only those whose row last changed before this instant (ISO 8601). */
  updatedBefore?: string;
  /** Cursor: the last row of the previous page. */
  after?: { updatedAt: string; creditNoteId: string };
  limit: number;
};

/**
 * Outbox entries: every entry, or one stream's, in insertion order (`dead`
 * absent); or the parked (dead) ones, all or one stream's, a page at a time.
 */
export type ListOutboxFilter =
  | {
      /** Only this stream's entries; without it, every entry. */
      streamId?: string;
      dead?: undefined;
      /** Without `dead`, no cursor: every entry (of the stream) is returned, up to `limit` when given. */
      after?: undefined;
      /** At most this many, in insertion order; all when absent. */
      limit?: number;
    }
  | {
      /** Only this stream's parked entries; without it, every stream's. */
      streamId?: string;
      /** Only entries the dispatcher gave up on, ordered by (deadAt, id): oldest burial first, ties by id. */
      dead: true;
      /**
       * Cursor, exclusive: the page starts after this position in the (deadAt, id) order, typically the
       * `deadAt` and `id` of the previous page's last entry, as the store returned them. It is a position,
       * not a reference to an entry: paging stays correct when that entry was requeued (or completed)
       * since. `deadAt` is an ISO 8601 instant, compared as an instant.
       */
      after?: { deadAt: string; id: string };
      /** At most this many; 100 when absent. */
      limit?: number;
    };

/** What the outbox holds right now, for `health()`. */
export type OutboxCounts = {
  /** Not completed, not dead, available at or before `now`. */
  due: number;
  /** Given up on by the dispatcher: waiting for a person to requeue them. */
  parked: number;
  /** The earliest `availableAt` among due entries: how far behind the dispatchers are. */
  oldestDueAt: string | null;
};

/** A small named value kept by the store (e.g. how far a reconciliation got). */
export type Checkpoint = { name: string; value: JsonValue; updatedAt: string };

export type ClaimOutboxRequest = {
  owner: string;
  now: Date;
  leaseMs: number;
  limit: number;
  /** Only these entries (a command dispatching what it just enqueued). */
  entryIds?: readonly string[];
};

/**
 * Persistence port. Every adapter passes the store contract suite in
 * `test/contract/`; the semantics are those of a database transaction.
 * Expected failures come back as `Err`; a thrown error means the store itself
 * is broken or unreachable.
 */
export interface EventStore {
  /** The stream's events in order and its version (0 when it does not exist). */
  readStream(streamId: string): Promise<{ version: number; events: StoredEvent[] }>;
  /**
   * All or nothing: every stream must be at its expected version, every outbox
   * id new and every completed claim still held, or nothing is written.
   */
  append(request: AppendRequest): Promise<Result<{ lastGlobalPosition: number }, AppendError>>;
  /** The global log in commit order, after a position, for projections and audits. */
  readAll(options?: { after?: number; limit?: number }): Promise<StoredEvent[]>;
  listCreditNotes(filter?: ListCreditNotesFilter): Promise<CreditNoteSummary[]>;
  /**
   * Whether any stored event names this causation id (a webhook event id):
   * one delivery writes once, so its redelivery, whatever its body, changes
   * nothing. One lookup at any size.
   */
  hasEventsCausedBy(causationId: string): Promise<boolean>;
  /** The credit note attempt a processor refund was recorded on, in one lookup; null when never recorded. */
  findProcessorRefund(ref: { processor: string; processorRefundId: string }): Promise<ProcessorRefundLink | null>;
  /** Leases due entries (available, not completed, dead or validly claimed by someone else). */
  claimOutbox(request: ClaimOutboxRequest): Promise<ClaimedOutboxEntry[]>;
  completeOutbox(claim: OutboxClaim, now: Date): Promise<Result<void, OutboxClaimLostError>>;
  /** Gives the entry back for a later try, or buries it (`dead`) after too many. */
  releaseOutbox(
    claim: OutboxClaim,
    release: { availableAt: Date; error: string; dead: boolean },
  ): Promise<Result<void, OutboxClaimLostError>>;
  listOutbox(filter?: ListOutboxFilter): Promise<OutboxEntry[]>;
  /** Sweep and operations: rows of these statuses by last change, oldest first, through an index. */
  listCreditNotesByAge(filter: ListCreditNotesByAgeFilter): Promise<CreditNoteSummary[]>;
  /**
   * Gives parked (dead) entries back to the dispatchers: available at `now`,
   * deliveries counted afresh, the last error kept. Entries that are not
   * parked are left alone. Resolves to the number requeued.
   */
  requeueOutbox(entryIds: readonly string[], now: Date): Promise<number>;
  outboxCounts(now: Date): Promise<OutboxCounts>;
  /** Refund requests by ticket status or payment, oldest submission first (ties by request id), a page at a time. */
  listRefundRequests(filter?: ListRefundRequestsFilter): Promise<ListedRefundRequest[]>;
  /** Requests submitted in [from, to), grouped by reason, ticket status and currency; ordered by those three. */
  refundRequestReport(period: { from: string; to: string }): Promise<RefundRequestReportRow[]>;
  readCheckpoint(name: string): Promise<Checkpoint | null>;
  /** Creates or replaces the checkpoint. */
  writeCheckpoint(checkpoint: { name: string; value: JsonValue }, now: Date): Promise<void>;
  /**
   * Optional: calls `onAppended` soon after any append, from any process,
   * that enqueued outbox entries (PostgreSQL's LISTEN/NOTIFY), so dispatchers
   * wake at once instead of at their next poll; polling stays the fallback.
   * Resolves once listening, to the function that stops it.
   */
  watchOutbox?(onAppended: () => void): Promise<() => Promise<void>>;
}
