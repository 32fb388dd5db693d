import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CreditNoteStatus } from '../src/machine/creditNoteState.js';
import type { EventStore } from '../src/ports/eventStore.js';
import type { FakeCreateBehaviour } from '../src/testing/fakeGateway.js';
import type { NotifierMisbehaviour } from '../src/testing/recordingNotifier.js';
import { buildSystem, checkInvariants, drain, type System } from './support/harness.js';
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
      expect(expectedErrorCodes).toContain(value.error?.code);
    }
  }
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
