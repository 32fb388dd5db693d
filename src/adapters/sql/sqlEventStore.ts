import { err, ok, type Result } from 'neverthrow';
import { DuplicateOutboxEntryError, OutboxClaimLostError, VersionConflictError } from '../../errors.js';
import type { DomainEvent, StoredEvent } from '../../events/envelope.js';
import type {
  AppendError,
  AppendRequest,
  ClaimedOutboxEntry,
  CreditNoteSummary,
  EventStore,
  JsonValue,
  ListedRefundRequest,
  OutboxEntry,
  ProcessorRefundLink,
  RefundRequestReportRow,
  RefundRequestSummary,
} from '../../ports/eventStore.js';
import { queriesFor, type Queries } from './queries.js';
import { migrate } from './schema.js';
import { DEFAULT_SCHEMA, outboxChannel, sqlErrorOf, UNIQUE_VIOLATION, type SqlClient } from './sqlClient.js';

/** An `EventStore` in PostgreSQL (a server through `pg`, or PGlite), plus its schema's migration. */
export type SqlEventStore = EventStore & {
  /** The PostgreSQL schema holding the tables. */
  readonly schema: string;
  /** Creates or upgrades the schema; idempotent. Returns the versions it applied. */
  migrate(): Promise<number[]>;
};

type EventRow = {
  global_position: number | string | bigint;
  stream_id: string;
  version: number;
  event_id: string;
  type: string;
  schema_version: number;
  data: unknown;
  occurred_at: string;
  actor: unknown;
  causation_id: string | null;
  correlation_id: string;
  source: string;
};

type OutboxRow = {
  id: string;
  seq: number | string | bigint;
  stream_id: string;
  kind: OutboxEntry['kind'];
  idempotency_key: string;
  payload: OutboxEntry['payload'];
  available_at: string;
  created_at: string;
  deliveries: number;
  claim_owner: string | null;
  claim_token: string | null;
  claim_lease_until: string | null;
  completed_at: string | null;
  dead_at: string | null;
  last_error: string | null;
};

type SummaryRow = {
  credit_note_id: string;
  stream_id: string;
  status: CreditNoteSummary['status'];
  payment_id: string | null;
  version: number;
  updated_at: string;
  state: CreditNoteSummary['state'];
};

type RefundRequestRow = {
  request_id: string;
  stream_id: string;
  status: RefundRequestSummary['status'];
  payment_id: string;
  credit_note_id: string | null;
  reason: string;
  /** bigint: a string from `pg`, a number or bigint from PGlite. */
  amount: number | string | bigint;
  approved_amount: number | string | bigint | null;
  currency: string;
  submitted_at: string;
  updated_at: string;
  version: number;
  state: RefundRequestSummary['state'];
  credit_note_status: ListedRefundRequest['creditNoteStatus'];
  ticket_status: ListedRefundRequest['ticketStatus'];
};

type ReportRow = {
  reason: string;
  ticket_status: RefundRequestReportRow['ticketStatus'];
  currency: string;
  /** count(*) is bigint and sum(bigint) numeric: strings from `pg`. */
  count: number | string | bigint;
  requested_amount: number | string | bigint;
  approved_amount: number | string | bigint;
};

const toStoredEvent = (row: EventRow): StoredEvent =>
  ({
    eventId: row.event_id,
    streamId: row.stream_id,
    streamVersion: row.version,
    schemaVersion: row.schema_version,
    type: row.type,
    data: row.data,
    occurredAt: row.occurred_at,
    actor: row.actor,
    causationId: row.causation_id,
    correlationId: row.correlation_id,
    source: row.source,
    globalPosition: Number(row.global_position),
  }) as StoredEvent;

const toOutboxEntry = (row: OutboxRow): OutboxEntry => ({
  id: row.id,
  streamId: row.stream_id,
  kind: row.kind,
  idempotencyKey: row.idempotency_key,
  payload: row.payload,
  availableAt: row.available_at,
  createdAt: row.created_at,
  deliveries: row.deliveries,
  claim:
    row.claim_token === null
      ? null
      : { owner: row.claim_owner ?? '', token: row.claim_token, leaseUntil: row.claim_lease_until ?? row.available_at },
  completedAt: row.completed_at,
  deadAt: row.dead_at,
  lastError: row.last_error,
});

const toSummary = (row: SummaryRow): CreditNoteSummary => ({
  creditNoteId: row.credit_note_id,
  streamId: row.stream_id,
  status: row.status,
  paymentId: row.payment_id,
  version: row.version,
  updatedAt: row.updated_at,
  state: row.state,
});

