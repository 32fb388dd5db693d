import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CreditNoteStatus } from '../src/machine/creditNoteState.js';
import type { EventStore } from '../src/ports/eventStore.js';
import type { FakeCreateBehaviour } from '../src/testing/fakeGateway.js';
import type { NotifierMisbehaviour } from '../src/testing/recordingNotifier.js';
import type { RequestRefundInput } from '../src/requests/refundRequestInputs.js';
import type { SubscriptionOption } from '../src/events/refundRequestEvents.js';
import { buildSystem, cancelOwed, checkInvariants, drain, noticesOwed, requestOfCreditNote, requestsOf, type System } from './support/harness.js';
import { numRuns, timeoutFor } from './support/numRuns.js';

/*
 * Races: concurrent host requests, workers and webhooks interleaved by
 * fast-check's scheduler. Every store call and every processor call waits for
 * the scheduler's say-so, so the runs explore the orders a real deployment
 * can produce, and the counts of real side effects are checked afterwards.
 */

/** While `racing`, a task waits for the scheduler; afterwards it runs straight through. */
type Interleaving = { racing: boolean; pause(label: string): Promise<void> };
const interleaving = (s: fc.Scheduler): Interleaving => {
  const self: Interleaving = {
    racing: true,
    pause: async (label) => {
      if (!self.racing) return;
      await s.schedule(Promise.resolve(), label);
      // The store answers on a later turn of the event loop: every task resumes at that same pace, so a chain of
      // pauses without store calls (a slow processor answer) cannot run through a whole round of the scheduler.
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  return self;
};

/** Each store call starts when the scheduler decides; the call itself is atomic, as a transaction is. */
const scheduledStore = (turns: Interleaving, store: EventStore): EventStore => {
  const gate =
    <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await turns.pause(name);
      return call(...args);
    };
  return {
    readStream: gate('readStream', store.readStream),
    append: gate('append', store.append),
    readAll: gate('readAll', store.readAll),
    listCreditNotes: gate('listCreditNotes', store.listCreditNotes),
    findProcessorRefund: gate('findProcessorRefund', store.findProcessorRefund),
    hasEventsCausedBy: gate('hasEventsCausedBy', store.hasEventsCausedBy),
    claimOutbox: gate('claimOutbox', store.claimOutbox),
    completeOutbox: gate('completeOutbox', store.completeOutbox),
    releaseOutbox: gate('releaseOutbox', store.releaseOutbox),
    listOutbox: store.listOutbox,
    listCreditNotesByAge: gate('listCreditNotesByAge', store.listCreditNotesByAge),
    requeueOutbox: gate('requeueOutbox', store.requeueOutbox),
    outboxCounts: store.outboxCounts,
    readCheckpoint: gate('readCheckpoint', store.readCheckpoint),
    writeCheckpoint: gate('writeCheckpoint', store.writeCheckpoint),
    listRefundRequests: gate('listRefundRequests', store.listRefundRequests),
    refundRequestReport: gate('refundRequestReport', store.refundRequestReport),
  };
};

/** Typed answers a racing command may get; anything else (a StoreError, a rejection) is a broken promise. */
const expectedErrorCodes = new Set([
  'transition_not_allowed',
  'credit_note_not_found',
  'credit_note_exists',
  'gateway_error',
  'concurrency_conflict',
]);

/**
 * Lets the scheduler release tasks until every launched task has settled, and
 * every task they spawned on the way; `crashed` says whether the store may
 * have failed under them.
 */
const runConcurrently = async (
  s: fc.Scheduler,
  tasks: Array<() => unknown>,
  crashed: () => boolean = () => false,
  spawned: Array<Promise<unknown>> = [],
  expected: ReadonlySet<string> = expectedErrorCodes,
) => {
  let settled = false;
  const launched = tasks.map((task) => Promise.resolve(task()));
  const all = (async () => {
    let results: PromiseSettledResult<unknown>[] = [];
    // Tasks may spawn others while they run: wait until no new one appeared.
    for (let seen = -1; seen !== spawned.length; ) {
      seen = spawned.length;
      results = await Promise.allSettled([...launched, ...spawned]);
    }
    settled = true;
    return results;
  })();
  while (!settled) {
    await s.waitIdle();
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const result of await all) {
    expect(result.status).toBe('fulfilled');
    const value = (result as PromiseFulfilledResult<unknown>).value as { isErr?: () => boolean; error?: { code: string } };
    if (value?.isErr?.() && !(value.error?.code === 'store_unavailable' && crashed())) {
      expect(expected).toContain(value.error?.code);
    }
  }
  return (await all).map((result) => (result as PromiseFulfilledResult<unknown>).value);
};

const actor = { kind: 'user', id: 'freelancer' } as const;
const issue = (system: System, creditNoteId: string, chargeConfirmed: boolean) => () => {
  if (chargeConfirmed) system.hostVouched.add('pi_shared');
  return system.lifecycle.issueCreditNote({
    creditNoteId,
    amount: 2_500,
    currency: 'EUR',
    payment: { paymentId: 'pi_shared' },
    reason: 'deposit refunded after amendment',
    chargeConfirmed,
    actor,
  });
};

const crashingDispatch = (system: System) => async () => {
  const result = await system.doomed.dispatch();
  if (result.isErr()) system.crashes += 1;
};

const behaviour: fc.Arbitrary<FakeCreateBehaviour> = fc.constantFrom<FakeCreateBehaviour>(
  { kind: 'accept' },
  { kind: 'accept', status: 'succeeded' },
  { kind: 'fail', reason: 'unknown' },
  { kind: 'transient' },
  { kind: 'acceptThenTimeout' },
);

const scenario = fc.record({
  /** How many times the host's issue request for cn_1 arrives (double click, retried HTTP request). */
  issueCopies: fc.integer({ min: 1, max: 3 }),
  issueSaysConfirmed: fc.boolean(),
  confirmations: fc.integer({ min: 0, max: 2 }),
  processorBehaviours: fc.array(behaviour, { maxLength: 4 }),
  retries: fc.integer({ min: 0, max: 3 }),
  refreshes: fc.integer({ min: 0, max: 2 }),
  crashingDispatchers: fc.integer({ min: 0, max: 2 }),
  settleAs: fc.constantFrom('succeeded', 'failed') as fc.Arbitrary<'succeeded' | 'failed'>,
  webhookCopies: fc.integer({ min: 1, max: 3 }),
  markSecondRefunded: fc.boolean(),
  /** Copies of the webhooks of a refund just created, landing while its create call (and the notifier) are held open. */
  webhooksDuringDispatch: fc.integer({ min: 0, max: 2 }),
  /** How many scheduler turns a create call's answer takes once the refund exists. */
  answerDelay: fc.integer({ min: 1, max: 8 }),
  /** The host process dies around one of its store writes in round 2. */
  crash: fc.option(fc.record({ write: fc.integer({ min: 1, max: 8 }), when: fc.constantFrom('before', 'after') as fc.Arbitrary<'before' | 'after'> })),
  notifierMisbehaves: fc.option(
    fc.record({
      count: fc.integer({ min: 1, max: 2 }),
      how: fc.constantFrom('throw', 'time_out', 'deliver_then_throw') as fc.Arbitrary<NotifierMisbehaviour>,
    }),
  ),
});

/** A webhook endpoint receiving, when the scheduler lets it, whatever the processor has sent so far. */
const deliverNotices = (system: System, turns: Interleaving) => async () => {
  await turns.pause('webhook');
  for (const notice of system.gateway.takeNotices()) {
    await system.lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId });
  }
};

