import { beforeEach, describe, expect, it } from 'vitest';
import { DuplicateOutboxEntryError, OutboxClaimLostError, VersionConflictError } from '../../src/errors.js';
import { CURRENT_SCHEMA_VERSION, type DomainEvent, type DomainEventType, type StoredEvent } from '../../src/events/envelope.js';
import { parseEvent } from '../../src/events/parseEvent.js';
import type { RefundRequestReason } from '../../src/events/refundRequestEvents.js';
import { emptyCreditNoteContext, type CreditNoteStatus } from '../../src/machine/creditNoteState.js';
import {
  initialRefundRequestState,
  refundRequestStatuses,
  refundRequestStatusOf,
  type RefundRequestDecision,
  type RefundRequestStatus,
} from '../../src/machine/refundRequestState.js';
import type {
  CreditNoteSummary,
  EventStore,
  JsonValue,
  ListedRefundRequest,
  OutboxDraft,
  OutboxEntry,
  RefundRequestSummary,
} from '../../src/ports/eventStore.js';

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

type RefundRequestRowOptions = {
  paymentId?: string;
  /** The credit note an approval issued (null: cancel only). */
  creditNoteId?: string | null;
  reason?: RefundRequestReason;
  amount?: number;
  /** Default: the amount for an approval with a credit note, else null. */
  approvedAmount?: number | null;
  currency?: string;
  submittedAt?: Date;
  version?: number;
};

/**
 * A refund request's read-model row, its `state` a full RefundRequestState
 * with nested objects, arrays, nulls and non-ASCII text, so a store that does
 * not keep JSON exactly is caught.
 */
const refundRequestRow = (
  requestId: string,
  status: RefundRequestSummary['status'],
  options: RefundRequestRowOptions = {},
): RefundRequestSummary => {
  const paymentId = options.paymentId ?? 'pi_1';
  const creditNoteId = options.creditNoteId ?? null;
  const amount = options.amount ?? 5000;
  const approvedAmount =
    options.approvedAmount !== undefined ? options.approvedAmount : status === 'approved' && creditNoteId !== null ? amount : null;
  const currency = options.currency ?? 'eur';
  const reason = options.reason ?? 'technical_issue';
  const submittedAt = (options.submittedAt ?? at(0)).toISOString();
  const version = options.version ?? 1;
  const decidedAt = at(100_000 + version).toISOString();
  const decision: RefundRequestDecision | null =
    status === 'approved'
      ? {
          kind: 'approved',
          option: creditNoteId === null ? 'cancel_only' : 'refund_and_cancel',
          creditNoteId,
          amount: approvedAmount,
          note: 'Approuvé — désolés 🎟',
          override: null,
          decidedAt,
        }
      : status === 'rejected'
        ? { kind: 'rejected', note: null, decidedAt }
        : status === 'withdrawn'
          ? { kind: 'withdrawn', details: 'It "works" again', decidedAt }
          : null;
  return {
    requestId,
    streamId: `refund-request-${requestId}`,
    status,
    paymentId,
    creditNoteId,
    reason,
    amount,
    approvedAmount,
    currency,
    submittedAt,
    updatedAt: status === 'pending' ? submittedAt : decidedAt,
    version,
    state: {
      status,
      context: {
        ...initialRefundRequestState.context,
        requestId,
        payment: { processor: 'stripe', paymentId, account: null },
        amount,
        currency,
        reason,
        details: 'Écran noir,\nrien ne marche',
        customerId: 'cus_1',
        purchasedAt: at(-86_400_000).toISOString(),
        product: { productId: 'prod_1', kind: 'subscription' },
        subscriptionId: 'sub_1',
        submissionOverride: { reason: 'Long-time customer', rules: ['purchase_window', 'one_open_request'] },
        submittedAt,
        decision,
      },
    },
  };
};

