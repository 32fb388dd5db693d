import { expect } from 'vitest';
import type { Result } from 'neverthrow';
import {
  createRefundLifecycle,
  type RefundLifecycle,
  type RefundLifecycleConfig,
} from '../../src/lifecycle/createRefundLifecycle.js';
import type { IssueCreditNoteInput } from '../../src/lifecycle/commandInputs.js';
import type { RequestRefundInput } from '../../src/requests/refundRequestInputs.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import type { CancelSubscriptionCall, HookCall, RefundHooks } from '../../src/ports/notifier.js';
import type { CreateRefundRequest, RefundGateway } from '../../src/ports/refundGateway.js';
import { inMemoryEventStore } from '../../src/adapters/inMemoryEventStore.js';
import { fakeGateway, type FakeGatewayOptions, type FakeRefundNotice } from '../../src/testing/fakeGateway.js';
import { manualClock } from '../../src/testing/manualClock.js';
import { recordingNotifier } from '../../src/testing/recordingNotifier.js';

/** The freelancer clicking the buttons in most examples. */
export const actor = { kind: 'user', id: 'freelancer_1' } as const;

/** Every request that reached the processor port, reads included (the fake itself counts only creates). */
export type GatewayCall =
  | { method: 'createRefund'; request: CreateRefundRequest }
  | { method: 'retrieveRefund'; processorRefundId: string }
  | { method: 'findRefunds'; paymentId: string }
  | { method: 'describePayment'; paymentId: string };

export type FixtureOptions = {
  dispatchInline?: boolean;
  retryPolicy?: RefundLifecycleConfig['retryPolicy'];
  gateway?: FakeGatewayOptions;
  /** Wraps the store the lifecycle writes through (e.g. to make it crash); `fixture.store` stays the real one. */
  wrapStore?: (store: EventStore) => EventStore;
};

/**
 * One host process over an in-memory store, the fake processor, a recording
 * notifier, recorded hooks and a clock that moves only when told.
 */
export const buildFixture = (options: FixtureOptions = {}) => {
  const store = inMemoryEventStore();
  const gateway = fakeGateway(options.gateway);
  const notifier = recordingNotifier();
  const clock = manualClock();
  const hookCalls: HookCall[] = [];
  const cancelCalls: CancelSubscriptionCall[] = [];
  const gatewayCalls: GatewayCall[] = [];

  // The port the lifecycle sees: the fake, with every call recorded on the way in.
  const gatewayPort: RefundGateway = {
    processor: gateway.processor,
    createRefund: (request) => {
      gatewayCalls.push({ method: 'createRefund', request: structuredClone(request) });
      return gateway.createRefund(request);
    },
    retrieveRefund: (request) => {
      gatewayCalls.push({ method: 'retrieveRefund', processorRefundId: request.processorRefundId });
      return gateway.retrieveRefund(request);
    },
    findRefunds: (payment) => {
      gatewayCalls.push({ method: 'findRefunds', paymentId: payment.paymentId });
      return gateway.findRefunds(payment);
    },
    describePayment: (payment) => {
      gatewayCalls.push({ method: 'describePayment', paymentId: payment.paymentId });
      return gateway.describePayment(payment);
    },
  };
  const hooks: RefundHooks = {
    refundSucceeded: (call) => void hookCalls.push(call),
    refundFailed: (call) => void hookCalls.push(call),
    refundedManually: (call) => void hookCalls.push(call),
    cancelSubscription: (call) => void cancelCalls.push(call),
  };
  let sequence = 0;

  /** Another process over the same store and processor, e.g. a second dispatcher. */
  const lifecycleWith = (overrides: Partial<RefundLifecycleConfig> = {}): RefundLifecycle =>
    createRefundLifecycle({
      store,
      gateway: gatewayPort,
      notifier,
      hooks,
      clock,
      generateId: () => `id-${(sequence += 1)}`,
      ...(options.retryPolicy === undefined ? {} : { retryPolicy: options.retryPolicy }),
      ...(options.dispatchInline === undefined ? {} : { dispatchInline: options.dispatchInline }),
      ...overrides,
    });

  const lifecycle = lifecycleWith(options.wrapStore ? { store: options.wrapStore(store) } : {});

  /** Hands the fake's pending webhook notices to the lifecycle, as a webhook endpoint would. */
  const deliver = async (notices: readonly FakeRefundNotice[]) => {
    const outcomes = [];
    for (const notice of notices) {
      outcomes.push(
        okValue(
          await lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId }),
        ),
      );
    }
    return outcomes;
  };

  return { store, gateway, gatewayPort, gatewayCalls, notifier, clock, hookCalls, cancelCalls, lifecycle, lifecycleWith, deliver };
};

