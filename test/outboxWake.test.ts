import { afterAll, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPglite, pgliteStore } from '../src/adapters/pglite/index.js';
import { postgresStore } from '../src/adapters/postgres/index.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import type { EventStore } from '../src/ports/eventStore.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';

/*
 * A dispatcher polling once a minute still performs a side effect another
 * process just enqueued within moments: the SQL stores notify at commit
 * (LISTEN/NOTIFY) and the worker loop wakes on it. Polling stays the fallback.
 */

const actor = { kind: 'user', id: 'freelancer' } as const;

const wakesTheWorker = async (store: EventStore) => {
  const gateway = fakeGateway();
  // The host process whose worker polls rarely, and another that only issues (no inline dispatch).
  const worker = createRefundLifecycle({ store, gateway }).startDispatching({ intervalMs: 60_000 });
  const web = createRefundLifecycle({ store, gateway, dispatchInline: false });
  try {
    // Let the worker's first round (nothing due) pass and its listener start.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const issued = await web.issueCreditNote({
      creditNoteId: 'cn_wake',
      amount: 2_000,
      currency: 'EUR',
      payment: { paymentId: 'pi_wake' },
      reason: 'proposal amended',
      chargeConfirmed: true,
      actor,
    });
    expect(issued._unsafeUnwrap().status).toBe('requested');

    await vi.waitFor(() => expect(gateway.refunds()).toHaveLength(1), { timeout: 5_000, interval: 50 });
  } finally {
    await worker.stop();
  }
};

/** Only appends that ask for it notify: an inline-dispatching process performs its entries itself. */
const notifiesOnlyWhenAsked = async (store: EventStore) => {
  let woken = 0;
  const unwatch = await store.watchOutbox!(() => (woken += 1));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
  const appendWith = (id: string, wakeDispatchers?: boolean) =>
    store.append({
      streams: [],
      outbox: [{ id, streamId: 'credit-note-cn_w', kind: 'notify', idempotencyKey: id, payload: {}, availableAt: new Date(0).toISOString() }],
      ...(wakeDispatchers === undefined ? {} : { wakeDispatchers }),
    });
  try {
    (await appendWith('ob_quiet', false))._unsafeUnwrap();
    await settle();
    expect(woken).toBe(0);
    (await appendWith('ob_loud'))._unsafeUnwrap();
    await vi.waitFor(() => expect(woken).toBe(1), { timeout: 5_000, interval: 20 });
  } finally {
    await unwatch();
  }

  // A lifecycle that dispatches inline (the default) performs what it enqueued itself and wakes nobody.
  const gateway = fakeGateway();
  woken = 0;
  const stopWatching = await store.watchOutbox!(() => (woken += 1));
  try {
    const issued = await createRefundLifecycle({ store, gateway }).issueCreditNote({
      creditNoteId: 'cn_inline',
      amount: 2_000,
      currency: 'EUR',
      payment: { paymentId: 'pi_inline' },
      reason: 'proposal amended',
      chargeConfirmed: true,
      actor,
    });
    expect(issued._unsafeUnwrap().refund?.status).toBe('accepted');
    await settle();
    expect(woken).toBe(0);
  } finally {
    await stopWatching();
  }
};

describe('a worker wakes when another process enqueues a side effect', () => {
  it('on PGlite', async () => {
    const db = await openPglite('memory://');
    const store = pgliteStore({ db });
    await store.migrate();
    try {
      await wakesTheWorker(store);
      await notifiesOnlyWhenAsked(store);
    } finally {
      await db.close();
    }
  });

  const databaseUrl = process.env.DATABASE_URL;
  describe.skipIf(databaseUrl === undefined)('on PostgreSQL', () => {
    const schema = `rl_wake_${randomBytes(5).toString('hex')}`;
    const store = postgresStore({ connectionString: databaseUrl ?? '', schema });
    afterAll(async () => {
      await store.close();
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    });

    it('across connections, through LISTEN/NOTIFY', async () => {
      await store.migrate();
      await wakesTheWorker(store);
      await notifiesOnlyWhenAsked(store);
    });
  });
});
