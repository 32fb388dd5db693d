import { err, ok, type Result } from 'neverthrow';
import { LogImportError, VersionConflictError } from '../errors.js';
import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import { isCreditNoteEvent, isRefundRequestEvent, type DomainEvent, type StoredEvent } from '../events/envelope.js';
import { parseLoggedEvent, parseStoredEvent } from '../events/parseEvent.js';
import type { RefundRequestEvent } from '../events/refundRequestEvents.js';
import { initialCreditNoteState, type CreditNoteState } from '../machine/creditNoteState.js';
import { evolveCreditNote } from '../machine/fold.js';
import { decideRefundRequest, foldRefundRequest } from '../machine/refundRequestMachine.js';
import type { RefundRequestState } from '../machine/refundRequestState.js';
import type { AppendRequest, EventStore, StreamAppend } from '../ports/eventStore.js';
import { processorRefundLinks } from '../lifecycle/commandHandler.js';
import { CREDIT_NOTE_STREAM_PREFIX, creditNoteSummary } from '../lifecycle/streams.js';
import { REFUND_REQUEST_STREAM_PREFIX, refundRequestSummary } from '../requests/refundRequestStream.js';
import type { LogLocation } from './logReplay.js';

/*
 * `refund-lifecycle import`: loads a log (an export, a per-credit-note dump)
 * into a store through the store port, so any adapter takes it. An event the
 * store already holds (same stream, version and event id) is skipped, so a
 * second import of the same log writes nothing and an interrupted one resumes.
 * Each append carries the credit notes' and refund requests' read-model rows
 * and processor refund links, as the lifecycle's own appends do: the imported
 * store answers `getCreditNote`, `listCreditNotes`, `listRefundRequests` and
 * webhooks as if it had lived it.
 *
 * Side effects are not enqueued: an import restores history, and a refund or
 * an email it describes already happened (or is the live system's to do).
 */

/** A line of a log: its parsed JSON, or why it could not be parsed. */
export type LogLine = { raw: unknown; at: LogLocation } | { bad: string; at: LogLocation };

export type LogImportReport = {
  read: number;
  /** Events written. */
  appended: number;
  /** Events the store already held. */
  alreadyPresent: number;
  /** Streams that received events. */
  streamsWritten: number;
  /** Credit-note read-model rows written. */
  creditNotesWritten: number;
  /** Refund-request read-model rows written. */
  refundRequestsWritten: number;
  appends: number;
};

type StreamProgress = {
  /** Version reached, in the store and in this import. */
  version: number;
  /** What the store held before this import touched the stream. */
  storedVersion: number;
  /** Folded credit-note state; null for other streams. */
  state: CreditNoteState | null;
  /** Folded refund-request state; null for other streams. */
  request: RefundRequestState | null;
};

type Pending = {
  stream: StreamAppend;
  before: CreditNoteState | null;
  after: CreditNoteState | null;
  /** The refund request as this batch leaves it; null for other streams. */
  request: RefundRequestState | null;
  lastAt: string;
};

const DEFAULT_BATCH = 500;

