import { Client } from '@adyen/api-library';
import { onTestFinished } from 'vitest';
import { inMemoryEventStore } from '../../src/adapters/inMemoryEventStore.js';
import { adyenGateway, type AdyenGatewayOptions } from '../../src/adapters/adyen/adyenGateway.js';
import {
  adyenNotificationAnswer,
  adyenNotifications,
  type AdyenNotificationsOptions,
} from '../../src/adapters/adyen/adyenNotifications.js';
import { createRefundLifecycle, type RefundLifecycleConfig } from '../../src/lifecycle/createRefundLifecycle.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import { startFakeAdyenServer, type FakeAdyenServerOptions, type NotificationBatch } from '../../src/testing/adyen/index.js';
import { manualClock } from '../../src/testing/manualClock.js';
import { recordingNotifier } from '../../src/testing/recordingNotifier.js';

/** The merchant issuing credit notes in these tests. */
export const actor = { kind: 'user', id: 'merchant_1' } as const;

/** A fake Adyen closed when the test ends. */
export const openFakeAdyen = async (options: FakeAdyenServerOptions = {}) => {
  const fake = await startFakeAdyenServer(options);
  onTestFinished(() => fake.close());
  return fake;
};

/** A fake Adyen closed when the test ends, and a real `@adyen/api-library` client wired to it. */
export const startFakeAdyen = async (options: FakeAdyenServerOptions = {}) => {
  const fake = await openFakeAdyen(options);
  // A short timeout: an answer held by the fake becomes a timeout quickly.
  const client = new Client({ ...fake.clientConfig, connectionTimeoutMillis: 1_500 });
  return { fake, client };
};

export type AdyenWorldOptions = {
  fake?: FakeAdyenServerOptions;
  gateway?: Partial<Omit<AdyenGatewayOptions, 'client' | 'checkout'>>;
  notifications?: Partial<Omit<AdyenNotificationsOptions, 'lifecycle'>>;
  wrapStore?: (store: EventStore) => EventStore;
  lifecycle?: Partial<Pick<RefundLifecycleConfig, 'hooks' | 'adoptedRefunds'>>;
};

/**
 * A host wired to the fake Adyen as production would be to Adyen: the real
 * library, the Adyen gateway, a lifecycle over an in-memory store, and the
 * notification endpoint verifying with the fake's HMAC key.
 */
export const startAdyenWorld = async (options: AdyenWorldOptions = {}) => {
  const { fake, client } = await startFakeAdyen(options.fake);
  const clock = manualClock('2026-03-02T09:00:00.000Z');
  const store = inMemoryEventStore();
  const notifier = recordingNotifier();
  const gateway = adyenGateway({ client, merchantAccount: fake.merchantAccount, ...options.gateway });
  const lifecycle = createRefundLifecycle({
    store: options.wrapStore ? options.wrapStore(store) : store,
    gateway,
    notifier,
    clock,
    ...options.lifecycle,
  });
  const notifications = adyenNotifications({
    lifecycle,
    hmacKey: fake.hmacKey,
    merchantAccount: fake.merchantAccount,
    live: fake.live,
    ...options.notifications,
  });
  /** The host's webhook route: what it answers Adyen. */
  const route = async (batch: NotificationBatch) =>
    adyenNotificationAnswer(await notifications.handleNotification({ body: batch.rawBody }));

  return {
    fake,
    client,
    clock,
    store,
    notifier,
    gateway,
    lifecycle,
    notifications,
    route,
    /** Delivers every queued notification to the route (duplicated, reordered, batched on request). */
    deliver: (delivery: Parameters<typeof fake.deliverNotifications>[1] = {}) => fake.deliverNotifications(route, delivery),
    /** A captured payment whose AUTHORISATION is queued (not delivered). */
    pay: (amount = 10_000, currency = 'EUR') => fake.createPayment({ amount, currency }),
    issue: (input: {
      creditNoteId: string;
      paymentId: string;
      amount: number;
      currency?: string;
      chargeConfirmed?: boolean;
      /** The payment's merchant account as the host records it (absent: the default one). */
      account?: string | null;
    }) =>
      lifecycle.issueCreditNote({
        creditNoteId: input.creditNoteId,
        amount: input.amount,
        currency: input.currency ?? 'EUR',
        payment: { paymentId: input.paymentId, ...(input.account === undefined ? {} : { account: input.account }) },
        reason: 'Workshop cancelled',
        chargeConfirmed: input.chargeConfirmed ?? true,
        actor,
      }),
    view: async (creditNoteId: string) => (await lifecycle.getCreditNote(creditNoteId))._unsafeUnwrap(),
    notified: () => notifier.calls.map((call) => [call.creditNote.creditNoteId, call.kind, call.recipient]),
    snapshot: async () =>
      structuredClone({ events: await store.readAll(), outbox: await store.listOutbox(), creditNotes: await store.listCreditNotes() }),
    refundRequests: () => fake.requests.filter((request) => request.paymentPspReference !== null),
  };
};

export type AdyenWorld = Awaited<ReturnType<typeof startAdyenWorld>>;
