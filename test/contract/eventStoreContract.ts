import { beforeEach, describe, expect, it } from 'vitest';
import { DuplicateOutboxEntryError, OutboxClaimLostError, VersionConflictError } from '../../src/errors.js';
import { CURRENT_SCHEMA_VERSION, type DomainEvent, type DomainEventType, type StoredEvent } from '../../src/events/envelope.js';
import { parseEvent } from '../../src/events/parseEvent.js';
import { emptyCreditNoteContext, type CreditNoteStatus } from '../../src/machine/creditNoteState.js';
import type { CreditNoteSummary, EventStore, JsonValue, OutboxDraft } from '../../src/ports/eventStore.js';

/*
 * The one contract every EventStore adapter passes (in-memory, PostgreSQL,
 * PGlite). It speaks only through the port, so it holds any adapter to the
 * semantics of a database transaction: all or nothing, optimistic versions,
 * leased outbox entries, and no object shared between caller and store.
 *
 * `makeStore` must return a fresh, empty store for each test.
 */

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const LEASE_MS = 30_000;

const creditNoteStream = (creditNoteId: string) => `credit-note-${creditNoteId}`;
const paymentStream = (paymentId: string) => `payment-${paymentId}`;

/** Builds envelopes the way the lifecycle does and insists they pass `parseEvent`, so the store sees real events. */
const eventFactory = () => {
  let sequence = 0;
  const build = (type: DomainEventType, streamId: string, streamVersion: number, data: unknown): DomainEvent => {
    sequence += 1;
    const parsed = parseEvent({
      eventId: `evt_${sequence}`,
      streamId,
      streamVersion,
      schemaVersion: CURRENT_SCHEMA_VERSION,
      type,
      data,
      occurredAt: at(sequence * 1000).toISOString(),
      actor: { kind: 'user', id: 'u_contract' },
      causationId: sequence > 1 ? `evt_${sequence - 1}` : null,
      correlationId: `corr_${sequence}`,
      source: 'command',
    });
    if (parsed.isErr()) throw new Error(`test helper built an invalid ${type}: ${parsed.error.message}`);
    return parsed.value;
  };
  return {
    creditNoteIssued: (creditNoteId: string, paymentId: string | null, amount = 5000): DomainEvent =>
      build('CreditNoteIssued', creditNoteStream(creditNoteId), 1, {
        creditNoteId,
        amount,
        currency: 'EUR',
        payment: paymentId === null ? null : { processor: 'stripe', paymentId, account: 'acct_1' },
        reason: 'order cancelled',
        origin: 'host',
      }),
    refundRequested: (creditNoteId: string, streamVersion: number, attempt = 1, amount = 5000): DomainEvent =>
      build('RefundRequested', creditNoteStream(creditNoteId), streamVersion, {
        attempt,
        idempotencyKey: `${creditNoteId}:refund:${attempt}`,
        amount,
        currency: 'eur',
      }),
    creditNoteAttached: (paymentId: string, streamVersion: number, creditNoteId: string, amount = 5000): DomainEvent =>
      build('CreditNoteAttached', paymentStream(paymentId), streamVersion, { creditNoteId, amount, currency: 'eur' }),
  };
};

const outboxDraft = (id: string, streamId: string, availableAt: Date = at(0)): OutboxDraft => ({
  id,
  streamId,
  kind: 'create_refund',
  idempotencyKey: `${id}:key`,
  payload: { creditNoteId: id, attempt: 1, nested: { tags: ['a', 'b'], note: null } },
  availableAt: availableAt.toISOString(),
});

const summary = (
  creditNoteId: string,
  status: CreditNoteStatus,
  paymentId: string | null,
  version = 1,
): CreditNoteSummary => ({
  creditNoteId,
  streamId: creditNoteStream(creditNoteId),
  status,
  paymentId,
  version,
  updatedAt: at(version * 1000).toISOString(),
  state: {
    status,
    context: {
      ...emptyCreditNoteContext,
      creditNoteId,
      amount: 5000,
      currency: 'eur',
      payment: paymentId === null ? null : { processor: 'stripe', paymentId, account: null },
      reason: 'order cancelled',
      issuedAt: at(0).toISOString(),
    },
  },
});

const withoutPosition = ({ globalPosition: _position, ...event }: StoredEvent): DomainEvent => event as DomainEvent;

