import { randomUUID } from 'node:crypto';
import { err, ok, type Result } from 'neverthrow';
import { DuplicateOutboxEntryError, OutboxClaimLostError, VersionConflictError } from '../errors.js';
import type { StoredEvent } from '../events/envelope.js';
import type { CreditNoteStatus } from '../machine/creditNoteState.js';
import { refundRequestStatusOf, type RefundRequestStatus } from '../machine/refundRequestState.js';
import type {
  AppendError,
  AppendRequest,
  Checkpoint,
  ClaimOutboxRequest,
  ClaimedOutboxEntry,
  CreditNoteSummary,
  EventStore,
  JsonValue,
  ListCreditNotesFilter,
  ListedRefundRequest,
  OutboxClaim,
  OutboxEntry,
  ProcessorRefundLink,
  RefundRequestReportRow,
  RefundRequestSummary,
} from '../ports/eventStore.js';

/**
 * A sorted collection with ordered iteration from any point, kept as a list of
 * short sorted chunks (a flat B-tree): insert, delete and seek cost
 * O(log n) searches plus moves within one chunk, so no call ever walks or
 * shifts the whole collection. `work` counts comparisons and items visited,
 * which is what the scale test asserts on.
 */
class SortedIndex<T> {
  private readonly chunks: T[][] = [];
  private count = 0;
  private static readonly CHUNK = 512;

  constructor(
    private readonly compare: (a: T, b: T) => number,
    private readonly meter: { work: number },
  ) {}

  get size(): number {
    return this.count;
  }

  /** First position whose item is ≥ probe (or > probe when `strict`), as [chunk, offset]. */
  private seek(probe: T, strict: boolean): [number, number] {
    const passes = (item: T) => {
      this.meter.work += 1;
      const order = this.compare(item, probe);
      return strict ? order > 0 : order >= 0;
    };
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (passes(chunk[chunk.length - 1]!)) hi = mid;
      else lo = mid + 1;
    }
    if (lo === this.chunks.length) return [lo, 0];
    const chunk = this.chunks[lo]!;
    let left = 0;
    let right = chunk.length;
    while (left < right) {
      const mid = (left + right) >>> 1;
      if (passes(chunk[mid]!)) right = mid;
      else left = mid + 1;
    }
    return [lo, left];
  }

  insert(item: T): void {
    this.count += 1;
    if (this.chunks.length === 0) {
      this.chunks.push([item]);
      return;
    }
    let [index, offset] = this.seek(item, true);
    if (index === this.chunks.length) {
      index -= 1;
      offset = this.chunks[index]!.length;
    }
    const chunk = this.chunks[index]!;
    chunk.splice(offset, 0, item);
    if (chunk.length > 2 * SortedIndex.CHUNK) this.chunks.splice(index + 1, 0, chunk.splice(SortedIndex.CHUNK));
  }

  /** Removes the item comparing equal to `item`; false when there is none. */
  delete(item: T): boolean {
    const [index, offset] = this.seek(item, false);
    const chunk = this.chunks[index];
    if (chunk === undefined || offset >= chunk.length || this.compare(chunk[offset]!, item) !== 0) return false;
    chunk.splice(offset, 1);
    this.count -= 1;
    if (chunk.length === 0) this.chunks.splice(index, 1);
    return true;
  }

  /** Items in order, from the first one after `after` (from the start without it), until `take` says stop. */
  scan(after: T | undefined, take: (item: T) => boolean): void {
    let [index, offset] = after === undefined ? [0, 0] : this.seek(after, true);
    for (; index < this.chunks.length; index += 1, offset = 0) {
      const chunk = this.chunks[index]!;
      for (; offset < chunk.length; offset += 1) {
        this.meter.work += 1;
        if (!take(chunk[offset]!)) return;
      }
    }
  }

  /** Items in order from the first one ≥ `from` (not only after it), until `take` says stop. */
  scanFrom(from: T, take: (item: T) => boolean): void {
    let [index, offset] = this.seek(from, false);
    for (; index < this.chunks.length; index += 1, offset = 0) {
      const chunk = this.chunks[index]!;
      for (; offset < chunk.length; offset += 1) {
        this.meter.work += 1;
        if (!take(chunk[offset]!)) return;
      }
    }
  }

  /** The same walk as `scan`, pulled one item at a time (to merge several indexes' walks). */
  *walk(after: T | undefined): Generator<T, void, undefined> {
    let [index, offset] = after === undefined ? [0, 0] : this.seek(after, true);
    for (; index < this.chunks.length; index += 1, offset = 0) {
      const chunk = this.chunks[index]!;
      for (; offset < chunk.length; offset += 1) {
        this.meter.work += 1;
        yield chunk[offset]!;
      }
    }
  }
}