const toListedRefundRequest = (row: RefundRequestRow): ListedRefundRequest => ({
  requestId: row.request_id,
  streamId: row.stream_id,
  status: row.status,
  paymentId: row.payment_id,
  creditNoteId: row.credit_note_id,
  reason: row.reason,
  amount: Number(row.amount),
  approvedAmount: row.approved_amount === null ? null : Number(row.approved_amount),
  currency: row.currency,
  submittedAt: row.submitted_at,
  updatedAt: row.updated_at,
  version: row.version,
  state: row.state,
  creditNoteStatus: row.credit_note_status,
  ticketStatus: row.ticket_status,
});

/** A page's size when the caller gives none. */
const DEFAULT_PAGE = 100;

/** A limit as a row count, as the in-memory store reads it (`slice(0, limit)`): whole, never negative. */
const rowLimit = (limit: number): number => (Number.isNaN(limit) ? 0 : Math.max(0, Math.min(Math.trunc(limit), Number.MAX_SAFE_INTEGER)));

const eventRecord = (event: DomainEvent, ord: number, version: number) => ({
  ord,
  stream_id: event.streamId,
  version,
  event_id: event.eventId,
  type: event.type,
  schema_version: event.schemaVersion,
  data: event.data,
  occurred_at: event.occurredAt,
  actor: event.actor,
  causation_id: event.causationId,
  correlation_id: event.correlationId,
  source: event.source,
});

/**
 * The one SQL implementation of the `EventStore` port, over any `SqlClient`.
 * Every append is one call of the schema's `append_events_v4` function, hence
 * one transaction and one round trip: stream heads are checked and moved
 * first (in stream id order, so concurrent multi-stream appends cannot
 * deadlock), then events, outbox entries, completed claims, summaries (and
 * the ticket status of the requests they decide), refund links and refund
 * request rows are written; any refusal rolls everything back.
 */