describe('the lifecycle under concurrent commands, workers and webhooks', () => {
  it('never fires a refund, an email or a hook twice, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenario, async (s, plan) => {
        const turns = interleaving(s);
        const system = buildSystem({
          wrapStore: (store) => scheduledStore(turns, store),
          latency: () => turns.pause('processor'),
          // Calls are held open after they took effect too: a webhook, a refresh or a retry may land in between.
          // Each refund the processor creates sends its webhook at once; it may land before the create call answers.
          answerLatency: async () => {
            if (webhooksRacing) spawned.push(...Array.from({ length: plan.webhooksDuringDispatch }, () => deliverNotices(system, turns)()));
            // A slow answer (a timeout takes its time) lets several steps of others pass meanwhile.
            for (let step = 0; step < plan.answerDelay; step += 1) await turns.pause('processor answer');
          },
          notifierLatency: () => turns.pause('notifier'),
          charged: { pi_shared: 5_000 },
        });
        const crashed = () => system.faults.fired > 0;
        const spawned: Array<Promise<unknown>> = [];
        let webhooksRacing = false;
        const terminal = new Map<string, CreditNoteStatus>();
        system.gateway.queue(...plan.processorBehaviours);

        // Round 1: duplicate issue requests, a sibling credit note and the charge confirmation race each other (the charge-confirmation gate).
        // The processor confirmed the charge when its webhooks were sent, whichever arrives first.
        if (plan.confirmations > 0) system.confirmAtProcessor('pi_shared');
        await runConcurrently(s, [
          ...Array.from({ length: plan.issueCopies }, () => issue(system, 'cn_1', plan.issueSaysConfirmed)),
          issue(system, 'cn_2', false),
          ...Array.from({ length: plan.confirmations }, () => () =>
            system.lifecycle.confirmCharge({ paymentId: 'pi_shared', source: 'webhook' }),
          ),
        ]);
        await checkInvariants(system, terminal);

        // Round 2: two workers (some dying after their side effect), people clicking retry, refresh and mark refunded,
        // webhooks overtaking the create call's answer, a notifier that fails, and maybe a crash between two writes.
        if (plan.crash) system.faults.crashAt(plan.crash.write, plan.crash.when);
        if (plan.notifierMisbehaves) system.notifier.misbehaveNext(plan.notifierMisbehaves.count, plan.notifierMisbehaves.how);
        webhooksRacing = true;
        await runConcurrently(s, [
          () => system.lifecycle.dispatch(),
          () => system.lifecycle.dispatch(),
          ...Array.from({ length: plan.crashingDispatchers }, () => crashingDispatch(system)),
          ...Array.from({ length: plan.retries }, () => () => system.lifecycle.retryRefund('cn_1', { actor })),
          ...Array.from({ length: plan.refreshes }, () => () => system.lifecycle.refreshStatus('cn_1')),
          ...(plan.markSecondRefunded
            ? [() => system.lifecycle.markRefunded('cn_2', { reason: 'paid back in cash', method: 'cash' as const, actor })]
            : []),
        ], crashed, spawned);
        webhooksRacing = false;
        system.faults.disarm();
        await checkInvariants(system, terminal);

        // Round 3: the processor settles; its webhooks arrive duplicated and in any order, racing refreshes and workers.
        for (const refund of system.gateway.refunds().filter((r) => r.status === 'pending')) {
          system.gateway.setRefundStatus(refund.processorRefundId, plan.settleAs, plan.settleAs === 'failed' ? 'declined' : undefined);
        }
        system.clock.advance(61_000);
        const notices = system.gateway.takeNotices();
        await runConcurrently(s, [
          ...Array.from({ length: plan.webhookCopies }, () =>
            notices.map(
              (notice) => () =>
                system.lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId }),
            ),
          ).flat(),
          ...Array.from({ length: plan.refreshes }, () => () => system.lifecycle.refreshStatus('cn_1')),
          () => system.lifecycle.dispatch(),
          ...Array.from({ length: plan.crashingDispatchers }, () => crashingDispatch(system)),
          ...Array.from({ length: plan.retries }, () => () => system.lifecycle.retryRefund('cn_1', { actor })),
        ], crashed);
        await checkInvariants(system, terminal);

        // Afterwards, with no scheduler in the way, everything left settles by itself.
        turns.racing = false;
        await drain(system);
        await checkInvariants(system, terminal);

        // Real side effects, counted where they happen.
        const refunds = system.gateway.refunds();
        const delivered = system.notifier.delivered();
        // Every email owed went out, whatever the notifier did on the way; none twice (checked above, per key and kind).
        const deliveredKeys = new Set(delivered.map((notification) => notification.idempotencyKey));
        for (const entry of (await system.rawStore.listOutbox()).filter((candidate) => candidate.kind === 'notify')) {
          expect(deliveredKeys.has(entry.idempotencyKey), `${entry.idempotencyKey} never delivered`).toBe(true);
        }
        const completed = delivered.filter((n) => n.kind === 'refund_completed').map((n) => n.creditNote.creditNoteId);
        expect(new Set(completed).size).toBe(completed.length);
        for (const summary of await system.rawStore.listCreditNotes()) {
          const { status, context } = summary.state;
          const mine = refunds.filter((r) => r.metadata.creditNoteId === context.creditNoteId);
          expect(mine.length).toBeLessThanOrEqual(context.refund?.attempt ?? 0);
          expect(completed.filter((id) => id === context.creditNoteId).length).toBe(status === 'succeeded' ? 1 : 0);
          const manualNotices = delivered.filter(
            (n) => n.kind === 'manual_refund_recorded' && n.creditNote.creditNoteId === context.creditNoteId,
          );
          expect(manualNotices.length).toBe(status === 'manual' ? 1 : 0);
        }
        // Duplicate issue requests made one credit note with one attachment to the payment.
        const attachments = (await system.rawStore.readStream('payment-pi_shared')).events.filter(
          (event) => event.type === 'CreditNoteAttached',
        );
        expect(attachments.map((event) => (event.data as { creditNoteId: string }).creditNoteId).sort()).toEqual([
          'cn_1',
          'cn_2',
        ]);
      }),
      { numRuns: numRuns(200) },
    );
  }, timeoutFor(200));
});