/**
 * Stored data is copied once on the way in and frozen, so it can be handed out
 * without a copy: a caller cannot change what is stored (a write to it throws),
 * and a read costs what it returns, not a deep copy of it. What a store takes
 * is JSON-shaped (a database stores it as JSON), so a plain recursive copy
 * does, at a fraction of `structuredClone`'s cost on small objects.
 */
const frozenCopy = <T>(value: T): Readonly<T> => {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy)) as unknown as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field = frozenCopy((value as Record<string, unknown>)[key]);
    // An own `__proto__` key (JSON can hold one) stays a key, as in a database, instead of becoming the prototype.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: field, enumerable: true, writable: true, configurable: true });
    else copy[key] = field;
  }
  return Object.freeze(copy) as T;
};

/**
 * An outbox entry with some fields changed, as a new frozen object. Spelled
 * out rather than spread: V8 copies a spread-then-extended literal field by
 * field through a slow path, and this runs several times per side effect.
 */
const entryWith = (entry: OutboxEntry, change: Partial<Omit<OutboxEntry, 'id' | 'streamId' | 'kind' | 'idempotencyKey' | 'payload' | 'createdAt'>>): OutboxEntry =>
  Object.freeze({
    id: entry.id,
    streamId: entry.streamId,
    kind: entry.kind,
    idempotencyKey: entry.idempotencyKey,
    payload: entry.payload,
    availableAt: change.availableAt ?? entry.availableAt,
    createdAt: entry.createdAt,
    deliveries: change.deliveries ?? entry.deliveries,
    claim: change.claim === undefined ? entry.claim : change.claim,
    completedAt: change.completedAt === undefined ? entry.completedAt : change.completedAt,
    deadAt: change.deadAt === undefined ? entry.deadAt : change.deadAt,
    lastError: change.lastError === undefined ? entry.lastError : change.lastError,
  });

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A live outbox entry's place in one of the two claim indexes: by `at` (ms), then insertion order. */
type OutboxKey = { at: number; seq: number; id: string };
const compareOutboxKeys = (a: OutboxKey, b: OutboxKey): number => a.at - b.at || a.seq - b.seq;

/** A parked (dead) entry's place in the `parked` index: by burial time (ms), then id. */
type ParkedKey = { at: number; id: string };
const compareParkedKeys = (a: ParkedKey, b: ParkedKey): number => a.at - b.at || compareStrings(a.id, b.id);

/** A credit note's place in its status's age index: by `updatedAt` (ISO 8601 in UTC sorts as text), then id. */
type AgeKey = { updatedAt: string; creditNoteId: string };
const compareAgeKeys = (a: AgeKey, b: AgeKey): number =>
  compareStrings(a.updatedAt, b.updatedAt) || compareStrings(a.creditNoteId, b.creditNoteId);

/** A refund request's place in its indexes: by `submittedAt` (ISO 8601 in UTC sorts as text), then id. */
type RequestKey = { submittedAt: string; requestId: string };
const compareRequestKeys = (a: RequestKey, b: RequestKey): number =>
  compareStrings(a.submittedAt, b.submittedAt) || compareStrings(a.requestId, b.requestId);

type OutboxSlot = {
  entry: OutboxEntry;
  /** Insertion order: ties on time are claimed in it, as with a serial id. */
  seq: number;
  /** Where the entry is indexed: `waiting` (by availableAt), `leased` (by leaseUntil), or nowhere once completed or dead. */
  index: { list: 'waiting' | 'leased'; key: OutboxKey } | null;
  /** Its key in `parked` while it is dead. */
  parked: ParkedKey | null;
};

