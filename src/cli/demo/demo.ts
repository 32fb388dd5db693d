/*
 * `npm run demo`: four credit notes and three customer refund requests told as a timeline, on the PGlite store
 * (embedded PostgreSQL, kept in `.refund-lifecycle-demo/` between runs) with
 * the fake processor, a recording notifier and a manual clock.
 * `npm run demo -- --reset` (or `DEMO_RESET=1`) empties the store first;
 * `--dir <path>` (or `DEMO_DIR`) keeps it elsewhere, `--dir memory://` in memory.
 *
 * Each run tells the same stories under its own ids: run 1 uses `cn_lost`,
 * run 2 `cn_lost_2`, and so on (the run number is counted from the credit
 * notes earlier runs left in the store), so a run never collides with what
 * an earlier one recorded, and its checks look at its own streams only.
 *
 * What is printed is read back from what happened: events from the store's
 * global log, refunds from the fake processor, emails from the notifier and
 * hook calls from the hooks. The script only decides what the "world" does
 * (a merchant clicks, a webhook is lost or delivered twice); the lines
 * marked ▸ ⇢ ✗ say so. The closing checks are computed, and a failing one
 * sets a non-zero exit code.
 */
import { isDeepStrictEqual } from 'node:util';
import { resolve } from 'node:path';
import type { ResultAsync } from 'neverthrow';
import {
  createRefundLifecycle,
  replayCreditNote,
  type CancelSubscriptionCall,
  type CreditNoteStatus,
  type EventStore,
  type RefundRequestStatus,
  type HookCall,
  type OutboxEntry,
  type RefundHooks,
} from '../../index.js';
import { openPglite, pgliteStore } from '../../adapters/pglite/index.js';
import { quoteIdentifier } from '../../adapters/sql/sqlClient.js';
import {
  fakeGateway,
  manualClock,
  recordingNotifier,
  type FakeRefundNotice,
} from '../../testing/index.js';
import { money } from '../../logs/narrate.js';
import { isRefundRequestEvent } from '../../events/envelope.js';
import { foldRefundRequest } from '../../machine/refundRequestMachine.js';
import type { RefundRequestEvent } from '../../events/refundRequestEvents.js';
import { refundRequestStatusOf } from '../../machine/refundRequestState.js';
import { table } from '../output.js';
import { actionLine, clockTime, effectLine, eventLine, heading, sideEffectText } from './timeline.js';

export type DemoCreditNote = {
  creditNoteId: string;
  story: string;
  expectedStatus: CreditNoteStatus;
  status: CreditNoteStatus;
  refundsCreated: number;
  notificationsDelivered: number;
  hooksRun: number;
};

export type DemoRequest = {
  requestId: string;
  story: string;
  expectedStatus: RefundRequestStatus;
  status: RefundRequestStatus;
  creditNoteId: string | null;
  refundsCreated: number;
  /** Notices about the request (received, approved, rejected), to merchant and client. */
  noticesDelivered: number;
  cancellations: number;
};

export type DemoCheck = { name: string; passed: boolean; detail: string };

export type DemoResult = {
  /** This run's number in its store (1 on a fresh store); ids carry `_<run>` from run 2 on. */
  run: number;
  lines: string[];
  creditNotes: DemoCreditNote[];
  requests: DemoRequest[];
  checks: DemoCheck[];
  passed: boolean;
};

const minutes = (count: number) => count * 60_000;

/** The demo aborts on an error it did not script: it would mean the library broke its own promise. */
const must = async <T, E>(result: ResultAsync<T, E>): Promise<T> => {
  const settled = await result;
  if (settled.isErr()) throw settled.error;
  return settled.value;
};

const unique = (values: readonly string[]) => new Set(values).size === values.length;

/** The outbox id names the stream version whose event decided the side effect (`<stream>#<version>:<key>`). */
const decidedAt = (entry: OutboxEntry): string | null => /^(.+?)#(\d+):/.exec(entry.id)?.slice(1, 3).join('#') ?? null;

/** Where `npm run demo` keeps its PGlite database unless told otherwise (git-ignored). */
export const DEFAULT_DEMO_DIR = '.refund-lifecycle-demo';

const STORY_IDS = ['cn_lost', 'cn_retry', 'cn_wait', 'cn_sepa'] as const;