/*
 * Refund requests (issue 14) under the same scheduler: duplicate submissions of
 * two requests on one payment, then approvals of the winner racing each other,
 * a rejection, a withdrawal, a rival credit note on the same balance and
 * dispatchers (some dying after their side effect), then the refund settling
 * under racing webhooks. Counted where they happen: credit notes, refunds at
 * the processor, notices delivered, subscriptions cancelled.
 */

const customer = { kind: 'customer', id: 'cus_1' } as const;
const viewer = { kind: 'user', id: 'viewer' } as const;
const DAY = 24 * 60 * 60 * 1000;

/** What racing request commands may answer, besides the credit-note commands' answers. */
const requestRaceErrorCodes = new Set([
  ...expectedErrorCodes,
  'policy_refused',
  'forbidden',
  'refund_request_conflict',
  'refundable_balance_exceeded',
]);

const requestRace = fc.record({
  /** Copies of rr_1's submission (a double click), and of rr_2's, another request on the same payment. */
  firstCopies: fc.integer({ min: 1, max: 3 }),
  secondCopies: fc.integer({ min: 1, max: 2 }),
  subscription: fc.boolean(),
  /** The approvals' option (for a request with a subscription). */
  option: fc.constantFrom<SubscriptionOption | undefined>(undefined, 'refund_only', 'refund_and_cancel', 'cancel_only'),
  /** Copies of the same approval. */
  approvals: fc.integer({ min: 0, max: 3 }),
  /**
   * Scheduler turns each decision's host request takes to arrive: staggered, a copy may read the request while it
   * is pending and its credit note just after another copy committed both.
   */
  delays: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 9, maxLength: 9 }),
  /** An approval with other terms: refund only, 1 000. */
  otherApproval: fc.boolean(),
  // Fewer of these: without processor calls on the way they win most races they are in.
  rejections: fc.constantFrom(0, 0, 0, 1, 2),
  withdrawals: fc.constantFrom(0, 0, 0, 1, 2),
  /** Someone not allowed to approve tries too. */
  viewerApproves: fc.boolean(),
  chargeConfirmed: fc.boolean(),
  /** A credit note of 2 500 on the same payment (5 000 charged): it and an approval of either request in full cannot both fit. */
  rival: fc.boolean(),
  /** Scheduler turns the rival's host request takes to arrive: an approval's path is longer, this evens the race. */
  rivalDelay: fc.integer({ min: 0, max: 6 }),
  dispatchers: fc.integer({ min: 1, max: 2 }),
  crashingDispatchers: fc.integer({ min: 0, max: 2 }),
  processorBehaviours: fc.array(behaviour, { maxLength: 3 }),
  crash: fc.option(fc.record({ write: fc.integer({ min: 1, max: 6 }), when: fc.constantFrom('before', 'after') as fc.Arbitrary<'before' | 'after'> })),
  notifierMisbehaves: fc.option(
    fc.record({
      count: fc.integer({ min: 1, max: 2 }),
      how: fc.constantFrom('throw', 'time_out', 'deliver_then_throw') as fc.Arbitrary<NotifierMisbehaviour>,
    }),
  ),
  cancelFailures: fc.integer({ min: 0, max: 2 }),
  settleAs: fc.constantFrom('succeeded', 'failed') as fc.Arbitrary<'succeeded' | 'failed'>,
  webhookCopies: fc.integer({ min: 1, max: 2 }),
});

