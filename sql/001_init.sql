-- refund-lifecycle schema, version 1.
-- Table names are unqualified: apply with search_path set to the target schema, e.g.
--   CREATE SCHEMA IF NOT EXISTS refund_lifecycle; SET search_path TO refund_lifecycle;
-- (`migrate()` of refund-lifecycle/postgres and refund-lifecycle/pglite does exactly that and records the version).

-- Every event ever appended. `global_position` comes from a sequence, so positions are unique and increasing in
-- insertion order, but not in commit order: `transaction_id` (the writer's xid8) is what orders the global log.
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
