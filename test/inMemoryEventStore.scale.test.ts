import { describe, expect, it } from 'vitest';
import { meteredInMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import type { CreditNoteStatus } from '../src/machine/creditNoteState.js';
import type { CreditNoteSummary, EventStore, OutboxDraft } from '../src/ports/eventStore.js';

/*
 * Cost independent of size: a call's work depends on what it returns, never
 * on how much the store holds. Work is counted (index comparisons and rows
 * visited), not timed, so these tests cannot flake on a slow machine.
 */

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);
const LEASE_MS = 30_000;
const statuses: CreditNoteStatus[] = ['issued', 'pending', 'requested', 'succeeded', 'failed', 'manual'];

const draft = (id: string, availableAt: Date): OutboxDraft => ({
  id,
  streamId: `credit-note-${id}`,
  kind: 'notify',
  idempotencyKey: `${id}:key`,
  payload: { id },
  availableAt: availableAt.toISOString(),
});

const summary = (index: number, size: number): CreditNoteSummary => {
  const creditNoteId = `cn_${String(index).padStart(7, '0')}`;
  const status = statuses[index % statuses.length]!;
  // Three credit notes per payment, whatever the size.
  const paymentId = `pi_${index % Math.floor(size / 3)}`;
  return {
    creditNoteId,
    streamId: `credit-note-${creditNoteId}`,
    status,
    paymentId,
    version: 1,
    updatedAt: at(0).toISOString(),
    state: { status, context: { creditNoteId } } as unknown as CreditNoteSummary['state'],
  };
};

/** `size` credit notes, each with one outbox entry (completed, or parked for one in ten), and a few entries not yet due. */
const seed = async (size: number): Promise<{ store: EventStore; work: () => number }> => {
  const metered = meteredInMemoryEventStore();
  const { store } = metered;
  const batch = 1000;
  for (let start = 0; start < size; start += batch) {
    const indexes = Array.from({ length: Math.min(batch, size - start) }, (_, offset) => start + offset);
    await store.append({
      streams: [],
      creditNotes: indexes.map((index) => summary(index, size)),
      outbox: indexes.map((index) => draft(`ob_${index}`, at(-1000))),
    });
    const claimed = await store.claimOutbox({ owner: 'seed', now: at(0), leaseMs: LEASE_MS, limit: batch });
    expect(claimed).toHaveLength(indexes.length);
    const parked = (entry: { id: string }) => Number(entry.id.slice('ob_'.length)) % 10 === 0;
    const completed = await store.append({
      streams: [],
      completeOutbox: claimed.filter((entry) => !parked(entry)).map((entry) => ({ entryId: entry.id, token: entry.claim.token })),
    });
    expect(completed.isOk()).toBe(true);
    // Buried at scattered times, so the parked index's order is not the insertion order.
    for (const entry of claimed.filter(parked)) {
      const index = Number(entry.id.slice('ob_'.length));
      const buried = await store.releaseOutbox(
        { entryId: entry.id, token: entry.claim.token },
        { availableAt: at(1000 + ((index * 7919) % 100_000)), error: 'gave up', dead: true },
      );
      expect(buried.isOk()).toBe(true);
    }
  }
  await store.append({ streams: [], outbox: [1, 2, 3].map((k) => draft(`ob_future_${k}`, at(3_600_000))) });
  return metered;
};