/** Earlier runs in a store: how many `cn_lost` (run 1) or `cn_lost_<n>` credit notes it already holds. */
export const countDemoRuns = async (store: Pick<EventStore, 'listCreditNotes'>): Promise<number> => {
  let runs = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.listCreditNotes({ limit: 500, ...(after === undefined ? {} : { after }) });
    runs += page.filter((row) => /^cn_lost(_\d+)?$/.test(row.creditNoteId)).length;
    if (page.length < 500) return runs;
    after = page[page.length - 1]!.creditNoteId;
  }
};

export type DemoOptions = {
  /** The store to run on (already migrated); the caller closes it. Default: PGlite in `where`. */
  store?: EventStore;
  /** Says where the data lives, in the first line. */
  where?: string;
};

export const runDemo = async (options: DemoOptions = {}): Promise<DemoResult> => {
  let store: EventStore;
  let closeStore = async () => {};
  let where = options.where ?? 'the given store';
  if (options.store !== undefined) {
    store = options.store;
  } else {
    const own = pgliteStore({ dataDir: 'memory://' });
    await own.migrate();
    store = own;
    closeStore = () => own.close();
    where = options.where ?? 'PGlite in memory';
  }
  try {
    return await tellStories(store, where);
  } finally {
    await closeStore();
  }
};

