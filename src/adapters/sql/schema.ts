import { quoteIdentifier, type SqlClient } from './sqlClient.js';

/**
 * The schema's first version, byte for byte the file `sql/001_init.sql` shipped
 * in the package (a test keeps them equal), for hosts that run their own
 * migration tool. Table names are unqualified: apply it with `search_path` set
 * to the target schema.
 */
export const INIT_SQL = `-- refund-lifecycle schema, version 1.
-- Table names are unqualified: apply with search_path set to the target schema, e.g.
--   CREATE SCHEMA IF NOT EXISTS refund_lifecycle; SET search_path TO refund_lifecycle;
-- (\`migrate()\` of refund-lifecycle/postgres and refund-lifecycle/pglite does exactly that and records the version).

-- Every event ever appended. \`global_position\` comes from a sequence, so positions are unique and increasing in
-- insertion order, but not in commit order: \`transaction_id\` (the writer's xid8) is what orders the global log.
CREATE TABLE events (
  global_position bigserial PRIMARY KEY,
  transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  stream_id text COLLATE "C" NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  event_id text NOT NULL,
  type text NOT NULL,
  schema_version integer NOT NULL,
  data jsonb NOT NULL,
  -- Envelope timestamps are kept as the ISO strings written, so events read back exactly as appended.
  occurred_at text NOT NULL,
  actor jsonb NOT NULL,
  causation_id text,
  correlation_id text NOT NULL,
  source text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
);
-- The global log in commit order: readAll scans this index.
CREATE INDEX events_commit_order_idx ON events (transaction_id, global_position);
-- hasEventsCausedBy: one index lookup.
CREATE INDEX events_causation_id_idx ON events (causation_id) WHERE causation_id IS NOT NULL;

-- Each stream's head: the row an append locks to check and move its expected version.
CREATE TABLE streams (
  stream_id text COLLATE "C" PRIMARY KEY,
  version integer NOT NULL CHECK (version >= 1),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Side effects decided with the events, leased to dispatchers.
CREATE TABLE outbox (
  id text COLLATE "C" PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  stream_id text COLLATE "C" NOT NULL,
  kind text NOT NULL,
  idempotency_key text NOT NULL,
  payload jsonb NOT NULL,
  available_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  deliveries integer NOT NULL DEFAULT 0,
  claim_owner text,
  claim_token text,
  claim_lease_until timestamptz,
  completed_at timestamptz,
  dead_at timestamptz,
  last_error text
);
-- Only entries that may still be claimed, in the order they are handed out.
CREATE INDEX outbox_claimable_idx ON outbox (available_at, seq) WHERE completed_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_stream_idx ON outbox (stream_id, seq);

-- The Credit Notes page's read model, written in the same transaction as the events it summarises.
CREATE TABLE credit_note_summaries (
  credit_note_id text COLLATE "C" PRIMARY KEY,
  stream_id text COLLATE "C" NOT NULL,
  status text NOT NULL,
  payment_id text COLLATE "C",
  version integer NOT NULL,
  updated_at text NOT NULL,
  state jsonb NOT NULL
);
CREATE INDEX credit_note_summaries_status_idx ON credit_note_summaries (status, credit_note_id);
CREATE INDEX credit_note_summaries_payment_idx ON credit_note_summaries (payment_id, credit_note_id);

-- A processor's refund and the credit note attempt it was first recorded on; never moved once written.
CREATE TABLE processor_refunds (
  processor text NOT NULL,
  processor_refund_id text NOT NULL,
  credit_note_id text NOT NULL,
  attempt integer NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (processor, processor_refund_id)
);
`;

/**
 * Version 2, byte for byte `sql/002_append_function.sql`: the append as one
 * function, so it costs one round trip instead of one per table.
 */
