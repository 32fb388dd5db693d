import { describe, expect, it } from 'vitest';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import type { EventStore } from '../src/ports/eventStore.js';
import type { RefundGateway } from '../src/ports/refundGateway.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import { manualClock } from '../src/testing/manualClock.js';
import { recordingNotifier } from '../src/testing/recordingNotifier.js';
import { onlyOfType, startStripeWorld } from './stripe/support.js';

/*
 * The decision path: a command loads what it needs once, decides, appends
 * once, and answers from what it decided; the side effects it performs at once
 * start from that decision too. Counted where it happens: the store's reads.
 */

/** Counts every stream read, by stream. */
const countingStore = (store: EventStore) => {
  const reads = new Map<string, number>();
  const counted: EventStore = {
    ...store,
    readStream: async (streamId) => {
      reads.set(streamId, (reads.get(streamId) ?? 0) + 1);
      return store.readStream(streamId);
    },
    hasEventsCausedBy: async (causationId) => {
      reads.set('hasEventsCausedBy', (reads.get('hasEventsCausedBy') ?? 0) + 1);
      return store.hasEventsCausedBy(causationId);
    },
    listCreditNotes: async (filter) => {
      const key = `list ${JSON.stringify(filter)}`;
      reads.set(key, (reads.get(key) ?? 0) + 1);
      return store.listCreditNotes(filter);
    },
  };
  return {
    store: counted,
    reads: () => Object.fromEntries(reads),
    reset: () => reads.clear(),
  };
};

const actor = { kind: 'user', id: 'freelancer' } as const;
const issueInput = (creditNoteId: string, paymentId: string, amount = 2_000) => ({
  creditNoteId,
  amount,
  currency: 'EUR',
  payment: { paymentId },
  reason: 'proposal amended',
  chargeConfirmed: true,
  actor,
});

const setup = (wrap: (store: EventStore) => EventStore = (store) => store) => {
  const raw = inMemoryEventStore();
  const counting = countingStore(wrap(raw));
  const gateway = fakeGateway();
  const asked = { describePayment: 0, findRefunds: 0 };
  const counted: RefundGateway = {
    ...gateway,
    describePayment: async (payment) => {
      asked.describePayment += 1;
      return gateway.describePayment(payment);
    },
    findRefunds: async (payment) => {
      asked.findRefunds += 1;
      return gateway.findRefunds(payment);
    },
  };
  const notifier = recordingNotifier();
  const hookCalls: string[] = [];
  const lifecycle = createRefundLifecycle({
    store: counting.store,
    gateway: counted,
    notifier,
    clock: manualClock(),
    hooks: { refundSucceeded: ({ idempotencyKey }) => void hookCalls.push(idempotencyKey) },
  });
  return { raw, counting, gateway, asked, notifier, hookCalls, lifecycle };
};

