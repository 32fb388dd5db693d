import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openPglite, pgliteStore } from '../src/adapters/pglite/index.js';
import {
  APPEND_FUNCTION_SQL,
  INIT_SQL,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  OPERATIONS_READS_SQL,
  REFUND_REQUESTS_SQL,
} from '../src/adapters/sql/schema.js';
import { outboxChannel, quoteIdentifier } from '../src/adapters/sql/sqlClient.js';
import { CURRENT_SCHEMA_VERSION } from '../src/events/envelope.js';
import { parseEvent } from '../src/events/parseEvent.js';
import { VersionConflictError } from '../src/errors.js';
import { initialRefundRequestState } from '../src/machine/refundRequestState.js';
import type { CreditNoteSummary, RefundRequestSummary } from '../src/ports/eventStore.js';

describe('SQL schema', () => {
  it('ships sql/001_init.sql byte for byte as INIT_SQL, for hosts with their own migration tool', () => {
    expect(readFileSync(new URL('../sql/001_init.sql', import.meta.url), 'utf8')).toBe(INIT_SQL);
  });

  it('ships sql/002_append_function.sql byte for byte as migration 2', () => {
    expect(readFileSync(new URL('../sql/002_append_function.sql', import.meta.url), 'utf8')).toBe(APPEND_FUNCTION_SQL);
  });

  it('ships sql/003_operations_reads.sql byte for byte as migration 3', () => {
    expect(readFileSync(new URL('../sql/003_operations_reads.sql', import.meta.url), 'utf8')).toBe(OPERATIONS_READS_SQL);
    expect(MIGRATIONS[2]).toEqual({ version: 3, name: '003_operations_reads', sql: OPERATIONS_READS_SQL });
  });

  it('ships sql/004_refund_requests.sql byte for byte as migration 4', () => {
    expect(readFileSync(new URL('../sql/004_refund_requests.sql', import.meta.url), 'utf8')).toBe(REFUND_REQUESTS_SQL);
    expect(MIGRATIONS[3]).toEqual({ version: 4, name: '004_refund_requests', sql: REFUND_REQUESTS_SQL });
  });

  it('ships every migration as sql/<name>.sql, and the latest version is the last one', () => {
    for (const migration of MIGRATIONS) {
      expect(readFileSync(new URL(`../sql/${migration.name}.sql`, import.meta.url), 'utf8'), migration.name).toBe(migration.sql);
    }
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('numbers migrations 1, 2, 3… with no gap', () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
  });
});

describe('the outbox notification channel', () => {
  it('is the schema name plus _outbox, and a hash of it when that would pass the 63-byte identifier limit', () => {
    expect(outboxChannel('refund_lifecycle')).toBe('refund_lifecycle_outbox');
    const long = 'a'.repeat(60);
    expect(outboxChannel(long)).toMatch(/^outbox_[0-9a-f]{16}$/);
    expect(outboxChannel(long)).toBe(outboxChannel(long));
    expect(outboxChannel(long)).not.toBe(outboxChannel('b'.repeat(60)));
  });
});

describe('migration 4 on a database at version 3', () => {
  const creditNoteId = 'cn_v3';
  const issued = parseEvent({
    eventId: 'evt_v3',
    streamId: `credit-note-${creditNoteId}`,
    streamVersion: 1,
    schemaVersion: CURRENT_SCHEMA_VERSION,
    type: 'CreditNoteIssued',
    data: { creditNoteId, amount: 5000, currency: 'EUR', payment: null, reason: 'order cancelled', origin: 'host' },
    occurredAt: '2030-01-01T00:00:00.000Z',
    actor: { kind: 'user', id: 'u_v3' },
    causationId: null,
    correlationId: 'corr_v3',
    source: 'command',
  })._unsafeUnwrap();
  const creditNote = (status: CreditNoteSummary['status'], version: number): CreditNoteSummary => ({
    creditNoteId,
    streamId: issued.streamId,
    status,
    paymentId: 'pi_v3',
    version,
    updatedAt: '2030-01-01T00:00:00.000Z',
    state: { status, context: { creditNoteId } } as unknown as CreditNoteSummary['state'],
  });
  const request: RefundRequestSummary = {
    requestId: 'rq_v4',
    streamId: 'refund-request-rq_v4',
    status: 'approved',
    paymentId: 'pi_v3',
    creditNoteId,
    reason: 'technical_issue',
    amount: 5000,
    approvedAmount: 5000,
    currency: 'eur',
    submittedAt: '2030-01-01T00:00:00.000Z',
    updatedAt: '2030-01-01T00:01:00.000Z',
    version: 2,
    state: { ...initialRefundRequestState, status: 'approved' },
  };

  it('applies migration 4 alone, keeps what version 3 held, and its append writes refund requests; before it, appends fail loudly; after it, the old append keeps ticket statuses current', async () => {
    const db = await openPglite('memory://');
    try {
      const schema = 'rl_at_v3';
      // The schema as migrate() of version 3 left it: migrations 1 to 3 applied and recorded.
      await db.transaction(async (tx) => {
        await tx.exec(`
          CREATE SCHEMA ${quoteIdentifier(schema)};
          SET LOCAL search_path TO ${quoteIdentifier(schema)};
          CREATE TABLE schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
          );
        `);
        for (const migration of MIGRATIONS.slice(0, 3)) {
          await tx.exec(migration.sql);
          await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
        }
      });
      const store = pgliteStore({ db, schema });
      // This release appends through append_events_v4: on a database not migrated yet it fails loudly, writing nothing,
      // rather than appending events whose request rows the old function would drop.
      await expect(store.append({ streams: [], refundRequests: [request] })).rejects.toThrow(/append_events_v4/);
      // The previous release, still running during the deploy, writes through version 2's append_events.
      /** A credit note's row as the previous release writes it, through version 2's append_events. */
      const appendAsPreviousRelease = (status: CreditNoteSummary['status'], version: number, heads: unknown[], events: unknown[]) =>
        db.query(`SELECT ${quoteIdentifier(schema)}.append_events($1::jsonb)`, [
          JSON.stringify({
            heads,
            events,
            outbox: [],
            complete: [],
            summaries: [{ credit_note_id: creditNoteId, stream_id: issued.streamId, status, payment_id: 'pi_v3', version, updated_at: '2030-01-01T00:00:00.000Z', state: { status, context: { creditNoteId } } }],
            links: [],
            wake: false,
            channel: 'unused',
          }),
        ]);
      await appendAsPreviousRelease(
        'requested',
        1,
        [{ stream_id: issued.streamId, expected_version: 0, next_version: 1 }],
        [{ ord: 0, event_id: issued.eventId, stream_id: issued.streamId, version: 1, schema_version: issued.schemaVersion, type: issued.type, data: issued.data, occurred_at: issued.occurredAt, actor: issued.actor, causation_id: null, correlation_id: issued.correlationId, source: issued.source }],
      );

      expect(await store.migrate()).toEqual([4]);
      expect(await store.migrate()).toEqual([]);

      expect((await store.readStream(issued.streamId)).version).toBe(1);
      expect(await store.listCreditNotes()).toEqual([creditNote('requested', 1)]);
      const appended = await store.append({ streams: [], refundRequests: [request] });
      expect(appended.isOk()).toBe(true);
      expect(await store.listRefundRequests()).toEqual([{ ...request, creditNoteStatus: 'requested', ticketStatus: 'processing' }]);
      // A process of the previous release, still running, records the refund's failure through append_events: the
      // request follows its credit note all the same (migration 4 made that function a call of append_events_v4).
      await appendAsPreviousRelease('failed', 2, [], []);
      expect(await store.listRefundRequests({ status: 'processing' })).toEqual([]);
      expect(await store.listRefundRequests({ status: 'failed' })).toEqual([{ ...request, creditNoteStatus: 'failed', ticketStatus: 'failed' }]);
      await appendAsPreviousRelease('requested', 3, [], []);
      // Still all or nothing: a stale version writes no request row.
      const refused = await store.append({
        streams: [{ streamId: issued.streamId, expectedVersion: 0, events: [issued] }],
        creditNotes: [creditNote('failed', 2)],
        refundRequests: [{ ...request, requestId: 'rq_refused' }],
      });
      expect(refused._unsafeUnwrapErr()).toBeInstanceOf(VersionConflictError);
      expect((await store.listRefundRequests()).map((row) => row.requestId)).toEqual(['rq_v4']);
      const { rows } = await db.query<{ version: number }>(
        `SELECT version FROM ${quoteIdentifier(schema)}.schema_migrations ORDER BY version`,
      );
      expect(rows.map((row) => row.version)).toEqual([1, 2, 3, 4]);
    } finally {
      await db.close();
    }
  });
});
