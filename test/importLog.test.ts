import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLifecycle } from '../bench/replayMemory.js';
import { pgliteStore, type PgliteEventStore } from '../src/adapters/pglite/index.js';
import type { StoredEvent } from '../src/events/envelope.js';
import { parseStoredEvent } from '../src/events/parseEvent.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { importLog, type LogLine } from '../src/logs/importLog.js';
import { foldCreditNote } from '../src/machine/fold.js';
import type { CreditNoteEvent } from '../src/events/creditNoteEvents.js';
import type { EventStore } from '../src/ports/eventStore.js';
import { fakeGateway, inMemoryEventStore } from '../src/testing/index.js';
import { actor, buildFixture, okValue, submitRefundRequest } from './support/fixtures.js';

/*
 * `importLog` (behind `refund-lifecycle import`) on the in-memory store and
 * PGlite: the imported store holds the log's events and answers as if it had
 * lived them (read model, refund links); importing again writes nothing; a
 * log that contradicts the store or itself is refused where it does.
 */

/** Generated lifecycles (the benchmark's mix of stories) in commit order, as an export holds them. */
const exportedLog = (streams: readonly number[]): StoredEvent[] => {
  const timed = streams.flatMap((stream) => buildLifecycle(stream));
  timed.sort((a, b) => a.at - b.at || a.stream - b.stream || a.event.streamVersion - b.event.streamVersion);
  return timed.map((item, index) => ({ ...item.event, globalPosition: index + 1 }) as unknown as StoredEvent);
};
const lines = (events: readonly unknown[]): LogLine[] => events.map((raw, index) => ({ raw, at: { line: index + 1 } }));
const withoutPosition = ({ globalPosition: _, ...event }: StoredEvent) => event;
/**
 * Events as the lifecycle reads them (current schema version), without the store's own positions, by stream: an
 * import keeps each stream's order, while events of different streams in one batch are appended stream by stream.
 */
const byStream = (events: readonly StoredEvent[]) =>
  events
    .map((event) => withoutPosition(parseStoredEvent(event)._unsafeUnwrap()))
    .sort((a, b) => a.streamId.localeCompare(b.streamId) || a.streamVersion - b.streamVersion);
const heldEvents = async (store: EventStore) => byStream(await store.readAll({ limit: 100_000 }));
const upcast = byStream;

/** The stores an import is tried on, each opened empty. */
const stores = [
  ['in memory', async () => ({ store: inMemoryEventStore() as EventStore, close: async () => {} })],
  [
    'PGlite',
    async () => {
      const store: PgliteEventStore = pgliteStore({ dataDir: 'memory://' });
      await store.migrate();
      return { store: store as EventStore, close: () => store.close() };
    },
  ],
] as const;

const STREAMS = Array.from({ length: 60 }, (_, index) => index * 7);