type Answer = { isOk(): boolean; isErr(): boolean; error?: { code: string }; value?: unknown };
const codeOf = (answer: unknown) => ((answer as Answer).isOk() ? 'ok' : (answer as Answer).error!.code);

describe('refund requests under concurrent submissions, decisions, workers and webhooks', () => {
  it('opens one request per payment, issues one credit note per approved request, refunds once, and tells each kind once', async () => {
    // What the runs reached, so a scenario that stopped racing fails instead of passing vacuously.
    const reached = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), requestRace, async (s, plan) => {
        const turns = interleaving(s);
        const system = buildSystem({
          wrapStore: (store) => scheduledStore(turns, store),
          latency: () => turns.pause('processor'),
          answerLatency: () => turns.pause('processor answer'),
          notifierLatency: () => turns.pause('notifier'),
          charged: { pi_shared: 5_000 },
          authorize: (who) => who.id !== viewer.id,
          refundRequests: { policy: { windowDays: 7 } },
        });
        const crashed = () => system.faults.fired > 0;
        const terminal = new Map<string, CreditNoteStatus>();
        system.gateway.queue(...plan.processorBehaviours);
        const submission = (requestId: string, amount: number): RequestRefundInput => ({
          requestId,
          payment: { paymentId: 'pi_shared' },
          amount,
          currency: 'EUR',
          reason: 'not_as_described',
          customerId: 'cus_1',
          purchasedAt: new Date(system.clock.now().getTime() - 2 * DAY).toISOString(),
          ...(plan.subscription ? { subscriptionId: `sub_${requestId}` } : {}),
          actor: customer,
        });
        const first = submission('rr_1', 3_000);
        const second = submission('rr_2', 2_600);

        // Round 1: both requests' submissions, each maybe twice, and a worker: one opens, the other is refused.
        const submitted = await runConcurrently(
          s,
          [
            ...Array.from({ length: plan.firstCopies }, () => () => system.lifecycle.requestRefund(first)),
            ...Array.from({ length: plan.secondCopies }, () => () => system.lifecycle.requestRefund(second)),
            () => system.lifecycle.dispatch(),
          ],
          crashed,
          [],
          requestRaceErrorCodes,
        );
        await checkInvariants(system, terminal);
        const opened = [...(await requestsOf(system)).keys()];
        expect(opened.length, 'requests opened on one payment').toBeLessThanOrEqual(1);
        const answers = submitted.slice(0, plan.firstCopies + plan.secondCopies).map(codeOf);
        if (!answers.includes('concurrency_conflict')) expect(opened.length).toBe(1);
        if (opened.length === 0) return;
        const winner = opened[0]!;
        answers.forEach((code, index) => {
          const requestId = index < plan.firstCopies ? 'rr_1' : 'rr_2';
          // Every copy of the winner answers as the one that opened it; every copy of the other is refused.
          expect([requestId === winner ? 'ok' : 'policy_refused', 'concurrency_conflict'], `submission of ${requestId}`).toContain(code);
        });

        // Round 2: approvals (the same, and other terms), a rejection, a withdrawal, a forbidden approval, a rival
        // credit note on the same balance and workers, some dying; maybe a crash between two writes.
        const option = plan.subscription ? plan.option : undefined;
        // Cancel only refunds nothing: it takes no charge confirmation.
        const approval = {
          actor,
          note: 'Sorry about that.',
          ...(option === 'cancel_only' ? {} : { chargeConfirmed: plan.chargeConfirmed }),
          ...(option === undefined ? {} : { option }),
        };
        const other = { actor, note: 'A part of it.', option: 'refund_only' as const, amount: 1_000, chargeConfirmed: plan.chargeConfirmed };
        if (plan.chargeConfirmed) system.hostVouched.add('pi_shared');
        if (plan.crash) system.faults.crashAt(plan.crash.write, plan.crash.when);
        if (plan.notifierMisbehaves) system.notifier.misbehaveNext(plan.notifierMisbehaves.count, plan.notifierMisbehaves.how);
        system.failCancelNext(plan.cancelFailures);
        const decisions: Array<{ kind: 'approve' | 'other' | 'reject' | 'withdraw' | 'viewer'; run: () => unknown }> = [
          ...Array.from({ length: plan.approvals }, () => ({ kind: 'approve' as const, run: () => system.lifecycle.approveRequest(winner, approval) })),
          ...(plan.otherApproval ? [{ kind: 'other' as const, run: () => system.lifecycle.approveRequest(winner, other) }] : []),
          ...Array.from({ length: plan.rejections }, () => ({ kind: 'reject' as const, run: () => system.lifecycle.rejectRequest(winner, { actor, note: 'The course was completed.' }) })),
          ...Array.from({ length: plan.withdrawals }, () => ({ kind: 'withdraw' as const, run: () => system.lifecycle.withdrawRequest(winner, { actor: customer }) })),
          ...(plan.viewerApproves ? [{ kind: 'viewer' as const, run: () => system.lifecycle.approveRequest(winner, { actor: viewer }) }] : []),
        ];
        const arriving = (run: () => unknown, delay: number) => async () => {
          for (let turn = 0; turn < delay; turn += 1) await turns.pause('on its way');
          return run();
        };
        const decided = await runConcurrently(
          s,
          [
            ...decisions.map((decision, index) => arriving(decision.run, plan.delays[index] ?? 0)),
            ...(plan.rival
              ? [
                  async () => {
                    for (let turn = 0; turn < plan.rivalDelay; turn += 1) await turns.pause('rival on its way');
                    return system.lifecycle.issueCreditNote({
                      creditNoteId: 'cn_rival',
                      amount: 2_500,
                      currency: 'EUR',
                      payment: { paymentId: 'pi_shared' },
                      reason: 'deposit refunded after amendment',
                      chargeConfirmed: plan.chargeConfirmed,
                      actor,
                    });
                  },
                ]
              : []),
            ...Array.from({ length: plan.dispatchers }, () => () => system.lifecycle.dispatch()),
            ...Array.from({ length: plan.crashingDispatchers }, () => crashingDispatch(system)),
          ],
          crashed,
          [],
          requestRaceErrorCodes,
        );
        system.faults.disarm();
        await checkInvariants(system, terminal);

        // One decision won, and every answer agrees with it.
        const request = (await requestsOf(system)).get(winner)!;
        const final = request.state;
        const won = final.context.decision;
        const wonWithMain =
          won?.kind === 'approved' && won.note === approval.note && won.option === (option ?? (plan.subscription ? 'refund_and_cancel' : 'refund_only'));
        const wonWithOther = won?.kind === 'approved' && won.note === other.note && won.amount === other.amount;
        decisions.forEach((decision, index) => {
          const code = codeOf(decided[index]);
          if (decision.kind === 'viewer') return expect(code, 'a forbidden approval').toBe('forbidden');
          if (code === 'store_unavailable') return expect(crashed()).toBe(true);
          if (code !== 'ok') return;
          if (decision.kind === 'approve') expect(wonWithMain, 'an approval answered ok, the request shows another decision').toBe(true);
          if (decision.kind === 'other') expect(wonWithOther, 'an approval answered ok, the request shows another decision').toBe(true);
          if (decision.kind === 'reject') expect(won?.kind).toBe('rejected');
          if (decision.kind === 'withdraw') expect(won?.kind).toBe('withdrawn');
        });
        if (wonWithMain && !crashed()) {
          // Before the winning approval nothing could refuse it, after it the same terms are a no-op.
          const mains = decisions.flatMap((decision, index) => (decision.kind === 'approve' ? [codeOf(decided[index])] : []));
          for (const code of mains) expect(['ok', 'concurrency_conflict']).toContain(code);
        }
        // The balance: an approval in full and the rival cannot both fit (only the partial one of 1 000 can).
        const rivalIssued = (await system.rawStore.readStream('credit-note-cn_rival')).version > 0;
        if (rivalIssued && won?.kind === 'approved') expect(won.amount ?? 0).toBeLessThanOrEqual(2_500);
        reached.add(`decided:${won?.kind ?? 'nothing'}`);
        if (plan.rival && won?.kind === 'approved' && (won.amount ?? 0) > 2_500) reached.add('the approval beat the rival');
        if (plan.rival && !rivalIssued) reached.add('the rival lost');
        if (plan.rival && rivalIssued && plan.approvals > 0 && won?.kind !== 'approved') reached.add('the rival beat the approval');
        if (decisions.filter((decision) => decision.kind !== 'viewer').length > 1 && decided.slice(0, decisions.length).filter((answer) => codeOf(answer) === 'refund_request_conflict').length > 0) {
          reached.add('a decision lost the race');
        }
        if (plan.approvals > 1 && decided.slice(0, plan.approvals).every((answer) => codeOf(answer) === 'ok')) reached.add('approved twice, answered ok twice');
        if (crashed()) reached.add('crashed');
        if (answers.some((code) => code === 'policy_refused')) reached.add('a submission was refused');

        // Round 3: the processor settles; webhooks arrive twice, racing workers (some dying).
        for (const refund of system.gateway.refunds().filter((r) => r.status === 'pending')) {
          system.gateway.setRefundStatus(refund.processorRefundId, plan.settleAs, plan.settleAs === 'failed' ? 'declined' : undefined);
        }
        system.clock.advance(61_000);
        const notices = system.gateway.takeNotices();
        await runConcurrently(
          s,
          [
            ...Array.from({ length: plan.webhookCopies }, () =>
              notices.map((notice) => () => system.lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId })),
            ).flat(),
            () => system.lifecycle.dispatch(),
            ...Array.from({ length: plan.crashingDispatchers }, () => crashingDispatch(system)),
          ],
          crashed,
          [],
          requestRaceErrorCodes,
        );
        await checkInvariants(system, terminal);

        // Afterwards, with no scheduler in the way, everything left settles by itself.
        turns.racing = false;
        await drain(system);
        await checkInvariants(system, terminal);
        const outbox = await system.rawStore.listOutbox();
        expect(outbox.filter((entry) => (entry.kind === 'request_notify' || entry.kind === 'request_hook') && entry.completedAt === null)).toEqual([]);

        // Counted where they happen.
        const requests = await requestsOf(system);
        expect([...requests.keys()]).toEqual([winner]);
        const creditNotes = (await system.rawStore.listCreditNotes({ limit: 500 })).filter((summary) => requestOfCreditNote(summary) !== null);
        const refundsOfRequest = system.gateway.refunds().filter((refund) => refund.metadata.creditNoteId !== 'cn_rival');
        if (won?.kind === 'approved' && won.creditNoteId !== null) {
          expect(creditNotes.map((summary) => summary.creditNoteId), 'credit notes of the approved request').toEqual([won.creditNoteId]);
          // Nobody retried it: one refund at most, whatever the workers, webhooks and crashes did.
          expect(refundsOfRequest.length, 'refunds of the approved request').toBeLessThanOrEqual(1);
          expect(refundsOfRequest.every((refund) => refund.metadata.creditNoteId === won.creditNoteId)).toBe(true);
        } else {
          expect(creditNotes, `credit notes of a ${final.status} request`).toEqual([]);
          expect(refundsOfRequest, `refunds of a ${final.status} request`).toEqual([]);
        }
        const delivered = system.notifier.deliveredRequestNotices();
        expect(delivered.map((notice) => `${notice.decided.requestId}:${notice.kind}`).sort(), 'request notices').toEqual(
          noticesOwed(final).map((kind) => `${winner}:${kind}`).sort(),
        );
        const cancelled = new Set(system.cancelCalls.map((call) => `${call.requestId}:${call.idempotencyKey}`));
        expect(cancelled.size, 'subscriptions cancelled').toBe(cancelOwed(final) ? 1 : 0);
        if (cancelled.size > 0) reached.add('cancelled');
        if (refundsOfRequest.length > 0) reached.add('refunded');
      }),
      { numRuns: numRuns(200) },
    );
    expect([...reached].sort()).toEqual(
      [
        'a decision lost the race',
        'a submission was refused',
        'approved twice, answered ok twice',
        'cancelled',
        'crashed',
        'decided:approved',
        'decided:rejected',
        'decided:withdrawn',
        'decided:nothing',
        'refunded',
        'the approval beat the rival',
        'the rival beat the approval',
        'the rival lost',
      ].sort(),
    );
  }, timeoutFor(200));
});
