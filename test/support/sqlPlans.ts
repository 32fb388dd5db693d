import { expect } from 'vitest';
import { queriesFor } from '../../src/adapters/sql/queries.js';

/** Runs one statement inside a transaction where sequential scans are disabled, and rolls it back. */
export type PlanRunner = (sql: string, params: unknown[]) => Promise<string>;

/**
 * Holds the SQL store's hot lookups to the indexes built for them: with
 * `enable_seqscan` off the planner still picks a sequential scan when no index
 * fits, so naming the index in the plan proves one does.
 */
/** An index scan, index-only scan or bitmap index scan of that index. */
const usesIndex = (name: string) => new RegExp(`Index (Only )?Scan (using|on) ${name}\\b`);

export const expectIndexedPlans = async (schema: string, explain: PlanRunner): Promise<void> => {
  const q = queriesFor(schema);
  const now = '2030-01-01T00:00:00.000Z';

  const claim = await explain(q.claimOutbox(false), [now, now, 'worker', 10]);
  expect(claim).toMatch(usesIndex('outbox_claimable_idx'));

  const byStatus = q.listCreditNotes({ status: true, paymentId: false });
  expect(await explain(byStatus.sql, ['', 'requested', 100])).toMatch(usesIndex('credit_note_summaries_status_idx'));

  const byPayment = q.listCreditNotes({ status: false, paymentId: true });
  expect(await explain(byPayment.sql, ['', 'pi_1', 100])).toMatch(usesIndex('credit_note_summaries_payment_idx'));

  expect(await explain(q.findProcessorRefund, ['stripe', 're_1'])).toMatch(usesIndex('processor_refunds_pkey'));
  expect(await explain(q.hasEventsCausedBy, ['evt_1'])).toMatch(usesIndex('events_causation_id_idx'));
  expect(await explain(q.readAllAfter, ['0', 0, 100])).toMatch(usesIndex('events_commit_order_idx'));

  // Operations reads. Arrays go as PostgreSQL array literals, so a generic plan's EXECUTE can take them as text.
  // Parked entries: a range of outbox_parked_idx in its order (no Sort), from the cursor's (deadAt, id) position,
  // compared as (timestamptz, text) in the index condition itself, with no lookup of the entry it came from.
  const parked = await explain(q.listParkedOutbox({ byStream: false, after: false }), [10]);
  expect(parked).toMatch(usesIndex('outbox_parked_idx'));
  expect(parked).not.toMatch(/\bSort\b/);
  const parkedAfter = await explain(q.listParkedOutbox({ byStream: false, after: true }), [10, now, 'ob_1']);
  expect(parkedAfter).toMatch(usesIndex('outbox_parked_idx'));
  expect(parkedAfter).toMatch(/Index Cond: \(ROW\(dead_at, id\) > ROW\(/);
  expect(parkedAfter).not.toMatch(/\bFilter:/);
  expect(parkedAfter).not.toMatch(/\b(SubPlan|InitPlan)\b/);
  expect(parkedAfter).not.toMatch(usesIndex('outbox_pkey'));
  expect(parkedAfter).not.toMatch(/\bSort\b/);
  expect(parkedAfter.match(/\bScan\b/g)).toHaveLength(1);

  // Credit notes by age: per status, a walk of credit_note_summaries_age_idx from the cursor (to the bound), each
  // under its own Limit; the one Sort orders the merged pages, never the table's rows.
  for (const bounded of [false, true]) {
    const params: unknown[] = ['{requested,failed}', now, 'cn_1', 50];
    if (bounded) params.push(now);
    const byAge = await explain(q.listCreditNotesByAge(bounded), params);
    expect(byAge).toMatch(usesIndex('credit_note_summaries_age_idx'));
    expect(byAge).toMatch(/Index Cond: \(\(status = wanted\.status\) AND \(ROW\(\(updated_at\)::text, credit_note_id\) > ROW\(/);
    if (bounded) expect(byAge).toMatch(/AND \(\(updated_at\)::text < /);
    expect(byAge.match(/\bSort\s+\(/g)).toHaveLength(1);
    expect(byAge.match(/\bLimit\s+\(/g)).toHaveLength(2);
  }

  const counts = await explain(q.outboxCounts, [now]);
  expect(counts).toMatch(usesIndex('outbox_claimable_idx'));
  expect(counts).toMatch(usesIndex('outbox_parked_idx'));

  // A write by ids: the primary key, or the parked index holding the only rows it may change (the planner's pick).
  expect(await explain(q.requeueOutbox, ['{ob_1,ob_2}', now])).toMatch(usesIndex('(outbox_pkey|outbox_parked_idx)'));
  expect(await explain(q.readCheckpoint, ['sweep'])).toMatch(usesIndex('checkpoints_pkey'));

  // Refund requests: a walk of the ticket status's or the payment's index in (submitted_at, request_id) order from the
  // cursor (no Sort), each returned row's credit note by its primary key. A ticket status is a column kept current by
  // the append, so a derived one (failed) is a range of the index as a stored one (pending) is: the index condition
  // alone, with no Filter (on the ticket status, nor on a CASE over the credit note's status).
  for (const status of ['pending', 'failed']) {
    for (const after of [true, false]) {
      const params: unknown[] = after ? [100, status, now, 'rq_1'] : [100, status];
      const byTicketStatus = await explain(q.listRefundRequests({ status: true, paymentId: false, after }), params);
      const label = `${status}${after ? ' after a cursor' : ''}`;
      expect(byTicketStatus, label).toMatch(usesIndex('refund_requests_ticket_status_idx'));
      expect(byTicketStatus, label).toMatch(
        after
          ? /Index Cond: \(\(ticket_status = .*\) AND \(ROW\(submitted_at, request_id\) > ROW\(/
          : /Index Cond: \(ticket_status = [^)]*\)(\n|$)/,
      );
      expect(byTicketStatus, label).toMatch(usesIndex('credit_note_summaries_pkey'));
      expect(byTicketStatus, label).not.toMatch(/\bFilter:/);
      expect(byTicketStatus, label).not.toMatch(/\bCASE\b/);
      expect(byTicketStatus, label).not.toMatch(/\bSort\b/);
      expect(byTicketStatus.match(/\bScan\b/g), label).toHaveLength(2);
    }
  }
  const requestsByPayment = await explain(q.listRefundRequests({ status: false, paymentId: true, after: true }), [100, 'pi_1', now, 'rq_1']);
  expect(requestsByPayment).toMatch(usesIndex('refund_requests_payment_idx'));
  expect(requestsByPayment).toMatch(/Index Cond: \(\(payment_id = .*\) AND \(ROW\(submitted_at, request_id\) > ROW\(/);
  expect(requestsByPayment).toMatch(usesIndex('credit_note_summaries_pkey'));
  expect(requestsByPayment).not.toMatch(/\bSort\b/);
  // The report: a range of refund_requests_submitted_idx, grouped by the stored ticket status; no credit note read.
  const report = await explain(q.refundRequestReport, [now, now]);
  expect(report).toMatch(usesIndex('refund_requests_submitted_idx'));
  expect(report).toMatch(/Index Cond: \(\(submitted_at >= .*\) AND \(submitted_at < /);
  expect(report).not.toMatch(/credit_note_summaries/);
  expect(report.match(/\bScan\b/g)).toHaveLength(1);
};