describe.each(stores)('importLog into the %s store', (_name, open) => {
  let opened: Awaited<ReturnType<typeof open>>;
  const log = exportedLog(STREAMS);
  beforeAll(async () => {
    opened = await open();
  }, 30_000);
  afterAll(() => opened?.close());

  it('writes every event in order, with each credit note read-model row and refund link', async () => {
    const { store } = opened;
    const report = (await importLog(store, lines(log), { batchSize: 50 }))._unsafeUnwrap();
    expect(report).toMatchObject({ read: log.length, appended: log.length, alreadyPresent: 0, creditNotesWritten: expect.any(Number) });
    expect(await heldEvents(store)).toEqual(upcast(log));

    const rows = await store.listCreditNotes({ limit: 1_000 });
    expect(rows).toHaveLength(STREAMS.length);
    for (const row of rows) {
      const events = log.filter((event) => event.streamId === row.streamId) as unknown as CreditNoteEvent[];
      expect(row.status).toBe(foldCreditNote(events).state.status);
      expect(row.version).toBe(events.length);
    }
    const accepted = log.find((event) => event.type === 'RefundAccepted')!;
    const refundId = (accepted.data as { processorRefundId: string }).processorRefundId;
    expect(await store.findProcessorRefund({ processor: 'stripe', processorRefundId: refundId })).toMatchObject({
      creditNoteId: accepted.streamId.replace('credit-note-', ''),
    });
  });

  it('writes nothing the second time', async () => {
    const { store } = opened;
    const before = await store.readAll({ limit: 100_000 });
    const report = (await importLog(store, lines(log), { batchSize: 64 }))._unsafeUnwrap();
    expect(report).toMatchObject({ appended: 0, alreadyPresent: log.length, appends: 0 });
    expect(await store.readAll({ limit: 100_000 })).toEqual(before);
  });

  it('serves the lifecycle afterwards: a credit note reads as the log left it', async () => {
    const { store } = opened;
    const lifecycle = createRefundLifecycle({ store, gateway: fakeGateway() });
    const creditNoteId = log[0]!.streamId.replace('credit-note-', '');
    const events = log.filter((event) => event.streamId === log[0]!.streamId) as unknown as CreditNoteEvent[];
    const view = (await lifecycle.getCreditNote(creditNoteId))._unsafeUnwrap();
    expect(view.status).toBe(foldCreditNote(events).state.status);
    expect((await lifecycle.history(creditNoteId))._unsafeUnwrap()).toHaveLength(events.length);
  });

  it('refuses an event that differs from the one the store holds at that version, and writes nothing of its batch', async () => {
    const { store } = opened;
    const before = await store.readAll({ limit: 100_000 });
    const tampered = log.map((event, index) => (index === 10 ? { ...event, eventId: 'some-other-event' } : event));
    const refused = await importLog(store, lines(tampered));
    expect(refused._unsafeUnwrapErr()).toMatchObject({ code: 'log_import_refused', reason: 'different_event', at: { line: 11 } });
    expect(await store.readAll({ limit: 100_000 })).toEqual(before);
  });
});

/** The generated lifecycle must have the shape the test needs; it is a fixed one, so this documents rather than filters. */
const fc_pre = (condition: boolean) => {
  if (!condition) throw new Error('the generated lifecycle does not name a refund');
};

describe('importLog refusals on a fresh store', () => {
  const log = exportedLog([3, 4, 5, 6]);

  it('imports everything before a bad line, then picks up from there once it is fixed', async () => {
    const store = inMemoryEventStore();
    const broken: LogLine[] = lines(log);
    broken[6] = { bad: 'not JSON: Unexpected end of JSON input', at: { line: 7 } };
    const refused = await importLog(store, broken, { batchSize: 4 });
    expect(refused._unsafeUnwrapErr()).toMatchObject({ reason: 'invalid_event', at: { line: 7 } });
    expect(await store.readAll()).toHaveLength(6);

    const resumed = (await importLog(store, lines(log)))._unsafeUnwrap();
    expect(resumed).toMatchObject({ alreadyPresent: 6, appended: log.length - 6 });
    expect(await heldEvents(store)).toEqual(upcast(log));
  });

  it('refuses an event whose facts differ from the stored one under the same id, and a refund already on another credit note', async () => {
    const store = inMemoryEventStore();
    (await importLog(store, lines(log)))._unsafeUnwrap();
    const accepted = log.findIndex((event) => event.type === 'RefundAccepted');
    const edited = log.map((event, index) =>
      index === accepted ? { ...event, data: { ...event.data, processorRefundId: 're_EDITED' } } : event,
    );
    expect((await importLog(store, lines(edited)))._unsafeUnwrapErr()).toMatchObject({ reason: 'different_event', at: { line: accepted + 1 }, imported: 0 });

    // A fresh credit note in the log naming a refund the store links to another one.
    const theirs = (log[accepted]!.data as { processorRefundId: string }).processorRefundId;
    const intruder = exportedLog([900]).map((event) => {
      const data = event.data as { processorRefundId?: string };
      return data.processorRefundId === undefined ? event : { ...event, data: { ...event.data, processorRefundId: theirs } };
    });
    fc_pre(intruder.some((event) => (event.data as { processorRefundId?: string }).processorRefundId === theirs));
    const refused = (await importLog(store, lines(intruder)))._unsafeUnwrapErr();
    expect(refused).toMatchObject({ reason: 'different_event', detail: expect.stringContaining(`refund ${theirs} belongs to credit note`) });
    // What came before the refused event went in.
    const firstNaming = intruder.findIndex((event) => (event.data as { processorRefundId?: string }).processorRefundId === theirs);
    expect(refused.imported).toBe(firstNaming);
  });

  it('refuses a log with a hole in a stream, and one the lifecycle would not allow', async () => {
    const second = log.findIndex((event) => event.streamVersion === 2);
    const holed = log.filter((_, index) => index !== second);
    expect((await importLog(inMemoryEventStore(), lines(holed)))._unsafeUnwrapErr()).toMatchObject({ reason: 'version_out_of_order' });

    const issued = log[0]!;
    const twice = [issued, { ...issued, eventId: 'again', streamVersion: 2, globalPosition: 2 }];
    expect((await importLog(inMemoryEventStore(), lines(twice)))._unsafeUnwrapErr()).toMatchObject({ reason: 'transition_rejected', at: { line: 2 } });
  });
});

