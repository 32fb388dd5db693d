import { expect } from 'vitest';
import { createRefundLifecycle, type RefundLifecycle } from '../../src/lifecycle/createRefundLifecycle.js';
import { decideWithXState, type Intent } from '../../src/machine/creditNoteMachine.js';
import { initialCreditNoteState, type CreditNoteStatus } from '../../src/machine/creditNoteState.js';
import { foldCreditNote } from '../../src/machine/fold.js';
import { isCreditNoteEvent, type StoredEvent } from '../../src/events/envelope.js';
import type { CreditNoteEvent } from '../../src/events/creditNoteEvents.js';
import type { CreditNoteSummary, EventStore, OutboxEntry, OutboxKind } from '../../src/ports/eventStore.js';
import type { HookCall, Notifier } from '../../src/ports/notifier.js';
import type { RefundGateway } from '../../src/ports/refundGateway.js';
import { inMemoryEventStore } from '../../src/adapters/inMemoryEventStore.js';
import { fakeGateway, type FakeGatewayOptions } from '../../src/testing/fakeGateway.js';
import { manualClock } from '../../src/testing/manualClock.js';
import { recordingNotifier } from '../../src/testing/recordingNotifier.js';
import { countBy, toMachineEvent } from './replayAndCount.js';

export class SimulatedCrash extends Error {}

/**
 * The store as a dispatcher process sees it just before it dies: it can read
 * and claim, and the side effect goes out, but every write after that fails.
 * Its claims stay behind until their lease expires.
 */
export const crashingStore = (store: EventStore): EventStore => ({
  ...store,
  append: async () => {
    throw new SimulatedCrash('dispatcher crashed before recording the result');
  },
  completeOutbox: async () => {
    throw new SimulatedCrash('dispatcher crashed before completing the entry');
  },
  releaseOutbox: async () => {
    throw new SimulatedCrash('dispatcher crashed before releasing the entry');
  },
});

export type StoreWrite = 'append' | 'claimOutbox' | 'completeOutbox' | 'releaseOutbox';

/**
 * A process that dies around one of its writes: armed with `crashAt(n,
 * 'before' | 'after')`, the n-th write from then on throws before it reaches
 * the store (nothing written) or after it (written, but the caller never hears
 * so). Each write is a transaction, so these are the only places a crash can
 * fall between two writes.
 */
export const faultyStore = (store: EventStore) => {
  let armed: { remaining: number; when: 'before' | 'after' } | null = null;
  let fired = 0;
  const write =
    <A extends unknown[], R>(name: StoreWrite, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (armed === null || (armed.remaining -= 1) > 0) return call(...args);
      const { when } = armed;
      armed = null;
      fired += 1;
      if (when === 'before') throw new SimulatedCrash(`crashed before ${name}`);
      await call(...args);
      throw new SimulatedCrash(`crashed after ${name}`);
    };
  return {
    store: {
      ...store,
      append: write('append', store.append),
      claimOutbox: write('claimOutbox', store.claimOutbox),
      completeOutbox: write('completeOutbox', store.completeOutbox),
      releaseOutbox: write('releaseOutbox', store.releaseOutbox),
    } satisfies EventStore,
    crashAt(write: number, when: 'before' | 'after') {
      armed = { remaining: write, when };
    },
    disarm() {
      armed = null;
    },
    /** How many crashes happened so far. */
    get fired() {
      return fired;
    },
  };
};

export const LEASE_MS = 60_000;
/** Deliveries of a notification or hook before it is buried: more than any run's misbehaving notifier. */
export const MAX_SIDE_EFFECT_DELIVERIES = 8;

export type SystemOptions = {
  /** Wraps the store every lifecycle instance uses, e.g. to let a scheduler interleave its calls. */
  wrapStore?: (store: EventStore) => EventStore;
  latency?: FakeGatewayOptions['latency'];
  /** Between a create call's effect and its answer (a webhook may overtake it). */
  answerLatency?: FakeGatewayOptions['answerLatency'];
  /** Before each notification reaches the notifier. */
  notifierLatency?: () => Promise<void>;
  /** Captured payments: what each was charged, so the refundable balance is guarded. */
  charged?: Record<string, number>;
  /** False: an Adyen-shaped processor that cannot be asked about a refund; outcomes come only as notices. */
  pullsRefundStatus?: boolean;
};