export const APPEND_FUNCTION_SQL = `-- refund-lifecycle schema, version 2: an append in one statement.
-- Apply with search_path set to the target schema, as version 1: the function keeps that search_path.
--
-- append_events(request) writes one append of the EventStore port in the caller's transaction (a single call is
-- its own): stream heads checked and moved in stream id order (so multi-stream appends cannot deadlock), then the
-- events, the outbox entries (and their NOTIFY when asked), the completed claims, the summaries and the refund
-- links. One round trip instead of one per table. A refusal raises, which rolls everything back:
--   RL001 version_conflict  DETAIL {"streamId", "expected", "actual"}
--   RL002 duplicate_outbox_entry  DETAIL {"entryId"}
--   RL003 outbox_claim_lost  DETAIL {"entryId"}
-- Returns the global position of the last event written (the highest position when none was).
CREATE OR REPLACE FUNCTION append_events(request jsonb) RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $append$
DECLARE
  head record;
  moved integer;
  actual integer;
  last_position bigint;
  draft record;
  inserted text[];
  seen text[] := '{}';
  claim record;
BEGIN
  FOR head IN
    SELECT h.stream_id, h.expected_version, h.next_version
    FROM jsonb_to_recordset(request->'heads') AS h(stream_id text, expected_version integer, next_version integer)
    ORDER BY h.stream_id COLLATE "C"
  LOOP
    IF head.next_version = head.expected_version THEN
      SELECT version INTO actual FROM streams WHERE stream_id = head.stream_id;
      moved := CASE WHEN coalesce(actual, 0) = head.expected_version THEN 1 ELSE 0 END;
    ELSIF head.expected_version = 0 THEN
      INSERT INTO streams (stream_id, version) VALUES (head.stream_id, head.next_version) ON CONFLICT (stream_id) DO NOTHING;
      GET DIAGNOSTICS moved = ROW_COUNT;
    ELSE
      UPDATE streams SET version = head.next_version, updated_at = now()
      WHERE stream_id = head.stream_id AND version = head.expected_version;
      GET DIAGNOSTICS moved = ROW_COUNT;
    END IF;
    IF moved = 0 THEN
      SELECT version INTO actual FROM streams WHERE stream_id = head.stream_id;
      RAISE EXCEPTION 'version_conflict' USING ERRCODE = 'RL001',
        DETAIL = json_build_object('streamId', head.stream_id, 'expected', head.expected_version, 'actual', coalesce(actual, 0))::text;
    END IF;
  END LOOP;

  IF jsonb_array_length(request->'events') > 0 THEN
    WITH written AS (
      INSERT INTO events (stream_id, version, event_id, type, schema_version, data, occurred_at, actor, causation_id,
        correlation_id, source)
      SELECT r.stream_id, r.version, r.event_id, r.type, r.schema_version, r.data, r.occurred_at, r.actor,
        r.causation_id, r.correlation_id, r.source
      FROM jsonb_to_recordset(request->'events') AS r(ord integer, stream_id text, version integer, event_id text,
        type text, schema_version integer, data jsonb, occurred_at text, actor jsonb, causation_id text,
        correlation_id text, source text)
      ORDER BY r.ord
      RETURNING global_position
    )
    SELECT max(global_position) INTO last_position FROM written;
  ELSE
    SELECT max(global_position) INTO last_position FROM events;
  END IF;

  IF jsonb_array_length(request->'outbox') > 0 THEN
    WITH written AS (
      INSERT INTO outbox (id, stream_id, kind, idempotency_key, payload, available_at)
      SELECT r.id, r.stream_id, r.kind, r.idempotency_key, r.payload, r.available_at::timestamptz
      FROM jsonb_to_recordset(request->'outbox') AS r(ord integer, id text, stream_id text, kind text,
        idempotency_key text, payload jsonb, available_at text)
      ORDER BY r.ord
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    )
    SELECT coalesce(array_agg(id), '{}') INTO inserted FROM written;
    -- An id already stored, or twice in this append, inserted nothing the second time.
    FOR draft IN
      SELECT r.id FROM jsonb_to_recordset(request->'outbox') AS r(ord integer, id text) ORDER BY r.ord
    LOOP
      IF NOT (draft.id = ANY (inserted)) OR draft.id = ANY (seen) THEN
        RAISE EXCEPTION 'duplicate_outbox_entry' USING ERRCODE = 'RL002',
          DETAIL = json_build_object('entryId', draft.id)::text;
      END IF;
      seen := seen || draft.id;
    END LOOP;
    -- Delivered at commit, to every listener; never for an append that rolled back.
    IF cardinality(inserted) > 0 AND coalesce((request->>'wake')::boolean, true) THEN
      PERFORM pg_notify(request->>'channel', '');
    END IF;
  END IF;

  FOR claim IN
    SELECT c.entry_id, c.token FROM jsonb_to_recordset(request->'complete') AS c(entry_id text, token text)
  LOOP
    UPDATE outbox SET completed_at = now(), claim_owner = NULL, claim_token = NULL, claim_lease_until = NULL
    WHERE id = claim.entry_id AND claim_token = claim.token AND completed_at IS NULL;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved = 0 THEN
      RAISE EXCEPTION 'outbox_claim_lost' USING ERRCODE = 'RL003', DETAIL = json_build_object('entryId', claim.entry_id)::text;
    END IF;
  END LOOP;

  IF jsonb_array_length(request->'summaries') > 0 THEN
    INSERT INTO credit_note_summaries (credit_note_id, stream_id, status, payment_id, version, updated_at, state)
    SELECT r.credit_note_id, r.stream_id, r.status, r.payment_id, r.version, r.updated_at, r.state
    FROM jsonb_to_recordset(request->'summaries') AS r(credit_note_id text, stream_id text, status text,
      payment_id text, version integer, updated_at text, state jsonb)
    ON CONFLICT (credit_note_id) DO UPDATE SET stream_id = excluded.stream_id, status = excluded.status,
      payment_id = excluded.payment_id, version = excluded.version, updated_at = excluded.updated_at,
      state = excluded.state;
  END IF;

  -- The first link of a refund is kept.
  IF jsonb_array_length(request->'links') > 0 THEN
    INSERT INTO processor_refunds (processor, processor_refund_id, credit_note_id, attempt)
    SELECT r.processor, r.processor_refund_id, r.credit_note_id, r.attempt
    FROM jsonb_to_recordset(request->'links') AS r(processor text, processor_refund_id text, credit_note_id text,
      attempt integer)
    ON CONFLICT (processor, processor_refund_id) DO NOTHING;
  END IF;

  RETURN coalesce(last_position, 0);
END;
$append$;
`;