/**
 * A store that lived refund requests: one pending, one approved and refunded, one approved whose refund failed, one
 * approved as cancel only, one rejected and one withdrawn. Its log in commit order.
 */
const requestStory = async () => {
  const fx = buildFixture();
  const customer = { kind: 'customer', id: 'cus_1' } as const;
  const DAY = 86_400_000;
  const submit = async (requestId: string, paymentId: string, extra: { subscriptionId?: string } = {}) => {
    await submitRefundRequest(fx, {
      requestId,
      paymentId,
      reason: 'not_as_described',
      purchasedAt: new Date(fx.clock.now().getTime() - 3 * DAY).toISOString(),
      ...extra,
    });
    fx.clock.advance(60_000);
  };
  await submit('rr_pending', 'pi_1');
  await submit('rr_refunded', 'pi_2');
  await submit('rr_failed', 'pi_3');
  await submit('rr_cancel', 'pi_4', { subscriptionId: 'sub_4' });
  await submit('rr_rejected', 'pi_5');
  await submit('rr_withdrawn', 'pi_6');
  okValue(await fx.lifecycle.approveRequest('rr_refunded', { actor, note: 'Sorry.' }));
  okValue(await fx.lifecycle.approveRequest('rr_failed', { actor, amount: 1_000, creditNoteId: 'cn_partial' }));
  okValue(await fx.lifecycle.approveRequest('rr_cancel', { actor, option: 'cancel_only' }));
  okValue(await fx.lifecycle.rejectRequest('rr_rejected', { actor, note: 'Used in full.' }));
  okValue(await fx.lifecycle.withdrawRequest('rr_withdrawn', { actor: customer }));
  fx.clock.advance(60_000);
  const [refunded, failed] = fx.gateway.refunds();
  fx.gateway.setRefundStatus(refunded!.processorRefundId, 'succeeded');
  fx.gateway.setRefundStatus(failed!.processorRefundId, 'failed', 'insufficient_funds');
  await fx.deliver(fx.gateway.takeNotices());
  okValue(await fx.lifecycle.dispatch());
  const log = await fx.store.readAll({ limit: 100_000 });
  const listed = await fx.store.listRefundRequests({ limit: 1_000 });
  return { store: fx.store, log, listed };
};