export type Fixture = ReturnType<typeof buildFixture>;

/** A valid issue: a confirmed Stripe-like charge, so the refund is asked for at once. Override what the test is about. */
export const issueInput = (overrides: Partial<IssueCreditNoteInput> = {}): IssueCreditNoteInput => ({
  creditNoteId: 'cn_1',
  amount: 5_000,
  currency: 'EUR',
  payment: { paymentId: 'pi_1' },
  reason: 'proposal amended',
  chargeConfirmed: true,
  actor,
  ...overrides,
});

/** Everything the store holds, for "nothing was written" checks. */
export const storeSnapshot = async (store: EventStore) => ({
  readAll: await store.readAll(),
  listOutbox: await store.listOutbox(),
  listCreditNotes: await store.listCreditNotes({ limit: 500 }),
});

/** Every observable side effect, for "nothing was sent" checks. */
export const sideEffectCounts = (fixture: Fixture) => ({
  gatewayCalls: fixture.gatewayCalls.length,
  createCalls: fixture.gateway.createCalls,
  refunds: fixture.gateway.refunds().length,
  notifierCalls: fixture.notifier.calls.length,
  hookCalls: fixture.hookCalls.length,
  requestNoticeCalls: fixture.notifier.requestCalls.length,
  cancelCalls: fixture.cancelCalls.length,
});

export const okValue = <T, E>(result: Result<T, E>): T => {
  if (result.isErr()) expect.fail(`expected Ok, got Err: ${String(result.error)}`);
  return result._unsafeUnwrap();
};

export const errValue = <T, E>(result: Result<T, E>): E => {
  if (result.isOk()) expect.fail(`expected Err, got Ok: ${JSON.stringify(result.value)}`);
  return result._unsafeUnwrapErr();
};

export const creditNoteEventTypes = async (store: EventStore, creditNoteId: string): Promise<string[]> =>
  (await store.readStream(`credit-note-${creditNoteId}`)).events.map((event) => event.type);

/**
 * A customer's refund request on a payment the fake processor captured (10,000) and confirmed, as the log tools'
 * tests need one: 40.00 EUR, asked a day after purchase by the customer it names. Override what the test is about.
 */
export const submitRefundRequest = async (
  fixture: Pick<Fixture, 'gateway' | 'lifecycle' | 'clock'>,
  request: Pick<RequestRefundInput, 'requestId'> & { paymentId: string } & Partial<Omit<RequestRefundInput, 'payment'>>,
) => {
  const { paymentId, ...overrides } = request;
  fixture.gateway.capture(paymentId, 10_000);
  fixture.gateway.setChargeConfirmed(paymentId, true);
  const customerId = overrides.customerId ?? 'cus_1';
  return okValue(
    await fixture.lifecycle.requestRefund({
      payment: { paymentId },
      amount: 4_000,
      currency: 'EUR',
      reason: 'technical_issue',
      details: null,
      customerId,
      purchasedAt: new Date(fixture.clock.now().getTime() - 86_400_000).toISOString(),
      actor: { kind: 'customer', id: customerId },
      ...overrides,
    }),
  );
};