describe('each command reads a stream once', () => {
  it('a fresh webhook settling a refund reads its credit note once: decision, email, hook and answer included', async () => {
    const { counting, gateway, notifier, hookCalls, lifecycle } = setup();
    await lifecycle.issueCreditNote(issueInput('cn_1', 'pi_1'));
    const [refund] = gateway.refunds();
    gateway.takeNotices();
    gateway.setRefundStatus(refund!.processorRefundId, 'succeeded');
    const [settled] = gateway.takeNotices();
    counting.reset();

    const observed = await lifecycle.observeRefund({ refund: settled!.refund, source: 'webhook', causationId: settled!.noticeId });

    expect(observed._unsafeUnwrap()).toMatchObject({ changed: true, creditNote: { status: 'succeeded', version: 4 } });
    expect(notifier.delivered().map((notification) => notification.kind)).toEqual(['refund_completed']);
    expect(hookCalls).toEqual(['cn_1:hook:refundSucceeded:1']);
    expect(counting.reads()).toEqual({ 'credit-note-cn_1': 1, hasEventsCausedBy: 1 });

    // Its redelivery writes nothing and reads the credit note once more, to answer; the stream shows it was applied.
    counting.reset();
    const again = await lifecycle.observeRefund({ refund: settled!.refund, source: 'webhook', causationId: settled!.noticeId });
    expect(again._unsafeUnwrap()).toMatchObject({ changed: false, creditNote: { status: 'succeeded', version: 4 } });
    expect(counting.reads()).toEqual({ 'credit-note-cn_1': 1 });
  });

  it('an issue reads each stream it touches once, and its refund request starts from what it decided', async () => {
    const { counting, gateway, lifecycle } = setup();
    gateway.capture('pi_1', 10_000);
    await lifecycle.issueCreditNote(issueInput('cn_1', 'pi_1'));
    counting.reset();

    const issued = await lifecycle.issueCreditNote(issueInput('cn_2', 'pi_1'));

    // The answer already holds the processor's acceptance, recorded by the inline dispatch.
    expect(issued._unsafeUnwrap()).toMatchObject({ status: 'requested', refund: { status: 'accepted' } });
    // Its own stream, the payment's, and one read-model page of the siblings whose amounts count against the balance
    // (never a replay per sibling).
    expect(counting.reads()).toEqual({
      'credit-note-cn_2': 1,
      'payment-pi_1': 1,
      'list {"paymentId":"pi_1","limit":500}': 1,
    });
  });

  it('the Stripe webhook endpoint reads the credit note once for a fresh event and once for its redelivery', async () => {
    let counting!: ReturnType<typeof countingStore>;
    const world = await startStripeWorld({
      wrapStore: (store) => {
        counting = countingStore(store);
        return counting.store;
      },
    });
    const payment = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur' });
    world.fake.takeWebhooks();
    await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, amount: 3_000 });
    const [refund] = world.fake.refunds();
    world.fake.takeWebhooks();
    world.fake.setRefundStatus(refund!.id, 'succeeded');
    const updated = onlyOfType(world.fake.takeWebhooks(), 'refund.updated');

    counting.reset();
    expect((await world.deliver([updated]))[0]!._unsafeUnwrap()).toMatchObject({ outcome: 'applied' });
    // A fresh delivery asks the store whether its event id wrote anywhere…
    expect(counting.reads()).toEqual({ 'credit-note-cn_1': 1, hasEventsCausedBy: 1 });

    counting.reset();
    expect((await world.deliver([updated]))[0]!._unsafeUnwrap()).toMatchObject({ outcome: 'unchanged' });
    // …a redelivery finds it in the stream it just read, and asks nothing more.
    expect(counting.reads()).toEqual({ 'credit-note-cn_1': 1 });
  });
});

describe('a version conflict decides again without asking the processor again', () => {
  it('an issue racing another on the same payment asks the processor about the payment once', async () => {
    // Just before the issue's first append, another issue on the same payment gets in: the append conflicts.
    let interfere: (() => Promise<unknown>) | null = null;
    const system = setup((store) => ({
      ...store,
      append: async (request) => {
        const first = interfere;
        interfere = null;
        if (first) await first();
        return store.append(request);
      },
    }));
    const other = createRefundLifecycle({ store: system.raw, gateway: system.gateway, clock: manualClock() });
    interfere = async () => other.issueCreditNote(issueInput('cn_other', 'pi_1', 1_000));

    const issued = await system.lifecycle.issueCreditNote(issueInput('cn_1', 'pi_1'));

    expect(issued._unsafeUnwrap().status).toBe('requested');
    expect((await system.raw.readStream('payment-pi_1')).events.filter((event) => event.type === 'CreditNoteAttached')).toHaveLength(2);
    // The decision ran twice (the second saw cn_other); the processor was asked once.
    expect(system.counting.reads()['payment-pi_1']).toBe(2);
    expect(system.asked).toEqual({ describePayment: 1, findRefunds: 1 });
  });
});