export const sqlEventStore = (client: SqlClient, options: { schema?: string } = {}): SqlEventStore => {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const q: Queries = queriesFor(schema);

  const versionOf = async (db: SqlClient, streamId: string): Promise<number> => {
    const { rows } = await db.query<{ version: number }>(q.streamVersion, [streamId]);
    return rows[0]?.version ?? 0;
  };

  /** The append as `append_events_v4` takes it (sql/004_refund_requests.sql): one JSON document, one round trip. */
  const appendDocument = (request: AppendRequest) =>
    JSON.stringify({
      heads: request.streams.map(({ streamId, expectedVersion, events }) => ({
        stream_id: streamId,
        expected_version: expectedVersion,
        next_version: expectedVersion + events.length,
      })),
      events: request.streams
        .flatMap(({ expectedVersion, events }) => events.map((event, index) => ({ event, version: expectedVersion + index + 1 })))
        .map(({ event, version }, ord) => eventRecord(event, ord, version)),
      outbox: (request.outbox ?? []).map((draft, ord) => ({
        ord,
        id: draft.id,
        stream_id: draft.streamId,
        kind: draft.kind,
        idempotency_key: draft.idempotencyKey,
        payload: draft.payload,
        available_at: draft.availableAt,
      })),
      complete: (request.completeOutbox ?? []).map((claim) => ({ entry_id: claim.entryId, token: claim.token })),
      summaries: (request.creditNotes ?? []).map((row) => ({
        credit_note_id: row.creditNoteId,
        stream_id: row.streamId,
        status: row.status,
        payment_id: row.paymentId,
        version: row.version,
        updated_at: row.updatedAt,
        state: row.state,
      })),
      links: (request.processorRefunds ?? []).map((link) => ({
        processor: link.processor,
        processor_refund_id: link.processorRefundId,
        credit_note_id: link.creditNoteId,
        attempt: link.attempt,
      })),
      requests: (request.refundRequests ?? []).map((row, ord) => ({
        ord,
        request_id: row.requestId,
        stream_id: row.streamId,
        status: row.status,
        payment_id: row.paymentId,
        credit_note_id: row.creditNoteId,
        reason: row.reason,
        amount: row.amount,
        approved_amount: row.approvedAmount,
        currency: row.currency,
        submitted_at: row.submittedAt,
        updated_at: row.updatedAt,
        version: row.version,
        state: row.state,
      })),
      wake: request.wakeDispatchers !== false,
      channel: outboxChannel(schema),
    });

  /** A refusal raised by append_events, as the port's typed error. */
  const refusalOf = (error: unknown): AppendError | null => {
    const { code } = sqlErrorOf(error);
    if (code !== 'RL001' && code !== 'RL002' && code !== 'RL003') return null;
    const detail = JSON.parse((error as { detail?: string }).detail ?? '{}') as {
      streamId?: string;
      expected?: number;
      actual?: number;
      entryId?: string;
    };
    if (code === 'RL001') return new VersionConflictError(detail.streamId ?? '', detail.expected ?? 0, detail.actual ?? 0);
    if (code === 'RL002') return new DuplicateOutboxEntryError(detail.entryId ?? '');
    return new OutboxClaimLostError(detail.entryId ?? '');
  };

  return {
    schema,

    migrate: () => migrate(client, schema),

    async readStream(streamId) {
      const { rows } = await client.query<EventRow>(q.readStream, [streamId]);
      const events = rows.map(toStoredEvent);
      return { version: events[events.length - 1]?.streamVersion ?? 0, events };
    },

    async append(request): Promise<Result<{ lastGlobalPosition: number }, AppendError>> {
      try {
        const { rows } = await client.query<{ last: number | string }>(q.appendEvents, [appendDocument(request)]);
        return ok({ lastGlobalPosition: Number(rows[0]!.last) });
      } catch (error) {
        const refusal = refusalOf(error);
        if (refusal !== null) return err(refusal);
        const { code, constraint } = sqlErrorOf(error);
        // A writer that bypassed the stream heads: the events' own unique key still refuses a stale version.
        if (code === UNIQUE_VIOLATION && constraint === 'events_stream_version_key') {
          for (const { streamId, expectedVersion } of request.streams) {
            const actual = await versionOf(client, streamId);
            if (actual !== expectedVersion) return err(new VersionConflictError(streamId, expectedVersion, actual));
          }
        }
        throw error;
      }
    },

    async readAll(options = {}) {
      const after = options.after ?? 0;
      const limit = options.limit ?? null;
      let rows: EventRow[];
      if (after <= 0) {
        rows = (await client.query<EventRow>(q.readAllAfter, ['0', 0, limit])).rows;
      } else {
        const checkpoint = (await client.query<{ transaction_id: string }>(q.checkpointOf, [after])).rows[0];
        rows =
          checkpoint === undefined
            ? (await client.query<EventRow>(q.readAllAfterPosition, [after, limit])).rows
            : (await client.query<EventRow>(q.readAllAfter, [checkpoint.transaction_id, after, limit])).rows;
      }
      return rows.map(toStoredEvent);
    },

    async listCreditNotes(filter = {}) {
      const { sql, params } = q.listCreditNotes({
        status: filter.status !== undefined,
        paymentId: filter.paymentId !== undefined,
      });
      const values: unknown[] = [filter.after ?? ''];
      for (const param of params) values.push(param === 'status' ? filter.status : filter.paymentId);
      values.push(filter.limit ?? 100);
      const { rows } = await client.query<SummaryRow>(sql, values);
      return rows.map(toSummary);
    },

    async hasEventsCausedBy(causationId) {
      const { rows } = await client.query<{ found: boolean }>(q.hasEventsCausedBy, [causationId]);
      return rows[0]?.found === true;
    },

    async findProcessorRefund({ processor, processorRefundId }) {
      const { rows } = await client.query<{
        processor: string;
        processor_refund_id: string;
        credit_note_id: string;
        attempt: number;
      }>(q.findProcessorRefund, [processor, processorRefundId]);
      const row = rows[0];
      return row === undefined
        ? null
        : ({
            processor: row.processor,
            processorRefundId: row.processor_refund_id,
            creditNoteId: row.credit_note_id,
            attempt: row.attempt,
          } satisfies ProcessorRefundLink);
    },

    async claimOutbox(request) {
      if (request.entryIds !== undefined && request.entryIds.length === 0) return [];
      const now = request.now.getTime();
      const params: unknown[] = [
        new Date(now).toISOString(),
        new Date(now + request.leaseMs).toISOString(),
        request.owner,
        request.limit,
      ];
      if (request.entryIds !== undefined) params.push([...request.entryIds]);
      const { rows } = await client.query<OutboxRow>(q.claimOutbox(request.entryIds !== undefined), params);
      return rows
        .sort((a, b) => (a.available_at < b.available_at ? -1 : a.available_at > b.available_at ? 1 : Number(a.seq) - Number(b.seq)))
        .map((row) => toOutboxEntry(row) as ClaimedOutboxEntry);
    },

    async completeOutbox(claim, now) {
      const { rows } = await client.query(q.completeOutbox, [claim.entryId, claim.token, now.toISOString()]);
      return rows.length === 0 ? err(new OutboxClaimLostError(claim.entryId)) : ok(undefined);
    },

    async releaseOutbox(claim, release) {
      const { rows } = await client.query(q.releaseOutbox, [
        claim.entryId,
        claim.token,
        release.availableAt.toISOString(),
        release.error,
        release.dead,
      ]);
      return rows.length === 0 ? err(new OutboxClaimLostError(claim.entryId)) : ok(undefined);
    },

    async listOutbox(filter = {}) {
      if (filter.dead === true) {
        const params: unknown[] = [rowLimit(filter.limit ?? DEFAULT_PAGE)];
        if (filter.streamId !== undefined) params.push(filter.streamId);
        if (filter.after !== undefined) params.push(filter.after.deadAt, filter.after.id);
        const sql = q.listParkedOutbox({ byStream: filter.streamId !== undefined, after: filter.after !== undefined });
        return (await client.query<OutboxRow>(sql, params)).rows.map(toOutboxEntry);
      }
      const limit = filter.limit === undefined ? null : rowLimit(filter.limit);
      const { rows } =
        filter.streamId === undefined
          ? await client.query<OutboxRow>(q.listOutbox, [limit])
          : await client.query<OutboxRow>(q.listOutboxOfStream, [filter.streamId, limit]);
      return rows.map(toOutboxEntry);
    },

    async listCreditNotesByAge(filter) {
      const statuses = [...new Set(filter.statuses)];
      const limit = rowLimit(filter.limit);
      if (statuses.length === 0 || limit === 0) return [];
      const params: unknown[] = [statuses, filter.after?.updatedAt ?? '', filter.after?.creditNoteId ?? '', limit];
      if (filter.updatedBefore !== undefined) params.push(filter.updatedBefore);
      const { rows } = await client.query<SummaryRow>(q.listCreditNotesByAge(filter.updatedBefore !== undefined), params);
      return rows.map(toSummary);
    },

    async requeueOutbox(entryIds, now) {
      if (entryIds.length === 0) return 0;
      const { rows } = await client.query<{ requeued: number | string }>(q.requeueOutbox, [
        [...new Set(entryIds)],
        now.toISOString(),
      ]);
      return Number(rows[0]?.requeued ?? 0);
    },

    async outboxCounts(now) {
      const { rows } = await client.query<{ due: number | string; parked: number | string; oldest_due_at: string | null }>(
        q.outboxCounts,
        [now.toISOString()],
      );
      const row = rows[0]!;
      return { due: Number(row.due), parked: Number(row.parked), oldestDueAt: row.oldest_due_at };
    },

    async listRefundRequests(filter = {}) {
      const params: unknown[] = [rowLimit(filter.limit ?? DEFAULT_PAGE)];
      if (filter.status !== undefined) params.push(filter.status);
      if (filter.paymentId !== undefined) params.push(filter.paymentId);
      if (filter.after !== undefined) params.push(filter.after.submittedAt, filter.after.requestId);
      const sql = q.listRefundRequests({
        status: filter.status !== undefined,
        paymentId: filter.paymentId !== undefined,
        after: filter.after !== undefined,
      });
      return (await client.query<RefundRequestRow>(sql, params)).rows.map(toListedRefundRequest);
    },

    async refundRequestReport({ from, to }) {
      const { rows } = await client.query<ReportRow>(q.refundRequestReport, [from, to]);
      return rows.map((row) => ({
        reason: row.reason,
        ticketStatus: row.ticket_status,
        currency: row.currency,
        count: Number(row.count),
        requestedAmount: Number(row.requested_amount),
        approvedAmount: Number(row.approved_amount),
      }));
    },

    async readCheckpoint(name) {
      const { rows } = await client.query<{ name: string; value: JsonValue; updated_at: string }>(q.readCheckpoint, [name]);
      const row = rows[0];
      return row === undefined ? null : { name: row.name, value: row.value, updatedAt: row.updated_at };
    },

    async writeCheckpoint({ name, value }, now) {
      // As JSON text: a driver would send a bare string as text and `null` as SQL NULL, not as JSON.
      await client.query(q.writeCheckpoint, [name, JSON.stringify(value), now.toISOString()]);
    },
  };
};