/** A row as listed by a store that knows its credit note's status, by the port's rule. */
const listedRow = (row: RefundRequestSummary, creditNoteStatus: CreditNoteStatus | null): ListedRefundRequest => ({
  ...row,
  creditNoteStatus,
  ticketStatus: refundRequestStatusOf(row.status, creditNoteStatus),
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
      refundRequests: await store.listRefundRequests(),
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
        expect(await snapshot()).toEqual({ log: [], outbox: [], creditNotes: [], refundRequests: [] });
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
          refundRequests: [refundRequestRow('rq_1', 'approved', { paymentId: 'pi_cn_1', creditNoteId: 'cn_1' })],
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
          refundRequests: [refundRequestRow('rq_fresh', 'approved', { creditNoteId: 'cn_fresh' })],
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

    describe('refund requests', () => {
      const requestIds = (rows: readonly { requestId: string }[]) => rows.map((row) => row.requestId);
      const put = async (refundRequests: RefundRequestSummary[], creditNotes: CreditNoteSummary[] = []) => {
        expect((await store.append({ streams: [], refundRequests, creditNotes })).isOk()).toBe(true);
      };

      /**
       * Every ticket status: three stored ones, and approved requests whose credit note's row is in each status
       * (or that have none: cancel only). Submission times run against the ids, so an order by id would show.
       */
      const creditNoteRows = [
        summary('cn_issued', 'issued', 'pi_1'),
        summary('cn_pending', 'pending', 'pi_1'),
        summary('cn_requested', 'requested', 'pi_2'),
        summary('cn_succeeded', 'succeeded', 'pi_2'),
        summary('cn_manual', 'manual', 'pi_3'),
        // Another payment than its request's: a listing by payment goes by the request's.
        summary('cn_failed', 'failed', 'pi_other'),
      ];
      const statusOfCreditNote = (creditNoteId: string | null): CreditNoteStatus | null =>
        creditNoteRows.find((row) => row.creditNoteId === creditNoteId)?.status ?? null;
      const seedTickets = async () => {
        const rows = [
          refundRequestRow('rq_k', 'pending', { paymentId: 'pi_1', submittedAt: at(11_000) }),
          refundRequestRow('rq_a', 'rejected', { paymentId: 'pi_1', submittedAt: at(10_000) }),
          refundRequestRow('rq_j', 'withdrawn', { paymentId: 'pi_2', submittedAt: at(9_000) }),
          refundRequestRow('rq_b', 'approved', { paymentId: 'pi_1', creditNoteId: 'cn_issued', submittedAt: at(8_000) }),
          refundRequestRow('rq_i', 'approved', { paymentId: 'pi_1', creditNoteId: 'cn_pending', submittedAt: at(7_000) }),
          refundRequestRow('rq_c', 'approved', { paymentId: 'pi_2', creditNoteId: 'cn_requested', submittedAt: at(6_000) }),
          refundRequestRow('rq_h', 'approved', { paymentId: 'pi_2', creditNoteId: 'cn_succeeded', submittedAt: at(5_000) }),
          refundRequestRow('rq_d', 'approved', { paymentId: 'pi_3', creditNoteId: 'cn_manual', submittedAt: at(4_000) }),
          refundRequestRow('rq_g', 'approved', { paymentId: 'pi_3', creditNoteId: 'cn_failed', submittedAt: at(3_000) }),
          refundRequestRow('rq_e', 'approved', { paymentId: 'pi_3', creditNoteId: null, submittedAt: at(2_000) }),
          refundRequestRow('rq_l', 'pending', { paymentId: 'pi_2', submittedAt: at(500) }),
        ];
        await put(rows, creditNoteRows);
        return rows;
      };

      it('writes rows with the append and lists them whole, with the JSON state exactly as written', async () => {
        const row = refundRequestRow('rq_1', 'approved', { creditNoteId: 'cn_1', approvedAmount: 4200 });
        const issued = events.creditNoteIssued('cn_1', 'pi_1');
        const result = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
          creditNotes: [summary('cn_1', 'requested', 'pi_1')],
          refundRequests: [row],
        });
        expect(result.isOk()).toBe(true);

        const listed = await store.listRefundRequests();
        expect(listed).toEqual([{ ...row, creditNoteStatus: 'requested', ticketStatus: 'processing' }]);
        expect(listed[0]!.state).toEqual(row.state);
        expect(typeof listed[0]!.amount).toBe('number');
        expect(typeof listed[0]!.approvedAmount).toBe('number');
        expect(typeof listed[0]!.version).toBe('number');
      });

      it('writes no row when the append is refused, and leaves a stored row as it was', async () => {
        const issued = await seedCreditNote('cn_1');
        const first = refundRequestRow('rq_1', 'pending', { version: 1 });
        await put([first]);

        const refused = await store.append({
          streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [events.refundRequested('cn_1', 1)] }],
          creditNotes: [summary('cn_1', 'requested', 'pi_cn_1', 2)],
          refundRequests: [
            refundRequestRow('rq_1', 'approved', { creditNoteId: 'cn_1', version: 2 }),
            refundRequestRow('rq_2', 'pending', { submittedAt: at(1000) }),
          ],
        });

        expect(refused._unsafeUnwrapErr()).toBeInstanceOf(VersionConflictError);
        expect(await store.listRefundRequests()).toEqual([listedRow(first, null)]);
        expect(await store.listRefundRequests({ status: 'processing' })).toEqual([]);
        expect(await store.refundRequestReport({ from: at(0).toISOString(), to: at(10_000).toISOString() })).toEqual([
          { reason: 'technical_issue', ticketStatus: 'pending', currency: 'eur', count: 1, requestedAmount: 5000, approvedAmount: 0 },
        ]);
      });

      it('replaces a row when a later append carries the same requestId, listing it under its new values only', async () => {
        await put([refundRequestRow('rq_1', 'pending', { paymentId: 'pi_old', submittedAt: at(1000) })]);
        await put([refundRequestRow('rq_0', 'pending', { paymentId: 'pi_new', submittedAt: at(2000) })]);
        // Every indexed value changes: status, payment and submission time.
        const approved = refundRequestRow('rq_1', 'approved', {
          paymentId: 'pi_new',
          creditNoteId: 'cn_1',
          submittedAt: at(3000),
          version: 2,
        });
        await put([approved], [summary('cn_1', 'succeeded', 'pi_new')]);

        expect(await store.listRefundRequests()).toEqual([
          listedRow(refundRequestRow('rq_0', 'pending', { paymentId: 'pi_new', submittedAt: at(2000) }), null),
          listedRow(approved, 'succeeded'),
        ]);
        expect(requestIds(await store.listRefundRequests({ status: 'pending' }))).toEqual(['rq_0']);
        expect(requestIds(await store.listRefundRequests({ status: 'succeeded' }))).toEqual(['rq_1']);
        expect(await store.listRefundRequests({ paymentId: 'pi_old' })).toEqual([]);
        expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_new' }))).toEqual(['rq_0', 'rq_1']);
        expect(await store.listRefundRequests({ after: { submittedAt: at(2000).toISOString(), requestId: 'rq_0' } })).toEqual([
          listedRow(approved, 'succeeded'),
        ]);
      });

      it('writes a request named twice in one append once, its last row winning', async () => {
        const last = refundRequestRow('rq_1', 'rejected', { version: 2, submittedAt: at(1000) });
        await put([refundRequestRow('rq_1', 'pending', { version: 1 }), last]);

        expect(await store.listRefundRequests()).toEqual([listedRow(last, null)]);
        expect(await store.listRefundRequests({ status: 'pending' })).toEqual([]);
      });

      it('lists every request oldest submission first, each with its credit note’s status and its ticket status', async () => {
        const rows = await seedTickets();

        const listed = await store.listRefundRequests();

        expect(requestIds(listed)).toEqual(['rq_l', 'rq_e', 'rq_g', 'rq_d', 'rq_h', 'rq_c', 'rq_i', 'rq_b', 'rq_j', 'rq_a', 'rq_k']);
        for (const row of rows) {
          expect(listed.find((candidate) => candidate.requestId === row.requestId), row.requestId).toEqual(
            listedRow(row, statusOfCreditNote(row.creditNoteId)),
          );
        }
      });

      it.each([
        ['pending', ['rq_l', 'rq_k']],
        ['rejected', ['rq_a']],
        ['withdrawn', ['rq_j']],
        // Approved, credit note issued, pending or requested.
        ['processing', ['rq_c', 'rq_i', 'rq_b']],
        // Approved, credit note succeeded or manual, or cancel only (no credit note).
        ['succeeded', ['rq_e', 'rq_d', 'rq_h']],
        ['failed', ['rq_g']],
      ] as const)('lists the %s tickets, derived from the credit note for an approved request', async (status, expected) => {
        const rows = await seedTickets();

        const listed = await store.listRefundRequests({ status });

        expect(requestIds(listed)).toEqual(expected);
        for (const row of listed) {
          expect(row.ticketStatus).toBe(status);
          expect(row).toEqual(listedRow(rows.find((candidate) => candidate.requestId === row.requestId)!, row.creditNoteStatus));
          expect(row.creditNoteStatus).toBe(statusOfCreditNote(row.creditNoteId));
        }
      });

      it('shows each credit note status as the ticket status the port’s rule gives', async () => {
        await seedTickets();

        const listed = await store.listRefundRequests();

        expect(Object.fromEntries(listed.map((row) => [row.requestId, [row.creditNoteStatus, row.ticketStatus]]))).toEqual({
          rq_k: [null, 'pending'],
          rq_a: [null, 'rejected'],
          rq_j: [null, 'withdrawn'],
          rq_b: ['issued', 'processing'],
          rq_i: ['pending', 'processing'],
          rq_c: ['requested', 'processing'],
          rq_h: ['succeeded', 'succeeded'],
          rq_d: ['manual', 'succeeded'],
          rq_g: ['failed', 'failed'],
          rq_e: [null, 'succeeded'],
          rq_l: [null, 'pending'],
        });
      });

      it('follows the credit note: its row changing moves the approved request to another ticket status', async () => {
        await seedTickets();

        await put([], [summary('cn_requested', 'failed', 'pi_2', 2), summary('cn_failed', 'manual', 'pi_other', 2)]);

        expect(requestIds(await store.listRefundRequests({ status: 'failed' }))).toEqual(['rq_c']);
        expect(requestIds(await store.listRefundRequests({ status: 'processing' }))).toEqual(['rq_i', 'rq_b']);
        expect(requestIds(await store.listRefundRequests({ status: 'succeeded' }))).toEqual(['rq_e', 'rq_g', 'rq_d', 'rq_h']);
        const [moved] = await store.listRefundRequests({ status: 'failed' });
        expect(moved).toMatchObject({ status: 'approved', creditNoteStatus: 'failed', ticketStatus: 'failed' });
      });

      describe('ticket status kept with the credit note', () => {
        /** Every ticket status's listing, as request ids. */
        const tickets = async (filter: { paymentId?: string } = {}) => {
          const listed: Partial<Record<RefundRequestStatus, string[]>> = {};
          for (const status of refundRequestStatuses) {
            const ids = requestIds(await store.listRefundRequests({ ...filter, status }));
            if (ids.length > 0) listed[status] = ids;
          }
          return listed;
        };
        /** An append carrying the credit note's row and nothing else: no event, no request row. */
        const creditNoteOnly = (row: CreditNoteSummary) => put([], [row]);

        it('moves a request between ticket statuses as appends carrying only its credit note’s row change it', async () => {
          const approved = refundRequestRow('rq_1', 'approved', { creditNoteId: 'cn_1', submittedAt: at(1000) });
          const waiting = refundRequestRow('rq_0', 'pending', { submittedAt: at(500) });
          await put([waiting, approved], [summary('cn_1', 'requested', 'pi_1')]);
          expect(await tickets()).toEqual({ pending: ['rq_0'], processing: ['rq_1'] });

          // The refund fails.
          await creditNoteOnly(summary('cn_1', 'failed', 'pi_1', 2));
          expect(await tickets()).toEqual({ pending: ['rq_0'], failed: ['rq_1'] });
          expect(await tickets({ paymentId: 'pi_1' })).toEqual({ pending: ['rq_0'], failed: ['rq_1'] });
          expect(await store.listRefundRequests({ status: 'failed' })).toEqual([listedRow(approved, 'failed')]);
          expect(await store.refundRequestReport({ from: at(0).toISOString(), to: at(2000).toISOString() })).toEqual([
            { reason: 'technical_issue', ticketStatus: 'failed', currency: 'eur', count: 1, requestedAmount: 5000, approvedAmount: 5000 },
            { reason: 'technical_issue', ticketStatus: 'pending', currency: 'eur', count: 1, requestedAmount: 5000, approvedAmount: 0 },
          ]);

          // Retried: requested again, then pending at the processor (the same ticket status), then succeeded.
          await creditNoteOnly(summary('cn_1', 'requested', 'pi_1', 3));
          expect(await tickets()).toEqual({ pending: ['rq_0'], processing: ['rq_1'] });
          await creditNoteOnly(summary('cn_1', 'pending', 'pi_1', 4));
          expect(await tickets()).toEqual({ pending: ['rq_0'], processing: ['rq_1'] });
          expect(await store.listRefundRequests({ status: 'processing' })).toEqual([listedRow(approved, 'pending')]);
          await creditNoteOnly(summary('cn_1', 'succeeded', 'pi_1', 5));
          expect(await tickets()).toEqual({ pending: ['rq_0'], succeeded: ['rq_1'] });
          expect(await store.listRefundRequests()).toEqual([listedRow(waiting, null), listedRow(approved, 'succeeded')]);

          // A later row of the request, without its credit note's, still follows the credit note's stored row.
          const rewritten = { ...approved, version: 3, updatedAt: at(200_000).toISOString() };
          await put([rewritten]);
          expect(await tickets()).toEqual({ pending: ['rq_0'], succeeded: ['rq_1'] });
          expect(await store.listRefundRequests({ status: 'succeeded' })).toEqual([listedRow(rewritten, 'succeeded')]);
        });

        it('moves every request naming the credit note, and none other', async () => {
          await put(
            [
              refundRequestRow('rq_a', 'approved', { creditNoteId: 'cn_1', submittedAt: at(1000) }),
              refundRequestRow('rq_b', 'approved', { creditNoteId: 'cn_1', submittedAt: at(2000) }),
              refundRequestRow('rq_c', 'approved', { creditNoteId: 'cn_2', submittedAt: at(3000) }),
              refundRequestRow('rq_d', 'approved', { creditNoteId: null, submittedAt: at(4000) }),
            ],
            [summary('cn_1', 'requested', 'pi_1'), summary('cn_2', 'requested', 'pi_1')],
          );
          expect(await tickets()).toEqual({ processing: ['rq_a', 'rq_b', 'rq_c'], succeeded: ['rq_d'] });

          await creditNoteOnly(summary('cn_1', 'failed', 'pi_1', 2));
          expect(await tickets()).toEqual({ processing: ['rq_c'], succeeded: ['rq_d'], failed: ['rq_a', 'rq_b'] });
          // Credit notes no request names change nothing listed.
          await put([], [summary('cn_orphan', 'failed', 'pi_1'), summary('cn_2', 'manual', 'pi_1', 2)]);
          expect(await tickets()).toEqual({ succeeded: ['rq_c', 'rq_d'], failed: ['rq_a', 'rq_b'] });
        });

        it('gives a request row written in the same append as its credit note’s row the status that row has', async () => {
          // Stored as requested; the append that writes the request also fails the credit note.
          await creditNoteOnly(summary('cn_1', 'requested', 'pi_1'));
          const first = refundRequestRow('rq_1', 'approved', { creditNoteId: 'cn_1', submittedAt: at(1000) });
          await put([first], [summary('cn_1', 'failed', 'pi_1', 2)]);
          // A credit note issued in the same append as its approval, as the lifecycle writes them.
          const second = refundRequestRow('rq_2', 'approved', { creditNoteId: 'cn_2', submittedAt: at(2000) });
          await put([second], [summary('cn_2', 'succeeded', 'pi_1')]);
          // A credit note whose row comes later: processing until it does, then as its row says.
          const third = refundRequestRow('rq_3', 'approved', { creditNoteId: 'cn_3', submittedAt: at(3000) });
          await put([third]);
          expect(await tickets()).toEqual({ failed: ['rq_1'], succeeded: ['rq_2'], processing: ['rq_3'] });
          expect(await store.listRefundRequests({ status: 'processing' })).toEqual([{ ...listedRow(third, null), ticketStatus: 'processing' }]);

          await creditNoteOnly(summary('cn_3', 'failed', 'pi_1'));
          expect(await tickets()).toEqual({ failed: ['rq_1', 'rq_3'], succeeded: ['rq_2'] });
          expect(await store.listRefundRequests({ status: 'failed' })).toEqual([listedRow(first, 'failed'), listedRow(third, 'failed')]);
        });
      });

      it('lists an approved request whose credit note has no row as processing, never as refunded', async () => {
        const row = refundRequestRow('rq_1', 'approved', { creditNoteId: 'cn_unwritten' });
        await put([row]);

        const expected = { ...listedRow(row, null), ticketStatus: 'processing' as const };
        expect(await store.listRefundRequests()).toEqual([expected]);
        expect(await store.listRefundRequests({ status: 'processing' })).toEqual([expected]);
        expect(await store.listRefundRequests({ status: 'succeeded' })).toEqual([]);
      });

      it('never lists an approved request under a stored-only status, nor under a status no ticket has', async () => {
        await seedTickets();

        expect(await store.listRefundRequests({ status: 'approved' as never })).toEqual([]);
        expect(await store.listRefundRequests({ status: 'unsubmitted' as never })).toEqual([]);
      });

      it('filters by payment, alone or with a stored or derived ticket status', async () => {
        await seedTickets();

        expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_1' }))).toEqual(['rq_i', 'rq_b', 'rq_a', 'rq_k']);
        expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_2' }))).toEqual(['rq_l', 'rq_h', 'rq_c', 'rq_j']);
        expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_3' }))).toEqual(['rq_e', 'rq_g', 'rq_d']);
        expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_1', status: 'processing' }))).toEqual(['rq_i', 'rq_b']);
        expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_1', status: 'pending' }))).toEqual(['rq_k']);
        expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_3', status: 'succeeded' }))).toEqual(['rq_e', 'rq_d']);
        expect(await store.listRefundRequests({ paymentId: 'pi_2', status: 'failed' })).toEqual([]);
        expect(await store.listRefundRequests({ paymentId: 'pi_none' })).toEqual([]);
        // The payment is the request's (pi_3), not its credit note's (pi_other).
        expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_3', status: 'failed' }))).toEqual(['rq_g']);
      });

      describe('pages', () => {
        /** Four submissions in the same millisecond, ids out of insertion order. */
        const seedTies = async () => {
          await put([
            refundRequestRow('rq_c', 'pending', { submittedAt: at(1000) }),
            refundRequestRow('rq_d', 'pending', { submittedAt: at(2000) }),
            refundRequestRow('rq_a', 'pending', { submittedAt: at(2000), paymentId: 'pi_2' }),
            refundRequestRow('rq_e', 'approved', { submittedAt: at(2000) }),
            refundRequestRow('rq_b', 'pending', { submittedAt: at(2000) }),
            refundRequestRow('rq_f', 'pending', { submittedAt: at(3000), paymentId: 'pi_2' }),
          ]);
        };
        const cursor = (row: ListedRefundRequest) => ({ submittedAt: row.submittedAt, requestId: row.requestId });

        it('orders ties on submittedAt by requestId and pages with the exclusive cursor through them', async () => {
          await seedTies();
          const page = (after: { submittedAt: string; requestId: string } | undefined, limit: number) =>
            store.listRefundRequests({ limit, ...(after === undefined ? {} : { after }) });

          expect(requestIds(await store.listRefundRequests())).toEqual(['rq_c', 'rq_a', 'rq_b', 'rq_d', 'rq_e', 'rq_f']);
          const first = await page(undefined, 2);
          expect(requestIds(first)).toEqual(['rq_c', 'rq_a']);
          // The page ends inside the tie at 2000: the next one starts right after rq_a, in the same instant.
          const second = await page(cursor(first[1]!), 2);
          expect(requestIds(second)).toEqual(['rq_b', 'rq_d']);
          const third = await page(cursor(second[1]!), 2);
          expect(requestIds(third)).toEqual(['rq_e', 'rq_f']);
          expect(await page(cursor(third[1]!), 2)).toEqual([]);

          const walked: ListedRefundRequest[] = [];
          for (let next = await page(undefined, 1); next.length > 0; next = await page(cursor(next[0]!), 1)) walked.push(...next);
          expect(walked).toEqual(await store.listRefundRequests());

          // A cursor is a position, not a row: one naming no stored row resumes where it would sort.
          expect(requestIds(await page({ submittedAt: at(2000).toISOString(), requestId: 'rq_bb' }, 10))).toEqual(['rq_d', 'rq_e', 'rq_f']);
          expect(requestIds(await page({ submittedAt: at(1500).toISOString(), requestId: 'rq_z' }, 10))).toEqual([
            'rq_a',
            'rq_b',
            'rq_d',
            'rq_e',
            'rq_f',
          ]);
        });

        it('pages a status’s and a payment’s listing with the same cursor', async () => {
          await seedTies();
          const afterB = { submittedAt: at(2000).toISOString(), requestId: 'rq_b' };

          expect(requestIds(await store.listRefundRequests({ status: 'pending', limit: 3 }))).toEqual(['rq_c', 'rq_a', 'rq_b']);
          expect(requestIds(await store.listRefundRequests({ status: 'pending', after: afterB }))).toEqual(['rq_d', 'rq_f']);
          expect(requestIds(await store.listRefundRequests({ status: 'succeeded', after: afterB }))).toEqual(['rq_e']);
          expect(await store.listRefundRequests({ status: 'succeeded', after: { submittedAt: at(2000).toISOString(), requestId: 'rq_e' } })).toEqual([]);
          expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_2', after: afterB }))).toEqual(['rq_f']);
          expect(requestIds(await store.listRefundRequests({ paymentId: 'pi_1', status: 'pending', after: afterB, limit: 1 }))).toEqual(['rq_d']);
        });

        it('returns 100 requests at most when no limit is given, and none for a limit of 0', async () => {
          const rows = Array.from({ length: 101 }, (_, index) =>
            refundRequestRow(`rq_${String(index).padStart(3, '0')}`, 'pending', { submittedAt: at(index) }),
          );
          await put(rows);

          const listed = await store.listRefundRequests();
          expect(requestIds(listed)).toEqual(requestIds(rows.slice(0, 100)));
          expect(requestIds(await store.listRefundRequests({ status: 'pending' }))).toEqual(requestIds(rows.slice(0, 100)));
          expect(requestIds(await store.listRefundRequests({ after: cursor(listed[99]!) }))).toEqual(['rq_100']);
          expect(await store.listRefundRequests({ limit: 0 })).toEqual([]);
          expect(requestIds(await store.listRefundRequests({ limit: 3, paymentId: 'pi_1' }))).toEqual(['rq_000', 'rq_001', 'rq_002']);
        });
      });

      describe('report', () => {
        const from = at(10_000).toISOString();
        const to = at(20_000).toISOString();
        const seedPeriod = async () => {
          await put(
            [
              refundRequestRow('rq_early', 'pending', { submittedAt: at(9_999) }),
              refundRequestRow('rq_from', 'pending', { submittedAt: at(10_000), amount: 1000 }),
              refundRequestRow('rq_p2', 'pending', { submittedAt: at(12_000), amount: 2000 }),
              refundRequestRow('rq_usd', 'pending', { submittedAt: at(12_000), amount: 700, currency: 'usd' }),
              // Beyond 32 bits, alone and summed.
              refundRequestRow('rq_big1', 'approved', {
                submittedAt: at(13_000),
                reason: 'duplicate_charge',
                creditNoteId: 'cn_succeeded',
                amount: 3_000_000_000,
              }),
              refundRequestRow('rq_big2', 'approved', {
                submittedAt: at(14_000),
                reason: 'duplicate_charge',
                creditNoteId: 'cn_manual',
                amount: 3_000_000_000,
                approvedAmount: 2_500_000_000,
              }),
              refundRequestRow('rq_cancel', 'approved', { submittedAt: at(15_000), reason: 'duplicate_charge', amount: 4000 }),
              refundRequestRow('rq_fail', 'approved', {
                submittedAt: at(16_000),
                reason: 'duplicate_charge',
                creditNoteId: 'cn_failed',
                amount: 900,
              }),
              refundRequestRow('rq_proc', 'approved', {
                submittedAt: at(17_000),
                reason: 'not_as_described',
                creditNoteId: 'cn_requested',
                amount: 1200,
                approvedAmount: 1000,
              }),
              refundRequestRow('rq_rej', 'rejected', { submittedAt: at(18_000), reason: 'not_as_described', amount: 300 }),
              refundRequestRow('rq_to', 'pending', { submittedAt: at(20_000), amount: 11 }),
              refundRequestRow('rq_late', 'withdrawn', { submittedAt: at(25_000), amount: 13 }),
            ],
            creditNoteRows,
          );
        };

        it('groups the period’s requests by reason, ticket status and currency, in that order, with their sums', async () => {
          await seedPeriod();

          const report = await store.refundRequestReport({ from, to });

          expect(report).toEqual([
            { reason: 'duplicate_charge', ticketStatus: 'failed', currency: 'eur', count: 1, requestedAmount: 900, approvedAmount: 900 },
            {
              reason: 'duplicate_charge',
              ticketStatus: 'succeeded',
              currency: 'eur',
              count: 3,
              requestedAmount: 6_000_004_000,
              approvedAmount: 5_500_000_000,
            },
            { reason: 'not_as_described', ticketStatus: 'processing', currency: 'eur', count: 1, requestedAmount: 1200, approvedAmount: 1000 },
            { reason: 'not_as_described', ticketStatus: 'rejected', currency: 'eur', count: 1, requestedAmount: 300, approvedAmount: 0 },
            { reason: 'technical_issue', ticketStatus: 'pending', currency: 'eur', count: 2, requestedAmount: 3000, approvedAmount: 0 },
            { reason: 'technical_issue', ticketStatus: 'pending', currency: 'usd', count: 1, requestedAmount: 700, approvedAmount: 0 },
          ]);
          for (const row of report) {
            for (const value of [row.count, row.requestedAmount, row.approvedAmount]) expect(typeof value).toBe('number');
          }
        });

        it('takes from as inclusive and to as exclusive', async () => {
          await seedPeriod();
          const counted = async (period: { from: string; to: string }) =>
            (await store.refundRequestReport(period)).reduce((total, row) => total + row.count, 0);

          expect(await counted({ from, to })).toBe(9);
          expect(await counted({ from: at(0).toISOString(), to: at(100_000).toISOString() })).toBe(12);
          expect(await store.refundRequestReport({ from: to, to: at(20_001).toISOString() })).toEqual([
            { reason: 'technical_issue', ticketStatus: 'pending', currency: 'eur', count: 1, requestedAmount: 11, approvedAmount: 0 },
          ]);
          expect(await store.refundRequestReport({ from: at(9_999).toISOString(), to: from })).toEqual([
            { reason: 'technical_issue', ticketStatus: 'pending', currency: 'eur', count: 1, requestedAmount: 5000, approvedAmount: 0 },
          ]);
          expect(await store.refundRequestReport({ from, to: from })).toEqual([]);
          expect(await store.refundRequestReport({ from: to, to: from })).toEqual([]);
          expect(await store.refundRequestReport({ from: at(30_000).toISOString(), to: at(40_000).toISOString() })).toEqual([]);
        });

        it('follows the credit notes: a report after a credit note fails counts its request as failed', async () => {
          await seedPeriod();
          await put([], [summary('cn_requested', 'failed', 'pi_2', 2)]);

          const report = await store.refundRequestReport({ from, to });

          expect(report.filter((row) => row.reason === 'not_as_described')).toEqual([
            { reason: 'not_as_described', ticketStatus: 'failed', currency: 'eur', count: 1, requestedAmount: 1200, approvedAmount: 1000 },
            { reason: 'not_as_described', ticketStatus: 'rejected', currency: 'eur', count: 1, requestedAmount: 300, approvedAmount: 0 },
          ]);
        });
      });

      it('shares nothing with the caller: neither the rows appended nor the rows listed', async () => {
        const mutate = (write: () => void) => {
          try {
            write();
          } catch (error) {
            expect(error).toBeInstanceOf(TypeError);
          }
        };
        const row = refundRequestRow('rq_1', 'approved', { creditNoteId: 'cn_1' });
        const pristine = structuredClone(row);
        await put([row], [summary('cn_1', 'requested', 'pi_1')]);

        row.status = 'rejected';
        row.state.context.amount = 1;
        row.state.context.submissionOverride!.rules.push('excluded_kind');
        const [listed] = await store.listRefundRequests();
        mutate(() => (listed!.ticketStatus = 'failed'));
        mutate(() => (listed!.approvedAmount = 1));
        mutate(() => (listed!.state.context.amount = 2));
        mutate(() => listed!.state.context.submissionOverride!.rules.pop());

        expect(await store.listRefundRequests()).toEqual([listedRow(pristine, 'requested')]);
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
          refundRequests: [refundRequestRow('rq_2', 'pending', { paymentId: 'pi_2' })],
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
        expect(await snapshot()).toEqual({ log: [], outbox: [], creditNotes: [], refundRequests: [] });
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
          refundRequests: [refundRequestRow('rq_result', 'approved', { creditNoteId: 'cn_result' })],
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

    describe('credit notes by age', () => {
      const summaryAt = (creditNoteId: string, status: CreditNoteStatus, updatedAt: Date, version = 1): CreditNoteSummary => ({
        ...summary(creditNoteId, status, `pi_${creditNoteId}`, version),
        updatedAt: updatedAt.toISOString(),
      });
      const put = async (rows: CreditNoteSummary[]) => {
        expect((await store.append({ streams: [], creditNotes: rows })).isOk()).toBe(true);
      };
      /** Ties on updatedAt across statuses (cn_b, cn_c, cn_d) and ids out of their insertion order. */
      const seedAges = async () => {
        const rows = [
          summaryAt('cn_e', 'requested', at(3000)),
          summaryAt('cn_a', 'failed', at(1000)),
          summaryAt('cn_d', 'failed', at(2000)),
          summaryAt('cn_c', 'requested', at(2000)),
          summaryAt('cn_b', 'requested', at(2000)),
          summaryAt('cn_f', 'succeeded', at(500)),
          summaryAt('cn_g', 'pending', at(4000)),
        ];
        await put(rows);
        return rows;
      };
      const ids = (rows: CreditNoteSummary[]) => rows.map((row) => row.creditNoteId);
      const stuck: CreditNoteStatus[] = ['requested', 'failed'];

      it('lists the rows of the given statuses, least recently changed first, ties by creditNoteId', async () => {
        const rows = await seedAges();

        const listed = await store.listCreditNotesByAge({ statuses: stuck, limit: 10 });

        expect(ids(listed)).toEqual(['cn_a', 'cn_b', 'cn_c', 'cn_d', 'cn_e']);
        expect(listed[0]).toEqual(rows[1]);
        expect(ids(await store.listCreditNotesByAge({ statuses: ['failed', 'requested'], limit: 10 }))).toEqual(ids(listed));
        expect(ids(await store.listCreditNotesByAge({ statuses: ['requested'], limit: 10 }))).toEqual(['cn_b', 'cn_c', 'cn_e']);
        expect(ids(await store.listCreditNotesByAge({ statuses: ['succeeded', ...stuck], limit: 10 }))).toEqual([
          'cn_f',
          'cn_a',
          'cn_b',
          'cn_c',
          'cn_d',
          'cn_e',
        ]);
        // A status named twice is still walked once.
        expect(ids(await store.listCreditNotesByAge({ statuses: ['failed', 'failed'], limit: 10 }))).toEqual(['cn_a', 'cn_d']);
        expect(await store.listCreditNotesByAge({ statuses: ['manual'], limit: 10 })).toEqual([]);
        expect(await store.listCreditNotesByAge({ statuses: [], limit: 10 })).toEqual([]);
        expect(await store.listCreditNotesByAge({ statuses: stuck, limit: 0 })).toEqual([]);
      });

      it('pages with the (updatedAt, creditNoteId) cursor, exclusive, also through a tie on updatedAt', async () => {
        await seedAges();
        const page = (after: { updatedAt: string; creditNoteId: string } | undefined, limit: number) =>
          store.listCreditNotesByAge({ statuses: stuck, limit, ...(after === undefined ? {} : { after }) });
        const cursor = (row: CreditNoteSummary) => ({ updatedAt: row.updatedAt, creditNoteId: row.creditNoteId });

        const first = await page(undefined, 2);
        expect(ids(first)).toEqual(['cn_a', 'cn_b']);
        // The page ends inside the tie at 2000: the next one starts right after cn_b, in the same instant.
        const second = await page(cursor(first[1]!), 2);
        expect(ids(second)).toEqual(['cn_c', 'cn_d']);
        expect(ids(await page(cursor(second[1]!), 2))).toEqual(['cn_e']);
        expect(await page({ updatedAt: at(3000).toISOString(), creditNoteId: 'cn_e' }, 2)).toEqual([]);

        const walked: CreditNoteSummary[] = [];
        for (let next = await page(undefined, 1); next.length > 0; next = await page(cursor(next[0]!), 1)) walked.push(...next);
        expect(ids(walked)).toEqual(['cn_a', 'cn_b', 'cn_c', 'cn_d', 'cn_e']);

        // A cursor is a position, not a row: one naming no stored row resumes where it would sort.
        expect(ids(await page({ updatedAt: at(2000).toISOString(), creditNoteId: 'cn_bb' }, 10))).toEqual(['cn_c', 'cn_d', 'cn_e']);
        expect(ids(await page({ updatedAt: at(1500).toISOString(), creditNoteId: 'cn_z' }, 10))).toEqual(['cn_b', 'cn_c', 'cn_d', 'cn_e']);
      });

      it('returns only rows changed before updatedBefore, which is exclusive', async () => {
        await seedAges();
        const before = (updatedBefore: Date, after?: { updatedAt: string; creditNoteId: string }) =>
          store.listCreditNotesByAge({
            statuses: stuck,
            updatedBefore: updatedBefore.toISOString(),
            limit: 10,
            ...(after === undefined ? {} : { after }),
          });

        expect(ids(await before(at(2000)))).toEqual(['cn_a']);
        expect(ids(await before(at(2001)))).toEqual(['cn_a', 'cn_b', 'cn_c', 'cn_d']);
        expect(await before(at(1000))).toEqual([]);
        const afterB = { updatedAt: at(2000).toISOString(), creditNoteId: 'cn_b' };
        expect(ids(await before(at(3000), afterB))).toEqual(['cn_c', 'cn_d']);
        expect(ids(await before(at(3001), afterB))).toEqual(['cn_c', 'cn_d', 'cn_e']);
        expect(ids(await store.listCreditNotesByAge({ statuses: stuck, updatedBefore: at(3001).toISOString(), limit: 2 }))).toEqual([
          'cn_a',
          'cn_b',
        ]);
      });

      it('follows a row whose status or updatedAt changes, and lists it once', async () => {
        await seedAges();
        await put([summaryAt('cn_a', 'requested', at(5000), 2)]);
        await put([summaryAt('cn_b', 'requested', at(6000), 2)]);
        // Only the version changed: the row keeps its place and is not listed twice.
        await put([summaryAt('cn_c', 'requested', at(2000), 3)]);

        expect(ids(await store.listCreditNotesByAge({ statuses: ['failed'], limit: 10 }))).toEqual(['cn_d']);
        const requested = await store.listCreditNotesByAge({ statuses: ['requested'], limit: 10 });
        expect(ids(requested)).toEqual(['cn_c', 'cn_e', 'cn_a', 'cn_b']);
        expect(requested[0]).toEqual(summaryAt('cn_c', 'requested', at(2000), 3));
        expect(ids(await store.listCreditNotesByAge({ statuses: stuck, limit: 10 }))).toEqual(['cn_c', 'cn_d', 'cn_e', 'cn_a', 'cn_b']);
      });
    });

    describe('parked outbox entries', () => {
      /** Claims the entries at `deadAt` and buries them then, as the dispatcher does after its last try. */
      const bury = async (ids: string[], deadAt: Date) => {
        const claimed = await store.claimOutbox({ owner: 'worker', now: deadAt, leaseMs: LEASE_MS, limit: ids.length, entryIds: ids });
        expect(claimed.map((entry) => entry.id).sort()).toEqual([...ids].sort());
        for (const entry of claimed) {
          const buried = await store.releaseOutbox(
            { entryId: entry.id, token: entry.claim.token },
            { availableAt: deadAt, error: `gave up on ${entry.id}`, dead: true },
          );
          expect(buried.isOk()).toBe(true);
        }
      };
      /**
       * Parked: ob_g and ob_b buried together (ids against insertion order), ob_other on another stream, ob_a, ob_e.
       * Not parked: ob_h untouched, ob_f released for a retry, ob_d completed, ob_c leased, ob_other_2 untouched.
       */
      const seedParked = async () => {
        await seedOutbox(['ob_h', 'ob_g', 'ob_f', 'ob_e', 'ob_d', 'ob_c', 'ob_b', 'ob_a']);
        await seedOutbox(['ob_other', 'ob_other_2']);
        await bury(['ob_a'], at(3000));
        await bury(['ob_g', 'ob_b'], at(1000));
        await bury(['ob_other'], at(2000));
        await bury(['ob_e'], at(4000));
        const [retried] = await store.claimOutbox({ owner: 'worker', now: at(1000), leaseMs: LEASE_MS, limit: 1, entryIds: ['ob_f'] });
        await store.releaseOutbox({ entryId: 'ob_f', token: retried!.claim.token }, { availableAt: at(9000), error: 'rate limited', dead: false });
        const [done] = await store.claimOutbox({ owner: 'worker', now: at(1000), leaseMs: LEASE_MS, limit: 1, entryIds: ['ob_d'] });
        expect((await store.completeOutbox({ entryId: 'ob_d', token: done!.claim.token }, at(1500))).isOk()).toBe(true);
        await store.claimOutbox({ owner: 'worker', now: at(1000), leaseMs: LEASE_MS, limit: 1, entryIds: ['ob_c'] });
      };
      const ids = (entries: { id: string }[]) => entries.map((entry) => entry.id);
      const parkedOrder = ['ob_b', 'ob_g', 'ob_other', 'ob_a', 'ob_e'];

      it('lists only parked entries, oldest burial first, ties by id', async () => {
        await seedParked();

        const parked = await store.listOutbox({ dead: true });

        expect(ids(parked)).toEqual(parkedOrder);
        expect(parked.map((entry) => entry.deadAt)).toEqual(
          [1000, 1000, 2000, 3000, 4000].map((offset) => at(offset).toISOString()),
        );
        expect(parked[0]).toMatchObject({ lastError: 'gave up on ob_b', completedAt: null, claim: null, deliveries: 1 });
        // Without `dead`, every entry as before.
        expect(await store.listOutbox()).toHaveLength(10);
        expect(ids(await store.listOutbox({ streamId: creditNoteStream('cn_ob_h'), dead: true }))).toEqual([
          'ob_b',
          'ob_g',
          'ob_a',
          'ob_e',
        ]);
        expect(ids(await store.listOutbox({ streamId: creditNoteStream('cn_ob_other'), dead: true }))).toEqual(['ob_other']);
        expect(await store.listOutbox({ streamId: creditNoteStream('cn_none'), dead: true })).toEqual([]);
      });

      /** The cursor after an entry: its own (deadAt, id), as the store returned them. */
      const cursorOf = (entry: { deadAt: string | null; id: string }) => ({ deadAt: entry.deadAt!, id: entry.id });
      /**
       * Every parked entry id, a page at a time from `after`, each page resuming after the last entry of the one
       * before; `between` runs after each page. Stops after 20 pages, so a cursor that never moves fails, not hangs.
       */
      const walkParked = async (
        limit: number,
        options: { after?: { deadAt: string; id: string }; between?: (page: OutboxEntry[]) => Promise<void> } = {},
      ) => {
        const walked: string[] = [];
        let page = await store.listOutbox({ dead: true, limit, ...(options.after === undefined ? {} : { after: options.after }) });
        for (let pages = 1; page.length > 0 && pages <= 20; pages += 1) {
          walked.push(...ids(page));
          await options.between?.(page);
          page = await store.listOutbox({ dead: true, after: cursorOf(page[page.length - 1]!), limit });
        }
        return walked;
      };

      it('pages parked entries with the (deadAt, id) cursor, exclusive, and limit', async () => {
        await seedParked();

        const first = await store.listOutbox({ dead: true, limit: 2 });
        expect(ids(first)).toEqual(['ob_b', 'ob_g']);
        // The cursor sits inside a tie on deadAt: the page resumes after it, by id.
        expect(ids(await store.listOutbox({ dead: true, after: cursorOf(first[0]!), limit: 2 }))).toEqual(['ob_g', 'ob_other']);
        expect(ids(await store.listOutbox({ dead: true, after: cursorOf(first[1]!), limit: 2 }))).toEqual(['ob_other', 'ob_a']);
        const a = { deadAt: at(3000).toISOString(), id: 'ob_a' };
        expect(ids(await store.listOutbox({ dead: true, after: a }))).toEqual(['ob_e']);
        expect(await store.listOutbox({ dead: true, after: { deadAt: at(4000).toISOString(), id: 'ob_e' } })).toEqual([]);
        expect(await store.listOutbox({ dead: true, limit: 0 })).toEqual([]);
        expect(await store.listOutbox({ dead: true, after: a, limit: 0 })).toEqual([]);
        const g = { deadAt: at(1000).toISOString(), id: 'ob_g' };
        expect(ids(await store.listOutbox({ streamId: creditNoteStream('cn_ob_h'), dead: true, after: g, limit: 1 }))).toEqual(['ob_a']);
        expect(ids(await store.listOutbox({ streamId: creditNoteStream('cn_ob_other'), dead: true, after: g }))).toEqual(['ob_other']);
        expect(await store.listOutbox({ streamId: creditNoteStream('cn_ob_other'), dead: true, after: a })).toEqual([]);

        for (const limit of [1, 2, 3]) expect(await walkParked(limit), `pages of ${limit}`).toEqual(parkedOrder);
      });

      it('reads the cursor as a position: it need not name a parked entry, and its time is compared as an instant', async () => {
        await seedParked();
        const after = (deadAt: string, id: string) => store.listOutbox({ dead: true, after: { deadAt, id } });

        // Ids that are not parked (never were, or are not any more), and ids between parked ones in a tie.
        expect(ids(await after(at(1000).toISOString(), 'ob_h'))).toEqual(['ob_other', 'ob_a', 'ob_e']);
        expect(ids(await after(at(1000).toISOString(), 'ob_missing'))).toEqual(['ob_other', 'ob_a', 'ob_e']);
        expect(ids(await after(at(1000).toISOString(), 'ob_c'))).toEqual(['ob_g', 'ob_other', 'ob_a', 'ob_e']);
        expect(ids(await after(at(1000).toISOString(), ''))).toEqual(parkedOrder);
        // Times between, before and after every burial.
        expect(ids(await after(at(2500).toISOString(), 'ob_z'))).toEqual(['ob_a', 'ob_e']);
        expect(ids(await after(at(2000).toISOString(), 'ob_other'))).toEqual(['ob_a', 'ob_e']);
        expect(ids(await after(at(1999).toISOString(), 'ob_z'))).toEqual(['ob_other', 'ob_a', 'ob_e']);
        expect(ids(await after(at(-1).toISOString(), 'ob_z'))).toEqual(parkedOrder);
        expect(await after(at(4001).toISOString(), '')).toEqual([]);
        // The same instant written with an offset, or without milliseconds: an instant, not text.
        expect(ids(await after('2030-01-01T01:00:02.000+01:00', 'ob_other'))).toEqual(['ob_a', 'ob_e']);
        expect(ids(await after('2030-01-01T00:00:01Z', 'ob_b'))).toEqual(['ob_g', 'ob_other', 'ob_a', 'ob_e']);
        // A time that is no instant at all is refused, not read as some page.
        await expect(after('not a time', 'ob_a')).rejects.toThrow();
      });

      it.each([
        [1, parkedOrder, []],
        [2, parkedOrder, ['ob_b', 'ob_other']],
        [3, parkedOrder, ['ob_b', 'ob_g', 'ob_a']],
      ])(
        'loses and repeats no parked entry when the last entry of each page (of %i) is requeued before the next page',
        async (limit, expected, stillParked) => {
          await seedParked();

          // What the operations page does: the operator requeues what it shows before asking for more.
          const walked = await walkParked(limit, {
            between: async (page) => expect(await store.requeueOutbox([page[page.length - 1]!.id], at(50_000))).toBe(1),
          });

          expect(walked).toEqual(expected);
          expect(ids(await store.listOutbox({ dead: true }))).toEqual(stillParked);
        },
      );

      it('requeues every entry of a page between pages, and the next page still starts where the last one ended', async () => {
        await seedParked();

        const first = await store.listOutbox({ dead: true, limit: 2 });
        expect(await store.requeueOutbox(ids(first), at(0))).toBe(2);
        // Buried again meanwhile, later than everything: ob_g comes back at the end, once.
        await bury(['ob_g'], at(5000));
        expect(await walkParked(2, { after: cursorOf(first[1]!) })).toEqual(['ob_other', 'ob_a', 'ob_e', 'ob_g']);
      });

      it('returns 100 parked entries at most when no limit is given', async () => {
        const many = Array.from({ length: 103 }, (_, k) => `ob_${String(k).padStart(3, '0')}`);
        await seedOutbox(many);
        await bury(many, at(1000));

        const page = await store.listOutbox({ dead: true });
        expect(ids(page)).toEqual(many.slice(0, 100));
        expect(ids(await store.listOutbox({ dead: true, after: cursorOf(page[99]!) }))).toEqual(many.slice(100));
        // Without `dead`, every entry, as before.
        expect(await store.listOutbox()).toHaveLength(103);
      });

      it('requeues parked entries only: available now, deliveries afresh, the last error kept', async () => {
        await seedParked();
        const before = new Map((await store.listOutbox()).map((entry) => [entry.id, entry]));

        const requeued = await store.requeueOutbox(
          ['ob_g', 'ob_other', 'ob_g', 'ob_h', 'ob_f', 'ob_d', 'ob_c', 'ob_missing'],
          at(50_000),
        );

        expect(requeued).toBe(2);
        const after = new Map((await store.listOutbox()).map((entry) => [entry.id, entry]));
        for (const id of ['ob_g', 'ob_other']) {
          expect(after.get(id)).toEqual({
            ...before.get(id),
            availableAt: at(50_000).toISOString(),
            deliveries: 0,
            claim: null,
            deadAt: null,
            lastError: `gave up on ${id}`,
          });
        }
        for (const id of ['ob_h', 'ob_f', 'ob_d', 'ob_c', 'ob_b', 'ob_a', 'ob_e', 'ob_other_2']) {
          expect(after.get(id), id).toEqual(before.get(id));
        }
        expect(ids(await store.listOutbox({ dead: true }))).toEqual(['ob_b', 'ob_a', 'ob_e']);
        expect((await store.outboxCounts(at(0))).parked).toBe(3);
        // Requeued once: a second requeue finds nothing parked.
        expect(await store.requeueOutbox(['ob_g', 'ob_other'], at(60_000))).toBe(0);
        expect(await store.requeueOutbox([], at(60_000))).toBe(0);
      });

      it('makes a requeued entry claimable again from `now`, with deliveries 0 and its last error', async () => {
        await seedParked();
        expect(await store.requeueOutbox(['ob_e'], at(50_000))).toBe(1);

        expect(await store.claimOutbox({ owner: 'ops', now: at(49_999), leaseMs: LEASE_MS, limit: 10, entryIds: ['ob_e'] })).toEqual([]);
        const [listed] = (await store.listOutbox()).filter((entry) => entry.id === 'ob_e');
        expect(listed).toMatchObject({ deliveries: 0, deadAt: null, lastError: 'gave up on ob_e' });

        const [again] = await store.claimOutbox({ owner: 'ops', now: at(50_000), leaseMs: LEASE_MS, limit: 10, entryIds: ['ob_e'] });
        expect(again).toMatchObject({ id: 'ob_e', deliveries: 1, lastError: 'gave up on ob_e', deadAt: null });
        expect((await store.completeOutbox({ entryId: 'ob_e', token: again!.claim.token }, at(50_001))).isOk()).toBe(true);
        // An untargeted claim hands it out too (the dispatcher's path), once requeued: ob_b is.
        expect(await store.requeueOutbox(['ob_b'], at(60_000))).toBe(1);
        const claimed = await store.claimOutbox({ owner: 'worker', now: at(60_000), leaseMs: LEASE_MS, limit: 10 });
        expect(ids(claimed)).toContain('ob_b');
        expect(claimed.find((entry) => entry.id === 'ob_b')).toMatchObject({ deliveries: 1, lastError: 'gave up on ob_b' });
      });

      it('requeues each parked entry once when two requeues race', async () => {
        await seedParked();

        const counts = await Promise.all([
          store.requeueOutbox(['ob_b', 'ob_g', 'ob_a'], at(50_000)),
          store.requeueOutbox(['ob_a', 'ob_b', 'ob_e'], at(50_000)),
        ]);

        expect(counts[0]! + counts[1]!).toBe(4);
        expect(ids(await store.listOutbox({ dead: true }))).toEqual(['ob_other']);
      });
    });

    describe('outbox counts', () => {
      it('counts nothing in an empty store', async () => {
        expect(await store.outboxCounts(at(0))).toEqual({ due: 0, parked: 0, oldestDueAt: null });
      });

      it('counts what a claim at `now` would take as due, and parked entries apart', async () => {
        const claim = async (id: string, now: Date) => {
          const [entry] = await store.claimOutbox({ owner: 'worker', now, leaseMs: LEASE_MS, limit: 1, entryIds: [id] });
          expect(entry?.id).toBe(id);
          return entry!;
        };
        await seedOutbox(['ob_leased'], at(-10_000)); // leased until 70 000: the oldest, yet not due before then
        await seedOutbox(['ob_expired'], at(-5_000)); // leased until 30 000: due again after
        await seedOutbox(['ob_dead', 'ob_dead_2'], at(-20_000));
        await seedOutbox(['ob_completed'], at(-30_000));
        await seedOutbox(['ob_due'], at(10_000));
        await seedOutbox(['ob_due_now'], at(50_000)); // available exactly at `now`: due
        await seedOutbox(['ob_future'], at(50_001));
        await seedOutbox(['ob_retry'], at(0)); // released for a retry at 20 000
        await claim('ob_leased', at(40_000));
        await claim('ob_expired', at(0));
        for (const id of ['ob_dead', 'ob_dead_2']) {
          const entry = await claim(id, at(0));
          await store.releaseOutbox({ entryId: id, token: entry.claim.token }, { availableAt: at(1000), error: 'gave up', dead: true });
        }
        const completed = await claim('ob_completed', at(0));
        await store.completeOutbox({ entryId: 'ob_completed', token: completed.claim.token }, at(1000));
        const retried = await claim('ob_retry', at(0));
        await store.releaseOutbox({ entryId: 'ob_retry', token: retried.claim.token }, { availableAt: at(20_000), error: 'busy', dead: false });
        // A claim with a later clock, taking nothing, must not change what is due at an earlier one.
        expect(await store.claimOutbox({ owner: 'worker', now: at(80_000), leaseMs: LEASE_MS, limit: 0 })).toEqual([]);

        expect(await store.outboxCounts(at(50_000))).toEqual({ due: 4, parked: 2, oldestDueAt: at(-5_000).toISOString() });
        expect(await store.outboxCounts(at(-6_000))).toEqual({ due: 0, parked: 2, oldestDueAt: null });
        expect(await store.outboxCounts(at(10_000))).toEqual({ due: 1, parked: 2, oldestDueAt: at(10_000).toISOString() });
        expect(await store.outboxCounts(at(80_000))).toEqual({ due: 6, parked: 2, oldestDueAt: at(-10_000).toISOString() });

        // The same entries a claim at 50 000 takes.
        const claimed = await store.claimOutbox({ owner: 'worker', now: at(50_000), leaseMs: LEASE_MS, limit: 10 });
        expect(claimed.map((entry) => entry.id).sort()).toEqual(['ob_due', 'ob_due_now', 'ob_expired', 'ob_retry']);
        expect(await store.outboxCounts(at(50_000))).toEqual({ due: 0, parked: 2, oldestDueAt: null });
      });
    });

    describe('checkpoints', () => {
      it('reads null for a checkpoint never written', async () => {
        expect(await store.readCheckpoint('reconcile')).toBeNull();
      });

      it('writes and reads a checkpoint back with the time of the write, and replaces it whole', async () => {
        await store.writeCheckpoint({ name: 'reconcile', value: { after: 'cn_1', count: 3 } }, at(1000));
        expect(await store.readCheckpoint('reconcile')).toEqual({
          name: 'reconcile',
          value: { after: 'cn_1', count: 3 },
          updatedAt: at(1000).toISOString(),
        });

        await store.writeCheckpoint({ name: 'reconcile', value: { done: true } }, at(2000));
        expect(await store.readCheckpoint('reconcile')).toEqual({
          name: 'reconcile',
          value: { done: true },
          updatedAt: at(2000).toISOString(),
        });
        // Names are apart.
        await store.writeCheckpoint({ name: 'reconcile:acct_2', value: 1 }, at(3000));
        expect((await store.readCheckpoint('reconcile'))?.value).toEqual({ done: true });
        expect((await store.readCheckpoint('reconcile:acct_2'))?.value).toBe(1);
        expect(await store.readCheckpoint('Reconcile')).toBeNull();
      });

      it('keeps JSON values of every kind exactly', async () => {
        const values: JsonValue[] = [
          null,
          true,
          false,
          0,
          -17,
          3.25,
          0.1 + 0.2,
          Number.MAX_SAFE_INTEGER,
          1e21,
          1.5e-7,
          '',
          'a "quoted" \\ string, ünïcödé and 🧾',
          '2030-01-01T00:00:00.000Z',
          [],
          {},
          [1, 'two', null, false, [3, { four: 4 }]],
          { nested: { list: [{ a: 1 }, { b: [] }], empty: {}, nothing: null }, 'key with spaces': 'ok', ключ: 'значение' },
          JSON.parse('{"__proto__": {"polluted": true}, "kept": 1}') as JsonValue,
        ];
        for (const [index, value] of values.entries()) {
          await store.writeCheckpoint({ name: `value_${index}`, value }, at(index));
        }
        for (const [index, value] of values.entries()) {
          const read = await store.readCheckpoint(`value_${index}`);
          expect(read, JSON.stringify(value)).toEqual({ name: `value_${index}`, value, updatedAt: at(index).toISOString() });
        }
        // A JSON null is a stored value, not an absent checkpoint.
        expect(await store.readCheckpoint('value_0')).not.toBeNull();
        const proto = (await store.readCheckpoint(`value_${values.length - 1}`))!.value as { [key: string]: JsonValue };
        expect(Object.keys(proto).sort()).toEqual(['__proto__', 'kept']);
        expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
        expect((proto as { polluted?: unknown }).polluted).toBeUndefined();
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

      it('shares nothing through the operations reads and checkpoints', async () => {
        const mutate = (write: () => void) => {
          try {
            write();
          } catch (error) {
            expect(error).toBeInstanceOf(TypeError);
          }
        };
        const row = { ...summary('cn_1', 'failed', 'pi_1'), updatedAt: at(1000).toISOString() };
        await store.append({ streams: [], creditNotes: [row] });
        await seedOutbox(['ob_1']);
        const [claimed] = await store.claimOutbox({ owner: 'worker', now: at(1000), leaseMs: LEASE_MS, limit: 1 });
        await store.releaseOutbox({ entryId: 'ob_1', token: claimed!.claim.token }, { availableAt: at(2000), error: 'gave up', dead: true });
        const value = { after: 'cn_1', seen: ['a'], nested: { count: 1 } };
        await store.writeCheckpoint({ name: 'sweep', value }, at(3000));

        // What was passed in and what came out, changed afterwards.
        value.seen.push('intruder');
        value.nested.count = 99;
        const byAge = await store.listCreditNotesByAge({ statuses: ['failed'], limit: 10 });
        mutate(() => (byAge[0]!.status = 'manual'));
        mutate(() => (byAge[0]!.state.context.amount = 1));
        const parked = await store.listOutbox({ dead: true });
        mutate(() => (parked[0]!.deadAt = null));
        mutate(() => ((parked[0]!.payload as { attempt: number }).attempt = 99));
        const checkpoint = await store.readCheckpoint('sweep');
        mutate(() => ((checkpoint!.value as { nested: { count: number } }).nested.count = 7));
        mutate(() => ((checkpoint!.value as { seen: string[] }).seen.push('intruder')));
        mutate(() => (checkpoint!.updatedAt = 'never'));

        expect(await store.listCreditNotesByAge({ statuses: ['failed'], limit: 10 })).toEqual([row]);
        expect(await store.listCreditNotesByAge({ statuses: ['manual'], limit: 10 })).toEqual([]);
        const [entry] = await store.listOutbox({ dead: true });
        expect(entry).toMatchObject({ id: 'ob_1', deadAt: at(2000).toISOString(), payload: outboxDraft('ob_1', entry!.streamId).payload });
        expect(await store.readCheckpoint('sweep')).toEqual({
          name: 'sweep',
          value: { after: 'cn_1', seen: ['a'], nested: { count: 1 } },
          updatedAt: at(3000).toISOString(),
        });
      });
    });
  });
};