/** JSON values equal, whatever their key order. */
const sameJson = (a: unknown, b: unknown): boolean => {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const left = Object.keys(a);
  const right = Object.keys(b);
  return left.length === right.length && left.every((key) => Object.hasOwn(b, key) && sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
};

/** The event the store holds is the log's: same id and the same facts (both read in the current schema version). */
const sameEvent = (held: DomainEvent, event: DomainEvent): boolean =>
  held.eventId === event.eventId &&
  held.type === event.type &&
  Date.parse(held.occurredAt) === Date.parse(event.occurredAt) &&
  held.source === event.source &&
  held.causationId === event.causationId &&
  held.correlationId === event.correlationId &&
  sameJson(held.actor, event.actor) &&
  sameJson(held.data, event.data);

export const importLog = async (
  store: EventStore,
  lines: AsyncIterable<LogLine> | Iterable<LogLine>,
  options: { batchSize?: number; onProgress?: (report: LogImportReport) => void } = {},
): Promise<Result<LogImportReport, LogImportError>> => {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  const streams = new Map<string, StreamProgress>();
  const report: LogImportReport = { read: 0, appended: 0, alreadyPresent: 0, streamsWritten: 0, creditNotesWritten: 0, refundRequestsWritten: 0, appends: 0 };
  let batch: Array<{ event: DomainEvent; at: LogLocation }> = [];

  const storedEventsOf = async (streamId: string): Promise<Result<StoredEvent[], LogImportError>> => {
    const { events } = await store.readStream(streamId);
    const parsed: StoredEvent[] = [];
    for (const raw of events) {
      const event = parseStoredEvent(raw);
      if (event.isErr()) return err(new LogImportError('invalid_event', null, `the store's ${streamId} holds an invalid event: ${event.error.message}`));
      parsed.push(event.value);
    }
    return ok(parsed);
  };

  const progressOf = async (streamId: string): Promise<Result<{ progress: StreamProgress; stored: StoredEvent[] | null }, LogImportError>> => {
    const known = streams.get(streamId);
    if (known !== undefined) return ok({ progress: known, stored: null });
    const stored = await storedEventsOf(streamId);
    if (stored.isErr()) return err(stored.error);
    let state: CreditNoteState | null = null;
    if (streamId.startsWith(CREDIT_NOTE_STREAM_PREFIX)) {
      state = initialCreditNoteState;
      for (const event of stored.value) if (isCreditNoteEvent(event)) state = evolveCreditNote(state, event as unknown as CreditNoteEvent).state;
    }
    let request: RefundRequestState | null = null;
    if (streamId.startsWith(REFUND_REQUEST_STREAM_PREFIX)) {
      request = foldRefundRequest(stored.value.filter(isRefundRequestEvent) as unknown as RefundRequestEvent[]).state;
    }
    const progress = { version: stored.value.length, storedVersion: stored.value.length, state, request };
    streams.set(streamId, progress);
    return ok({ progress, stored: stored.value });
  };

  /** Where each processor refund the import names belongs (store or log): one lookup per refund. */
  const refundOwners = new Map<string, string | null>();
  const refundClash = async (event: DomainEvent): Promise<string | null> => {
    const refundId = (event.data as { processorRefundId?: unknown }).processorRefundId;
    if (typeof refundId !== 'string' || !isCreditNoteEvent(event)) return null;
    const creditNoteId = event.streamId.slice(CREDIT_NOTE_STREAM_PREFIX.length);
    let owner = refundOwners.get(refundId);
    if (owner === undefined) {
      const processor = streams.get(event.streamId)?.state?.context.payment?.processor ?? 'stripe';
      owner = (await store.findProcessorRefund({ processor, processorRefundId: refundId }))?.creditNoteId ?? null;
    }
    if (owner !== null && owner !== creditNoteId) return `refund ${refundId} belongs to credit note ${owner}, not ${creditNoteId}`;
    refundOwners.set(refundId, creditNoteId);
    return null;
  };

  /** Takes one event into `pending`, or says why the import must stop there. */
  const take = async (
    event: DomainEvent,
    at: LogLocation,
    pending: Map<string, Pending>,
    storedByStream: Map<string, StoredEvent[]>,
  ): Promise<LogImportError | null> => {
    const found = await progressOf(event.streamId);
    if (found.isErr()) return found.error;
    const { progress } = found.value;
    if (found.value.stored !== null) storedByStream.set(event.streamId, found.value.stored);
    if (event.streamVersion <= progress.storedVersion) {
      let stored = storedByStream.get(event.streamId);
      if (stored === undefined) {
        const read = await storedEventsOf(event.streamId);
        if (read.isErr()) return read.error;
        storedByStream.set(event.streamId, (stored = read.value));
      }
      const held = stored[event.streamVersion - 1];
      if (held !== undefined && sameEvent(held, event)) {
        report.alreadyPresent += 1;
        return null;
      }
      return new LogImportError(
        'different_event',
        at,
        held !== undefined && held.eventId === event.eventId
          ? `event ${event.eventId} (${event.streamId} version ${event.streamVersion}) differs from the one the store holds under the same id`
          : `the store already holds event ${held?.eventId ?? '?'} at ${event.streamId} version ${event.streamVersion}, not ${event.eventId}`,
      );
    }
    if (event.streamVersion !== progress.version + 1) {
      return new LogImportError('version_out_of_order', at, `${event.streamId} version ${event.streamVersion} cannot follow version ${progress.version}`);
    }
    let next: CreditNoteState | null = null;
    if (progress.state !== null && isCreditNoteEvent(event)) {
      const decision = evolveCreditNote(progress.state, event as unknown as CreditNoteEvent);
      if (!decision.accepted) return new LogImportError('transition_rejected', at, `${event.type} is not allowed from ${progress.state.status} in ${event.streamId}`);
      next = decision.state;
    }
    let nextRequest: RefundRequestState | null = null;
    if (progress.request !== null) {
      // A request stream holds only the request's own events: anything else is refused by its machine too.
      const decision = decideRefundRequest(progress.request, event as unknown as RefundRequestEvent);
      if (!decision.accepted) {
        return new LogImportError('transition_rejected', at, `${event.type} is not allowed from ${progress.request.status} in ${event.streamId}`);
      }
      nextRequest = decision.state;
    }
    const clash = await refundClash(event);
    if (clash !== null) return new LogImportError('different_event', at, clash);
    let entry = pending.get(event.streamId);
    if (entry === undefined) {
      entry = {
        stream: { streamId: event.streamId, expectedVersion: progress.version, events: [] },
        before: progress.state,
        after: progress.state,
        request: progress.request,
        lastAt: event.occurredAt,
      };
      pending.set(event.streamId, entry);
    }
    if (next !== null) progress.state = entry.after = next;
    if (nextRequest !== null) progress.request = entry.request = nextRequest;
    entry.stream.events.push(event);
    entry.lastAt = event.occurredAt;
    progress.version = event.streamVersion;
    return null;
  };

  const append = async (pending: Map<string, Pending>): Promise<LogImportError | null> => {
    if (pending.size === 0) return null;
    const request: Required<Pick<AppendRequest, 'streams' | 'creditNotes' | 'processorRefunds' | 'refundRequests'>> & AppendRequest = {
      streams: [],
      creditNotes: [],
      processorRefunds: [],
      refundRequests: [],
      wakeDispatchers: false,
    };
    for (const { stream, before, after, request: requestState, lastAt } of pending.values()) {
      request.streams.push(stream);
      const version = stream.expectedVersion + stream.events.length;
      if (requestState !== null && requestState.status !== 'unsubmitted') {
        // As the lifecycle writes it: the request's row at the version this append reaches.
        request.refundRequests.push(refundRequestSummary({ streamId: stream.streamId, version, state: requestState }, lastAt));
      }
      if (before === null || after === null || after.status === 'unissued') continue;
      request.creditNotes.push(creditNoteSummary(stream.streamId, version, after, lastAt));
      request.processorRefunds.push(
        ...processorRefundLinks({
          loaded: { streamId: stream.streamId, version: stream.expectedVersion, state: before },
          state: after,
          events: stream.events.filter(isCreditNoteEvent) as unknown as CreditNoteEvent[],
        }),
      );
    }
    const appended = await store.append(request);
    if (appended.isErr()) {
      const failure = appended.error;
      const detail = failure instanceof VersionConflictError ? `${failure.message}: another writer changed the store during the import` : failure.message;
      return new LogImportError('store_changed', null, detail);
    }
    report.appends += 1;
    report.streamsWritten += request.streams.length;
    report.creditNotesWritten += request.creditNotes.length;
    report.refundRequestsWritten += request.refundRequests.length;
    for (const stream of request.streams) report.appended += stream.events.length;
    return null;
  };

  /**
   * Appends the batch. A refused event stops the import, but what came before
   * it in the batch is written first: "everything before line N is in" holds
   * for every refusal, so fixing that line and importing again finishes the job.
   */
  const flush = async (): Promise<Result<void, LogImportError>> => {
    const pending = new Map<string, Pending>();
    // Stored events read for this batch, to compare with the log's: a stream may span batches, so they are not kept.
    const storedByStream = new Map<string, StoredEvent[]>();
    let refusal: LogImportError | null = null;
    for (const { event, at } of batch) {
      refusal = await take(event, at, pending, storedByStream);
      if (refusal !== null) break;
    }
    batch = [];
    const failed = await append(pending);
    if (failed !== null) return err(failed.after(report.appended));
    return refusal === null ? ok(undefined) : err(refusal.after(report.appended));
  };

  for await (const line of lines) {
    report.read += 1;
    const { at } = line;
    const parsed = 'bad' in line ? null : parseLoggedEvent(line.raw);
    if (parsed === null || parsed.isErr()) {
      // Everything before the bad line goes in, so fixing it and importing again picks up from there.
      const flushed = await flush();
      if (flushed.isErr()) return err(flushed.error);
      return err(new LogImportError('invalid_event', at, parsed === null ? (line as { bad: string }).bad : parsed.error.message).after(report.appended));
    }
    // The target store gives each event its own place in its global log.
    const { globalPosition: _, ...event } = parsed.value as StoredEvent;
    batch.push({ event: event as DomainEvent, at });
    if (batch.length >= batchSize) {
      const flushed = await flush();
      if (flushed.isErr()) return err(flushed.error);
      options.onProgress?.(report);
    }
  }
  const flushed = await flush();
  if (flushed.isErr()) return err(flushed.error);
  options.onProgress?.(report);
  return ok(report);
};