const tellStories = async (store: EventStore, where: string): Promise<DemoResult> => {
  const run = (await countDemoRuns(store)) + 1;
  // Run 1 keeps the plain ids; later runs suffix every id the store keeps unique (credit notes, payments,
  // causation ids, the processor's refund ids through the processor name, which keys the refund links).
  const suffix = run === 1 ? '' : `_${run}`;
  const id = (base: string) => `${base}${suffix}`;
  const [cnLost, cnRetry, cnWait, cnSepa] = STORY_IDS.map(id) as [string, string, string, string];
  const gateway = fakeGateway({ processor: id('fake') });
  const notifier = recordingNotifier();
  const clock = manualClock('2026-03-02T09:00:00.000Z');
  let lastId = 0;
  // Counter ids instead of UUIDs keep the output identical from run to run.
  const generateId = () => `id${suffix}_${String((lastId += 1)).padStart(4, '0')}`;
  const hookCalls: HookCall[] = [];
  const cancelCalls: CancelSubscriptionCall[] = [];
  const hooks: RefundHooks = {
    refundSucceeded: (call) => void hookCalls.push(call),
    refundFailed: (call) => void hookCalls.push(call),
    refundedManually: (call) => void hookCalls.push(call),
    cancelSubscription: (call) => void cancelCalls.push(call),
  };
  const refunds = createRefundLifecycle({
    store,
    gateway,
    notifier,
    hooks,
    clock,
    generateId,
    // The studio's published policy: 14 days to ask, consumed sessions are not refunded on request.
    refundRequests: { policy: { windowDays: 14, excludedKinds: ['consumed_session'] } },
  });
  const merchant = { kind: 'user' as const, id: 'merchant_ada' };

  const lines: string[] = [];
  const now = () => clock.now().toISOString();
  const act = (text: string, marker?: string) => lines.push(actionLine(now(), text, marker));
  const note = (text: string) => lines.push(effectLine(text));

  // What earlier runs left in the store is not this run's story: start printing after it.
  const before = await store.readAll();
  const startPosition = before.at(-1)?.globalPosition ?? 0;
  let printedPosition = startPosition;
  const printedOutbox = new Set<string>((await store.listOutbox()).map((entry) => entry.id));

  /** Prints what the global log gained since the last call, each event followed by the side effects it decided. */
  const record = async (): Promise<number> => {
    const events = await store.readAll({ after: printedPosition });
    const performed = (await store.listOutbox()).filter((entry) => entry.completedAt !== null && !printedOutbox.has(entry.id));
    const processorRefunds = gateway.refunds();
    const delivered = [...notifier.delivered(), ...notifier.deliveredRequestNotices()];
    const describe = (entry: OutboxEntry) => {
      printedOutbox.add(entry.id);
      const { creditNoteId, attempt } = entry.payload;
      return effectLine(
        sideEffectText(entry, {
          refund: processorRefunds.find(
            (refund) => refund.metadata.creditNoteId === creditNoteId && refund.metadata.attempt === attempt,
          ),
          delivered: delivered.find((notification) => notification.idempotencyKey === entry.idempotencyKey),
          hookRan: [...hookCalls, ...cancelCalls].some((call) => call.idempotencyKey === entry.idempotencyKey),
        }),
      );
    };
    for (const event of events) {
      lines.push(eventLine(event));
      printedPosition = event.globalPosition;
      const here = `${event.streamId}#${event.streamVersion}`;
      for (const entry of performed.filter((candidate) => decidedAt(candidate) === here)) lines.push(describe(entry));
    }
    // Side effects decided earlier and performed only now (a backoff, a worker tick).
    for (const entry of performed.filter((candidate) => !printedOutbox.has(candidate.id))) lines.push(describe(entry));
    return events.length;
  };

  const drop = (notices: FakeRefundNotice[], why: string) => {
    for (const notice of notices) {
      act(`webhook ${notice.noticeId} ${notice.type} (${notice.refund.processorRefundId} ${notice.refund.status}) lost: ${why}`, '✗');
    }
  };

  const deliver = async (notice: FakeRefundNotice, label = '') => {
    act(`webhook ${notice.noticeId} ${notice.type} (${notice.refund.processorRefundId} ${notice.refund.status})${label}`, '⇢');
    const observed = await must(
      refunds.observeRefund({ refund: notice.refund, source: 'webhook', causationId: id(notice.noticeId) }),
    );
    const appended = await record();
    if (!observed.changed && appended === 0) note('  already known: nothing appended, nothing sent');
  };

  const processorRefundIdOf = async (creditNoteId: string): Promise<string> => {
    const id = (await must(refunds.getCreditNote(creditNoteId))).refund?.processorRefundId;
    if (!id) throw new Error(`${creditNoteId} has no refund at the processor`);
    return id;
  };

  const stories: Array<Pick<DemoCreditNote, 'creditNoteId' | 'story' | 'expectedStatus'>> = [
    { creditNoteId: cnLost, story: 'webhook lost, Refresh status', expectedStatus: 'succeeded' },
    { creditNoteId: cnRetry, story: 'failed, retried, duplicate webhook', expectedStatus: 'succeeded' },
    { creditNoteId: cnWait, story: 'charge unconfirmed (gate)', expectedStatus: 'succeeded' },
    { creditNoteId: cnSepa, story: 'refunded by SEPA transfer', expectedStatus: 'manual' },
  ];

  lines.push(`refund-lifecycle demo · ${now().slice(0, 10)} (UTC) · PostgreSQL store (PGlite), fake processor`);
  lines.push(
    `data: ${where} · run ${run}, ${run - 1} earlier run${run === 2 ? '' : 's'} in the store${run === 1 ? '' : ` (ids end in ${suffix})`}`,
  );
  lines.push('▸ what the script does   ⇢ ✗ webhooks delivered / lost   → ✉ ⚙ side effects performed');

  // a) The processor settles the refund, but neither webhook reaches the host: Refresh status pulls the answer.
  lines.push(heading(`a) ${cnLost}: the webhook never lands, Refresh status settles it`));
  act(`merchant issues ${cnLost}, 120.00 EUR on ${id('pi_lost')} (charge already confirmed)`);
  await must(
    refunds.issueCreditNote({
      creditNoteId: cnLost,
      amount: 12_000,
      currency: 'EUR',
      payment: { paymentId: id('pi_lost'), account: 'acct_studio' },
      reason: 'Workshop cancelled',
      chargeConfirmed: true,
      actor: merchant,
    }),
  );
  await record();
  drop(gateway.takeNotices(), 'the endpoint answered 502');
  clock.advance(minutes(4));
  const lostRefundId = await processorRefundIdOf(cnLost);
  act(`the processor settles ${lostRefundId}`);
  gateway.setRefundStatus(lostRefundId, 'succeeded');
  drop(gateway.takeNotices(), 'the endpoint was down');
  clock.advance(minutes(180));
  const stuck = await must(refunds.getCreditNote(cnLost));
  act(`merchant sees ${cnLost} still "${stuck.status}" and clicks Refresh status`);
  await must(refunds.refreshStatus(cnLost, { actor: merchant }));
  await record();
  clock.advance(minutes(1));
  act('merchant clicks Refresh status again');
  const again = await must(refunds.refreshStatus(cnLost, { actor: merchant }));
  if ((await record()) === 0) note(`  changed: ${again.changed}, nothing appended, nothing sent`);

  // b) The processor refuses attempt 1; the merchant fixes the cause and retries; attempt 2's webhook arrives twice.
  clock.advance(minutes(30));
  lines.push(heading(`b) ${cnRetry}: refused, retried, settled by a webhook delivered twice`));
  gateway.queue({ kind: 'fail', reason: 'insufficient_funds' });
  act(`merchant issues ${cnRetry}, 80.00 EUR on ${id('pi_retry')} (the balance is too low)`);
  await must(
    refunds.issueCreditNote({
      creditNoteId: cnRetry,
      amount: 8_000,
      currency: 'EUR',
      payment: { paymentId: id('pi_retry') },
      reason: 'Duplicate booking',
      chargeConfirmed: true,
      actor: merchant,
    }),
  );
  await record();
  for (const notice of gateway.takeNotices()) await deliver(notice);
  clock.advance(minutes(45));
  const refused = await must(refunds.getCreditNote(cnRetry));
  act(
    `banner: "Refund failed: ${refused.failure?.processorReason}"; merchant tops up and clicks ${refused.allowedActions.includes('retry') ? 'Retry' : '(no Retry offered)'}`,
  );
  await must(refunds.retryRefund(cnRetry, { actor: merchant }));
  await record();
  for (const notice of gateway.takeNotices()) await deliver(notice);
  clock.advance(minutes(120));
  const retriedRefundId = await processorRefundIdOf(cnRetry);
  act(`the processor settles ${retriedRefundId}`);
  gateway.setRefundStatus(retriedRefundId, 'succeeded');
  for (const notice of gateway.takeNotices()) {
    await deliver(notice);
    clock.advance(minutes(1));
    await deliver(notice, ' delivered again (at least once)');
  }

  // c) Issued before the payment's confirmation arrived (docs/glossary.md#charge-confirmation-gate): pending, released by the confirmation alone.
  clock.advance(minutes(30));
  lines.push(heading(`c) ${cnWait}: charge not confirmed yet, released by the confirmation`));
  act(`merchant issues ${cnWait}, 45.50 EUR on ${id('pi_wait')} (payment_intent.succeeded not seen yet)`);
  await must(
    refunds.issueCreditNote({
      creditNoteId: cnWait,
      amount: 4_550,
      currency: 'EUR',
      payment: { paymentId: id('pi_wait') },
      reason: 'Session moved online',
      actor: merchant,
    }),
  );
  await record();
  const waiting = await must(refunds.getCreditNote(cnWait));
  note(`  ${cnWait} is ${waiting.status} (${waiting.pendingReason}); refunds at processor: ${gateway.refunds().filter((r) => r.metadata.creditNoteId === cnWait).length}`);
  clock.advance(minutes(2));
  act(`webhook payment_intent.succeeded for ${id('pi_wait')} arrives: host calls confirmCharge`);
  const confirmation = await must(
    refunds.confirmCharge({ paymentId: id('pi_wait'), source: 'webhook', causationId: id('evt_pi_wait_succeeded') }),
  );
  await record();
  note(`  released by the confirmation: ${confirmation.released.join(', ') || 'none'}`);
  for (const notice of gateway.takeNotices()) await deliver(notice);
  clock.advance(minutes(90));
  const waitRefundId = await processorRefundIdOf(cnWait);
  act(`the processor settles ${waitRefundId}`);
  gateway.setRefundStatus(waitRefundId, 'succeeded');
  for (const notice of gateway.takeNotices()) await deliver(notice);

  // d) The client paid by bank transfer: nothing to ask the processor, the merchant records the transfer.
  clock.advance(minutes(30));
  lines.push(heading(`d) ${cnSepa}: paid outside the processor, refunded by SEPA transfer`));
  act(`merchant issues ${cnSepa}, 300.00 EUR, paid by bank transfer`);
  const sepa = await must(
    refunds.issueCreditNote({
      creditNoteId: cnSepa,
      amount: 30_000,
      currency: 'EUR',
      payment: null,
      reason: 'Coworking desk returned',
      actor: merchant,
    }),
  );
  await record();
  note(`  ${cnSepa} is ${sepa.status}; allowed actions: ${sepa.allowedActions.join(', ') || 'none'}`);
  clock.advance(minutes(60));
  act('merchant sends the transfer and clicks Mark refunded');
  await must(
    refunds.markRefunded(cnSepa, {
      reason: 'Refunded by SEPA transfer from the studio account',
      reference: 'SEPA-2026-03-0042',
      method: 'bank_transfer',
      actor: merchant,
    }),
  );
  await record();

  // e) Customer refund requests (seed 004): one approved, one rejected with a note, a subscription refunded and cancelled.
  clock.advance(minutes(30));
  const customerOf = (customerId: string) => ({ kind: 'customer' as const, id: customerId });
  const [rrCourse, rrDesk, rrSub, rrLate] = ['rr_course', 'rr_desk', 'rr_sub', 'rr_late'].map(id) as [string, string, string, string];
  const daysAgo = (days: number) => new Date(clock.now().getTime() - days * 24 * 60 * 60_000).toISOString();
  const requestStories: Array<Pick<DemoRequest, 'requestId' | 'story' | 'expectedStatus'>> = [
    { requestId: rrCourse, story: 'approved, refunded', expectedStatus: 'succeeded' },
    { requestId: rrDesk, story: 'rejected with a note', expectedStatus: 'rejected' },
    { requestId: rrSub, story: 'subscription: refund + cancel', expectedStatus: 'succeeded' },
  ];
  const settleRequestRefund = async (requestId: string) => {
    const creditNoteId = (await must(refunds.getRefundRequest(requestId))).creditNoteId;
    if (creditNoteId === null) return;
    for (const notice of gateway.takeNotices()) await deliver(notice);
    clock.advance(minutes(60));
    const refundId = await processorRefundIdOf(creditNoteId);
    act(`the processor settles ${refundId}`);
    gateway.setRefundStatus(refundId, 'succeeded');
    for (const notice of gateway.takeNotices()) await deliver(notice);
  };

  // The processor knows these charges: the approvals' credit notes are held to what was charged.
  for (const [payment, amount] of [['pi_course', 4_900], ['pi_desk', 15_000], ['pi_sub', 2_900]] as const) {
    gateway.capture(id(payment), amount);
    gateway.setChargeConfirmed(id(payment), true);
  }
  lines.push(heading(`e) ${rrCourse}: a customer asks for a refund, the merchant approves`));
  act(`customer cus_lin asks for 49.00 EUR back on ${id('pi_course')}: "the course did not cover what was advertised"`);
  await must(
    refunds.requestRefund({
      requestId: rrCourse,
      payment: { paymentId: id('pi_course') },
      amount: 4_900,
      currency: 'EUR',
      reason: 'not_as_described',
      details: 'The course did not cover what was advertised.',
      customerId: 'cus_lin',
      purchasedAt: daysAgo(3),
      product: { productId: 'course_ts', kind: 'digital_course' },
      actor: customerOf('cus_lin'),
    }),
  );
  await record();
  clock.advance(minutes(40));
  const queue = await must(refunds.listRefundRequests({ status: 'pending' }));
  act(`merchant opens the review queue (${queue.length} pending) and approves ${rrCourse}; the credit note is issued in the same append`);
  const approvedCourse = await must(refunds.approveRequest(rrCourse, { actor: merchant, note: 'Sorry the syllabus misled you.' }));
  await record();
  note(`  ${rrCourse} is ${approvedCourse.status}; credit note ${approvedCourse.creditNoteId} is ${approvedCourse.creditNoteStatus}`);
  await settleRequestRefund(rrCourse);
  note(`  ${rrCourse} is now ${(await must(refunds.getRefundRequest(rrCourse))).status}: it follows its credit note`);

  clock.advance(minutes(30));
  lines.push(heading(`f) ${rrDesk}: rejected with a note to the customer`));
  act(`customer cus_max asks for 150.00 EUR back on ${id('pi_desk')}: "no longer needed"`);
  await must(
    refunds.requestRefund({
      requestId: rrDesk,
      payment: { paymentId: id('pi_desk') },
      amount: 15_000,
      currency: 'EUR',
      reason: 'no_longer_needed',
      details: null,
      customerId: 'cus_max',
      purchasedAt: daysAgo(9),
      product: { productId: 'desk_march', kind: 'coworking_pass' },
      actor: customerOf('cus_max'),
    }),
  );
  await record();
  clock.advance(minutes(25));
  act(`merchant rejects ${rrDesk} with a note`);
  await must(refunds.rejectRequest(rrDesk, { actor: merchant, note: 'The desk was used for the whole month; we cannot refund it.' }));
  await record();
  clock.advance(minutes(5));
  act(`customer cus_max asks again, 20 days after the purchase, on ${id('pi_late')}`);
  const late = await refunds.requestRefund({
    requestId: rrLate,
    payment: { paymentId: id('pi_late') },
    amount: 15_000,
    currency: 'EUR',
    reason: 'no_longer_needed',
    details: null,
    customerId: 'cus_max',
    purchasedAt: daysAgo(20),
    actor: customerOf('cus_max'),
  });
  note(
    late.isErr() && late.error.code === 'policy_refused'
      ? `  refused by the policy (${late.error.refusals.map((refusal) => `${refusal.rule}: ${refusal.message}`).join('; ')}): nothing appended, nothing sent`
      : `  unexpectedly ${late.isOk() ? 'accepted' : late.error.code}`,
  );
  if ((await record()) !== 0) note('  (the refusal appended events: a bug)');

  clock.advance(minutes(30));
  lines.push(heading(`g) ${rrSub}: a subscription's first month refunded and the subscription cancelled`));
  act(`customer cus_ola asks for 29.00 EUR back on ${id('pi_sub')}: "I didn't realise I'd be charged after the trial"`);
  await must(
    refunds.requestRefund({
      requestId: rrSub,
      payment: { paymentId: id('pi_sub') },
      amount: 2_900,
      currency: 'EUR',
      reason: 'unexpected_charge',
      details: "I didn't realise I'd be charged after the trial.",
      customerId: 'cus_ola',
      purchasedAt: daysAgo(2),
      product: { productId: 'membership_monthly', kind: 'membership' },
      subscriptionId: id('sub_ola'),
      actor: customerOf('cus_ola'),
    }),
  );
  await record();
  clock.advance(minutes(15));
  act(`merchant approves ${rrSub} with refund + cancel`);
  await must(refunds.approveRequest(rrSub, { actor: merchant, option: 'refund_and_cancel' }));
  await record();
  await settleRequestRefund(rrSub);

  // A background worker's tick: everything was performed inline, so it finds nothing left to do.
  clock.advance(minutes(5));
  lines.push(heading('worker'));
  const tick = await must(refunds.dispatch());
  act(`dispatch() → performed ${tick.performed}, retried ${tick.retried}, dead ${tick.dead}`);
  await record();

  // ── Summary, from the sources of truth ──
  const processorRefunds = gateway.refunds();
  const delivered = notifier.delivered();
  const creditNotes: DemoCreditNote[] = [];
  for (const story of stories) {
    const view = await must(refunds.getCreditNote(story.creditNoteId));
    creditNotes.push({
      ...story,
      status: view.status,
      refundsCreated: processorRefunds.filter((refund) => refund.metadata.creditNoteId === story.creditNoteId).length,
      notificationsDelivered: delivered.filter((n) => n.creditNote.creditNoteId === story.creditNoteId).length,
      hooksRun: hookCalls.filter((call) => call.creditNote.creditNoteId === story.creditNoteId).length,
    });
  }

  const checks: DemoCheck[] = [];
  const check = (name: string, passed: boolean, detail: string) => checks.push({ name, passed, detail });

  const mismatched = creditNotes.filter((row) => row.status !== row.expectedStatus);
  check(
    'each story ended as scripted',
    mismatched.length === 0,
    mismatched.map((row) => `${row.creditNoteId} is ${row.status}, expected ${row.expectedStatus}`).join('; ') ||
      creditNotes.map((row) => `${row.creditNoteId} ${row.status}`).join(', '),
  );
  const refundKeys = processorRefunds.map((refund) => `${refund.metadata.creditNoteId}:refund:${refund.metadata.attempt}`);
  check(
    'no refund created twice',
    unique(refundKeys),
    `${processorRefunds.length} refunds at the processor for ${new Set(refundKeys).size} attempts`,
  );
  const emailKeys = notifier.calls.map((call) => call.idempotencyKey);
  check('no email sent twice', unique(emailKeys), `${emailKeys.length} notifier calls, ${new Set(emailKeys).size} distinct keys`);
  const hookKeys = hookCalls.map((call) => call.idempotencyKey);
  check('no hook run twice', unique(hookKeys), `${hookKeys.length} hook calls, ${new Set(hookKeys).size} distinct keys`);

  const requests: DemoRequest[] = [];
  const requestNotices = notifier.deliveredRequestNotices();
  for (const story of requestStories) {
    const view = await must(refunds.getRefundRequest(story.requestId));
    requests.push({
      ...story,
      status: view.status,
      creditNoteId: view.creditNoteId,
      refundsCreated: processorRefunds.filter((refund) => view.creditNoteId !== null && refund.metadata.creditNoteId === view.creditNoteId).length,
      noticesDelivered: requestNotices.filter((notice) => notice.request.requestId === story.requestId).length,
      cancellations: cancelCalls.filter((call) => call.requestId === story.requestId).length,
    });
  }
  const offScript = requests.filter((row) => row.status !== row.expectedStatus);
  check(
    'each request ended as scripted',
    offScript.length === 0,
    offScript.map((row) => `${row.requestId} is ${row.status}, expected ${row.expectedStatus}`).join('; ') ||
      requests.map((row) => `${row.requestId} ${row.status}`).join(', '),
  );
  const noticeKeys = notifier.requestCalls.map((call) => call.idempotencyKey);
  const cancelKeys = cancelCalls.map((call) => call.idempotencyKey);
  check(
    'no request notice or cancellation twice',
    unique(noticeKeys) && unique(cancelKeys),
    `${noticeKeys.length} request notices, ${cancelCalls.length} cancellation${cancelCalls.length === 1 ? '' : 's'}, each key once`,
  );

  // This run's part of the global log. PostgreSQL hands positions out from a sequence, so a rolled-back
  // append may leave a hole between positions; an event lost from a stream would leave a hole in its versions.
  const log = await store.readAll({ after: startPosition });
  const increasing = log.every((event, index) => event.globalPosition > (log[index - 1]?.globalPosition ?? startPosition));
  const streams = new Map<string, number[]>();
  for (const event of log) streams.set(event.streamId, [...(streams.get(event.streamId) ?? []), event.streamVersion]);
  const versionsGapless = [...streams.values()].every((versions) => versions.every((version, index) => version === index + 1));
  const storedVersions = await Promise.all([...streams].map(async ([streamId, versions]) => (await store.readStream(streamId)).version === versions.length));
  check(
    'no event lost',
    increasing && versionsGapless && storedVersions.every(Boolean),
    `${log.length} events in the global log, ${streams.size} streams, versions without gaps, in commit order`,
  );

  const unexplained: string[] = [];
  for (const story of stories) {
    const history = await must(refunds.history(story.creditNoteId));
    const replayed = replayCreditNote(JSON.parse(JSON.stringify(history)) as unknown[]);
    const view = await must(refunds.getCreditNote(story.creditNoteId));
    const explained =
      replayed.isOk() &&
      replayed.value.state.status === view.status &&
      isDeepStrictEqual(replayed.value.state.context.refund, view.refund) &&
      isDeepStrictEqual(replayed.value.state.context.manual, view.manual) &&
      replayed.value.state.context.settledAt === view.settledAt;
    if (!explained) unexplained.push(story.creditNoteId);
  }
  for (const story of requestStories) {
    // A request's own decisions replay from its stream; its refund's outcome is its credit note's, replayed above.
    const history = await must(refunds.refundRequestHistory(story.requestId));
    const replayed = foldRefundRequest(history.filter(isRefundRequestEvent) as RefundRequestEvent[]);
    const view = await must(refunds.getRefundRequest(story.requestId));
    const creditNoteStatus = view.creditNoteId === null ? null : (await must(refunds.getCreditNote(view.creditNoteId))).status;
    const explained =
      replayed.rejected === null &&
      replayed.state.status !== 'unsubmitted' &&
      refundRequestStatusOf(replayed.state.status, creditNoteStatus) === view.status &&
      isDeepStrictEqual(replayed.state.context.decision, view.decision);
    if (!explained) unexplained.push(story.requestId);
  }
  check(
    'every state explained by replaying its events',
    unexplained.length === 0,
    unexplained.length === 0
      ? `replayCreditNote(history) = getCreditNote for ${stories.length} credit notes, the request machine's replay = getRefundRequest for ${requestStories.length} requests`
      : `differs for ${unexplained.join(', ')}`,
  );

  const outbox = (await store.listOutbox()).filter((entry) => streams.has(entry.streamId));
  const waitingEntries = outbox.filter((entry) => entry.completedAt === null);
  check(
    'outbox drained',
    waitingEntries.length === 0,
    `${outbox.length - waitingEntries.length} side effects performed, ${waitingEntries.length} waiting, ${outbox.filter((entry) => entry.deadAt !== null).length} dead`,
  );

  lines.push(heading('summary'));
  lines.push(
    ...table(
      ['credit note', 'story', 'final status', 'refunds at processor', 'notifications delivered', 'hooks run'],
      creditNotes.map((row) => [
        row.creditNoteId,
        row.story,
        row.status,
        String(row.refundsCreated),
        String(row.notificationsDelivered),
        String(row.hooksRun),
      ]),
    ),
  );
  lines.push('');
  lines.push(
    ...table(
      ['refund request', 'story', 'final status', 'credit note', 'refunds at processor', 'notices delivered', 'cancellations'],
      requests.map((row) => [
        row.requestId,
        row.story,
        row.status,
        row.creditNoteId ?? '—',
        String(row.refundsCreated),
        String(row.noticesDelivered),
        String(row.cancellations),
      ]),
    ),
  );
  lines.push('');
  for (const { name, passed, detail } of checks) lines.push(`${passed ? '✓' : '✗'} ${name}: ${detail}`);
  const passed = checks.every((entry) => entry.passed);
  const failedChecks = checks.filter((entry) => !entry.passed).length;
  lines.push(
    passed
      ? `Invariants: ${checks.length}/${checks.length} checks passed: no refund or email fired twice, no event lost, every state replayable.`
      : `Invariants: ${failedChecks} of ${checks.length} checks FAILED.`,
  );
  lines.push(`Total: ${processorRefunds.length} refunds at the processor (${money(processorRefunds.reduce((sum, r) => sum + (r.status === 'succeeded' ? r.amount : 0), 0), 'eur')} succeeded), ${delivered.length + requestNotices.length} notifications, ${hookCalls.length + cancelCalls.length} hook calls, ${log.length} events, last at ${clockTime(log.at(-1)?.occurredAt ?? now())}.`);

  return { run, lines, creditNotes, requests, checks, passed };
};