/**
 * Version 3, byte for byte `sql/003_operations_reads.sql`: the indexes behind
 * the operations reads (parked outbox entries, credit notes by age) and the
 * `checkpoints` table.
 */
export const OPERATIONS_READS_SQL = `-- refund-lifecycle schema, version 3: the operations reads (parked outbox entries, credit notes by age) and checkpoints.
-- Apply with search_path set to the target schema, as versions 1 and 2.
--
-- Both indexes are built in the migration's transaction: on large tables, appends wait for them (reads do not).

-- listOutbox({ dead: true }) pages parked entries oldest burial first; outboxCounts counts them. Only parked entries
-- are in it, so it stays as small as what waits for a person.
CREATE INDEX outbox_parked_idx ON outbox (dead_at, id) WHERE dead_at IS NOT NULL;

-- listCreditNotesByAge: one walk per status, least recently changed first. \`updated_at\` holds ISO 8601 instants in
-- UTC as \`Date.prototype.toISOString\` writes them, which sort bytewise in time order: hence COLLATE "C", whatever the
-- database's collation (queries compare and order with the same collation, or the index does not serve them).
CREATE INDEX credit_note_summaries_age_idx ON credit_note_summaries (status, updated_at COLLATE "C", credit_note_id);

-- Small named values kept for the host (e.g. how far a reconciliation got), replaced whole by each write.
CREATE TABLE checkpoints (
  name text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);
`;

