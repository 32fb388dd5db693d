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
};