const argValue = (args: readonly string[], name: string): string | undefined => {
  const index = args.indexOf(name);
  if (index >= 0) return args[index + 1];
  return args.find((arg) => arg.startsWith(`${name}=`))?.slice(name.length + 1);
};

/** `npm run demo [-- --reset] [-- --dir <path>]`: the demo on a PGlite database kept between runs. */
export const runDemoCli = async (args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<DemoResult> => {
  const reset = args.includes('--reset') || (env.DEMO_RESET !== undefined && !['', '0', 'false'].includes(env.DEMO_RESET));
  const dir = argValue(args, '--dir') ?? env.DEMO_DIR ?? DEFAULT_DEMO_DIR;
  const dataDir = dir.includes('://') ? dir : resolve(dir);
  const db = await openPglite(dataDir);
  try {
    const store = pgliteStore({ db });
    // Reset drops the demo's schema only: nothing outside the database is deleted.
    if (reset) await db.exec(`DROP SCHEMA IF EXISTS ${quoteIdentifier(store.schema)} CASCADE`);
    await store.migrate();
    const shown = dir.includes('://') ? dataDir : dir;
    return await runDemo({ store, where: `PGlite in ${shown}${reset ? ' (reset)' : ''}` });
  } finally {
    await db.close();
  }
};
