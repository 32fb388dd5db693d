import { err, ok, type Result } from 'neverthrow';
import { LogImportError, VersionConflictError } from '../errors.js';
import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import { isCreditNoteEvent, type DomainEvent, type StoredEvent } from '../events/envelope.js';
import { parseEvent, parseStoredEvent } from '../events/parseEvent.js';
import { initialCreditNoteState, type CreditNoteState } from '../machine/creditNoteState.js';
import { evolveCreditNote } from '../machine/fold.js';
import type { AppendRequest, EventStore, StreamAppend } from '../ports/eventStore.js';
import { processorRefundLinks } from '../lifecycle/commandHandler.js';
import { CREDIT_NOTE_STREAM_PREFIX, creditNoteSummary } from '../lifecycle/streams.js';
import type { LogLocation } from './logReplay.js';

/*
 * `refund-lifecycle import`: loads a log (an export, a per-credit-note dump)
 * into a store through the store port, so any adapter takes it. An event the
 * store already holds (same stream, version and event id) is skipped, so a
 * second import of the same log writes nothing and an interrupted one resumes.
 * Each append carries the credit notes' read-model rows and processor refund
 * links, as the lifecycle's own appends do: the imported store answers
 * `getCreditNote`, `listCreditNotes` and webhooks as if it had lived it.
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
  appends: number;
};

type StreamProgress = {
  /** Version reached, in the store and in this import. */
  version: number;
  /** What the store held before this import touched the stream. */
  storedVersion: number;
  /** Folded credit-note state; null for payment streams. */
  state: CreditNoteState | null;
};

type Pending = { stream: StreamAppend; before: CreditNoteState | null; after: CreditNoteState | null; lastAt: string };

const DEFAULT_BATCH = 500;

export const importLog = async (
  store: EventStore,
  lines: AsyncIterable<LogLine> | Iterable<LogLine>,
  options: { batchSize?: number; onProgress?: (report: LogImportReport) => void } = {},
): Promise<Result<LogImportReport, LogImportError>> => {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  const streams = new Map<string, StreamProgress>();
  const report: LogImportReport = { read: 0, appended: 0, alreadyPresent: 0, streamsWritten: 0, creditNotesWritten: 0, appends: 0 };
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
    const progress = { version: stored.value.length, storedVersion: stored.value.length, state };
    streams.set(streamId, progress);
    return ok({ progress, stored: stored.value });
  };

  const flush = async (): Promise<Result<void, LogImportError>> => {
    const pending = new Map<string, Pending>();
    // Stored events read for this batch, to compare with the log's: a stream may span batches, so they are not kept.
    const storedByStream = new Map<string, StoredEvent[]>();
    for (const { event, at } of batch) {
      const found = await progressOf(event.streamId);
      if (found.isErr()) return err(found.error);
      const { progress } = found.value;
      if (found.value.stored !== null) storedByStream.set(event.streamId, found.value.stored);
      if (event.streamVersion <= progress.storedVersion) {
        let stored = storedByStream.get(event.streamId);
        if (stored === undefined) {
          const read = await storedEventsOf(event.streamId);
          if (read.isErr()) return err(read.error);
          storedByStream.set(event.streamId, (stored = read.value));
        }
        const held = stored[event.streamVersion - 1];
        if (held !== undefined && held.eventId === event.eventId) {
          report.alreadyPresent += 1;
          continue;
        }
        return err(
          new LogImportError('different_event', at, `the store already holds event ${held?.eventId ?? '?'} at ${event.streamId} version ${event.streamVersion}, not ${event.eventId}`),
        );
      }
      if (event.streamVersion !== progress.version + 1) {
        return err(
          new LogImportError('version_out_of_order', at, `${event.streamId} version ${event.streamVersion} cannot follow version ${progress.version}`),
        );
      }
      let entry = pending.get(event.streamId);
      if (entry === undefined) {
        entry = { stream: { streamId: event.streamId, expectedVersion: progress.version, events: [] }, before: progress.state, after: progress.state, lastAt: event.occurredAt };
        pending.set(event.streamId, entry);
      }
      if (progress.state !== null && isCreditNoteEvent(event)) {
        const next = evolveCreditNote(progress.state, event as unknown as CreditNoteEvent);
        if (!next.accepted) {
          return err(new LogImportError('transition_rejected', at, `${event.type} is not allowed from ${progress.state.status} in ${event.streamId}`));
        }
        progress.state = next.state;
        entry.after = next.state;
      }
      entry.stream.events.push(event);
      entry.lastAt = event.occurredAt;
      progress.version = event.streamVersion;
    }
    batch = [];
    if (pending.size === 0) return ok(undefined);
    const request: Required<Pick<AppendRequest, 'streams' | 'creditNotes' | 'processorRefunds'>> & AppendRequest = {
      streams: [],
      creditNotes: [],
      processorRefunds: [],
      wakeDispatchers: false,
    };
    for (const { stream, before, after, lastAt } of pending.values()) {
      request.streams.push(stream);
      if (before === null || after === null || after.status === 'unissued') continue;
      request.creditNotes.push(creditNoteSummary(stream.streamId, stream.expectedVersion + stream.events.length, after, lastAt));
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
      return err(new LogImportError('store_changed', null, detail));
    }
    report.appends += 1;
    report.streamsWritten += request.streams.length;
    report.creditNotesWritten += request.creditNotes.length;
    for (const stream of request.streams) report.appended += stream.events.length;
    return ok(undefined);
  };

  for await (const line of lines) {
    report.read += 1;
    const { at } = line;
    const parsed = 'bad' in line ? null : typeof line.raw === 'object' && line.raw !== null && 'globalPosition' in line.raw ? parseStoredEvent(line.raw) : parseEvent(line.raw);
    if (parsed === null || parsed.isErr()) {
      // Everything before the bad line goes in, so fixing it and importing again picks up from there.
      const flushed = await flush();
      if (flushed.isErr()) return err(flushed.error);
      return err(new LogImportError('invalid_event', at, parsed === null ? (line as { bad: string }).bad : parsed.error.message));
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