/** One host process (plus a doomed twin) over a shared store, fake processor and notifier. */
export const buildSystem = (options: SystemOptions = {}) => {
  const rawStore = inMemoryEventStore();
  const faults = faultyStore(rawStore);
  const store = options.wrapStore ? options.wrapStore(faults.store) : faults.store;
  const gateway = fakeGateway({
    ...(options.latency ? { latency: options.latency } : {}),
    ...(options.answerLatency ? { answerLatency: options.answerLatency } : {}),
    ...(options.pullsRefundStatus === undefined ? {} : { pullsRefundStatus: options.pullsRefundStatus }),
  });
  const charged = options.charged ?? {};
  // The truth about charges: what the processor confirmed (it says "not yet" of the others when asked) and what a
  // host vouched for. The store may hold a confirmation only from one of them, however it learnt it (webhook or pull).
  const processorConfirmed = new Set<string>();
  const hostVouched = new Set<string>();
  for (const [paymentId, amount] of Object.entries(charged)) {
    gateway.capture(paymentId, amount);
    gateway.setChargeConfirmed(paymentId, false);
  }
  const confirmAtProcessor = (paymentId: string) => {
    processorConfirmed.add(paymentId);
    gateway.setChargeConfirmed(paymentId, true);
  };
  // The charge-confirmation gate (docs/glossary.md#charge-confirmation-gate) as an invariant: what the store said of the charge when a refund was asked for.
  const createCalls: Array<{ idempotencyKey: string; paymentId: string; chargeConfirmed: boolean; confirmedInTruth: boolean }> = [];
  // A processor that cannot be asked must never be asked: Refresh, the sweep and the issue leave it alone.
  let pullCalls = 0;
  const gatewayAsSeen: RefundGateway = {
    ...gateway,
    retrieveRefund: (request) => {
      pullCalls += 1;
      return gateway.retrieveRefund(request);
    },
    findRefunds: (payment) => {
      pullCalls += 1;
      return gateway.findRefunds(payment);
    },
    async createRefund(request) {
      const payment = await rawStore.readStream(`payment-${request.payment.paymentId}`);
      createCalls.push({
        idempotencyKey: request.idempotencyKey,
        paymentId: request.payment.paymentId,
        chargeConfirmed: payment.events.some((event) => event.type === 'ChargeConfirmed'),
        confirmedInTruth: processorConfirmed.has(request.payment.paymentId) || hostVouched.has(request.payment.paymentId),
      });
      return gateway.createRefund(request);
    },
  };
  const recording = recordingNotifier();
  const notifier: Notifier = options.notifierLatency
    ? {
        send: async (notification) => {
          await options.notifierLatency!();
          return recording.send(notification);
        },
      }
    : recording;
  const clock = manualClock();
  const hookCalls: HookCall[] = [];
  const hooks = {
    refundSucceeded: (call: HookCall) => void hookCalls.push(call),
    refundFailed: (call: HookCall) => void hookCalls.push(call),
    refundedManually: (call: HookCall) => void hookCalls.push(call),
  };
  let sequence = 0;
  const common = {
    gateway: gatewayAsSeen,
    notifier,
    hooks,
    clock,
    // The sweep's rate limit waits on the manual clock: time moves, no timers.
    sleep: clock.sleep,
    generateId: () => `id-${(sequence += 1)}`,
    retryPolicy: {
      leaseMs: LEASE_MS,
      backoffBaseMs: 1_000,
      backoffMaxMs: 30_000,
      maxAutomaticRefundRetries: 3,
      maxSideEffectDeliveries: MAX_SIDE_EFFECT_DELIVERIES,
    },
    dispatchInline: false,
  };
  const lifecycle: RefundLifecycle = createRefundLifecycle({ ...common, store });
  const doomed: RefundLifecycle = createRefundLifecycle({ ...common, store: crashingStore(store) });
  return {
    rawStore,
    store,
    faults,
    gateway,
    createCalls,
    charged,
    processorConfirmed,
    hostVouched,
    confirmAtProcessor,
    pullCalls: () => pullCalls,
    notifier: recording,
    clock,
    hookCalls,
    lifecycle,
    doomed,
    crashes: 0,
  };
};

export type System = ReturnType<typeof buildSystem>;


const expectAtMostOnce = (counts: Map<string, number>, what: string) => {
  for (const [key, count] of counts) expect(count, `${what} ${key}`).toBeLessThanOrEqual(1);
};