/**
 * Version 4, byte for byte `sql/004_refund_requests.sql`: the `refund_requests`
 * read model with its indexes, and `append_events_v4`, which writes its rows
 * in the same statement as the events.
 */
export const REFUND_REQUESTS_SQL = `-- refund-lifecycle schema, version 4: the refund requests read model, and the append that writes it.
-- Apply with search_path set to the target schema, as versions 1 to 3: the function keeps that search_path.
--
-- The table is new, so its indexes cost nothing to build; the append function that writes it is created in the same
-- transaction, so no append ever runs with the one but without the other.

-- The refund requests page's read model, written in the same transaction as the request's events. It holds the
-- request's own status and its ticket status (\`ticket_status\`, as refundRequestStatusOf in
-- src/machine/refundRequestState.ts says): its own status unless approved; approved, as far as its credit note's row in
-- credit_note_summaries is: succeeded or manual (or no credit note: a cancel-only approval) is \`succeeded\`, failed is
-- \`failed\`, any other status \`processing\`, and so is a credit note whose row cannot be found (never reported as
-- refunded). append_events_v4 keeps it current in the transaction that changes either row, so each ticket status is a
-- range of refund_requests_ticket_status_idx. The credit note's own status is still read through the join
-- (credit_note_summaries_pkey), never copied.
-- \`submitted_at\` and \`updated_at\` hold ISO 8601 instants in UTC as \`Date.prototype.toISOString\` writes them, as
-- credit_note_summaries.updated_at does: they sort bytewise in time order. Every text column is COLLATE "C", so
-- comparisons and orderings are bytewise whatever the database's collation, and the indexes serve them as written.
CREATE TABLE refund_requests (
  request_id text COLLATE "C" PRIMARY KEY,
  stream_id text COLLATE "C" NOT NULL,
  status text COLLATE "C" NOT NULL,
  ticket_status text COLLATE "C" NOT NULL,
  payment_id text COLLATE "C" NOT NULL,
  credit_note_id text COLLATE "C",
  reason text COLLATE "C" NOT NULL,
  amount bigint NOT NULL,
  approved_amount bigint,
  currency text COLLATE "C" NOT NULL,
  submitted_at text COLLATE "C" NOT NULL,
  updated_at text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  state jsonb NOT NULL
);
-- listRefundRequests by ticket status, oldest submission first: one range per ticket status, stored or derived.
CREATE INDEX refund_requests_ticket_status_idx ON refund_requests (ticket_status, submitted_at, request_id);
-- listRefundRequests by payment.
CREATE INDEX refund_requests_payment_idx ON refund_requests (payment_id, submitted_at, request_id);
-- listRefundRequests without a filter, and refundRequestReport's period (a range of submitted_at).
CREATE INDEX refund_requests_submitted_idx ON refund_requests (submitted_at, request_id);
-- The requests of a credit note whose row an append writes: their ticket status follows it. Only approvals with a
-- refund name one.
CREATE INDEX refund_requests_credit_note_idx ON refund_requests (credit_note_id) WHERE credit_note_id IS NOT NULL;

-- append_events_v4(request): version 2's append_events, now also writing the refund requests' rows
-- (\`request->'requests'\`) after the credit-note summaries, and keeping each request's ticket status current with its
-- credit note's row. Same refusals (RL001 version_conflict, RL002 duplicate_outbox_entry, RL003 outbox_claim_lost); a
-- refusal raises, which rolls everything back, request rows and ticket statuses included.
-- A new name rather than a replacement: code that writes request rows fails loudly on a database not migrated to
-- version 4 (no such function) instead of appending events whose rows an older append_events would silently drop.
-- append_events stays, for processes of the previous release still running during a deploy, now a call of this one
-- (at the end of this file).
CREATE OR REPLACE FUNCTION append_events_v4(request jsonb) RETURNS bigint
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $append$
DECLARE
  head record;
  moved integer;
  actual integer;
  last_position bigint;
  draft record;
  inserted text[];
  seen text[] := '{}';
  claim record;
BEGIN
  FOR head IN
    SELECT h.stream_id, h.expected_version, h.next_version
    FROM jsonb_to_recordset(request->'heads') AS h(stream_id text, expected_version integer, next_version integer)
    ORDER BY h.stream_id COLLATE "C"
  LOOP
    IF head.next_version = head.expected_version THEN
      SELECT version INTO actual FROM streams WHERE stream_id = head.stream_id;
      moved := CASE WHEN coalesce(actual, 0) = head.expected_version THEN 1 ELSE 0 END;
    ELSIF head.expected_version = 0 THEN
      INSERT INTO streams (stream_id, version) VALUES (head.stream_id, head.next_version) ON CONFLICT (stream_id) DO NOTHING;
      GET DIAGNOSTICS moved = ROW_COUNT;
    ELSE
      UPDATE streams SET version = head.next_version, updated_at = now()
      WHERE stream_id = head.stream_id AND version = head.expected_version;
      GET DIAGNOSTICS moved = ROW_COUNT;
    END IF;
    IF moved = 0 THEN
      SELECT version INTO actual FROM streams WHERE stream_id = head.stream_id;
      RAISE EXCEPTION 'version_conflict' USING ERRCODE = 'RL001',
        DETAIL = json_build_object('streamId', head.stream_id, 'expected', head.expected_version, 'actual', coalesce(actual, 0))::text;
    END IF;
  END LOOP;

  IF jsonb_array_length(request->'events') > 0 THEN
    WITH written AS (
      INSERT INTO events (stream_id, version, event_id, type, schema_version, data, occurred_at, actor, causation_id,
        correlation_id, source)
      SELECT r.stream_id, r.version, r.event_id, r.type, r.schema_version, r.data, r.occurred_at, r.actor,
        r.causation_id, r.correlation_id, r.source
      FROM jsonb_to_recordset(request->'events') AS r(ord integer, stream_id text, version integer, event_id text,
        type text, schema_version integer, data jsonb, occurred_at text, actor jsonb, causation_id text,
        correlation_id text, source text)
      ORDER BY r.ord
      RETURNING global_position
    )
    SELECT max(global_position) INTO last_position FROM written;
  ELSE
    SELECT max(global_position) INTO last_position FROM events;
  END IF;

  IF jsonb_array_length(request->'outbox') > 0 THEN
    WITH written AS (
      INSERT INTO outbox (id, stream_id, kind, idempotency_key, payload, available_at)
      SELECT r.id, r.stream_id, r.kind, r.idempotency_key, r.payload, r.available_at::timestamptz
      FROM jsonb_to_recordset(request->'outbox') AS r(ord integer, id text, stream_id text, kind text,
        idempotency_key text, payload jsonb, available_at text)
      ORDER BY r.ord
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    )
    SELECT coalesce(array_agg(id), '{}') INTO inserted FROM written;
    -- An id already stored, or twice in this append, inserted nothing the second time.
    FOR draft IN
      SELECT r.id FROM jsonb_to_recordset(request->'outbox') AS r(ord integer, id text) ORDER BY r.ord
    LOOP
      IF NOT (draft.id = ANY (inserted)) OR draft.id = ANY (seen) THEN
        RAISE EXCEPTION 'duplicate_outbox_entry' USING ERRCODE = 'RL002',
          DETAIL = json_build_object('entryId', draft.id)::text;
      END IF;
      seen := seen || draft.id;
    END LOOP;
    -- Delivered at commit, to every listener; never for an append that rolled back.
    IF cardinality(inserted) > 0 AND coalesce((request->>'wake')::boolean, true) THEN
      PERFORM pg_notify(request->>'channel', '');
    END IF;
  END IF;

  FOR claim IN
    SELECT c.entry_id, c.token FROM jsonb_to_recordset(request->'complete') AS c(entry_id text, token text)
  LOOP
    UPDATE outbox SET completed_at = now(), claim_owner = NULL, claim_token = NULL, claim_lease_until = NULL
    WHERE id = claim.entry_id AND claim_token = claim.token AND completed_at IS NULL;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved = 0 THEN
      RAISE EXCEPTION 'outbox_claim_lost' USING ERRCODE = 'RL003', DETAIL = json_build_object('entryId', claim.entry_id)::text;
    END IF;
  END LOOP;

  IF jsonb_array_length(request->'summaries') > 0 THEN
    INSERT INTO credit_note_summaries (credit_note_id, stream_id, status, payment_id, version, updated_at, state)
    SELECT r.credit_note_id, r.stream_id, r.status, r.payment_id, r.version, r.updated_at, r.state
    FROM jsonb_to_recordset(request->'summaries') AS r(credit_note_id text, stream_id text, status text,
      payment_id text, version integer, updated_at text, state jsonb)
    ON CONFLICT (credit_note_id) DO UPDATE SET stream_id = excluded.stream_id, status = excluded.status,
      payment_id = excluded.payment_id, version = excluded.version, updated_at = excluded.updated_at,
      state = excluded.state;
    -- The approved requests of these credit notes take the ticket status their row now gives (the statuses written
    -- just above: one credit note per row, or the upsert would have refused). One probe of
    -- refund_requests_credit_note_idx per credit note, none for a credit note without a request; a ticket status that
    -- does not change is not rewritten. The ids as an array (\`= ANY\`) as well as a join: the planner takes the array
    -- for a handful of ids, where it takes jsonb_to_recordset for 100 rows and would scan a table of a few thousand
    -- requests rather than probe it 100 times. A statement of its own, after the upsert: under READ COMMITTED its
    -- snapshot is taken once the upsert has waited for any append holding these credit notes' rows (see the requests
    -- below).
    UPDATE refund_requests AS r
    SET ticket_status = t.ticket_status
    FROM (
      SELECT s.credit_note_id,
        CASE WHEN s.status IN ('succeeded', 'manual') THEN 'succeeded' WHEN s.status = 'failed' THEN 'failed'
          ELSE 'processing' END AS ticket_status
      FROM jsonb_to_recordset(request->'summaries') AS s(credit_note_id text, status text)
    ) AS t
    WHERE r.credit_note_id = ANY (ARRAY(
        SELECT s.credit_note_id FROM jsonb_to_recordset(request->'summaries') AS s(credit_note_id text)
      ))
      AND r.credit_note_id = t.credit_note_id AND r.status = 'approved' AND r.ticket_status <> t.ticket_status;
  END IF;

  -- The first link of a refund is kept.
  IF jsonb_array_length(request->'links') > 0 THEN
    INSERT INTO processor_refunds (processor, processor_refund_id, credit_note_id, attempt)
    SELECT r.processor, r.processor_refund_id, r.credit_note_id, r.attempt
    FROM jsonb_to_recordset(request->'links') AS r(processor text, processor_refund_id text, credit_note_id text,
      attempt integer)
    ON CONFLICT (processor, processor_refund_id) DO NOTHING;
  END IF;

  -- The refund requests' rows, created or replaced. A request named twice in one append is written once, its last
  -- row winning (an upsert may not touch a row twice in one statement). Its ticket status follows from its own status
  -- and its credit note's row as this append has left it (the summaries are written above), read through
  -- credit_note_summaries_pkey once per request (a LATERAL subquery with a locking clause is never flattened into a
  -- join the planner could turn into a scan of the table). The row is locked FOR SHARE, so an append changing that
  -- credit note at the same time either has committed (the lock waits for it and reads the row it left) or waits for
  -- this one to commit (and its UPDATE of the requests above, a later statement than its upsert, sees these rows).
  -- Without the lock, this upsert could read the credit note's previous status, wait for that append's UPDATE to
  -- release the request row, then overwrite the ticket status it set.
  IF jsonb_array_length(request->'requests') > 0 THEN
    INSERT INTO refund_requests (request_id, stream_id, status, ticket_status, payment_id, credit_note_id, reason,
      amount, approved_amount, currency, submitted_at, updated_at, version, state)
    SELECT w.request_id, w.stream_id, w.status,
      CASE
        WHEN w.status <> 'approved' THEN w.status
        WHEN w.credit_note_id IS NULL OR c.status IN ('succeeded', 'manual') THEN 'succeeded'
        WHEN c.status = 'failed' THEN 'failed'
        ELSE 'processing'
      END,
      w.payment_id, w.credit_note_id, w.reason, w.amount, w.approved_amount, w.currency, w.submitted_at, w.updated_at,
      w.version, w.state
    FROM (
      SELECT DISTINCT ON (r.request_id) r.request_id, r.stream_id, r.status, r.payment_id, r.credit_note_id, r.reason,
        r.amount, r.approved_amount, r.currency, r.submitted_at, r.updated_at, r.version, r.state
      FROM jsonb_to_recordset(request->'requests') AS r(ord integer, request_id text, stream_id text, status text,
        payment_id text, credit_note_id text, reason text, amount bigint, approved_amount bigint, currency text,
        submitted_at text, updated_at text, version integer, state jsonb)
      ORDER BY r.request_id, r.ord DESC
    ) AS w
    LEFT JOIN LATERAL (
      SELECT c.status FROM credit_note_summaries AS c WHERE c.credit_note_id = w.credit_note_id FOR SHARE
    ) AS c ON true
    ON CONFLICT (request_id) DO UPDATE SET stream_id = excluded.stream_id, status = excluded.status,
      ticket_status = excluded.ticket_status, payment_id = excluded.payment_id, credit_note_id = excluded.credit_note_id,
      reason = excluded.reason, amount = excluded.amount, approved_amount = excluded.approved_amount,
      currency = excluded.currency, submitted_at = excluded.submitted_at, updated_at = excluded.updated_at,
      version = excluded.version, state = excluded.state;
  END IF;

  RETURN coalesce(last_position, 0);
END;
$append$;

-- append_events(request), as processes of the previous release still call it during a deploy: append_events_v4, which
-- does all that version 2's body did (their documents carry no \`requests\`, so it writes no request row) and also moves
-- the ticket status of the requests whose credit notes they write, which version 2's body would leave behind.
CREATE OR REPLACE FUNCTION append_events(request jsonb) RETURNS bigint
LANGUAGE sql
SET search_path FROM CURRENT
AS $append$ SELECT append_events_v4(request) $append$;
`;

