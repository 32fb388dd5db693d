-- refund-lifecycle schema, version 3: the operations reads (parked outbox entries, credit notes by age) and checkpoints.
-- Apply with search_path set to the target schema, as versions 1 and 2.
--
-- Both indexes are built in the migration's transaction: on large tables, appends wait for them (reads do not).

-- listOutbox({ dead: true }) pages parked entries oldest burial first; outboxCounts counts them. Only parked entries
-- are in it, so it stays as small as what waits for a person.
CREATE INDEX outbox_parked_idx ON outbox (dead_at, id) WHERE dead_at IS NOT NULL;

-- listCreditNotesByAge: one walk per status, least recently changed first. `updated_at` holds ISO 8601 instants in
-- UTC as `Date.prototype.toISOString` writes them, which sort bytewise in time order: hence COLLATE "C", whatever the
-- database's collation (queries compare and order with the same collation, or the index does not serve them).
CREATE INDEX credit_note_summaries_age_idx ON credit_note_summaries (status, updated_at COLLATE "C", credit_note_id);

-- Small named values kept for the host (e.g. how far a reconciliation got), replaced whole by each write.
CREATE TABLE checkpoints (
  name text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);