export const describeEventStoreContract = (
  name: string,
  makeStore: () => Promise<EventStore> | EventStore,
): void => {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let events: ReturnType<typeof eventFactory>;

    beforeEach(async () => {
      store = await makeStore();
      events = eventFactory();
    });

    /** Everything the store holds, to show that a refused append left no trace anywhere. */
    const snapshot = async () => ({
      log: await store.readAll(),
      outbox: await store.listOutbox(),
      creditNotes: await store.listCreditNotes(),
    });

    /** Appends one new credit-note stream holding CreditNoteIssued, with nothing else. */
    const seedCreditNote = async (creditNoteId: string) => {
      const issued = events.creditNoteIssued(creditNoteId, `pi_${creditNoteId}`);
      const result = await store.append({ streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }] });
      expect(result.isOk()).toBe(true);
      return issued;
    };

    /** Enqueues due outbox entries on one stream and returns their ids. */
    const seedOutbox = async (ids: string[], availableAt: Date = at(0)) => {
      const issued = events.creditNoteIssued(`cn_${ids[0]}`, null);
      const result = await store.append({
        streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
        outbox: ids.map((id) => outboxDraft(id, issued.streamId, availableAt)),
      });
      expect(result.isOk()).toBe(true);
      return ids;
    };

    describe('streams', () => {
      it('starts empty: a missing stream is version 0 with no events, and the log is empty', async () => {
        expect(await store.readStream(creditNoteStream('cn_missing'))).toEqual({ version: 0, events: [] });
        expect(await snapshot()).toEqual({ log: [], outbox: [], creditNotes: [] });
      });

      it('appends to a new stream and reads the events back in order, equal to what was appended', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_1');
        const requested = events.refundRequested('cn_1', 2);
        const result = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued, requested] }],
        });

        expect(result.isOk()).toBe(true);
        const stream = await store.readStream(issued.streamId);
        expect(stream.version).toBe(2);
        expect(stream.events.map((event) => event.streamVersion)).toEqual([1, 2]);
        expect(stream.events.map(withoutPosition)).toEqual([issued, requested]);
        const [first, second] = stream.events;
        expect(first!.globalPosition).toBeGreaterThan(0);
        expect(second!.globalPosition).toBeGreaterThan(first!.globalPosition);
        expect(result._unsafeUnwrap().lastGlobalPosition).toBe(second!.globalPosition);
      });

      it('continues a stream at its current version', async () => {
        const issued = await seedCreditNote('cn_1');
        const requested = events.refundRequested('cn_1', 2);
        const result = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 1, events: [requested] }],
        });

        expect(result.isOk()).toBe(true);
        const stream = await store.readStream(issued.streamId);
        expect(stream.version).toBe(2);
        expect(stream.events.map(withoutPosition)).toEqual([issued, requested]);
      });

      it('keeps streams apart: reading one stream never returns another stream’s events', async () => {
        const first = await seedCreditNote('cn_1');
        const second = await seedCreditNote('cn_2');

        expect((await store.readStream(first.streamId)).events.map(withoutPosition)).toEqual([first]);
        expect((await store.readStream(second.streamId)).events.map(withoutPosition)).toEqual([second]);
      });

      it('appends to several streams in one step, every event getting its own increasing global position', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_1');
        const attached = events.creditNoteAttached('pi_1', 1, 'cn_1');
        const result = await store.append({
          streams: [
            { streamId: issued.streamId, expectedVersion: 0, events: [issued] },
            { streamId: attached.streamId, expectedVersion: 0, events: [attached] },
          ],
        });

        expect(result.isOk()).toBe(true);
        const log = await store.readAll();
        expect(log.map(withoutPosition)).toEqual([issued, attached]);
        expect(log[1]!.globalPosition).toBeGreaterThan(log[0]!.globalPosition);
        expect(result._unsafeUnwrap().lastGlobalPosition).toBe(log[1]!.globalPosition);
      });
    });

    describe('optimistic concurrency', () => {
      it('refuses a stale expected version with a VersionConflictError and writes nothing at all', async () => {
        const issued = await seedCreditNote('cn_1');
        const before = await snapshot();

        const result = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [events.refundRequested('cn_1', 1)] }],
          outbox: [outboxDraft('ob_1', issued.streamId)],
          creditNotes: [summary('cn_1', 'requested', 'pi_cn_1', 2)],
        });

        expect(result.isErr()).toBe(true);
        const error = result._unsafeUnwrapErr();
        expect(error).toBeInstanceOf(VersionConflictError);
        expect(error).toMatchObject({ streamId: issued.streamId, expectedVersion: 0, actualVersion: 1 });
        expect(await snapshot()).toEqual(before);
      });

      it('refuses an expected version ahead of the stream, including on a stream that does not exist', async () => {
        const result = await store.append({
          streams: [
            { streamId: creditNoteStream('cn_1'), expectedVersion: 3, events: [events.refundRequested('cn_1', 4)] },
          ],
        });

        expect(result._unsafeUnwrapErr()).toMatchObject({
          code: 'version_conflict',
          streamId: creditNoteStream('cn_1'),
          expectedVersion: 3,
          actualVersion: 0,
        });
        expect(await store.readStream(creditNoteStream('cn_1'))).toEqual({ version: 0, events: [] });
      });

      it('writes a multi-stream append all or nothing: one stale stream and no stream changes', async () => {
        const stale = await seedCreditNote('cn_stale');
        const before = await snapshot();
        const fresh = events.creditNoteIssued('cn_fresh', 'pi_1');
        const attached = events.creditNoteAttached('pi_1', 1, 'cn_fresh');

        // The stale stream sits last so an adapter writing stream by stream would already have written the others.
        const result = await store.append({
          streams: [
            { streamId: fresh.streamId, expectedVersion: 0, events: [fresh] },
            { streamId: attached.streamId, expectedVersion: 0, events: [attached] },
            { streamId: stale.streamId, expectedVersion: 0, events: [events.refundRequested('cn_stale', 1)] },
          ],
          outbox: [outboxDraft('ob_1', fresh.streamId)],
          creditNotes: [summary('cn_fresh', 'issued', 'pi_1')],
        });

        expect(result._unsafeUnwrapErr()).toBeInstanceOf(VersionConflictError);
        expect(result._unsafeUnwrapErr()).toMatchObject({ streamId: stale.streamId, expectedVersion: 0, actualVersion: 1 });
        expect(await store.readStream(fresh.streamId)).toEqual({ version: 0, events: [] });
        expect(await store.readStream(attached.streamId)).toEqual({ version: 0, events: [] });
        expect(await snapshot()).toEqual(before);
      });

      it('lets exactly one of two racing appends at the same expected version win', async () => {
        const issued = await seedCreditNote('cn_1');
        const attempt = (attemptNumber: number) =>
          store.append({
            streams: [
              {
                streamId: issued.streamId,
                expectedVersion: 1,
                events: [events.refundRequested('cn_1', 2, attemptNumber)],
              },
            ],
            outbox: [outboxDraft(`ob_attempt_${attemptNumber}`, issued.streamId)],
          });

        const results = await Promise.all([attempt(1), attempt(2)]);

        const winners = results.filter((result) => result.isOk());
        const losers = results.filter((result) => result.isErr());
        expect(winners).toHaveLength(1);
        expect(losers).toHaveLength(1);
        expect(losers[0]!._unsafeUnwrapErr()).toBeInstanceOf(VersionConflictError);
        const winningAttempt = results[0]!.isOk() ? 1 : 2;
        const stream = await store.readStream(issued.streamId);
        expect(stream.version).toBe(2);
        expect(stream.events[1]!.data).toMatchObject({ attempt: winningAttempt });
        // The loser's outbox entry went down with its events.
        expect((await store.listOutbox()).map((entry) => entry.id)).toEqual([`ob_attempt_${winningAttempt}`]);
      });

      it('lets exactly one of many racing writers create the same new stream', async () => {
        const racers = Array.from({ length: 5 }, (_, index) => events.creditNoteIssued('cn_1', `pi_${index}`));

        const results = await Promise.all(
          racers.map((issued) =>
            store.append({ streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }] }),
          ),
        );

        expect(results.filter((result) => result.isOk())).toHaveLength(1);
        for (const result of results.filter((candidate) => candidate.isErr())) {
          expect(result._unsafeUnwrapErr()).toBeInstanceOf(VersionConflictError);
        }
        const winner = racers[results.findIndex((result) => result.isOk())]!;
        const stream = await store.readStream(winner.streamId);
        expect(stream.events.map(withoutPosition)).toEqual([winner]);
        expect(await store.readAll()).toHaveLength(1);
      });
    });

    describe('global log', () => {
      it('returns every event in commit order, across streams', async () => {
        const first = await seedCreditNote('cn_1');
        const second = await seedCreditNote('cn_2');
        const requested = events.refundRequested('cn_1', 2);
        await store.append({ streams: [{ streamId: first.streamId, expectedVersion: 1, events: [requested] }] });

        const log = await store.readAll();

        expect(log.map(withoutPosition)).toEqual([first, second, requested]);
        const positions = log.map((event) => event.globalPosition);
        expect(positions).toEqual([...positions].sort((a, b) => a - b));
        expect(new Set(positions).size).toBe(positions.length);
      });

      it('pages with after (a global position) and limit', async () => {
        for (const id of ['cn_1', 'cn_2', 'cn_3', 'cn_4', 'cn_5']) await seedCreditNote(id);
        const log = await store.readAll();
        const positions = log.map((event) => event.globalPosition);

        expect((await store.readAll({ limit: 2 })).map((event) => event.globalPosition)).toEqual(positions.slice(0, 2));
        expect((await store.readAll({ after: positions[1]!, limit: 2 })).map((event) => event.globalPosition)).toEqual(
          positions.slice(2, 4),
        );
        expect((await store.readAll({ after: positions[3]! })).map((event) => event.globalPosition)).toEqual(
          positions.slice(4),
        );
        expect(await store.readAll({ after: positions[4]! })).toEqual([]);
      });

      it('pages through the whole log without gaps or repeats', async () => {
        for (const id of ['cn_1', 'cn_2', 'cn_3', 'cn_4', 'cn_5', 'cn_6', 'cn_7']) await seedCreditNote(id);
        const paged: StoredEvent[] = [];
        let after = 0;
        for (;;) {
          const page = await store.readAll({ after, limit: 3 });
          if (page.length === 0) break;
          paged.push(...page);
          after = page[page.length - 1]!.globalPosition;
        }

        expect(paged).toEqual(await store.readAll());
        expect(paged).toHaveLength(7);
      });
    });

    describe('credit-note summaries', () => {
      const seedSummaries = async () => {
        const rows = [
          summary('cn_3', 'requested', 'pi_a'),
          summary('cn_1', 'failed', 'pi_a'),
          summary('cn_5', 'requested', 'pi_b'),
          summary('cn_2', 'manual', null),
          summary('cn_4', 'requested', 'pi_a'),
        ];
        for (const row of rows) {
          const issued = events.creditNoteIssued(row.creditNoteId, row.paymentId);
          const result = await store.append({
            streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
            creditNotes: [row],
          });
          expect(result.isOk()).toBe(true);
        }
        return rows;
      };
      const ids = (rows: CreditNoteSummary[]) => rows.map((row) => row.creditNoteId);

      it('stores summaries with their events and returns them whole, ordered by creditNoteId', async () => {
        const rows = await seedSummaries();

        const listed = await store.listCreditNotes();

        expect(ids(listed)).toEqual(['cn_1', 'cn_2', 'cn_3', 'cn_4', 'cn_5']);
        expect(listed.find((row) => row.creditNoteId === 'cn_3')).toEqual(rows[0]);
      });

      it('filters by status and by paymentId, together or apart', async () => {
        await seedSummaries();

        expect(ids(await store.listCreditNotes({ status: 'requested' }))).toEqual(['cn_3', 'cn_4', 'cn_5']);
        expect(ids(await store.listCreditNotes({ paymentId: 'pi_a' }))).toEqual(['cn_1', 'cn_3', 'cn_4']);
        expect(ids(await store.listCreditNotes({ status: 'requested', paymentId: 'pi_a' }))).toEqual(['cn_3', 'cn_4']);
        expect(await store.listCreditNotes({ status: 'succeeded' })).toEqual([]);
      });

      it('pages with the after cursor and limit', async () => {
        await seedSummaries();

        expect(ids(await store.listCreditNotes({ limit: 2 }))).toEqual(['cn_1', 'cn_2']);
        expect(ids(await store.listCreditNotes({ after: 'cn_2', limit: 2 }))).toEqual(['cn_3', 'cn_4']);
        expect(ids(await store.listCreditNotes({ after: 'cn_4' }))).toEqual(['cn_5']);
        expect(ids(await store.listCreditNotes({ status: 'requested', after: 'cn_3' }))).toEqual(['cn_4', 'cn_5']);
        expect(await store.listCreditNotes({ after: 'cn_5' })).toEqual([]);
      });

      it('replaces a summary when a later append carries the same creditNoteId', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_a');
        await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
          creditNotes: [summary('cn_1', 'issued', 'pi_a', 1)],
        });
        const settled = summary('cn_1', 'requested', 'pi_a', 2);
        await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 1, events: [events.refundRequested('cn_1', 2)] }],
          creditNotes: [settled],
        });

        expect(await store.listCreditNotes()).toEqual([settled]);
        expect(await store.listCreditNotes({ status: 'issued' })).toEqual([]);
      });
    });

    describe('causes', () => {
      it('tells whether any stored event names a causation id, and forgets nothing a refused append tried', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_a');
        const caused = { ...events.refundRequested('cn_1', 2), causationId: 'evt_webhook_1' };
        await store.append({ streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued, caused] }] });
        const refused = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [{ ...issued, causationId: 'evt_webhook_2' }] }],
        });

        expect(refused.isErr()).toBe(true);
        expect(await store.hasEventsCausedBy('evt_webhook_1')).toBe(true);
        expect(await store.hasEventsCausedBy('evt_webhook_2')).toBe(false);
        expect(await store.hasEventsCausedBy('evt_never')).toBe(false);
      });
    });

    describe('processor refund links', () => {
      const link = (processorRefundId: string, creditNoteId: string, attempt = 1) => ({
        processor: 'stripe',
        processorRefundId,
        creditNoteId,
        attempt,
      });

      it('finds the credit note attempt a refund was recorded on, and nothing for an unknown refund', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_a');
        const result = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
          processorRefunds: [link('re_1', 'cn_1'), link('re_2', 'cn_1', 2)],
        });
        expect(result.isOk()).toBe(true);

        expect(await store.findProcessorRefund({ processor: 'stripe', processorRefundId: 're_1' })).toEqual(link('re_1', 'cn_1'));
        expect(await store.findProcessorRefund({ processor: 'stripe', processorRefundId: 're_2' })).toEqual(link('re_2', 'cn_1', 2));
        expect(await store.findProcessorRefund({ processor: 'stripe', processorRefundId: 're_3' })).toBeNull();
        // Refund ids are the processor's: another processor's refund of the same id is another refund.
        expect(await store.findProcessorRefund({ processor: 'adyen', processorRefundId: 're_1' })).toBeNull();
      });

      it('keeps the first link of a refund: a later append cannot move it to another credit note', async () => {
        const first = events.creditNoteIssued('cn_1', 'pi_a');
        const second = events.creditNoteIssued('cn_2', 'pi_a');
        await store.append({
          streams: [{ streamId: first.streamId, expectedVersion: 0, events: [first] }],
          processorRefunds: [link('re_1', 'cn_1')],
        });
        const again = await store.append({
          streams: [{ streamId: second.streamId, expectedVersion: 0, events: [second] }],
          processorRefunds: [link('re_1', 'cn_2', 3)],
        });

        expect(again.isOk()).toBe(true);
        expect(await store.findProcessorRefund({ processor: 'stripe', processorRefundId: 're_1' })).toEqual(link('re_1', 'cn_1'));
      });

      it('writes no link when the append is refused', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_a');
        const refused = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 3, events: [issued] }],
          processorRefunds: [link('re_1', 'cn_1')],
        });

        expect(refused.isErr()).toBe(true);
        expect(await store.findProcessorRefund({ processor: 'stripe', processorRefundId: 're_1' })).toBeNull();
      });
    });

    describe('outbox', () => {
      it('writes outbox entries in the same step as the events, unclaimed and never delivered', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_1');
        const drafts = [outboxDraft('ob_1', issued.streamId), outboxDraft('ob_2', issued.streamId, at(5000))];
        await store.append({ streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }], outbox: drafts });

        const entries = await store.listOutbox({ streamId: issued.streamId });

        expect([...entries].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
          drafts.map((draft) => ({
            ...draft,
            createdAt: expect.any(String),
            deliveries: 0,
            claim: null,
            completedAt: null,
            deadAt: null,
            lastError: null,
          })),
        );
        expect(await store.listOutbox({ streamId: creditNoteStream('cn_other') })).toEqual([]);
      });

      it('refuses an outbox id that already exists with DuplicateOutboxEntryError and writes nothing', async () => {
        await seedOutbox(['ob_1']);
        const before = await snapshot();
        const issued = events.creditNoteIssued('cn_2', 'pi_2');

        const result = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
          outbox: [outboxDraft('ob_new', issued.streamId), outboxDraft('ob_1', issued.streamId)],
          creditNotes: [summary('cn_2', 'issued', 'pi_2')],
        });

        expect(result._unsafeUnwrapErr()).toBeInstanceOf(DuplicateOutboxEntryError);
        expect(result._unsafeUnwrapErr()).toMatchObject({ code: 'duplicate_outbox_entry', entryId: 'ob_1' });
        expect(await snapshot()).toEqual(before);
      });

      it('refuses the same outbox id twice within one append and writes nothing', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_1');

        const result = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
          outbox: [outboxDraft('ob_1', issued.streamId), outboxDraft('ob_1', issued.streamId)],
        });

        expect(result._unsafeUnwrapErr()).toMatchObject({ code: 'duplicate_outbox_entry', entryId: 'ob_1' });
        expect(await snapshot()).toEqual({ log: [], outbox: [], creditNotes: [] });
      });

      it('claims only due entries, leasing them to the owner', async () => {
        await seedOutbox(['ob_due'], at(0));
        await seedOutbox(['ob_later'], at(20_000));

        const claimed = await store.claimOutbox({ owner: 'worker_a', now: at(1000), leaseMs: LEASE_MS, limit: 10 });

        expect(claimed.map((entry) => entry.id)).toEqual(['ob_due']);
        const [entry] = claimed;
        expect(entry!.deliveries).toBe(1);
        expect(entry!.claim.owner).toBe('worker_a');
        expect(entry!.claim.token).toEqual(expect.any(String));
        expect(Date.parse(entry!.claim.leaseUntil)).toBe(at(1000 + LEASE_MS).getTime());
        expect(entry!.payload).toEqual(outboxDraft('ob_due', entry!.streamId).payload);

        // Once its time comes the later entry is due too; the first is still leased, so it is not offered again.
        const laterClaim = await store.claimOutbox({ owner: 'worker_b', now: at(20_000), leaseMs: LEASE_MS, limit: 10 });
        expect(laterClaim.map((candidate) => candidate.id)).toEqual(['ob_later']);
      });

      it('does not hand a leased entry to anyone before the lease ends, then lets another owner take it over', async () => {
        await seedOutbox(['ob_1']);
        const [first] = await store.claimOutbox({ owner: 'worker_a', now: at(1000), leaseMs: LEASE_MS, limit: 10 });

        expect(await store.claimOutbox({ owner: 'worker_b', now: at(2000), leaseMs: LEASE_MS, limit: 10 })).toEqual([]);
        expect(await store.claimOutbox({ owner: 'worker_a', now: at(LEASE_MS), leaseMs: LEASE_MS, limit: 10 })).toEqual([]);

        const [takenOver] = await store.claimOutbox({
          owner: 'worker_b',
          now: at(1000 + LEASE_MS + 1),
          leaseMs: LEASE_MS,
          limit: 10,
        });
        expect(takenOver!.id).toBe('ob_1');
        expect(takenOver!.deliveries).toBe(2);
        expect(takenOver!.claim.owner).toBe('worker_b');
        expect(takenOver!.claim.token).not.toBe(first!.claim.token);

        // The first owner's claim is lost: it can neither complete nor release the entry.
        const lateCompletion = await store.completeOutbox(
          { entryId: 'ob_1', token: first!.claim.token },
          at(1000 + LEASE_MS + 2),
        );
        expect(lateCompletion._unsafeUnwrapErr()).toBeInstanceOf(OutboxClaimLostError);
        const release = await store.releaseOutbox(
          { entryId: 'ob_1', token: first!.claim.token },
          { availableAt: at(LEASE_MS * 3), error: 'late', dead: false },
        );
        expect(release._unsafeUnwrapErr()).toMatchObject({ code: 'outbox_claim_lost', entryId: 'ob_1' });
        // The new owner still holds it.
        expect(
          (await store.completeOutbox({ entryId: 'ob_1', token: takenOver!.claim.token }, at(1000 + LEASE_MS + 3))).isOk(),
        ).toBe(true);
      });

      it('respects limit, and entryIds restricts the claim to those entries', async () => {
        await seedOutbox(['ob_1', 'ob_2', 'ob_3', 'ob_4']);

        const targeted = await store.claimOutbox({
          owner: 'command',
          now: at(1000),
          leaseMs: LEASE_MS,
          limit: 10,
          entryIds: ['ob_3', 'ob_missing'],
        });
        expect(targeted.map((entry) => entry.id)).toEqual(['ob_3']);

        const firstPage = await store.claimOutbox({ owner: 'worker', now: at(1000), leaseMs: LEASE_MS, limit: 2 });
        const secondPage = await store.claimOutbox({ owner: 'worker', now: at(1000), leaseMs: LEASE_MS, limit: 2 });
        expect(firstPage).toHaveLength(2);
        expect(secondPage).toHaveLength(1);
        const claimedIds = [...firstPage, ...secondPage].map((entry) => entry.id).sort();
        expect(claimedIds).toEqual(['ob_1', 'ob_2', 'ob_4']);
      });

      it('completes an entry with the current token and never offers it again', async () => {
        await seedOutbox(['ob_1']);
        const [claimed] = await store.claimOutbox({ owner: 'worker_a', now: at(1000), leaseMs: LEASE_MS, limit: 10 });

        const completed = await store.completeOutbox({ entryId: 'ob_1', token: claimed!.claim.token }, at(2000));

        expect(completed.isOk()).toBe(true);
        const [entry] = await store.listOutbox();
        expect(entry!.completedAt).not.toBeNull();
        expect(entry!.claim).toBeNull();
        expect(
          await store.claimOutbox({ owner: 'worker_b', now: at(LEASE_MS * 100), leaseMs: LEASE_MS, limit: 10 }),
        ).toEqual([]);
        // Completing twice is a lost claim, not a second completion.
        expect(
          (await store.completeOutbox({ entryId: 'ob_1', token: claimed!.claim.token }, at(3000)))._unsafeUnwrapErr(),
        ).toBeInstanceOf(OutboxClaimLostError);
      });

      it('refuses to complete with a wrong token or an unknown entry', async () => {
        await seedOutbox(['ob_1']);
        await store.claimOutbox({ owner: 'worker_a', now: at(1000), leaseMs: LEASE_MS, limit: 10 });

        const wrongToken = await store.completeOutbox({ entryId: 'ob_1', token: 'not-the-token' }, at(2000));
        const unknown = await store.completeOutbox({ entryId: 'ob_missing', token: 'any' }, at(2000));

        expect(wrongToken._unsafeUnwrapErr()).toMatchObject({ code: 'outbox_claim_lost', entryId: 'ob_1' });
        expect(unknown._unsafeUnwrapErr()).toBeInstanceOf(OutboxClaimLostError);
        expect((await store.listOutbox())[0]!.completedAt).toBeNull();
      });

      it('releases an entry for a later try, recording the error, and offers it again when due', async () => {
        await seedOutbox(['ob_1']);
        const [claimed] = await store.claimOutbox({ owner: 'worker_a', now: at(1000), leaseMs: LEASE_MS, limit: 10 });

        const released = await store.releaseOutbox(
          { entryId: 'ob_1', token: claimed!.claim.token },
          { availableAt: at(10_000), error: 'rate limited', dead: false },
        );

        expect(released.isOk()).toBe(true);
        const [entry] = await store.listOutbox();
        expect(entry).toMatchObject({ lastError: 'rate limited', claim: null, completedAt: null, deadAt: null });
        expect(Date.parse(entry!.availableAt)).toBe(at(10_000).getTime());
        // Released before its lease ran out, yet not due before its new availableAt.
        expect(await store.claimOutbox({ owner: 'worker_b', now: at(9_999), leaseMs: LEASE_MS, limit: 10 })).toEqual([]);
        const [again] = await store.claimOutbox({ owner: 'worker_b', now: at(10_000), leaseMs: LEASE_MS, limit: 10 });
        expect(again).toMatchObject({ id: 'ob_1', deliveries: 2, lastError: 'rate limited' });
      });

      it('never offers a dead entry again', async () => {
        await seedOutbox(['ob_1']);
        const [claimed] = await store.claimOutbox({ owner: 'worker_a', now: at(1000), leaseMs: LEASE_MS, limit: 10 });

        const buried = await store.releaseOutbox(
          { entryId: 'ob_1', token: claimed!.claim.token },
          { availableAt: at(2000), error: 'gave up after 5 tries', dead: true },
        );

        expect(buried.isOk()).toBe(true);
        const [entry] = await store.listOutbox();
        expect(entry!.deadAt).not.toBeNull();
        expect(entry!.lastError).toBe('gave up after 5 tries');
        expect(entry!.completedAt).toBeNull();
        expect(
          await store.claimOutbox({ owner: 'worker_b', now: at(LEASE_MS * 100), leaseMs: LEASE_MS, limit: 10 }),
        ).toEqual([]);
      });

      it('completes a held claim atomically with the events that record the side effect’s result', async () => {
        await seedOutbox(['ob_1']);
        const [claimed] = await store.claimOutbox({ owner: 'worker_a', now: at(1000), leaseMs: LEASE_MS, limit: 10 });
        const issued = events.creditNoteIssued('cn_result', 'pi_1');

        const result = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
          completeOutbox: [{ entryId: 'ob_1', token: claimed!.claim.token }],
        });

        expect(result.isOk()).toBe(true);
        const entry = (await store.listOutbox()).find((candidate) => candidate.id === 'ob_1');
        expect(entry!.completedAt).not.toBeNull();
        expect(entry!.claim).toBeNull();
        expect((await store.readStream(issued.streamId)).version).toBe(1);
        expect(
          await store.claimOutbox({ owner: 'worker_b', now: at(LEASE_MS * 100), leaseMs: LEASE_MS, limit: 10 }),
        ).toEqual([]);
      });

      it('refuses an append completing a lost claim with OutboxClaimLostError and writes nothing', async () => {
        await seedOutbox(['ob_1']);
        const [stale] = await store.claimOutbox({ owner: 'worker_a', now: at(1000), leaseMs: LEASE_MS, limit: 10 });
        const [current] = await store.claimOutbox({
          owner: 'worker_b',
          now: at(1000 + LEASE_MS + 1),
          leaseMs: LEASE_MS,
          limit: 10,
        });
        const before = await snapshot();
        const issued = events.creditNoteIssued('cn_result', 'pi_1');

        const result = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
          outbox: [outboxDraft('ob_follow_up', issued.streamId)],
          completeOutbox: [{ entryId: 'ob_1', token: stale!.claim.token }],
          creditNotes: [summary('cn_result', 'issued', 'pi_1')],
        });

        expect(result._unsafeUnwrapErr()).toBeInstanceOf(OutboxClaimLostError);
        expect(result._unsafeUnwrapErr()).toMatchObject({ entryId: 'ob_1' });
        expect(await snapshot()).toEqual(before);
        // The rightful owner is unaffected.
        expect((await store.completeOutbox({ entryId: 'ob_1', token: current!.claim.token }, at(LEASE_MS * 2))).isOk()).toBe(
          true,
        );
      });
    });

    describe('isolation: nothing is shared between caller and store', () => {
      it('is not changed by mutating the objects passed to append', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_1');
        const pristine = structuredClone(issued);
        const draft = outboxDraft('ob_1', issued.streamId);
        const row = summary('cn_1', 'issued', 'pi_1');
        const pristineRow = structuredClone(row);
        await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
          outbox: [draft],
          creditNotes: [row],
        });

        (issued.data as { amount: number }).amount = 1;
        issued.actor.id = 'intruder';
        (draft.payload as { attempt: number }).attempt = 99;
        row.status = 'manual';
        row.state.context.amount = 1;

        expect((await store.readStream(issued.streamId)).events.map(withoutPosition)).toEqual([pristine]);
        expect((await store.listOutbox())[0]!.payload).toEqual(outboxDraft('ob_1', issued.streamId).payload);
        expect(await store.listCreditNotes()).toEqual([pristineRow]);
      });

      it('keeps an own __proto__ key of a payload (JSON can hold one) as a key, never as a prototype', async () => {
        const payload = JSON.parse('{"__proto__": {"polluted": true}, "attempt": 1}') as { [key: string]: JsonValue };
        await store.append({
          streams: [],
          outbox: [{ ...outboxDraft('ob_proto', 'credit-note-cn_1'), payload }],
        });
        const [entry] = await store.listOutbox();
        expect(Object.keys(entry!.payload).sort()).toEqual(['__proto__', 'attempt']);
        expect(Object.getPrototypeOf(entry!.payload)).toBe(Object.prototype);
        expect((entry!.payload as { polluted?: unknown }).polluted).toBeUndefined();
      });

      it('is not changed by mutating what it returned', async () => {
        const issued = events.creditNoteIssued('cn_1', 'pi_1');
        const pristine = structuredClone(issued);
        await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
          outbox: [outboxDraft('ob_1', issued.streamId)],
          creditNotes: [summary('cn_1', 'issued', 'pi_1')],
        });

        // A store may hand out its own frozen data (then a write throws) or a copy (then the write lands on it).
        const mutate = (write: () => void) => {
          try {
            write();
          } catch (error) {
            expect(error).toBeInstanceOf(TypeError);
          }
        };
        const fromStream = await store.readStream(issued.streamId);
        mutate(() => ((fromStream.events[0]!.data as { amount: number }).amount = 1));
        mutate(() => fromStream.events.push(fromStream.events[0]!));
        const fromLog = await store.readAll();
        mutate(() => (fromLog[0]!.actor.id = 'intruder'));
        mutate(() => (fromLog[0]!.globalPosition = 999));
        const fromList = await store.listCreditNotes();
        mutate(() => (fromList[0]!.status = 'manual'));
        mutate(() => (fromList[0]!.state.context.amount = 1));
        const fromOutbox = await store.listOutbox();
        mutate(() => ((fromOutbox[0]!.payload as { attempt: number }).attempt = 99));
        const [claimed] = await store.claimOutbox({ owner: 'worker_a', now: at(1000), leaseMs: LEASE_MS, limit: 10 });
        const token = claimed!.claim.token;
        mutate(() => (claimed!.claim.token = 'forged'));
        mutate(() => (claimed!.deliveries = 42));
        const refundLink = { processor: 'stripe', processorRefundId: 're_isolation', creditNoteId: 'cn_1', attempt: 1 };
        await store.append({ streams: [], processorRefunds: [refundLink] });
        const found = await store.findProcessorRefund({ processor: 'stripe', processorRefundId: 're_isolation' });
        mutate(() => (found!.creditNoteId = 'cn_intruder'));

        const stream = await store.readStream(issued.streamId);
        expect(stream.version).toBe(1);
        expect(stream.events.map(withoutPosition)).toEqual([pristine]);
        expect((await store.readAll()).map(withoutPosition)).toEqual([pristine]);
        expect((await store.readAll())[0]!.globalPosition).toBe(stream.events[0]!.globalPosition);
        expect(await store.listCreditNotes()).toEqual([summary('cn_1', 'issued', 'pi_1')]);
        const [entry] = await store.listOutbox();
        expect(entry!.payload).toEqual(outboxDraft('ob_1', issued.streamId).payload);
        expect(entry!.deliveries).toBe(1);
        expect((await store.completeOutbox({ entryId: 'ob_1', token: 'forged' }, at(2000))).isErr()).toBe(true);
        expect((await store.completeOutbox({ entryId: 'ob_1', token }, at(2000))).isOk()).toBe(true);
        expect((await store.findProcessorRefund({ processor: 'stripe', processorRefundId: 're_isolation' }))?.creditNoteId).toBe('cn_1');
      });
    });
  });
};