/**
 * The library's promise, checked against real side effects: refunds the fake
 * processor created, notifications and hook calls delivered, and the stored
 * state against a replay of the stored events through both the fast fold and
 * the XState machine.
 */
export const checkInvariants = async (system: System, terminal: Map<string, CreditNoteStatus>) => {
  const { rawStore, gateway, notifier, hookCalls } = system;
  const refunds = gateway.refunds();

  // No refund fires twice: one refund per attempt, and never two live ones for one credit note.
  expectAtMostOnce(countBy(refunds, (r) => `${r.metadata.creditNoteId}#${r.metadata.attempt}`), 'refunds for attempt');
  const live = refunds.filter((r) => r.status !== 'failed' && r.status !== 'canceled');
  expectAtMostOnce(countBy(live, (r) => String(r.metadata.creditNoteId)), 'live refunds for credit note');

  // No email fires twice: one per credit note, kind and attempt (a manual refund: once per credit note).
  const delivered = notifier.delivered();
  const notificationKey = (n: (typeof delivered)[number]) =>
    `${n.creditNote.creditNoteId}:${n.kind}${n.kind === 'manual_refund_recorded' ? '' : `:${n.idempotencyKey.split(':').pop()}`}`;
  expectAtMostOnce(countBy(delivered, notificationKey), 'notification');
  // Each call of the notifier or a hook is one delivery of its outbox entry: a repeat only after a failure or a crash
  // of that very entry, never because something else went wrong in the run.
  const outbox = await rawStore.listOutbox();
  const deliveriesByKey = countBy(
    outbox.flatMap((entry) => Array.from({ length: entry.deliveries }, () => entry)),
    (entry) => `${entry.kind}:${entry.idempotencyKey}`,
  );
  for (const [key, count] of countBy(notifier.calls, (n) => n.idempotencyKey)) {
    expect(count, `notifier calls for ${key}`).toBeLessThanOrEqual(deliveriesByKey.get(`notify:${key}`) ?? 0);
  }
  for (const [key, count] of countBy(hookCalls, (c) => c.idempotencyKey)) {
    expect(count, `hook calls for ${key}`).toBeLessThanOrEqual(deliveriesByKey.get(`run_hook:${key}`) ?? 0);
  }

  // The charge-confirmation gate: no refund was asked for before the store held the charge's confirmation.
  expect(system.createCalls.filter((call) => !call.chargeConfirmed), 'refunds asked before the charge was confirmed').toEqual([]);
  if (system.gateway.capabilities?.pullsRefundStatus === false) {
    expect(system.pullCalls(), 'questions asked of a processor that cannot be asked').toBe(0);
  }
  // And that confirmation is true: the processor confirmed the charge (by webhook, or when asked) or the host vouched.
  expect(system.createCalls.filter((call) => !call.confirmedInTruth), 'refunds asked on a charge nobody confirmed').toEqual([]);

  const summaries = await rawStore.listCreditNotes({ limit: 500 });
  checkBalances(system, summaries);
  const paymentsConfirmed = new Set(
    (await rawStore.readAll()).filter((e) => e.type === 'ChargeConfirmed').map((e) => (e.data as { paymentId: string }).paymentId),
  );
  const streamEvents = new Map<string, StoredEvent[]>();
  for (const summary of summaries) {
    const { events } = await rawStore.readStream(summary.streamId);
    streamEvents.set(summary.streamId, events);
    const creditNoteEvents = events.filter(isCreditNoteEvent).map(toMachineEvent);

    // Every state is explained by replaying its events — through the fold and through XState itself.
    const folded = foldCreditNote(creditNoteEvents);
    expect(folded.rejected).toBeNull();
    expect(summary.state).toEqual(folded.state);
    expect(summary.version).toBe(events.length);
    let machineState = initialCreditNoteState;
    for (const event of creditNoteEvents) {
      const decision = decideWithXState(machineState, event);
      expect(decision.accepted).toBe(true);
      machineState = decision.state;
    }
    expect(machineState).toEqual(folded.state);

    const { status, context } = folded.state;
    const id = context.creditNoteId;
    checkNeverBackwards(id, creditNoteEvents);
    checkEveryDecisionHasItsEntry(summary.streamId, creditNoteEvents, outbox);

    // Manual is final. Succeeded changes only when the processor reverses that very refund.
    const seen = terminal.get(id);
    const reversed =
      seen === 'succeeded' &&
      status === 'failed' &&
      refunds.find((r) => r.processorRefundId === context.refund?.processorRefundId)?.status === 'failed';
    if (seen !== undefined && !reversed) expect(status, `terminal ${id}`).toBe(seen);
    if (status === 'succeeded' || status === 'manual') terminal.set(id, status);
    if (reversed) terminal.delete(id);

    // A new attempt only after the previous one failed.
    for (const [index, event] of creditNoteEvents.entries()) {
      if (event.type !== 'RefundRequested' || event.data.attempt === 1) continue;
      const attempt = event.data.attempt;
      const failedBefore = creditNoteEvents
        .slice(0, index)
        .some((e) => e.type === 'RefundFailed' && e.data.attempt === attempt - 1);
      const sameAttemptBefore = creditNoteEvents
        .slice(0, index)
        .some((e) => e.type === 'RefundRequested' && e.data.attempt === attempt);
      expect(failedBefore || sameAttemptBefore, `attempt ${attempt} of ${id} without a failure`).toBe(true);
    }

    // What the library says happened at the processor did happen there.
    const ownRefunds = refunds.filter((r) => r.metadata.creditNoteId === id);
    if (status === 'succeeded') {
      // The processor may since have reversed it; the library learns that from the next observation.
      expect(['succeeded', 'failed']).toContain(ownRefunds.find((r) => r.metadata.attempt === context.refund?.attempt)?.status);
    }
    if (status === 'manual') expect(ownRefunds.filter((r) => r.status !== 'failed' && r.status !== 'canceled')).toEqual([]);

    // No confirmation is lost: a confirmed charge leaves no credit note waiting for it.
    if (context.payment !== null && paymentsConfirmed.has(context.payment.paymentId)) {
      expect(context.pendingReason, `${id} still waits for a confirmed charge`).not.toBe('charge_not_confirmed');
    }
  }
  checkOutboxEntries(system, outbox, streamEvents);
};

