import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postgresStore, type PostgresEventStore } from '../src/adapters/postgres/index.js';
import { queriesFor } from '../src/adapters/sql/queries.js';
import { StoreError } from '../src/errors.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { fakeGateway } from '../src/testing/index.js';

/*
 * What a command answers when the database fails under it, on a real server:
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx vitest run test/postgresFaults.test.ts
 *
 * A second connection takes `LOCK TABLE events IN EXCLUSIVE MODE`, so an
 * append moves its stream head and then waits on its INSERT into `events`:
 * it is in flight, with part of its writes done, when the fault strikes.
 */
const databaseUrl = process.env.DATABASE_URL;

const actor = { kind: 'user' as const, id: 'merchant_ada' };

describe.skipIf(databaseUrl === undefined)('PostgreSQL store under faults', () => {
  const schema = `refund_lifecycle_faults_${randomBytes(6).toString('hex')}`;
  let pool: pg.Pool;
  let admin: pg.Pool;
  let store: PostgresEventStore;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    // A terminated idle connection is reported on the pool: a host listens, or its process dies.
    pool.on('error', () => {});
    admin = new pg.Pool({ connectionString: databaseUrl, max: 3 });
    store = postgresStore({ pool, schema });
    await store.migrate();
  });

  beforeEach(async () => {
    await admin.query(queriesFor(schema).truncateAll);
  });

  afterAll(async () => {
    await admin?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await store?.close();
    await pool?.end();
    await admin?.end();
  });

  const lifecycleOn = (eventStore: PostgresEventStore) =>
    createRefundLifecycle({ store: eventStore, gateway: fakeGateway() });

  /** A credit note paid outside the processor: `markRefunded` then appends an event and its outbox entries. */
  const issued = async (lifecycle: ReturnType<typeof lifecycleOn>, creditNoteId: string) => {
    const result = await lifecycle.issueCreditNote({
      creditNoteId,
      amount: 5_000,
      currency: 'EUR',
      payment: null,
      reason: 'Workshop cancelled',
      actor,
    });
    expect(result.isOk()).toBe(true);
  };

  const snapshot = async (creditNoteId: string) => {
    const view = (await lifecycleOn(store).getCreditNote(creditNoteId))._unsafeUnwrap();
    const history = (await lifecycleOn(store).history(creditNoteId))._unsafeUnwrap();
    return { status: view.status, events: history.length, outbox: (await store.listOutbox()).map((entry) => entry.id) };
  };

  /** Holds the events table until `release()`, from a connection of its own. */
  const lockEvents = async () => {
    const locker = await admin.connect();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${schema}".events IN EXCLUSIVE MODE`);
    const { rows } = await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return {
      pid: rows[0]!.pid,
      async release() {
        await locker.query('ROLLBACK');
        locker.release();
      },
    };
  };

  /** The backend waiting on the locker's lock, once there is one. */
  const blockedBehind = async (lockerPid: number): Promise<number> => {
    for (let tries = 0; tries < 200; tries += 1) {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`,
        [lockerPid],
      );
      if (rows[0] !== undefined) return rows[0].pid;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('no append waited on the lock');
  };

  it('answers a lost connection mid-append with a StoreError, writes nothing of it, and recovers', async () => {
    const lifecycle = lifecycleOn(store);
    await issued(lifecycle, 'cn_killed');
    const before = await snapshot('cn_killed');

    const lock = await lockEvents();
    let answer: Awaited<ReturnType<typeof lifecycle.markRefunded>>;
    try {
      const pending = lifecycle.markRefunded('cn_killed', { reason: 'Refunded by SEPA transfer', method: 'bank_transfer', actor });
      const appender = await blockedBehind(lock.pid);
      const { rows } = await admin.query<{ killed: boolean }>('SELECT pg_terminate_backend($1) AS killed', [appender]);
      expect(rows[0]?.killed).toBe(true);
      answer = await pending;
    } finally {
      await lock.release();
    }

    expect(answer.isErr()).toBe(true);
    const error = answer._unsafeUnwrapErr();
    expect(error).toBeInstanceOf(StoreError);
    expect(error.code).toBe('store_unavailable');
    // The stream head had moved inside the killed transaction: nothing of it survived.
    expect(await snapshot('cn_killed')).toEqual(before);

    // The pool dropped the dead connection: the same command now goes through.
    const retried = await lifecycle.markRefunded('cn_killed', { reason: 'Refunded by SEPA transfer', method: 'bank_transfer', actor });
    expect(retried._unsafeUnwrap().status).toBe('manual');
    const after = await snapshot('cn_killed');
    expect(after.events).toBe(before.events + 1);
    expect(after.outbox.length).toBeGreaterThan(before.outbox.length);
  }, 20_000);

  it('fails a statement held longer than statementTimeoutMs as a StoreError, rolls the append back, and recovers', async () => {
    const impatient = postgresStore({ pool, schema, statementTimeoutMs: 300 });
    const lifecycle = lifecycleOn(impatient);
    await issued(lifecycle, 'cn_slow');
    const before = await snapshot('cn_slow');

    const lock = await lockEvents();
    let answer: Awaited<ReturnType<typeof lifecycle.markRefunded>>;
    const started = Date.now();
    try {
      answer = await lifecycle.markRefunded('cn_slow', { reason: 'Refunded by SEPA transfer', method: 'bank_transfer', actor });
    } finally {
      await lock.release();
    }
    const waited = Date.now() - started;

    expect(answer.isErr()).toBe(true);
    const error = answer._unsafeUnwrapErr();
    expect(error).toBeInstanceOf(StoreError);
    expect((error.cause as { code?: string }).code).toBe('57014'); // query_canceled: statement timeout
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(5_000);
    expect(await snapshot('cn_slow')).toEqual(before);

    const retried = await lifecycle.markRefunded('cn_slow', { reason: 'Refunded by SEPA transfer', method: 'bank_transfer', actor });
    expect(retried._unsafeUnwrap().status).toBe('manual');
    // The timeout was the store's own (SET LOCAL): the host's connections keep the server's setting.
    const { rows } = await pool.query<{ statement_timeout: string }>('SHOW statement_timeout');
    expect(rows[0]?.statement_timeout).toBe('0');
  }, 20_000);

  it('sets statementTimeoutMs on every connection of a pool the store opens', async () => {
    const own = postgresStore({ connectionString: databaseUrl!, schema, statementTimeoutMs: 300 });
    try {
      const lifecycle = lifecycleOn(own);
      await issued(lifecycle, 'cn_own_pool');
      const lock = await lockEvents();
      let answer: Awaited<ReturnType<typeof lifecycle.markRefunded>>;
      try {
        answer = await lifecycle.markRefunded('cn_own_pool', { reason: 'Refunded by SEPA transfer', method: 'bank_transfer', actor });
      } finally {
        await lock.release();
      }
      expect(answer._unsafeUnwrapErr()).toBeInstanceOf(StoreError);
      const retried = await lifecycle.markRefunded('cn_own_pool', { reason: 'Refunded by SEPA transfer', method: 'bank_transfer', actor });
      expect(retried._unsafeUnwrap().status).toBe('manual');
    } finally {
      await own.close();
    }
  }, 20_000);

  it('refuses a statementTimeoutMs that is not a positive whole number', () => {
    for (const statementTimeoutMs of [0, -1, 1.5, Number.NaN]) {
      expect(() => postgresStore({ pool, schema, statementTimeoutMs })).toThrow(RangeError);
    }
  });
});