/** The work each call took, checking its answer on the way. */
const measure = async (size: number) => {
  const { store, work } = await seed(size);
  const cost = async <T>(call: () => Promise<T>, check: (result: T) => void): Promise<number> => {
    const before = work();
    check(await call());
    return work() - before;
  };
  const nothingDue = await cost(
    () => store.claimOutbox({ owner: 'w', now: at(LEASE_MS * 2), leaseMs: LEASE_MS, limit: 50 }),
    (claimed) => expect(claimed).toEqual([]),
  );
  const counts = await cost(
    () => store.outboxCounts(at(LEASE_MS * 2)),
    (result) => expect(result).toEqual({ due: 0, parked: size / 10, oldestDueAt: null }),
  );
  await store.append({ streams: [], outbox: Array.from({ length: 60 }, (_, k) => draft(`ob_due_${k}`, at(LEASE_MS * 3))) });
  const fiftyDue = await cost(
    () => store.claimOutbox({ owner: 'w', now: at(LEASE_MS * 4), leaseMs: LEASE_MS, limit: 50 }),
    (claimed) => expect(claimed.map((entry) => entry.id)).toEqual(Array.from({ length: 50 }, (_, k) => `ob_due_${k}`)),
  );
  // The 50 leases run out: they are due again, before the 10 never claimed (earlier insertion).
  const expiredLeases = await cost(
    () => store.claimOutbox({ owner: 'w2', now: at(LEASE_MS * 6), leaseMs: LEASE_MS, limit: 50 }),
    (claimed) => expect(claimed.map((entry) => entry.id)).toEqual(Array.from({ length: 50 }, (_, k) => `ob_due_${k}`)),
  );
  const byStatus = await cost(
    () => store.listCreditNotes({ status: 'requested', after: 'cn_0000500', limit: 50 }),
    (rows) => {
      expect(rows).toHaveLength(50);
      expect(rows.every((row) => row.status === 'requested' && row.creditNoteId > 'cn_0000500')).toBe(true);
    },
  );
  const byPayment = await cost(
    () => store.listCreditNotes({ paymentId: 'pi_7', limit: 50 }),
    (rows) => expect(rows.map((row) => row.paymentId)).toEqual(['pi_7', 'pi_7', 'pi_7']),
  );
  const all = await cost(
    () => store.listCreditNotes({ after: 'cn_0000900', limit: 50 }),
    (rows) => expect(rows[0]!.creditNoteId).toBe('cn_0000901'),
  );
  const parkedPage = await cost(
    () => store.listOutbox({ dead: true, after: { deadAt: at(1000 + ((500 * 7919) % 100_000)).toISOString(), id: 'ob_500' }, limit: 50 }),
    (entries) => {
      expect(entries).toHaveLength(50);
      const keys = entries.map((entry) => [Date.parse(entry.deadAt!), entry.id] as const);
      expect(keys).toEqual([...keys].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1)));
      expect(keys[0]![0]).toBeGreaterThanOrEqual(at(1000 + ((500 * 7919) % 100_000)).getTime());
    },
  );
  // Two statuses' walks merged from a cursor; every row changed at the same instant, so ties order by id.
  const byAge = await cost(
    () => store.listCreditNotesByAge({ statuses: ['requested', 'failed'], after: { updatedAt: at(0).toISOString(), creditNoteId: 'cn_0000500' }, limit: 50 }),
    (rows) => {
      expect(rows).toHaveLength(50);
      expect(rows.every((row) => (row.status === 'requested' || row.status === 'failed') && row.creditNoteId > 'cn_0000500')).toBe(true);
      expect(rows.map((row) => row.creditNoteId)).toEqual(rows.map((row) => row.creditNoteId).sort());
    },
  );
  // Nothing changed before the bound: the walks stop at their first row.
  const byAgeNone = await cost(
    () => store.listCreditNotesByAge({ statuses: ['requested', 'failed'], updatedBefore: at(0).toISOString(), limit: 50 }),
    (rows) => expect(rows).toEqual([]),
  );
  return { nothingDue, counts, fiftyDue, expiredLeases, byStatus, byPayment, all, parkedPage, byAge, byAgeNone };
};

describe('in-memory event store: cost independent of size', () => {
  it('claims and lists with the same work over 2,000 and 20,000 credit notes', async () => {
    const small = await measure(2_000);
    const large = await measure(20_000);

    // A claim with nothing due never looks at completed entries: the same few steps at any size.
    expect(large.nothingDue).toBe(small.nothingDue);
    expect(large.nothingDue).toBeLessThan(10);
    // Counting what is due walks only the due and the leased; parked ones are a size.
    expect(large.counts).toBe(small.counts);
    expect(large.counts).toBeLessThan(10);
    // Everything else: what it returns plus O(log n) index searches, so 10× the rows
    // adds a few comparisons per search at most, never 10× the work.
    for (const key of ['fiftyDue', 'expiredLeases', 'byStatus', 'byPayment', 'all', 'parkedPage', 'byAge', 'byAgeNone'] as const) {
      expect(large[key], key).toBeLessThan(small[key] * 1.5);
    }
  }, 60_000);
});