/** Every schema version in order; `migrate()` applies the ones a database has not recorded yet. */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  { version: 1, name: '001_init', sql: INIT_SQL },
  { version: 2, name: '002_append_function', sql: APPEND_FUNCTION_SQL },
  { version: 3, name: '003_operations_reads', sql: OPERATIONS_READS_SQL },
  { version: 4, name: '004_refund_requests', sql: REFUND_REQUESTS_SQL },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings `schema` to the latest version: creates it if needed and applies, in
 * one transaction, the migrations not yet recorded in its `schema_migrations`
 * table. Idempotent, and safe when several processes start at once (a
 * transaction-scoped advisory lock serialises them). Returns the versions it applied.
 */
export const migrate = async (client: SqlClient, schema: string): Promise<number[]> => {
  const quoted = quoteIdentifier(schema);
  return client.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`refund-lifecycle:migrate:${schema}`]);
    await tx.exec(`
      CREATE SCHEMA IF NOT EXISTS ${quoted};
      SET LOCAL search_path TO ${quoted};
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
    `);
    const { rows } = await tx.query<{ version: number }>(`SELECT version FROM schema_migrations`);
    const applied = new Set(rows.map((row) => Number(row.version)));
    const newlyApplied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.query(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      newlyApplied.push(migration.version);
    }
    return newlyApplied;
  });
};