/** The status moves the lifecycle draws (README); a move outside them is a credit note going backwards. */
const lifecycleMoves: Readonly<Record<CreditNoteStatus, readonly CreditNoteStatus[]>> = {
  unissued: ['issued'],
  issued: ['requested', 'pending', 'manual'],
  pending: ['pending', 'requested', 'succeeded', 'failed', 'manual'],
  requested: ['requested', 'succeeded', 'failed', 'pending'],
  failed: ['pending', 'manual'],
  succeeded: ['failed'],
  manual: [],
};

/**
 * Never backwards: statuses move only along the lifecycle's edges, and an
 * attempt the processor accepted (or settled) never becomes in doubt again: a
 * late transient error of its create call is news about a refund that exists.
 */
const checkNeverBackwards = (id: string, events: readonly CreditNoteEvent[]) => {
  let state = initialCreditNoteState;
  const answered = new Set<number>();
  for (const event of events) {
    const next = decideWithXState(state, event).state;
    expect(lifecycleMoves[state.status], `${id}: ${state.status} → ${next.status} on ${event.type}`).toContain(next.status);
    if (event.type === 'RefundDeferred' && event.data.reason === 'transient_error') {
      expect(answered.has(event.data.attempt), `${id}: attempt ${event.data.attempt} in doubt after the processor answered it`).toBe(false);
    }
    if (event.type === 'RefundAccepted' || event.type === 'RefundSucceeded' || event.type === 'RefundAdopted') answered.add(event.data.attempt);
    if (event.type === 'RefundFailed' && event.data.processorRefundId !== null) answered.add(event.data.attempt);
    state = next;
  }
};

const kindOfIntent = (intent: Intent): OutboxKind =>
  intent.type === 'notify' ? 'notify' : intent.type === 'runHook' ? 'run_hook' : 'create_refund';

/**
 * No side effect forgotten: every decision that owes one (a refund request,
 * a notice, a hook) left its outbox entry in the very append that recorded
 * it, named after the stream version that decided it.
 */
