import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPglite, pgliteStore } from '../src/adapters/pglite/index.js';
import { postgresStore } from '../src/adapters/postgres/index.js';
import { queriesFor } from '../src/adapters/sql/queries.js';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { CURRENT_SCHEMA_VERSION, type DomainEvent } from '../src/events/envelope.js';
import { createRefundLifecycle, type RefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import type { EventStore } from '../src/ports/eventStore.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import { manualClock } from '../src/testing/manualClock.js';
import { recordingNotifier } from '../src/testing/recordingNotifier.js';
import { okValue } from './support/fixtures.js';
import { readSchemaV1Log, schemaV1Statuses } from './support/schemaV1Log.js';

/*
 * A database written by a version of the library that spoke schema version 1,
 * read and extended by this one: the stored rows stay as they were written,
 * every read upcasts them, and commands decide on top of them.
 */

/** A kind of store opened once; `fresh()` hands each test an empty one. */
type StoreKind = { fresh(): Promise<EventStore>; close(): Promise<unknown> };

const inMemory = async (): Promise<StoreKind> => ({ fresh: async () => inMemoryEventStore(), close: async () => undefined });

const pglite = async (): Promise<StoreKind> => {
  const db = await openPglite('memory://');
  const store = pgliteStore({ db });
  await store.migrate();
  return {
    fresh: async () => (await db.query(queriesFor(store.schema).truncateAll), store),
    close: () => db.close(),
  };
};

const databaseUrl = process.env.DATABASE_URL;
const postgres = async (): Promise<StoreKind> => {
  const schema = `refund_lifecycle_upcast_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const store = postgresStore({ pool, schema });
  await store.migrate();
  return {
    fresh: async () => (await pool.query(queriesFor(schema).truncateAll), store),
    close: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await store.close();
      await pool.end();
    },
  };
};

/** Writes the v1 log as the old library did, event by event in commit order; no store validates what it appends. */
const writeV1Log = async (store: EventStore) => {
  for (const { globalPosition: _position, ...event } of readSchemaV1Log()) {
    const appended = await store.append({
      streams: [{ streamId: event.streamId, expectedVersion: event.streamVersion - 1, events: [event as unknown as DomainEvent] }],
    });
    okValue(appended);
  }
};

const merchant = { kind: 'user', id: 'merchant_ada' } as const;

describe.each([
  ['in-memory store', inMemory, false],
  ['PGlite store', pglite, false],
  ['PostgreSQL store', postgres, databaseUrl === undefined],
] as const)('schema version 1 events in the %s', (_name, open, skip) => {
  let kind: StoreKind;
  let store: EventStore;
  let lifecycle: RefundLifecycle;

  beforeAll(async () => {
    if (!skip) kind = await open();
  });
  afterAll(async () => {
    await kind?.close();
  });
  beforeEach(async () => {
    if (skip) return;
    store = await kind.fresh();
    await writeV1Log(store);
    lifecycle = createRefundLifecycle({ store, gateway: fakeGateway({ processor: 'stripe' }), notifier: recordingNotifier(), clock: manualClock() });
  });

  it.skipIf(skip)('are read back as the run left each credit note', async () => {
    for (const [creditNoteId, status] of Object.entries(schemaV1Statuses)) {
      expect(okValue(await lifecycle.getCreditNote(creditNoteId)).status, creditNoteId).toBe(status);
    }
  });

  it.skipIf(skip)('come out of history() upcast, while the store keeps them as they were written', async () => {
    const history = okValue(await lifecycle.history('cn_v1_paid'));

    expect(history.map((event) => event.schemaVersion)).toEqual(history.map(() => CURRENT_SCHEMA_VERSION));
    expect(history.find((event) => event.type === 'CreditNoteIssued')?.data).toMatchObject({ origin: 'host' });
    const pending = history.filter((event) => event.type === 'RefundAccepted' || event.type === 'RefundProgressed');
    expect(pending.map((event) => (event.data as { pendingReason: unknown }).pendingReason)).toEqual([null, null]);

    const stored = (await store.readStream('credit-note-cn_v1_paid')).events;
    expect(stored.map((event) => event.schemaVersion)).toEqual(stored.map(() => 1));
    expect(stored[0]!.data).not.toHaveProperty('origin');
  });

  it.skipIf(skip)('take a retry on a failure written in version 1, whose new events are written in the current version', async () => {
    const retried = okValue(await lifecycle.retryRefund('cn_v1_failed', { actor: merchant }));

    expect(retried).toMatchObject({ status: 'requested', refund: { attempt: 2 } });
    const stored = (await store.readStream('credit-note-cn_v1_failed')).events;
    expect(stored.map((event) => [event.type, event.schemaVersion])).toEqual([
      ['CreditNoteIssued', 1],
      ['RefundRequested', 1],
      ['RefundAccepted', 1],
      ['RefundFailed', 1],
      ['RetryRequested', CURRENT_SCHEMA_VERSION],
      ['RefundRequested', CURRENT_SCHEMA_VERSION],
      ['RefundAccepted', CURRENT_SCHEMA_VERSION],
    ]);
    expect(okValue(await lifecycle.history('cn_v1_failed'))).toHaveLength(7);
  });

  it.skipIf(skip)('take a manual refund of a failure written in version 1', async () => {
    const marked = okValue(
      await lifecycle.markRefunded('cn_v1_failed', { reason: 'Paid back by bank transfer', method: 'bank_transfer', actor: merchant }),
    );

    expect(marked.status).toBe('manual');
  });

  it.skipIf(skip)('take the webhook settling a refund accepted in version 1', async () => {
    const observed = okValue(
      await lifecycle.observeRefund({
        refund: {
          processorRefundId: 're_fake_3',
          paymentId: 'pi_v1_gated',
          amount: 8_000,
          currency: 'eur',
          status: 'succeeded',
          failure: null,
          metadata: { creditNoteId: 'cn_v1_gated', attempt: 1 },
        },
        source: 'webhook',
        causationId: 'evt_after_the_upgrade',
      }),
    );

    expect(observed).toMatchObject({ changed: true, creditNote: { status: 'succeeded' } });
  });
});
