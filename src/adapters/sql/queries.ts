import { quoteIdentifier } from './sqlClient.js';

/** ISO 8601 in UTC with milliseconds, exactly as `Date.prototype.toISOString` writes it. */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const eventColumns = `global_position, stream_id, version, event_id, type, schema_version, data, occurred_at, actor,
  causation_id, correlation_id, source`;

const outboxColumns = (t = '') => `${t}id, ${t}seq, ${t}stream_id, ${t}kind, ${t}idempotency_key, ${t}payload,
  ${iso(`${t}available_at`)} AS available_at, ${iso(`${t}created_at`)} AS created_at, ${t}deliveries, ${t}claim_owner,
  ${t}claim_token, ${iso(`${t}claim_lease_until`)} AS claim_lease_until, ${iso(`${t}completed_at`)} AS completed_at,
  ${iso(`${t}dead_at`)} AS dead_at, ${t}last_error`;

const summaryColumns = 'credit_note_id, stream_id, status, payment_id, version, updated_at, state';

const requestColumns = `r.request_id, r.stream_id, r.status, r.payment_id, r.credit_note_id, r.reason, r.amount, r.approved_amount,
  r.currency, r.submitted_at, r.updated_at, r.version, r.state, r.ticket_status`;

/**
 * Every statement the SQL event store runs, for one schema. Each read is one
 * indexed lookup or range scan; the index each relies on is named beside it.
 */
