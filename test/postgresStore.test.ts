import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postgresStore, type PostgresEventStore } from '../src/adapters/postgres/index.js';
import { queriesFor } from '../src/adapters/sql/queries.js';
import type { SqlClient } from '../src/adapters/sql/sqlClient.js';
import { sqlEventStore } from '../src/adapters/sql/sqlEventStore.js';
import { parseEvent } from '../src/events/parseEvent.js';
import { CURRENT_SCHEMA_VERSION, type DomainEvent, type StoredEvent } from '../src/events/envelope.js';
import type { EventStore } from '../src/ports/eventStore.js';
import { describeEventStoreContract } from './contract/eventStoreContract.js';
import { expectIndexedPlans } from './support/sqlPlans.js';

/*
 * Runs only against a real server: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx vitest run …
 * Each run gets its own schema, dropped afterwards; every test starts from empty tables.
 */
const databaseUrl = process.env.DATABASE_URL;

describe.skipIf(databaseUrl === undefined)('PostgreSQL store', () => {
  const schema = `refund_lifecycle_test_${randomBytes(6).toString('hex')}`;
  let pool: pg.Pool;
  let store: PostgresEventStore;
  let unprepared: PostgresEventStore;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
    store = postgresStore({ pool, schema });
    unprepared = postgresStore({ pool, schema, preparedStatements: false });
    expect(await store.migrate()).toEqual([1, 2, 3, 4]);
    expect(await store.migrate()).toEqual([]);
  });

  beforeEach(async () => {
    await pool.query(queriesFor(schema).truncateAll);
  });

  afterAll(async () => {
    await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await store?.close();
    await pool?.end();
  });

  describeEventStoreContract('PostgreSQL', () => store);

  it('migrates once even when several processes start together', async () => {
    const other = `${schema}_race`;
    const stores = Array.from({ length: 4 }, () => postgresStore({ pool, schema: other }));
    try {
      const applied = await Promise.all(stores.map((candidate) => candidate.migrate()));
      expect(applied.flat().sort()).toEqual([1, 2, 3, 4]);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${other}" CASCADE`);
    }
  });

  /** EXPLAIN of each hot statement in a rolled-back transaction with sequential scans off, as a custom or a generic plan. */
  const explainPlans = async (plan: 'custom' | 'generic') => {
    const client = await pool.connect();
    try {
      await expectIndexedPlans(schema, async (sql, params) => {
        await client.query('BEGIN');
        try {
          await client.query('SET LOCAL enable_seqscan = off');
          if (plan === 'custom') {
            const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
            return rows.map((row) => row['QUERY PLAN']).join('\n');
          }
          await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
          await client.query(`PREPARE plan_probe AS ${sql}`);
          const args = params.map((param) => (param === null ? 'NULL' : client.escapeLiteral(String(param)))).join(', ');
          const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE plan_probe(${args})`);
          return rows.map((row) => row['QUERY PLAN']).join('\n');
        } finally {
          await client.query('ROLLBACK');
          await client.query('DEALLOCATE ALL');
        }
      });
    } finally {
      client.release();
    }
  };

  it('claims outbox entries, lists credit notes and finds refunds through their indexes', async () => {
    await explainPlans('custom');
  });

  it('keeps to those indexes under the generic plans prepared statements settle on', async () => {
    await explainPlans('generic');
  });

  describeEventStoreContract('PostgreSQL without prepared statements', () => unprepared);

  describe('global log without gaps', () => {
    const issued = (creditNoteId: string): DomainEvent =>
      parseEvent({
        eventId: `evt_${creditNoteId}`,
        streamId: `credit-note-${creditNoteId}`,
        streamVersion: 1,
        schemaVersion: CURRENT_SCHEMA_VERSION,
        type: 'CreditNoteIssued',
        data: { creditNoteId, amount: 5000, currency: 'EUR', payment: null, reason: 'order cancelled', origin: 'host' },
        occurredAt: '2030-01-01T00:00:00.000Z',
        actor: { kind: 'user', id: 'u_gaps' },
        causationId: null,
        correlationId: `corr_${creditNoteId}`,
        source: 'command',
      })._unsafeUnwrap();
    const appendNew = (target: EventStore, creditNoteId: string) => {
      const event = issued(creditNoteId);
      return target.append({ streams: [{ streamId: event.streamId, expectedVersion: 0, events: [event] }] });
    };

    /**
     * A store writing through its own connection whose transaction stops at
     * `pauseAt` (before its events are inserted, or before COMMIT) until released.
     */
    const pausedWriter = async (pauseAt: 'events' | 'commit') => {
      const connection = new pg.Client({ connectionString: databaseUrl });
      await connection.connect();
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let paused!: () => void;
      const reachedPause = new Promise<void>((resolve) => (paused = resolve));
      const hold = async () => {
        paused();
        await released;
      };
      const appendEvents = queriesFor(schema).appendEvents;
      // The append is one statement: it runs in a transaction of the test's that takes its transaction id first.
      const client: SqlClient = {
        async query<T>(sql: string, params?: unknown[]) {
          if (sql !== appendEvents) return { rows: (await connection.query(sql, params)).rows as T[] };
          await connection.query('BEGIN');
          try {
            await connection.query('SELECT pg_current_xact_id()');
            if (pauseAt === 'events') await hold();
            const { rows } = await connection.query(sql, params);
            if (pauseAt === 'commit') await hold();
            await connection.query('COMMIT');
            return { rows: rows as T[] };
          } catch (error) {
            await connection.query('ROLLBACK');
            throw error;
          }
        },
        async exec(sql) {
          await connection.query(sql);
        },
        async transaction(fn) {
          await connection.query('BEGIN');
          try {
            const result = await fn(client);
            await connection.query('COMMIT');
            return result;
          } catch (error) {
            await connection.query('ROLLBACK');
            throw error;
          }
        },
      };
      return { store: sqlEventStore(client, { schema }), reachedPause, release, end: () => connection.end() };
    };

    /** A projection following the log from its checkpoint, as a real one would. */
    const follower = () => {
      const seen: StoredEvent[] = [];
      let checkpoint = 0;
      return {
        seen,
        async poll() {
          const page = await store.readAll({ after: checkpoint, limit: 100 });
          seen.push(...page);
          if (page.length > 0) checkpoint = page[page.length - 1]!.globalPosition;
          return page;
        },
      };
    };

    it.each(['events', 'commit'] as const)(
      'never skips the events of a transaction that started first and commits last (paused before %s)',
      async (pauseAt) => {
        expect((await appendNew(store, 'cn_before')).isOk()).toBe(true);
        const projection = follower();
        expect((await projection.poll()).map((event) => event.streamId)).toEqual(['credit-note-cn_before']);

        const slow = await pausedWriter(pauseAt);
        try {
          const slowAppend = appendNew(slow.store, 'cn_slow');
          await slow.reachedPause;
          // A second connection commits while the slow transaction is still open.
          expect((await appendNew(store, 'cn_fast')).isOk()).toBe(true);
          // Hidden until the slow transaction settles: a reader checkpointing past it now would skip it forever.
          expect(await projection.poll()).toEqual([]);

          slow.release();
          expect((await slowAppend).isOk()).toBe(true);
          expect((await appendNew(store, 'cn_after')).isOk()).toBe(true);
          await projection.poll();
        } finally {
          await slow.end();
        }

        const everything = await store.readAll();
        expect(projection.seen).toEqual(everything);
        expect(everything.map((event) => event.streamId).sort()).toEqual(
          ['credit-note-cn_after', 'credit-note-cn_before', 'credit-note-cn_fast', 'credit-note-cn_slow'],
        );
        // The slow transaction began first, so it comes first in the log, whatever its positions.
        expect(everything.map((event) => event.streamId).slice(0, 3)).toEqual([
          'credit-note-cn_before',
          'credit-note-cn_slow',
          'credit-note-cn_fast',
        ]);
        const slowPosition = everything[1]!.globalPosition;
        const fastPosition = everything[2]!.globalPosition;
        // Paused before its insert, the slow writer's event took a higher position than the fast one's:
        // a checkpoint on positions alone would have skipped one of them.
        if (pauseAt === 'events') expect(slowPosition).toBeGreaterThan(fastPosition);
        else expect(slowPosition).toBeLessThan(fastPosition);
      },
    );
  });
});
