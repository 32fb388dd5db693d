import { randomUUID } from 'node:crypto';
import { err, ok, type Result } from 'neverthrow';
import { DuplicateOutboxEntryError, OutboxClaimLostError, VersionConflictError } from '../errors.js';
import type { StoredEvent } from '../events/envelope.js';
import type {
  AppendError,
  AppendRequest,
  ClaimOutboxRequest,
  ClaimedOutboxEntry,
  CreditNoteSummary,
  EventStore,
  ListCreditNotesFilter,
  OutboxClaim,
  OutboxEntry,
  ProcessorRefundLink,
} from '../ports/eventStore.js';

/**
 * An event store in memory with a database's semantics: appends are atomic
 * across streams, outbox and read model; nothing handed out or taken in is
 * shared, so a caller mutating an object cannot change what is stored.
 * For tests, demos and single-process tools; state is lost with the process.
 */
export const inMemoryEventStore = (): EventStore => {
  const streams = new Map<string, StoredEvent[]>();
  const log: StoredEvent[] = [];
  const outbox = new Map<string, OutboxEntry>();
  const creditNotes = new Map<string, CreditNoteSummary>();
  const processorRefunds = new Map<string, ProcessorRefundLink>();
  const causes = new Set<string>();
  const refundKey = (processor: string, processorRefundId: string) => `${processor}\u0000${processorRefundId}`;

  const versionOf = (streamId: string): number => streams.get(streamId)?.length ?? 0;
  // Resolving on a later turn keeps callers honest about concurrency, as a real driver would.
  const later = <T>(value: T): Promise<T> => new Promise((resolve) => setImmediate(() => resolve(value)));

  const heldClaim = (claim: OutboxClaim): OutboxEntry | undefined => {
    const entry = outbox.get(claim.entryId);
    return entry && entry.completedAt === null && entry.claim?.token === claim.token ? entry : undefined;
  };

  const checkAppend = (request: AppendRequest): AppendError | null => {
    for (const { streamId, expectedVersion } of request.streams) {
      const actual = versionOf(streamId);
      if (actual !== expectedVersion) return new VersionConflictError(streamId, expectedVersion, actual);
    }
    const newIds = new Set<string>();
    for (const draft of request.outbox ?? []) {
      if (outbox.has(draft.id) || newIds.has(draft.id)) return new DuplicateOutboxEntryError(draft.id);
      newIds.add(draft.id);
    }
    for (const claim of request.completeOutbox ?? []) {
      if (heldClaim(claim) === undefined) return new OutboxClaimLostError(claim.entryId);
    }
    return null;
  };

  return {
    async readStream(streamId) {
      const events = streams.get(streamId) ?? [];
      return later({ version: events.length, events: structuredClone(events) });
    },

    async append(request): Promise<Result<{ lastGlobalPosition: number }, AppendError>> {
      await later(undefined);
      const problem = checkAppend(request);
      if (problem !== null) return err(problem);
      const now = new Date().toISOString();
      for (const { streamId, events } of request.streams) {
        const stream = streams.get(streamId) ?? [];
        for (const event of events) {
          const stored = { ...structuredClone(event), globalPosition: log.length + 1 } as StoredEvent;
          stream.push(stored);
          log.push(stored);
          if (stored.causationId !== null) causes.add(stored.causationId);
        }
        streams.set(streamId, stream);
      }
      for (const draft of request.outbox ?? []) {
        outbox.set(draft.id, {
          ...structuredClone(draft),
          createdAt: now,
          deliveries: 0,
          claim: null,
          completedAt: null,
          deadAt: null,
          lastError: null,
        });
      }
      for (const claim of request.completeOutbox ?? []) {
        const entry = outbox.get(claim.entryId);
        if (entry) outbox.set(claim.entryId, { ...entry, claim: null, completedAt: now });
      }
      for (const summary of request.creditNotes ?? []) {
        creditNotes.set(summary.creditNoteId, structuredClone(summary));
      }
      for (const link of request.processorRefunds ?? []) {
        const key = refundKey(link.processor, link.processorRefundId);
        if (!processorRefunds.has(key)) processorRefunds.set(key, { ...link });
      }
      return ok({ lastGlobalPosition: log.length });
    },

    async readAll(options = {}) {
      const after = options.after ?? 0;
      const limit = options.limit ?? Number.POSITIVE_INFINITY;
      return later(structuredClone(log.slice(after, after + limit)));
    },

    async listCreditNotes(filter: ListCreditNotesFilter = {}) {
      const rows = [...creditNotes.values()]
        .filter((row) => filter.status === undefined || row.status === filter.status)
        .filter((row) => filter.paymentId === undefined || row.paymentId === filter.paymentId)
        .filter((row) => filter.after === undefined || row.creditNoteId > filter.after)
        .sort((a, b) => (a.creditNoteId < b.creditNoteId ? -1 : a.creditNoteId > b.creditNoteId ? 1 : 0))
        .slice(0, filter.limit ?? 100);
      return later(structuredClone(rows));
    },

    async hasEventsCausedBy(causationId) {
      return later(causes.has(causationId));
    },

    async findProcessorRefund({ processor, processorRefundId }) {
      const link = processorRefunds.get(refundKey(processor, processorRefundId));
      return later(link === undefined ? null : { ...link });
    },

    async claimOutbox(request: ClaimOutboxRequest) {
      await later(undefined);
      const now = request.now.getTime();
      const wanted = request.entryIds === undefined ? null : new Set(request.entryIds);
      const due = [...outbox.values()]
        .filter(
          (entry) =>
            entry.completedAt === null &&
            entry.deadAt === null &&
            Date.parse(entry.availableAt) <= now &&
            (entry.claim === null || Date.parse(entry.claim.leaseUntil) <= now) &&
            (wanted === null || wanted.has(entry.id)),
        )
        // Stable sort: equal times keep insertion order, as a serial id would.
        .sort((a, b) => Date.parse(a.availableAt) - Date.parse(b.availableAt))
        .slice(0, request.limit);
      const leaseUntil = new Date(now + request.leaseMs).toISOString();
      const claimed = due.map((entry): ClaimedOutboxEntry => {
        const next = {
          ...entry,
          deliveries: entry.deliveries + 1,
          claim: { owner: request.owner, token: randomUUID(), leaseUntil },
        };
        outbox.set(entry.id, next);
        return structuredClone(next);
      });
      return claimed;
    },

    async completeOutbox(claim, now) {
      await later(undefined);
      const entry = heldClaim(claim);
      if (entry === undefined) return err(new OutboxClaimLostError(claim.entryId));
      outbox.set(entry.id, { ...entry, claim: null, completedAt: now.toISOString() });
      return ok(undefined);
    },

    async releaseOutbox(claim, release) {
      await later(undefined);
      const entry = heldClaim(claim);
      if (entry === undefined) return err(new OutboxClaimLostError(claim.entryId));
      outbox.set(entry.id, {
        ...entry,
        claim: null,
        availableAt: release.availableAt.toISOString(),
        lastError: release.error,
        deadAt: release.dead ? release.availableAt.toISOString() : null,
      });
      return ok(undefined);
    },

    async listOutbox(filter = {}) {
      const rows = [...outbox.values()].filter(
        (entry) => filter.streamId === undefined || entry.streamId === filter.streamId,
      );
      return later(structuredClone(rows));
    },
  };
};
