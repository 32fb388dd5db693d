import { expect } from 'vitest';
import { createRefundLifecycle, type RefundLifecycle, type RefundLifecycleConfig } from '../../src/lifecycle/createRefundLifecycle.js';
import { decideWithXState, type Intent } from '../../src/machine/creditNoteMachine.js';
import { initialCreditNoteState, type CreditNoteStatus } from '../../src/machine/creditNoteState.js';
import { foldCreditNote } from '../../src/machine/fold.js';
import { isCreditNoteEvent, isPaymentEvent, isRefundRequestEvent, type StoredEvent } from '../../src/events/envelope.js';
import type { CreditNoteEvent } from '../../src/events/creditNoteEvents.js';
import type { PaymentEvent } from '../../src/events/paymentEvents.js';
import type { RefundRequestEvent } from '../../src/events/refundRequestEvents.js';
import { foldRefundRequest, type RefundRequestNoticeKind } from '../../src/machine/refundRequestMachine.js';
import type { RefundRequestState } from '../../src/machine/refundRequestState.js';
import { foldPayment } from '../../src/machine/paymentState.js';
import type { CreditNoteSummary, EventStore, OutboxEntry, OutboxKind } from '../../src/ports/eventStore.js';
import type { CancelSubscriptionCall, HookCall, Notifier } from '../../src/ports/notifier.js';
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
  let lastCrash: { write: StoreWrite; when: 'before' | 'after' } | null = null;
  const write =
    <A extends unknown[], R>(name: StoreWrite, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (armed === null || (armed.remaining -= 1) > 0) return call(...args);
      const { when } = armed;
      armed = null;
      fired += 1;
      lastCrash = { write: name, when };
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
    /** The write the last crash fell on, and whether that write reached the store ('after') or not ('before'). */
    get lastCrash() {
      return lastCrash;
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
  /** The host's permission check, for every lifecycle instance of the system. */
  authorize?: RefundLifecycleConfig['authorize'];
  /** The refund-request policy of every lifecycle instance of the system. */
  refundRequests?: RefundLifecycleConfig['refundRequests'];
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
  // The host's billing system: each successful cancellation is recorded; `failCancelNext` makes the next ones throw.
  const cancelCalls: CancelSubscriptionCall[] = [];
  let cancelFailures = 0;
  const hooks = {
    refundSucceeded: (call: HookCall) => void hookCalls.push(call),
    refundFailed: (call: HookCall) => void hookCalls.push(call),
    refundedManually: (call: HookCall) => void hookCalls.push(call),
    cancelSubscription: (call: CancelSubscriptionCall) => {
      if (cancelFailures > 0) {
        cancelFailures -= 1;
        throw new Error('billing system unavailable');
      }
      cancelCalls.push(structuredClone(call));
    },
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
    ...(options.authorize === undefined ? {} : { authorize: options.authorize }),
    ...(options.refundRequests === undefined ? {} : { refundRequests: options.refundRequests }),
  };
  const lifecycle: RefundLifecycle = createRefundLifecycle({ ...common, store });
  const doomed: RefundLifecycle = createRefundLifecycle({ ...common, store: crashingStore(store) });
  /** Another host process over the same store, processor and notifier, configured otherwise (e.g. a stricter policy). */
  const lifecycleWith = (overrides: Partial<RefundLifecycleConfig>): RefundLifecycle => createRefundLifecycle({ ...common, store, ...overrides });
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
    cancelCalls,
    failCancelNext: (count: number) => {
      cancelFailures = count;
    },
    lifecycle,
    doomed,
    lifecycleWith,
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
  await checkRequestInvariants(system, outbox, summaries);
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

/*
 * Refund requests (issue 14): the same promise, checked against the same real
 * side effects. A request's credit note is found by what it says (the reason an
 * approval writes), not by the id the approval recorded, so a second credit
 * note for one request could not hide under another id.
 */

export type ReplayedRequest = { requestId: string; streamId: string; version: number; state: RefundRequestState; events: StoredEvent[] };

/** Every refund request in the log, replayed from its own stream through the request machine. */
export const requestsOf = async (system: Pick<System, 'rawStore'>): Promise<Map<string, ReplayedRequest>> => {
  const byStream = new Map<string, StoredEvent[]>();
  for (const event of await system.rawStore.readAll()) {
    if (!event.streamId.startsWith('refund-request-')) continue;
    byStream.set(event.streamId, [...(byStream.get(event.streamId) ?? []), event]);
  }
  const requests = new Map<string, ReplayedRequest>();
  for (const [streamId, events] of byStream) {
    const replay = foldRefundRequest(
      events.filter(isRefundRequestEvent).map((event) => ({ type: event.type, data: event.data, occurredAt: event.occurredAt }) as RefundRequestEvent),
    );
    expect(replay.rejected, `${streamId} replays`).toBeNull();
    const requestId = streamId.slice('refund-request-'.length);
    expect(replay.state.context.requestId).toBe(requestId);
    requests.set(requestId, { requestId, streamId, version: events.length, state: replay.state, events });
  }
  return requests;
};

/** The request a credit note was issued for, read from the reason its approval wrote; null for any other credit note. */
export const requestOfCreditNote = (summary: Pick<CreditNoteSummary, 'state'>): string | null =>
  /^Refund request (.+) \([a-z_]+\) approved$/.exec(summary.state.context.reason)?.[1] ?? null;

/** The notices a request owes by where its own machine is: received once submitted; approved or rejected once decided so. */
export const noticesOwed = (state: RefundRequestState): RefundRequestNoticeKind[] => {
  switch (state.status) {
    case 'unsubmitted':
      return [];
    case 'approved':
      return ['refund_request_received', 'refund_request_approved'];
    case 'rejected':
      return ['refund_request_received', 'refund_request_rejected'];
    default:
      return ['refund_request_received'];
  }
};

/** Whether the request's approval ends its subscription: approved, with one, and an option other than refund only. */
export const cancelOwed = (state: RefundRequestState): boolean =>
  state.status === 'approved' && state.context.subscriptionId !== null && state.context.decision?.kind === 'approved' && state.context.decision.option !== 'refund_only';

const isRequestEntry = (entry: OutboxEntry) => entry.kind === 'request_notify' || entry.kind === 'request_hook';

/**
 * One credit note per approved request and none for any other; refunds only
 * for approved requests' credit notes; one open request per payment; each
 * notice owed entered once under its request's deterministic key, delivered at
 * most once per request and kind and never one a request does not owe (a
 * withdrawn request is never told approved or rejected); the subscription
 * cancelled only for an approval that asks for it, under one key; and, once a
 * request's entries are done, exactly what it owes.
 */
const checkRequestInvariants = async (system: System, outbox: readonly OutboxEntry[], summaries: readonly CreditNoteSummary[]) => {
  const { rawStore, gateway, notifier, cancelCalls } = system;
  const requests = await requestsOf(system);

  // The read model is the streams' fold, written in the same appends.
  const rows = await rawStore.listRefundRequests({ limit: 500 });
  expect(rows.map((row) => row.requestId).sort(), 'read-model rows').toEqual([...requests.keys()].sort());
  for (const row of rows) {
    const replayed = requests.get(row.requestId)!;
    expect(row.state, `read model of ${row.requestId}`).toEqual(replayed.state);
    expect(row.version).toBe(replayed.version);
  }

  // One credit note per approved request with a refund, never two; none for a pending, rejected or withdrawn one.
  const creditNotesOf = new Map<string, CreditNoteSummary[]>();
  for (const summary of summaries) {
    const requestId = requestOfCreditNote(summary);
    if (requestId !== null) creditNotesOf.set(requestId, [...(creditNotesOf.get(requestId) ?? []), summary]);
  }
  for (const requestId of creditNotesOf.keys()) expect(requests.has(requestId), `credit note for unknown request ${requestId}`).toBe(true);
  const refunds = gateway.refunds();
  for (const [requestId, { state }] of requests) {
    const mine = creditNotesOf.get(requestId) ?? [];
    const decision = state.context.decision;
    if (decision?.kind === 'approved' && decision.creditNoteId !== null) {
      expect(mine.map((summary) => summary.creditNoteId), `credit notes of approved ${requestId}`).toEqual([decision.creditNoteId]);
      expect(mine[0]!.state.context.amount).toBe(decision.amount);
      expect(mine[0]!.state.context.payment?.paymentId).toBe(state.context.payment?.paymentId);
    } else {
      expect(mine.map((summary) => summary.creditNoteId), `credit notes of ${state.status} ${requestId}`).toEqual([]);
      // Nor any refund at the processor under the credit note id an approval would have used.
      expect(refunds.filter((refund) => refund.metadata.creditNoteId === `rr-${requestId}`), `refunds of ${state.status} ${requestId}`).toEqual([]);
    }
  }

  // One open request per payment: exactly the pending requests on it, as the payment's stream lists them.
  const paymentStreams = new Map<string, PaymentEvent[]>();
  for (const event of await rawStore.readAll()) {
    if (!event.streamId.startsWith('payment-') || !isPaymentEvent(event)) continue;
    paymentStreams.set(event.streamId, [...(paymentStreams.get(event.streamId) ?? []), { type: event.type, data: event.data, occurredAt: event.occurredAt } as PaymentEvent]);
  }
  const pendingOn = (paymentId: string) =>
    [...requests.values()].filter(({ state }) => state.status === 'pending' && state.context.payment?.paymentId === paymentId).map(({ requestId }) => requestId).sort();
  for (const [streamId, events] of paymentStreams) {
    const open = foldPayment(events).openRequests;
    expect(open.length, `open requests on ${streamId}`).toBeLessThanOrEqual(1);
    expect([...open].sort(), `open requests on ${streamId}`).toEqual(pendingOn(streamId.slice('payment-'.length)));
  }
  for (const { requestId, state } of requests.values()) {
    if (state.status === 'pending') expect(paymentStreams.has(`payment-${state.context.payment!.paymentId}`), `${requestId} on its payment`).toBe(true);
  }

  // Every decision left its entries, once, under the request's deterministic key; nothing a request does not owe.
  const entries = outbox.filter(isRequestEntry);
  const entryFor = new Map<string, OutboxEntry>();
  for (const entry of entries) {
    const { requestId } = entry.payload as { requestId: string };
    const what = entry.kind === 'request_notify' ? (entry.payload as { kind: string }).kind : (entry.payload as { hook: string }).hook;
    expect(entry.idempotencyKey, `key of ${entry.id}`).toBe(`${requestId}:request:${what}`);
    expect(entryFor.has(`${requestId}:${what}`), `a second ${what} entry for ${requestId}`).toBe(false);
    entryFor.set(`${requestId}:${what}`, entry);
  }
  for (const [requestId, { state }] of requests) {
    const owed = [...noticesOwed(state), ...(cancelOwed(state) ? ['cancelSubscription'] : [])].sort();
    const entered = entries.filter((entry) => (entry.payload as { requestId: string }).requestId === requestId);
    expect(
      entered.map((entry) => (entry.kind === 'request_notify' ? (entry.payload as { kind: string }).kind : (entry.payload as { hook: string }).hook)).sort(),
      `side effects entered for ${state.status} ${requestId}`,
    ).toEqual(owed);
  }
  for (const entry of entries) expect(requests.has((entry.payload as { requestId: string }).requestId), `${entry.id} of an unknown request`).toBe(true);

  // Delivered: at most one notice per request and kind (whatever its key), and only the ones the request owes.
  const delivered = notifier.deliveredRequestNotices();
  expectAtMostOnce(
    countBy(delivered, (notice) => `${notice.decided.requestId}:${notice.kind}`),
    'request notice',
  );
  for (const notice of delivered) {
    const request = requests.get(notice.decided.requestId);
    expect(request, `notice ${notice.idempotencyKey} of an unknown request`).toBeDefined();
    expect(noticesOwed(request!.state), `${notice.kind} to a ${request!.state.status} request`).toContain(notice.kind);
    expect(notice.recipient).toBe(notice.kind === 'refund_request_received' ? 'merchant' : 'client');
    if (notice.kind === 'refund_request_approved') {
      const decision = request!.state.context.decision;
      expect(decision?.kind).toBe('approved');
      if (decision?.kind === 'approved') expect(notice.decided).toMatchObject({ creditNoteId: decision.creditNoteId, approvedAmount: decision.amount, option: decision.option });
    }
    if (notice.kind === 'refund_request_rejected') {
      const decision = request!.state.context.decision;
      expect(decision?.kind).toBe('rejected');
      if (decision?.kind === 'rejected') expect(notice.decided.note).toBe(decision.note);
    }
  }
  const deliveries = (kind: OutboxKind, key: string) => outbox.find((entry) => entry.kind === kind && entry.idempotencyKey === key)?.deliveries ?? 0;
  // A repeated call only after a failure or a crash of that very entry.
  for (const [key, count] of countBy(notifier.requestCalls, (notice) => notice.idempotencyKey)) {
    expect(count, `request notifier calls for ${key}`).toBeLessThanOrEqual(deliveries('request_notify', key));
  }
  // The subscription: cancelled only for an approval that asks for it, under one key, and run again only after a
  // failure or crash of its entry.
  for (const call of cancelCalls) {
    const request = requests.get(call.requestId);
    expect(request !== undefined && cancelOwed(request.state), `cancelSubscription of ${call.requestId}`).toBe(true);
    expect(call.subscriptionId).toBe(request!.state.context.subscriptionId);
  }
  expectAtMostOnce(
    countBy([...new Set(cancelCalls.map((call) => `${call.requestId}\u0000${call.idempotencyKey}`))], (key) => key.split('\u0000')[0]!),
    'distinct cancellations of request',
  );
  for (const [key, count] of countBy(cancelCalls, (call) => call.idempotencyKey)) {
    expect(count, `cancelSubscription calls for ${key}`).toBeLessThanOrEqual(deliveries('request_hook', key));
  }
  for (const entry of entries) {
    if (entry.completedAt === null) continue;
    if (entry.kind === 'request_notify') {
      expect(delivered.some((notice) => notice.idempotencyKey === entry.idempotencyKey), `${entry.id} completed, never delivered`).toBe(true);
    } else {
      expect(cancelCalls.some((call) => call.idempotencyKey === entry.idempotencyKey), `${entry.id} completed, never run`).toBe(true);
    }
  }

  // A request whose entries are all done got exactly what it owes: each notice once, the cancellation once or never.
  for (const [requestId, { state }] of requests) {
    const mine = entries.filter((entry) => (entry.payload as { requestId: string }).requestId === requestId);
    if (mine.some((entry) => entry.completedAt === null)) continue;
    expect(
      delivered.filter((notice) => notice.decided.requestId === requestId).map((notice) => notice.kind).sort(),
      `notices delivered for ${state.status} ${requestId}`,
    ).toEqual(noticesOwed(state).sort());
    expect(new Set(cancelCalls.filter((call) => call.requestId === requestId).map((call) => call.idempotencyKey)).size, `cancellations of ${requestId}`).toBe(
      cancelOwed(state) ? 1 : 0,
    );
  }
  // No notice or cancellation of a request that was never submitted.
  for (const call of notifier.requestCalls) expect(requests.has(call.decided.requestId), `notice of unknown ${call.decided.requestId}`).toBe(true);
};
