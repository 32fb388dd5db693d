-- refund-lifecycle schema, version 4: the refund requests read model, and the append that writes it.
-- Apply with search_path set to the target schema, as versions 1 to 3: the function keeps that search_path.
--
-- The table is new, so its indexes cost nothing to build; the append function that writes it is created in the same
-- transaction, so no append ever runs with the one but without the other.

-- The refund requests page's read model, written in the same transaction as the request's events. It holds the
-- request's own status and its ticket status (`ticket_status`, as refundRequestStatusOf in
-- src/machine/refundRequestState.ts says): its own status unless approved; approved, as far as its credit note's row in
-- credit_note_summaries is: succeeded or manual (or no credit note: a cancel-only approval) is `succeeded`, failed is
-- `failed`, any other status `processing`, and so is a credit note whose row cannot be found (never reported as
-- refunded). append_events_v4 keeps it current in the transaction that changes either row, so each ticket status is a
-- range of refund_requests_ticket_status_idx. The credit note's own status is still read through the join
-- (credit_note_summaries_pkey), never copied.
-- `submitted_at` and `updated_at` hold ISO 8601 instants in UTC as `Date.prototype.toISOString` writes them, as
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
-- (`request->'requests'`) after the credit-note summaries, and keeping each request's ticket status current with its
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
    -- does not change is not rewritten. The ids as an array (`= ANY`) as well as a join: the planner takes the array
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
-- does all that version 2's body did (their documents carry no `requests`, so it writes no request row) and also moves
-- the ticket status of the requests whose credit notes they write, which version 2's body would leave behind.
CREATE OR REPLACE FUNCTION append_events(request jsonb) RETURNS bigint
LANGUAGE sql
SET search_path FROM CURRENT
AS $append$ SELECT append_events_v4(request) $append$;