const checkEveryDecisionHasItsEntry = (streamId: string, events: readonly CreditNoteEvent[], outbox: readonly OutboxEntry[]) => {
  let state = initialCreditNoteState;
  for (const [index, event] of events.entries()) {
    const decision = decideWithXState(state, event);
    const version = index + 1;
    for (const intent of decision.accepted ? decision.intents : []) {
      const entry = outbox.find((candidate) => candidate.id.startsWith(`${streamId}#${version}:`) && candidate.kind === kindOfIntent(intent));
      expect(entry, `${streamId}@${version} (${event.type}) owes a ${kindOfIntent(intent)} entry`).toBeDefined();
    }
    state = decision.state;
  }
};

/** The refund attempt an entry asks for was overtaken: settled, retried or refunded by hand before it ran. */
const overtaken = (events: readonly StoredEvent[], decidedAt: number, attempt: number) =>
  events.slice(decidedAt).some((event) => {
    if (event.type === 'MarkedRefundedManually') return true;
    const data = event.data as { attempt?: number };
    return (
      ['RefundAccepted', 'RefundSucceeded', 'RefundFailed', 'RefundRequested'].includes(event.type) &&
      data.attempt !== undefined &&
      data.attempt >= attempt
    );
  });

/** No entry parked without cause, none completed without its effect. */
const checkOutboxEntries = (system: System, outbox: readonly OutboxEntry[], streamEvents: Map<string, StoredEvent[]>) => {
  const { notifier, hookCalls, createCalls } = system;
  for (const entry of outbox) {
    if (entry.deadAt !== null) {
      expect(entry.kind, `${entry.id} buried`).not.toBe('create_refund');
      expect(entry.deliveries, `${entry.id} buried before its last delivery`).toBeGreaterThanOrEqual(MAX_SIDE_EFFECT_DELIVERIES);
      expect(entry.lastError, `${entry.id} buried without an error`).not.toBeNull();
    }
    if (entry.completedAt === null) continue;
    if (entry.kind === 'notify') {
      expect(notifier.calls.some((call) => call.idempotencyKey === entry.idempotencyKey), `${entry.id} completed, never sent`).toBe(true);
    }
    if (entry.kind === 'run_hook') {
      expect(hookCalls.some((call) => call.idempotencyKey === entry.idempotencyKey), `${entry.id} completed, never run`).toBe(true);
    }
    if (entry.kind === 'create_refund' && !createCalls.some((call) => call.idempotencyKey === entry.idempotencyKey)) {
      // Completed without a call: only when the attempt was overtaken before the entry ran.
      const decidedAt = Number(/#(\d+):/.exec(entry.id)?.[1]);
      const attempt = (entry.payload as { attempt: number }).attempt;
      expect(overtaken(streamEvents.get(entry.streamId) ?? [], decidedAt, attempt), `${entry.id} completed without asking the processor`).toBe(true);
    }
  }
};

/** The refundable balance: what a payment's credit notes commit, and what the processor paid out, never exceed the charge. */
const checkBalances = (system: System, summaries: readonly CreditNoteSummary[]) => {
  for (const [paymentId, charged] of Object.entries(system.charged)) {
    const committed = summaries
      .filter((summary) => summary.paymentId === paymentId)
      // A failed refund made in the dashboard is the merchant's to redo, not owed by the credit note.
      .filter((summary) => !(summary.state.context.origin === 'processor' && summary.status === 'failed'))
      .reduce((sum, summary) => sum + summary.state.context.amount, 0);
    expect(committed, `credit notes of ${paymentId} commit more than its charge`).toBeLessThanOrEqual(charged);
    const paidOut = system.gateway
      .refunds()
      .filter((refund) => refund.paymentId === paymentId && refund.status !== 'failed' && refund.status !== 'canceled')
      .reduce((sum, refund) => sum + refund.amount, 0);
    expect(paidOut, `refunds of ${paymentId} exceed its charge`).toBeLessThanOrEqual(charged);
  }
};

/** Lets time pass until every lease and backoff has run out, performing whatever is due, then delivers the webhooks. */
export const drain = async (system: System) => {
  for (let round = 0; round < 12; round += 1) {
    system.clock.advance(LEASE_MS + 31_000);
    const report = (await system.lifecycle.dispatch({ limit: 500 }))._unsafeUnwrap();
    const notices = system.gateway.takeNotices();
    for (const notice of notices) {
      await system.lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId });
    }
    if (report.performed + report.retried + report.obsolete + notices.length === 0) break;
  }
};

export const historyOf = async (system: System, creditNoteId: string): Promise<StoredEvent[]> =>
  (await system.rawStore.readStream(`credit-note-${creditNoteId}`)).events;
