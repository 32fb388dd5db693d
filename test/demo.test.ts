import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, runDemoCli, type DemoResult } from '../src/cli/demo/demo.js';
import { pgliteStore, type PgliteEventStore } from '../src/adapters/pglite/index.js';

/*
 * `npm run demo` is the first thing a reader runs: it must keep telling the
 * four stories the README promises, with the counts the library guarantees.
 */
describe('npm run demo', () => {
  // One PGlite (≈ 2 s to open) for both runs: the second finds the first's data, as `npm run demo` does.
  let store: PgliteEventStore;
  let demo: DemoResult;
  beforeAll(async () => {
    store = pgliteStore({ dataDir: 'memory://' });
    await store.migrate();
    demo = await runDemo({ store, where: 'PGlite in memory://' });
  }, 30_000);
  afterAll(() => store?.close());

  const timeline = () => demo.lines.join('\n');

  it('ends each story in its final status', () => {
    expect(demo.creditNotes.map(({ creditNoteId, status }) => [creditNoteId, status])).toEqual([
      ['cn_lost', 'succeeded'],
      ['cn_retry', 'succeeded'],
      ['cn_wait', 'succeeded'],
      ['cn_sepa', 'manual'],
    ]);
  });

  it('creates one refund per attempt at the processor: 1, 2, 1 and none for the SEPA transfer', () => {
    expect(demo.creditNotes.map((creditNote) => creditNote.refundsCreated)).toEqual([1, 2, 1, 0]);
  });

  it('delivers each notification once: a completion per refund, the failure to the merchant, the manual confirmation', () => {
    expect(demo.creditNotes.map((creditNote) => creditNote.notificationsDelivered)).toEqual([1, 2, 1, 1]);
    expect(demo.creditNotes.map((creditNote) => creditNote.hooksRun)).toEqual([1, 2, 1, 1]);
  });

  it('passes every invariant check it prints, and says so', () => {
    expect(demo.checks.filter((check) => !check.passed)).toEqual([]);
    expect(demo.checks.map((check) => check.name)).toEqual(
      expect.arrayContaining(['no refund created twice', 'no email sent twice', 'every state explained by replaying its events']),
    );
    expect(demo.passed).toBe(true);
    expect(timeline()).toMatch(/Invariants: \d+\/\d+ checks passed/);
  });

  it('settles the credit note whose webhooks were lost through Refresh status', () => {
    expect(timeline()).toMatch(/cn_lost\s+RefundRequested\s+attempt 1, key cn_lost:refund:1/);
    expect(timeline()).toMatch(/✗ webhook \S+ refund\.updated \(re_fake_1 succeeded\) lost/);
    expect(timeline()).toMatch(/cn_lost\s+RefundSucceeded\s+attempt 1, re_fake_1 · via Refresh status/);
  });

  it('retries the refused refund under a new key and ignores the duplicate webhook', () => {
    const lines = timeline();
    expect(lines).toMatch(/cn_retry\s+RefundFailed\s+attempt 1, insufficient_funds/);
    expect(lines).toMatch(/✉ refund_failed → merchant/);
    expect(lines).toMatch(/cn_retry\s+RetryRequested\s+by \S+, stale failure cleared/);
    expect(lines).toMatch(/cn_retry\s+RefundRequested\s+attempt 2, key cn_retry:refund:2/);
    expect(lines).toMatch(/cn_retry\s+RefundSucceeded\s+attempt 2, \S+ · via webhook/);
    expect(lines).toMatch(/delivered again \(at least once\)\n\s+already known: nothing appended, nothing sent/);
    expect(lines.match(/cn_retry\s+RefundSucceeded/g)).toHaveLength(1);
  });

  it('keeps the unconfirmed charge pending until the confirmation releases it', () => {
    const lines = timeline();
    const deferred = lines.search(/cn_wait\s+RefundDeferred\s+charge not confirmed/);
    const requested = lines.search(/cn_wait\s+RefundRequested\s+attempt 1, key cn_wait:refund:1 · via webhook/);
    expect(deferred).toBeGreaterThan(-1);
    expect(requested).toBeGreaterThan(deferred);
    expect(lines).toMatch(/released by the confirmation: cn_wait/);
  });

  it('records the SEPA transfer with its bank reference and tells the client once', () => {
    const lines = timeline();
    expect(lines).toMatch(/cn_sepa\s+MarkedRefundedManually\s+bank transfer, ref SEPA-2026-03-0042/);
    expect(lines).toMatch(/✉ manual_refund_recorded → client/);
  });

  it('tells the refund requests: one approved and refunded, one rejected with a note, a subscription refunded and cancelled', () => {
    expect(demo.requests.map(({ requestId, status, creditNoteId, refundsCreated, noticesDelivered, cancellations }) => [requestId, status, creditNoteId, refundsCreated, noticesDelivered, cancellations])).toEqual([
      ['rr_course', 'succeeded', 'rr-rr_course', 1, 2, 0],
      ['rr_desk', 'rejected', null, 0, 2, 0],
      ['rr_sub', 'succeeded', 'rr-rr_sub', 1, 2, 1],
    ]);
    const lines = timeline();
    // The approval and the credit note's issue are one append: both lines carry the same instant, the issue first.
    expect(lines).toMatch(/rr-rr_course\s+CreditNoteIssued\s+49\.00 EUR on pi_course[\s\S]*rr_course\s+RefundRequestApproved\s+refund only, credit note rr-rr_course, by merchant_ada/);
    expect(lines).toMatch(/✉ refund_request_received → merchant/);
    expect(lines).toMatch(/rr_desk\s+RefundRequestRejected\s+by merchant_ada: "The desk was used for the whole month; we cannot refund it\."\n\s+✉ refund_request_rejected → client/);
    expect(lines).toMatch(/refused by the policy \(purchase_window: asked 20 days after purchase; requests are accepted for 14 days\): nothing appended, nothing sent/);
    expect(lines).toMatch(/rr_sub\s+RefundRequestApproved\s+refund and cancel, credit note rr-rr_sub[^\n]*\n\s+✉ refund_request_approved → client\n\s+⚙ hook cancelSubscription ran/);
    expect(lines.match(/⚙ hook cancelSubscription ran/g)).toHaveLength(1);
    expect(demo.checks.map((check) => check.name)).toEqual(expect.arrayContaining(['each request ended as scripted', 'no request notice or cancellation twice']));
  });

  it('says where its data lives and how many runs the store holds', () => {
    expect(demo.run).toBe(1);
    expect(demo.lines[1]).toBe('data: PGlite in memory:// · run 1, 0 earlier runs in the store');
  });

  it('tells the same stories again on a store that kept the first run, under its own ids', async () => {
    const second = await runDemo({ store, where: 'PGlite in memory://' });
    expect(second.run).toBe(2);
    expect(second.passed).toBe(true);
    expect(second.creditNotes.map(({ creditNoteId, status }) => [creditNoteId, status])).toEqual([
      ['cn_lost_2', 'succeeded'],
      ['cn_retry_2', 'succeeded'],
      ['cn_wait_2', 'succeeded'],
      ['cn_sepa_2', 'manual'],
    ]);
    expect(second.lines[1]).toBe('data: PGlite in memory:// · run 2, 1 earlier run in the store (ids end in _2)');
    // Apart from the ids (and the table's column widths they move), the timeline is the first one, line for line.
    const plain = (lines: string[]) =>
      lines.slice(2).map((line) =>
        line
          .replace(/\b(cn_lost|cn_retry|cn_wait|cn_sepa|pi_lost|pi_retry|pi_wait|rr_course|rr_desk|rr_sub|rr_late|pi_course|pi_desk|pi_sub|pi_late|sub_ola|fake|evt_\w+?)_2\b/g, '$1')
          .replace(/─+/g, '─')
          .replace(/\s+/g, ' '),
      );
    expect(plain(second.lines)).toEqual(plain(demo.lines));
  }, 30_000);

  it('runs from the command line on a database of its own, and --reset empties it', async () => {
    const first = await runDemoCli(['--dir', 'memory://', '--reset'], {});
    expect(first.run).toBe(1);
    expect(first.passed).toBe(true);
    expect(first.lines[1]).toBe('data: PGlite in memory:// (reset) · run 1, 0 earlier runs in the store');
  }, 30_000);
});