describe.each(stores)('importLog of refund requests into the %s store', (_name, open) => {
  let opened: Awaited<ReturnType<typeof open>>;
  let story: Awaited<ReturnType<typeof requestStory>>;
  beforeAll(async () => {
    story = await requestStory();
    opened = await open();
  }, 30_000);
  afterAll(() => opened?.close());

  it('lists the same requests with the same statuses as the store that lived them', async () => {
    const { store } = opened;
    const { log, listed } = story;
    // The story covers every ticket status.
    expect(listed.map((request) => [request.requestId, request.status, request.ticketStatus])).toEqual([
      ['rr_pending', 'pending', 'pending'],
      ['rr_refunded', 'approved', 'succeeded'],
      ['rr_failed', 'approved', 'failed'],
      ['rr_cancel', 'approved', 'succeeded'],
      ['rr_rejected', 'rejected', 'rejected'],
      ['rr_withdrawn', 'withdrawn', 'withdrawn'],
    ]);
    expect(log.some((event) => event.type === 'RefundRequestOpened') && log.some((event) => event.type === 'RefundRequestClosed')).toBe(true);

    // Small batches: a request's stream spans appends, its row is written again by each.
    const report = (await importLog(store, lines(log), { batchSize: 3 }))._unsafeUnwrap();
    expect(report).toMatchObject({ read: log.length, appended: log.length, alreadyPresent: 0 });
    expect(report.refundRequestsWritten).toBeGreaterThanOrEqual(listed.length);
    expect(await heldEvents(store)).toEqual(upcast(log));
    expect(await store.listRefundRequests({ limit: 1_000 })).toEqual(listed);
    for (const status of ['pending', 'processing', 'succeeded', 'failed', 'rejected', 'withdrawn'] as const) {
      expect(await store.listRefundRequests({ status }), status).toEqual(await story.store.listRefundRequests({ status }));
    }
    expect(await store.listCreditNotes({ limit: 1_000 })).toEqual(await story.store.listCreditNotes({ limit: 1_000 }));
    const period = { from: '2020-01-01T00:00:00.000Z', to: '2040-01-01T00:00:00.000Z' };
    expect(await store.refundRequestReport(period)).toEqual(await story.store.refundRequestReport(period));
  });

  it('writes nothing the second time', async () => {
    const { store } = opened;
    const before = await store.readAll({ limit: 100_000 });
    const report = (await importLog(store, lines(story.log)))._unsafeUnwrap();
    expect(report).toMatchObject({ appended: 0, alreadyPresent: story.log.length, appends: 0, refundRequestsWritten: 0 });
    expect(await store.readAll({ limit: 100_000 })).toEqual(before);
    expect(await store.listRefundRequests({ limit: 1_000 })).toEqual(story.listed);
  });

  it('serves the lifecycle afterwards: an imported pending request can be decided', async () => {
    const { store } = opened;
    const lifecycle = createRefundLifecycle({ store, gateway: fakeGateway() });
    expect((await lifecycle.getRefundRequest('rr_failed'))._unsafeUnwrap()).toMatchObject({ status: 'failed', creditNoteId: 'cn_partial' });
    expect((await lifecycle.rejectRequest('rr_pending', { actor }))._unsafeUnwrap()).toMatchObject({ status: 'rejected' });
    expect((await store.listRefundRequests({ status: 'rejected' })).map((request) => request.requestId)).toEqual(['rr_pending', 'rr_rejected']);
  });
});

describe('importLog refuses a refund request the request machine would not allow', () => {
  it('an approval before the submission, at its line, with what came before it written', async () => {
    const { log } = await requestStory();
    const submitted = log.findIndex((event) => event.streamId === 'refund-request-rr_refunded');
    const approval = log.find((event) => event.streamId === 'refund-request-rr_refunded' && event.type === 'RefundRequestApproved')!;
    expect(log[submitted]!.type).toBe('RefundRequestSubmitted');
    // The approval put where the submission was, as the stream's first event.
    const edited = log.map((event, index) => (index === submitted ? { ...approval, streamVersion: 1, globalPosition: event.globalPosition } : event));
    const store = inMemoryEventStore();
    const refused = (await importLog(store, lines(edited)))._unsafeUnwrapErr();
    expect(refused).toMatchObject({
      reason: 'transition_rejected',
      at: { line: submitted + 1 },
      detail: 'RefundRequestApproved is not allowed from unsubmitted in refund-request-rr_refunded',
      imported: submitted,
    });
    expect(await store.readAll()).toHaveLength(submitted);
    expect((await store.listRefundRequests()).map((request) => request.requestId)).toEqual(['rr_pending']);
  });

  it('a second decision after the first, and an event of another kind on a request stream', async () => {
    const { log } = await requestStory();
    const rejected = log.find((event) => event.type === 'RefundRequestRejected')!;
    const withdrawnAgain = { ...rejected, eventId: 'again', streamVersion: 3, type: 'RefundRequestWithdrawn', data: { details: null }, globalPosition: log.length + 1 };
    const twice = (await importLog(inMemoryEventStore(), lines([...log, withdrawnAgain])))._unsafeUnwrapErr();
    expect(twice).toMatchObject({ reason: 'transition_rejected', at: { line: log.length + 1 }, detail: expect.stringContaining('from rejected in refund-request-rr_rejected') });

    const described = log.find((event) => event.type === 'PaymentDescribed')!;
    const stray = { ...described, eventId: 'stray', streamId: rejected.streamId, streamVersion: 3, globalPosition: log.length + 1 };
    const foreign = (await importLog(inMemoryEventStore(), lines([...log, stray])))._unsafeUnwrapErr();
    expect(foreign).toMatchObject({ reason: 'transition_rejected', at: { line: log.length + 1 } });
  });
});