export const queriesFor = (schema: string) => {
  const s = quoteIdentifier(schema);
  return {
    readStream: `SELECT ${eventColumns} FROM ${s}.events WHERE stream_id = $1 ORDER BY version`,

    streamVersion: `SELECT version FROM ${s}.streams WHERE stream_id = $1`,

    /** The whole append, in the schema's function (sql/004_refund_requests.sql); `$1` is its JSON document. */
    appendEvents: `SELECT ${s}.append_events_v4($1::jsonb) AS last`,

    /**
     * The global log in commit order, without gaps. Positions come from a
     * sequence, so a transaction that started first can commit last with
     * lower positions: a reader that checkpointed past later positions would
     * skip its events forever. So only events of transactions older than the
     * oldest one still running (`pg_snapshot_xmin`) are visible, all of them
     * settled, and they are ordered by (transaction id, position): no event
     * can later appear before the last one a reader saw. `$1`/`$2` is the
     * (transaction id, position) of the checkpoint event, `$3` the limit.
     * Index: events_commit_order_idx.
     */
    readAllAfter: `SELECT ${eventColumns} FROM ${s}.events
      WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        AND (transaction_id, global_position) > ($1::xid8, $2::bigint)
      ORDER BY transaction_id, global_position
      LIMIT $3`,
    /** A checkpoint position that names no stored event: everything committed after that position. */
    readAllAfterPosition: `SELECT ${eventColumns} FROM ${s}.events
      WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AND global_position > $1
      ORDER BY transaction_id, global_position
      LIMIT $2`,
    checkpointOf: `SELECT transaction_id::text AS transaction_id FROM ${s}.events WHERE global_position = $1`,

    /** Index: events_causation_id_idx. */
    hasEventsCausedBy: `SELECT EXISTS (SELECT 1 FROM ${s}.events WHERE causation_id = $1) AS found`,
    /** Index: processor_refunds_pkey. */
    findProcessorRefund: `SELECT processor, processor_refund_id, credit_note_id, attempt FROM ${s}.processor_refunds
      WHERE processor = $1 AND processor_refund_id = $2`,

    /**
     * Keyset pages through the index that matches the filter:
     * credit_note_summaries_status_idx, credit_note_summaries_payment_idx or the primary key.
     */
    listCreditNotes: (filter: { status: boolean; paymentId: boolean }) => {
      const conditions = ['credit_note_id > $1'];
      const params: string[] = [];
      if (filter.status) conditions.push(`status = $${conditions.length + 1}`), params.push('status');
      if (filter.paymentId) conditions.push(`payment_id = $${conditions.length + 1}`), params.push('paymentId');
      return {
        sql: `SELECT ${summaryColumns} FROM ${s}.credit_note_summaries WHERE ${conditions.join(' AND ')}
          ORDER BY credit_note_id LIMIT $${conditions.length + 1}`,
        params,
      };
    },

    /**
     * Leases due entries: the partial index outbox_claimable_idx holds only
     * entries neither completed nor dead, in hand-out order; SKIP LOCKED lets
     * concurrent dispatchers claim disjoint entries without waiting.
     * `$1` now, `$2` lease end, `$3` owner, `$4` limit, `$5` optional entry ids.
     */
    claimOutbox: (byIds: boolean) => `WITH due AS (
        SELECT id FROM ${s}.outbox
        WHERE completed_at IS NULL AND dead_at IS NULL AND available_at <= $1::timestamptz
          AND (claim_lease_until IS NULL OR claim_lease_until <= $1::timestamptz)
          ${byIds ? 'AND id = ANY($5::text[])' : ''}
        ORDER BY available_at, seq
        LIMIT $4
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${s}.outbox AS o
      SET deliveries = o.deliveries + 1, claim_owner = $3, claim_token = gen_random_uuid()::text,
        claim_lease_until = $2::timestamptz
      FROM due WHERE o.id = due.id
      RETURNING ${outboxColumns('o.')}`,

    /** Settles a held claim (`$3` the completion time; null: the transaction's). */
    completeOutbox: `UPDATE ${s}.outbox
      SET completed_at = COALESCE($3::timestamptz, now()), claim_owner = NULL, claim_token = NULL, claim_lease_until = NULL
      WHERE id = $1 AND claim_token = $2 AND completed_at IS NULL
      RETURNING id`,
    releaseOutbox: `UPDATE ${s}.outbox
      SET available_at = $3::timestamptz, last_error = $4, dead_at = CASE WHEN $5::boolean THEN $3::timestamptz END,
        claim_owner = NULL, claim_token = NULL, claim_lease_until = NULL
      WHERE id = $1 AND claim_token = $2 AND completed_at IS NULL
      RETURNING id`,

    /** `$1` the limit (null: all). */
    listOutbox: `SELECT ${outboxColumns()} FROM ${s}.outbox ORDER BY seq LIMIT $1`,
    /** Index: outbox_stream_idx. `$1` the stream, `$2` the limit (null: all). */
    listOutboxOfStream: `SELECT ${outboxColumns()} FROM ${s}.outbox WHERE stream_id = $1 ORDER BY seq LIMIT $2`,

    /**
     * Parked entries, oldest burial first, a page at a time. Index:
     * outbox_parked_idx (only parked entries, in this order), or outbox_stream_idx
     * for one stream's. `$1` the limit, then the stream (`byStream`), then the
     * cursor (`after`): the (deadAt, id) position the page starts after,
     * exclusive. The position is compared as it is, without looking up the
     * entry it came from (which may have been requeued since), so the page is
     * a range of the index from there. Its time is compared as a timestamptz,
     * as the column is: the ISO text the store renders reads back as the same instant.
     */
    listParkedOutbox: (filter: { byStream: boolean; after: boolean }) => {
      const conditions = ['dead_at IS NOT NULL'];
      if (filter.byStream) conditions.push('stream_id = $2');
      if (filter.after) {
        const [deadAt, id] = filter.byStream ? ['$3', '$4'] : ['$2', '$3'];
        conditions.push(`(dead_at, id) > (${deadAt}::timestamptz, ${id}::text)`);
      }
      // Ordered by the table's columns, qualified: a bare `dead_at` would name the ISO text of the select list.
      return `SELECT ${outboxColumns()} FROM ${s}.outbox WHERE ${conditions.join(' AND ')}
        ORDER BY outbox.dead_at, outbox.id LIMIT $1`;
    },

    /**
     * Gives parked entries back to the dispatchers in one statement (hence
     * atomically): available at `$2`, deliveries counted afresh, the last
     * error kept. Entries that are not parked are not touched. Index: outbox_pkey.
     */
    requeueOutbox: `WITH requeued AS (
        UPDATE ${s}.outbox
        SET dead_at = NULL, available_at = $2::timestamptz, deliveries = 0, claim_owner = NULL, claim_token = NULL,
          claim_lease_until = NULL
        WHERE id = ANY($1::text[]) AND dead_at IS NOT NULL AND completed_at IS NULL
        RETURNING 1
      )
      SELECT count(*) AS requeued FROM requeued`,

    /**
     * Due entries (what claimOutbox would hand out at `$1`, through
     * outbox_claimable_idx), the earliest of their availableAt, and the parked
     * ones (outbox_parked_idx).
     */
    outboxCounts: `SELECT due.due, ${iso('due.oldest')} AS oldest_due_at,
        (SELECT count(*) FROM ${s}.outbox WHERE dead_at IS NOT NULL) AS parked
      FROM (
        SELECT count(*) AS due, min(available_at) AS oldest FROM ${s}.outbox
        WHERE completed_at IS NULL AND dead_at IS NULL AND available_at <= $1::timestamptz
          AND (claim_lease_until IS NULL OR claim_lease_until <= $1::timestamptz)
      ) AS due`,

    /**
     * Credit notes of some statuses, least recently changed first: one walk of
     * credit_note_summaries_age_idx per status, each stopping after a page, then
     * merged, so the cost follows the page, never the table. `updated_at` is
     * compared and ordered bytewise (COLLATE "C", as the index is): ISO 8601
     * in UTC sorts in time order. `$1` the statuses (distinct), `$2`/`$3` the
     * cursor (updatedAt, creditNoteId; '' for none), `$4` the limit, `$5`
     * the exclusive upper bound of updated_at (`bounded`).
     */
    listCreditNotesByAge: (bounded: boolean) => `SELECT page.* FROM unnest($1::text[]) AS wanted (status)
      CROSS JOIN LATERAL (
        SELECT ${summaryColumns} FROM ${s}.credit_note_summaries AS c
        WHERE c.status = wanted.status
          AND (c.updated_at COLLATE "C", c.credit_note_id) > ($2::text COLLATE "C", $3::text)
          ${bounded ? 'AND c.updated_at COLLATE "C" < $5::text COLLATE "C"' : ''}
        ORDER BY c.updated_at COLLATE "C", c.credit_note_id
        LIMIT $4
      ) AS page
      ORDER BY page.updated_at COLLATE "C", page.credit_note_id
      LIMIT $4`,

    /**
     * Refund requests with their ticket status (a column append_events_v4
     * keeps current with the credit note's row) and their credit note's
     * status, oldest submission first (ties by request id), a keyset page at
     * a time. Index: refund_requests_ticket_status_idx for a ticket status,
     * stored (pending, rejected, withdrawn) or derived (processing, succeeded,
     * failed) alike, refund_requests_payment_idx by payment (a ticket status
     * then filters), refund_requests_submitted_idx without either; the credit
     * note by credit_note_summaries_pkey, once per row returned. The cursor
     * (submittedAt, requestId) is a position, exclusive, compared bytewise as
     * the columns' "C" collation and the indexes are. `$1` the limit, then
     * the ticket status, the payment and the cursor's two parts, each when
     * asked for.
     */
    listRefundRequests: (filter: { status: boolean; paymentId: boolean; after: boolean }) => {
      const conditions: string[] = [];
      let next = 2;
      if (filter.status) conditions.push(`r.ticket_status = $${next++}`);
      if (filter.paymentId) conditions.push(`r.payment_id = $${next++}`);
      if (filter.after) conditions.push(`(r.submitted_at, r.request_id) > ($${next++}::text, $${next++}::text)`);
      return `SELECT ${requestColumns}, c.status AS credit_note_status
        FROM ${s}.refund_requests AS r
        LEFT JOIN ${s}.credit_note_summaries AS c ON c.credit_note_id = r.credit_note_id
        ${conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`}
        ORDER BY r.submitted_at, r.request_id
        LIMIT $1`;
    },

    /**
     * Requests submitted in [`$1`, `$2`) (ISO 8601 text, compared bytewise),
     * by reason, ticket status (the stored column) and currency. Index: a
     * range of refund_requests_submitted_idx, nothing else. Sums of bigint
     * are numeric: the store reads them as numbers.
     */
    refundRequestReport: `SELECT reason, ticket_status, currency, count(*) AS count, sum(amount) AS requested_amount,
        coalesce(sum(approved_amount), 0) AS approved_amount
      FROM ${s}.refund_requests
      WHERE submitted_at >= $1::text AND submitted_at < $2::text
      GROUP BY reason, ticket_status, currency
      ORDER BY reason, ticket_status, currency`,

    /** Index: checkpoints_pkey. */
    readCheckpoint: `SELECT name, value, ${iso('updated_at')} AS updated_at FROM ${s}.checkpoints WHERE name = $1`,
    /** Creates or replaces a checkpoint; `$2` its value as JSON text. */
    writeCheckpoint: `INSERT INTO ${s}.checkpoints (name, value, updated_at) VALUES ($1, $2::jsonb, $3::timestamptz)
      ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,

    /** Empties every table (tests). */
    truncateAll: `TRUNCATE ${s}.events, ${s}.streams, ${s}.outbox, ${s}.credit_note_summaries, ${s}.processor_refunds,
      ${s}.checkpoints, ${s}.refund_requests RESTART IDENTITY`,
  };
};

export type Queries = ReturnType<typeof queriesFor>;
