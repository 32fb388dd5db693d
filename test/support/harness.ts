import { expect } from 'vitest';
import { createRefundLifecycle, type RefundLifecycle } from '../../src/lifecycle/createRefundLifecycle.js';
import { decideWithMachine } from '../../src/machine/creditNoteMachine.js';
import { initialCreditNoteState, type CreditNoteStatus } from '../../src/machine/creditNoteState.js';
import { foldCreditNote } from '../../src/machine/fold.js';
import { isCreditNoteEvent, type StoredEvent } from '../../src/events/envelope.js';
import type { CreditNoteEvent } from '../../src/events/creditNoteEvents.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import type { HookCall } from '../../src/ports/notifier.js';
import { inMemoryEventStore } from '../../src/adapters/inMemoryEventStore.js';
import { fakeGateway, type FakeGatewayOptions } from '../../src/testing/fakeGateway.js';
import { manualClock } from '../../src/testing/manualClock.js';
import { recordingNotifier } from '../../src/testing/recordingNotifier.js';

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

export const LEASE_MS = 60_000;

export type SystemOptions = {
  /** Wraps the store every lifecycle instance uses, e.g. to let a scheduler interleave its calls. */
  wrapStore?: (store: EventStore) => EventStore;
  latency?: FakeGatewayOptions['latency'];
};

/** One host process (plus a doomed twin) over a shared store, fake processor and notifier. */
export const buildSystem = (options: SystemOptions = {}) => {
  const rawStore = inMemoryEventStore();
  const store = options.wrapStore ? options.wrapStore(rawStore) : rawStore;
  const gateway = fakeGateway(options.latency ? { latency: options.latency } : {});
  const notifier = recordingNotifier();
  const clock = manualClock();
  const hookCalls: HookCall[] = [];
  const hooks = {
    refundSucceeded: (call: HookCall) => void hookCalls.push(call),
    refundFailed: (call: HookCall) => void hookCalls.push(call),
    refundedManually: (call: HookCall) => void hookCalls.push(call),
  };
  let sequence = 0;
  const common = {
    gateway,
    notifier,
    hooks,
    clock,
    generateId: () => `id-${(sequence += 1)}`,
    retryPolicy: { leaseMs: LEASE_MS, backoffBaseMs: 1_000, backoffMaxMs: 30_000, maxAutomaticRefundRetries: 3 },
    dispatchInline: false,
  };
  const lifecycle: RefundLifecycle = createRefundLifecycle({ ...common, store });
  const doomed: RefundLifecycle = createRefundLifecycle({ ...common, store: crashingStore(store) });
  return { rawStore, store, gateway, notifier, clock, hookCalls, lifecycle, doomed, crashes: 0 };
};

export type System = ReturnType<typeof buildSystem>;

const toMachineEvent = (event: StoredEvent) =>
  ({ type: event.type, data: event.data, occurredAt: event.occurredAt }) as CreditNoteEvent;

const countBy = <T>(items: readonly T[], key: (item: T) => string): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
};

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
  // Repeats of one key reach the notifier only after a dispatcher died holding it.
  for (const [key, count] of countBy(notifier.calls, (n) => n.idempotencyKey)) {
    const failed = count - 1;
    expect(failed, `notifier calls for ${key}`).toBeLessThanOrEqual(system.crashes);
  }
  for (const [key, count] of countBy(hookCalls, (c) => c.idempotencyKey)) {
    expect(count - 1, `hook calls for ${key}`).toBeLessThanOrEqual(system.crashes);
  }

  const summaries = await rawStore.listCreditNotes({ limit: 500 });
  const paymentsConfirmed = new Set(
    (await rawStore.readAll()).filter((e) => e.type === 'ChargeConfirmed').map((e) => (e.data as { paymentId: string }).paymentId),
  );
  for (const summary of summaries) {
    const { events } = await rawStore.readStream(summary.streamId);
    const creditNoteEvents = events.filter(isCreditNoteEvent).map(toMachineEvent);

    // Every state is explained by replaying its events — through the fold and through XState itself.
    const folded = foldCreditNote(creditNoteEvents);
    expect(folded.rejected).toBeNull();
    expect(summary.state).toEqual(folded.state);
    expect(summary.version).toBe(events.length);
    let machineState = initialCreditNoteState;
    for (const event of creditNoteEvents) {
      const decision = decideWithMachine(machineState, event);
      expect(decision.accepted).toBe(true);
      machineState = decision.state;
    }
    expect(machineState).toEqual(folded.state);

    const { status, context } = folded.state;
    const id = context.creditNoteId;

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