/** An instant in ms for the claim indexes; a time that does not parse is never due, as `Date.parse(x) <= now` says. */
const timeOf = (iso: string): number => {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? Number.POSITIVE_INFINITY : time;
};

/** Bounds a result like `Array.prototype.slice(0, limit)` does for the limits callers pass. */
const maxRows = (limit: number): number => (Number.isNaN(limit) ? 0 : Math.max(0, Math.trunc(limit)));

const createInMemoryEventStore = (meter: { work: number }): EventStore => {
  const streams = new Map<string, StoredEvent[]>();
  const log: StoredEvent[] = [];
  const outbox = new Map<string, OutboxSlot>();
  const outboxByStream = new Map<string, OutboxSlot[]>();
  // Claimable entries: never claimed, released, or claimed with a lease that had run out when last looked at.
  const waiting = new SortedIndex<OutboxKey>(compareOutboxKeys, meter);
  // Claimed entries by lease end: the ones whose lease runs out move back to `waiting` on the next claim.
  const leased = new SortedIndex<OutboxKey>(compareOutboxKeys, meter);
  // Dead entries, oldest burial first: the operations page's parked list, and its count.
  const parked = new SortedIndex<ParkedKey>(compareParkedKeys, meter);
  const creditNotes = new Map<string, CreditNoteSummary>();
  const allCreditNotes = new SortedIndex<string>(compareStrings, meter);
  const creditNotesBy = new Map<string, SortedIndex<string>>();
  // Per status, by (updatedAt, creditNoteId): the sweep's least recently changed first.
  const creditNotesByAge = new Map<string, SortedIndex<AgeKey>>();
  // Each request's row with the ticket status it is filed under, kept current as the SQL store's column is: set when
  // the row is written, and again whenever its credit note's row is.
  const refundRequests = new Map<string, { row: RefundRequestSummary; ticketStatus: RefundRequestStatus }>();
  // By (submittedAt, requestId): every request (the report's period, the unfiltered listing), and per ticket status and
  // per payment.
  const allRequests = new SortedIndex<RequestKey>(compareRequestKeys, meter);
  const requestsBy = new Map<string, SortedIndex<RequestKey>>();
  // The requests naming each credit note: those to file again when its row changes.
  const requestsOfCreditNote = new Map<string, Set<string>>();
  const checkpoints = new Map<string, Checkpoint>();
  const processorRefunds = new Map<string, ProcessorRefundLink>();
  const causes = new Set<string>();
  const refundKey = (processor: string, processorRefundId: string) => `${processor}\u0000${processorRefundId}`;
  // Secondary index keys: by status, by payment, by both (NUL cannot occur in either).
  const statusKey = (status: string) => `s\u0000${status}`;
  const paymentKey = (paymentId: string) => `p\u0000${paymentId}`;
  const bothKey = (status: string, paymentId: string) => `b\u0000${status}\u0000${paymentId}`;
  const secondaryKeys = (row: CreditNoteSummary): string[] =>
    row.paymentId === null
      ? [statusKey(row.status)]
      : [statusKey(row.status), paymentKey(row.paymentId), bothKey(row.status, row.paymentId)];

  const versionOf = (streamId: string): number => streams.get(streamId)?.length ?? 0;
  // Every call resolves after a yield, so callers that forget an await or race each other still interleave, as they
  // would with a driver. A microtask is enough for that and costs a fraction of a macrotask turn.
  const later = async <T>(value: T): Promise<T> => {
    await null;
    return value;
  };

  const unindex = (slot: OutboxSlot): void => {
    if (slot.index === null) return;
    (slot.index.list === 'waiting' ? waiting : leased).delete(slot.index.key);
    slot.index = null;
  };
  const reindex = (slot: OutboxSlot, list: 'waiting' | 'leased', at: number): void => {
    unindex(slot);
    const key = { at, seq: slot.seq, id: slot.entry.id };
    (list === 'waiting' ? waiting : leased).insert(key);
    slot.index = { list, key };
  };
  /** Files a dead entry in `parked` by its burial time, and takes a requeued (or completed) one out. */
  const repark = (slot: OutboxSlot): void => {
    const { deadAt, completedAt } = slot.entry;
    const at = deadAt === null || completedAt !== null ? null : timeOf(deadAt);
    if (slot.parked !== null && slot.parked.at !== at) {
      parked.delete(slot.parked);
      slot.parked = null;
    }
    if (at !== null && slot.parked === null) {
      slot.parked = { at, id: slot.entry.id };
      parked.insert(slot.parked);
    }
  };
  /** Stores the entry's new state and files it where a claim (or the parked list) will look for it. */
  const put = (slot: OutboxSlot, entry: OutboxEntry): void => {
    const wasParked = slot.parked !== null;
    slot.entry = entry;
    if (entry.completedAt !== null || entry.deadAt !== null) unindex(slot);
    else if (entry.claim === null) reindex(slot, 'waiting', timeOf(entry.availableAt));
    else reindex(slot, 'leased', timeOf(entry.claim.leaseUntil));
    if (wasParked || entry.deadAt !== null) repark(slot);
  };
  const claimable = (entry: OutboxEntry, now: number): boolean =>
    entry.completedAt === null &&
    entry.deadAt === null &&
    Date.parse(entry.availableAt) <= now &&
    (entry.claim === null || Date.parse(entry.claim.leaseUntil) <= now);

  const heldClaim = (claim: OutboxClaim): OutboxSlot | undefined => {
    const slot = outbox.get(claim.entryId);
    return slot && slot.entry.completedAt === null && slot.entry.claim?.token === claim.token ? slot : undefined;
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

  const upsertCreditNote = (row: CreditNoteSummary): void => {
    const previous = creditNotes.get(row.creditNoteId);
    creditNotes.set(row.creditNoteId, row);
    const before = previous === undefined ? [] : secondaryKeys(previous);
    const after = secondaryKeys(row);
    if (previous === undefined) allCreditNotes.insert(row.creditNoteId);
    if (previous === undefined || previous.status !== row.status || previous.updatedAt !== row.updatedAt) {
      if (previous !== undefined) {
        const index = creditNotesByAge.get(previous.status)!;
        index.delete({ updatedAt: previous.updatedAt, creditNoteId: previous.creditNoteId });
        if (index.size === 0) creditNotesByAge.delete(previous.status);
      }
      let index = creditNotesByAge.get(row.status);
      if (index === undefined) {
        index = new SortedIndex<AgeKey>(compareAgeKeys, meter);
        creditNotesByAge.set(row.status, index);
      }
      index.insert({ updatedAt: row.updatedAt, creditNoteId: row.creditNoteId });
    }
    for (const key of before) {
      if (after.includes(key)) continue;
      const index = creditNotesBy.get(key)!;
      index.delete(row.creditNoteId);
      if (index.size === 0) creditNotesBy.delete(key);
    }
    for (const key of after) {
      if (before.includes(key)) continue;
      let index = creditNotesBy.get(key);
      if (index === undefined) {
        index = new SortedIndex<string>(compareStrings, meter);
        creditNotesBy.set(key, index);
      }
      index.insert(row.creditNoteId);
    }
    // Its requests follow it, as the SQL append's UPDATE has them do.
    for (const requestId of requestsOfCreditNote.get(row.creditNoteId) ?? []) {
      const stored = refundRequests.get(requestId)!;
      fileRefundRequest(stored.row, ticketStatusOf(stored.row), stored);
    }
  };

  /** The ticket status of a request row, from its credit note's row as stored now (`refundRequestStatusOf`). */
  const ticketStatusOf = (row: RefundRequestSummary): RefundRequestStatus => {
    // A credit note whose row is missing is judged as not issued: processing, never reported as refunded.
    const judged = row.creditNoteId === null ? null : (creditNotes.get(row.creditNoteId)?.status ?? 'unissued');
    return refundRequestStatusOf(row.status, judged);
  };
  const requestKeys = (row: RefundRequestSummary, ticketStatus: RefundRequestStatus): string[] => [
    statusKey(ticketStatus),
    paymentKey(row.paymentId),
  ];
  /** Stores the row under that ticket status, moving it out of the indexes its previous row and status were in. */
  const fileRefundRequest = (
    row: RefundRequestSummary,
    ticketStatus: RefundRequestStatus,
    previous: { row: RefundRequestSummary; ticketStatus: RefundRequestStatus } | undefined,
  ): void => {
    if (previous !== undefined && previous.row === row && previous.ticketStatus === ticketStatus) return;
    refundRequests.set(row.requestId, { row, ticketStatus });
    if (previous !== undefined) {
      const key: RequestKey = { submittedAt: previous.row.submittedAt, requestId: previous.row.requestId };
      allRequests.delete(key);
      for (const name of requestKeys(previous.row, previous.ticketStatus)) {
        const index = requestsBy.get(name)!;
        index.delete(key);
        if (index.size === 0) requestsBy.delete(name);
      }
      const creditNoteId = previous.row.creditNoteId;
      if (creditNoteId !== null && creditNoteId !== row.creditNoteId) {
        const named = requestsOfCreditNote.get(creditNoteId)!;
        named.delete(row.requestId);
        if (named.size === 0) requestsOfCreditNote.delete(creditNoteId);
      }
    }
    const key: RequestKey = { submittedAt: row.submittedAt, requestId: row.requestId };
    allRequests.insert(key);
    for (const name of requestKeys(row, ticketStatus)) {
      let index = requestsBy.get(name);
      if (index === undefined) {
        index = new SortedIndex<RequestKey>(compareRequestKeys, meter);
        requestsBy.set(name, index);
      }
      index.insert(key);
    }
    if (row.creditNoteId !== null) {
      let named = requestsOfCreditNote.get(row.creditNoteId);
      if (named === undefined) {
        named = new Set();
        requestsOfCreditNote.set(row.creditNoteId, named);
      }
      named.add(row.requestId);
    }
  };
  const upsertRefundRequest = (row: RefundRequestSummary): void =>
    fileRefundRequest(row, ticketStatusOf(row), refundRequests.get(row.requestId));
  /** The row as listed: with its credit note's current status and the ticket status it is filed under. */
  const listed = ({ row, ticketStatus }: { row: RefundRequestSummary; ticketStatus: RefundRequestStatus }): ListedRefundRequest => {
    const creditNoteStatus = row.creditNoteId === null ? null : (creditNotes.get(row.creditNoteId)?.status ?? null);
    return Object.freeze({ ...row, creditNoteStatus, ticketStatus });
  };

  const completeSlot = (slot: OutboxSlot, now: string): void => put(slot, entryWith(slot.entry, { claim: null, completedAt: now }));

  return {
    async readStream(streamId) {
      const events = streams.get(streamId) ?? [];
      return later({ version: events.length, events: events.slice() });
    },

    async append(request): Promise<Result<{ lastGlobalPosition: number }, AppendError>> {
      await later(undefined);
      const problem = checkAppend(request);
      if (problem !== null) return err(problem);
      const now = new Date().toISOString();
      for (const { streamId, events } of request.streams) {
        const stream = streams.get(streamId) ?? [];
        for (const event of events) {
          // The envelope's fields spelled out, as a SQL store keeps them in its columns: faster than a spread.
          const stored = Object.freeze({
            eventId: event.eventId,
            streamId: event.streamId,
            streamVersion: event.streamVersion,
            schemaVersion: event.schemaVersion,
            occurredAt: event.occurredAt,
            actor: frozenCopy(event.actor),
            causationId: event.causationId,
            correlationId: event.correlationId,
            source: event.source,
            type: event.type,
            data: frozenCopy(event.data),
            globalPosition: log.length + 1,
          }) as StoredEvent;
          stream.push(stored);
          log.push(stored);
          if (stored.causationId !== null) causes.add(stored.causationId);
        }
        streams.set(streamId, stream);
      }
      for (const draft of request.outbox ?? []) {
        const slot: OutboxSlot = {
          entry: Object.freeze({
            id: draft.id,
            streamId: draft.streamId,
            kind: draft.kind,
            idempotencyKey: draft.idempotencyKey,
            payload: frozenCopy(draft.payload),
            availableAt: draft.availableAt,
            createdAt: now,
            deliveries: 0,
            claim: null,
            completedAt: null,
            deadAt: null,
            lastError: null,
          }),
          seq: outbox.size,
          index: null,
          parked: null,
        };
        outbox.set(draft.id, slot);
        const ofStream = outboxByStream.get(draft.streamId);
        if (ofStream === undefined) outboxByStream.set(draft.streamId, [slot]);
        else ofStream.push(slot);
        put(slot, slot.entry);
      }
      for (const claim of request.completeOutbox ?? []) {
        const slot = outbox.get(claim.entryId);
        if (slot) completeSlot(slot, now);
      }
      for (const summary of request.creditNotes ?? []) upsertCreditNote(frozenCopy(summary));
      for (const link of request.processorRefunds ?? []) {
        const key = refundKey(link.processor, link.processorRefundId);
        if (!processorRefunds.has(key)) processorRefunds.set(key, frozenCopy(link));
      }
      for (const row of request.refundRequests ?? []) upsertRefundRequest(frozenCopy(row));
      return ok({ lastGlobalPosition: log.length });
    },

    async readAll(options = {}) {
      const after = options.after ?? 0;
      const limit = options.limit ?? Number.POSITIVE_INFINITY;
      return later(log.slice(after, after + limit));
    },

    async listCreditNotes(filter: ListCreditNotesFilter = {}) {
      const { status, paymentId } = filter;
      const index =
        status !== undefined && paymentId !== undefined
          ? creditNotesBy.get(bothKey(status, paymentId))
          : status !== undefined
            ? creditNotesBy.get(statusKey(status))
            : paymentId !== undefined
              ? creditNotesBy.get(paymentKey(paymentId))
              : allCreditNotes;
      const max = maxRows(filter.limit ?? 100);
      const rows: CreditNoteSummary[] = [];
      if (index !== undefined && max > 0) {
        index.scan(filter.after, (id) => {
          rows.push(creditNotes.get(id)!);
          return rows.length < max;
        });
      }
      return later(rows);
    },

    async hasEventsCausedBy(causationId) {
      return later(causes.has(causationId));
    },

    async findProcessorRefund({ processor, processorRefundId }) {
      const link = processorRefunds.get(refundKey(processor, processorRefundId));
      return later(link ?? null);
    },

    async claimOutbox(request: ClaimOutboxRequest) {
      await later(undefined);
      const now = request.now.getTime();
      const max = maxRows(request.limit);
      let due: OutboxSlot[];
      if (request.entryIds !== undefined) {
        due = [...new Set(request.entryIds)]
          .map((id) => outbox.get(id))
          .filter((slot): slot is OutboxSlot => slot !== undefined && claimable(slot.entry, now))
          .sort((a, b) => Date.parse(a.entry.availableAt) - Date.parse(b.entry.availableAt) || a.seq - b.seq)
          .slice(0, max);
      } else {
        // Leases that have run out make their entries claimable again, in their availableAt order.
        const expired: OutboxSlot[] = [];
        leased.scan(undefined, (key) => {
          if (key.at > now) return false;
          expired.push(outbox.get(key.id)!);
          return true;
        });
        for (const slot of expired) reindex(slot, 'waiting', timeOf(slot.entry.availableAt));
        due = [];
        const stillLeased: OutboxSlot[] = [];
        if (max > 0) {
          waiting.scan(undefined, (key) => {
            if (key.at > now) return false;
            const slot = outbox.get(key.id)!;
            // A lease moved here by a claim with a later clock than this one's is not over yet.
            if (claimable(slot.entry, now)) due.push(slot);
            else stillLeased.push(slot);
            return due.length < max;
          });
        }
        for (const slot of stillLeased) reindex(slot, 'leased', timeOf(slot.entry.claim!.leaseUntil));
      }
      const leaseUntil = new Date(now + request.leaseMs).toISOString();
      const claimed = due.map((slot): ClaimedOutboxEntry => {
        const next = entryWith(slot.entry, {
          deliveries: slot.entry.deliveries + 1,
          claim: Object.freeze({ owner: request.owner, token: randomUUID(), leaseUntil }),
        }) as ClaimedOutboxEntry;
        put(slot, next);
        return next;
      });
      return claimed;
    },

    async completeOutbox(claim, now) {
      await later(undefined);
      const slot = heldClaim(claim);
      if (slot === undefined) return err(new OutboxClaimLostError(claim.entryId));
      completeSlot(slot, now.toISOString());
      return ok(undefined);
    },

    async releaseOutbox(claim, release) {
      await later(undefined);
      const slot = heldClaim(claim);
      if (slot === undefined) return err(new OutboxClaimLostError(claim.entryId));
      put(
        slot,
        entryWith(slot.entry, {
          claim: null,
          availableAt: release.availableAt.toISOString(),
          lastError: release.error,
          deadAt: release.dead ? release.availableAt.toISOString() : null,
        }),
      );
      return ok(undefined);
    },

    async listOutbox(filter = {}) {
      if (filter.dead === true) {
        const max = maxRows(filter.limit ?? 100);
        // The cursor is a position in the (burial time, id) order, whatever became of the entry it was read from.
        let cursor: ParkedKey | undefined;
        if (filter.after !== undefined) {
          const at = Date.parse(filter.after.deadAt);
          // As PostgreSQL refuses a cursor time it cannot read as a timestamptz.
          if (Number.isNaN(at)) throw new RangeError(`Invalid parked outbox cursor time: ${JSON.stringify(filter.after.deadAt)}`);
          cursor = { at, id: filter.after.id };
        }
        const entries: OutboxEntry[] = [];
        if (filter.streamId !== undefined) {
          // One stream's entries are few: filtered and sorted, like the SQL store's walk of its stream index.
          const ofStream = (outboxByStream.get(filter.streamId) ?? [])
            .filter((slot) => slot.parked !== null && (cursor === undefined || compareParkedKeys(slot.parked, cursor) > 0))
            .sort((a, b) => compareParkedKeys(a.parked!, b.parked!));
          for (const slot of ofStream.slice(0, max)) entries.push(slot.entry);
        } else if (max > 0) {
          parked.scan(cursor, (key) => {
            entries.push(outbox.get(key.id)!.entry);
            return entries.length < max;
          });
        }
        return later(entries);
      }
      const slots = filter.streamId === undefined ? [...outbox.values()] : (outboxByStream.get(filter.streamId) ?? []);
      const max = filter.limit === undefined ? slots.length : maxRows(filter.limit);
      return later(slots.slice(0, max).map((slot) => slot.entry));
    },

    async listCreditNotesByAge(filter) {
      const max = maxRows(filter.limit);
      const rows: CreditNoteSummary[] = [];
      if (max === 0) return later(rows);
      // One walk per status from the cursor, merged: each step takes the least of the walks' heads.
      const walks: { head: AgeKey; rest: Generator<AgeKey, void, undefined> }[] = [];
      for (const status of new Set<CreditNoteStatus>(filter.statuses)) {
        const rest = creditNotesByAge.get(status)?.walk(filter.after);
        const first = rest?.next();
        if (rest !== undefined && first !== undefined && first.done !== true) walks.push({ head: first.value, rest });
      }
      while (walks.length > 0 && rows.length < max) {
        let least = 0;
        for (let index = 1; index < walks.length; index += 1) {
          if (compareAgeKeys(walks[index]!.head, walks[least]!.head) < 0) least = index;
        }
        const walk = walks[least]!;
        if (filter.updatedBefore !== undefined && !(walk.head.updatedAt < filter.updatedBefore)) break;
        rows.push(creditNotes.get(walk.head.creditNoteId)!);
        const next = walk.rest.next();
        if (next.done === true) walks.splice(least, 1);
        else walk.head = next.value;
      }
      return later(rows);
    },

    async requeueOutbox(entryIds, now) {
      await later(undefined);
      const availableAt = now.toISOString();
      let requeued = 0;
      for (const id of new Set(entryIds)) {
        const slot = outbox.get(id);
        if (slot === undefined || slot.entry.deadAt === null || slot.entry.completedAt !== null) continue;
        put(slot, entryWith(slot.entry, { deadAt: null, availableAt, deliveries: 0, claim: null }));
        requeued += 1;
      }
      return requeued;
    },

    async outboxCounts(now) {
      await later(undefined);
      const time = now.getTime();
      let due = 0;
      let oldest = Number.POSITIVE_INFINITY;
      const count = (slot: OutboxSlot) => {
        if (!claimable(slot.entry, time)) return;
        due += 1;
        oldest = Math.min(oldest, timeOf(slot.entry.availableAt));
      };
      // What a claim at `now` would take: waiting entries due by then (one moved here by a claim with a later clock
      // may still be leased at `now`), and leased ones whose lease has run out by then.
      waiting.scan(undefined, (key) => key.at <= time && (count(outbox.get(key.id)!), true));
      leased.scan(undefined, (key) => key.at <= time && (count(outbox.get(key.id)!), true));
      return { due, parked: parked.size, oldestDueAt: due === 0 ? null : new Date(oldest).toISOString() };
    },

    async listRefundRequests(filter = {}) {
      const max = maxRows(filter.limit ?? 100);
      const rows: ListedRefundRequest[] = [];
      const wanted: RefundRequestStatus | undefined = filter.status;
      // As the SQL store: through the payment's index when there is one (the ticket status then filters), else the
      // ticket status's, else every request's.
      const index =
        filter.paymentId !== undefined
          ? requestsBy.get(paymentKey(filter.paymentId))
          : wanted !== undefined
            ? requestsBy.get(statusKey(wanted))
            : allRequests;
      if (index !== undefined && max > 0) {
        index.scan(filter.after, (key) => {
          const stored = refundRequests.get(key.requestId)!;
          if (wanted !== undefined && stored.ticketStatus !== wanted) return true;
          rows.push(listed(stored));
          return rows.length < max;
        });
      }
      return later(rows);
    },

    async refundRequestReport({ from, to }) {
      const groups = new Map<string, RefundRequestReportRow>();
      if (from < to) {
        allRequests.scanFrom({ submittedAt: from, requestId: '' }, (key) => {
          if (!(key.submittedAt < to)) return false;
          const { row, ticketStatus } = refundRequests.get(key.requestId)!;
          const name = `${row.reason}\u0000${ticketStatus}\u0000${row.currency}`;
          let group = groups.get(name);
          if (group === undefined) {
            group = { reason: row.reason, ticketStatus, currency: row.currency, count: 0, requestedAmount: 0, approvedAmount: 0 };
            groups.set(name, group);
          }
          group.count += 1;
          group.requestedAmount += row.amount;
          group.approvedAmount += row.approvedAmount ?? 0;
          return true;
        });
      }
      const report = [...groups.values()].sort(
        (a, b) =>
          compareStrings(a.reason, b.reason) || compareStrings(a.ticketStatus, b.ticketStatus) || compareStrings(a.currency, b.currency),
      );
      return later(report);
    },

    async readCheckpoint(name) {
      return later(checkpoints.get(name) ?? null);
    },

    async writeCheckpoint({ name, value }, now) {
      // Copied at the call, as a driver serialises its parameters: a change made to `value` afterwards is not stored.
      const checkpoint: Checkpoint = Object.freeze({ name, value: frozenCopy(value) as JsonValue, updatedAt: now.toISOString() });
      await later(undefined);
      checkpoints.set(name, checkpoint);
    },
  };
};

/**
 * An event store in memory with a database's semantics: appends are atomic
 * across streams, outbox and read model; what is taken in is copied and what
 * is handed out is frozen, so a caller mutating an object cannot change what
 * is stored.
 * Every call costs what it returns, not what the store holds: claims and
 * listings walk indexes (claimable outbox entries by due time, credit notes
 * by id, status and payment, refund requests by submission per ticket
 * status and payment) and copy only the rows they return. Like the SQL
 * store, each request is filed under its ticket status when its row is
 * written and filed again when its credit note's row is, so a listing by
 * ticket status walks only the requests it returns.
 * For tests, demos and single-process tools; state is lost with the process.
 */
export const inMemoryEventStore = (): EventStore => createInMemoryEventStore({ work: 0 });

/**
 * @internal The same store with a count of the index steps (comparisons and
 * rows visited) its calls took, for tests asserting that a call's work does
 * not grow with the store. Not part of the public API.
 */
export const meteredInMemoryEventStore = (): { store: EventStore; work: () => number } => {
  const meter = { work: 0 };
  return { store: createInMemoryEventStore(meter), work: () => meter.work };
};
