import Stripe from 'stripe';
import { onTestFinished } from 'vitest';
import { inMemoryEventStore } from '../../src/adapters/inMemoryEventStore.js';
import { stripeGateway } from '../../src/adapters/stripe/stripeGateway.js';
import { stripeWebhooks, type StripeWebhooksOptions } from '../../src/adapters/stripe/stripeWebhooks.js';
import { stripeReconciler, type StripeReconcilerOptions } from '../../src/adapters/stripe/stripeReconciler.js';
import {
  startFakeStripeServer,
  type FakeStripeServerOptions,
  type SignedWebhook,
  type StripeEventJson,
} from '../../src/testing/stripe/fakeStripeServer.js';
import { createRefundLifecycle, type RefundLifecycleConfig } from '../../src/lifecycle/createRefundLifecycle.js';
import type { IssueCreditNoteInput } from '../../src/lifecycle/commandInputs.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import { manualClock } from '../../src/testing/manualClock.js';
import { recordingNotifier } from '../../src/testing/recordingNotifier.js';

/** The freelancer issuing credit notes in these tests. */
export const actor = { kind: 'user', id: 'freelancer_1' } as const;

export type StripeWorldOptions = {
  /** The fake Stripe's mode (written on every object and event). */
  fake?: FakeStripeServerOptions;
  /** What the webhook endpoint is configured with, beyond lifecycle, stripe, secret and clock. */
  webhooks?: Partial<Pick<StripeWebhooksOptions, 'livemode' | 'toleranceSeconds' | 'adoptExternalRefunds' | 'logger' | 'telemetry'>>;
  /** Wraps the store the lifecycle uses, e.g. to count its reads. */
  wrapStore?: (store: EventStore) => EventStore;
  /** The host's lifecycle settings, beyond store, gateway, notifier and clock. */
  lifecycle?: Partial<Pick<RefundLifecycleConfig, 'hooks' | 'adoptedRefunds'>>;
  /** The reconciler's settings beyond what it shares with the webhook endpoint (default: Stripe's page of 100). */
  reconciler?: Partial<Pick<StripeReconcilerOptions, 'pageSize'>>;
};

/**
 * A host wired to the fake Stripe as production would be to Stripe: the real
 * SDK (no network retries of its own, so every request is visible), the
 * Stripe gateway, a lifecycle over an in-memory store, and the webhook
 * endpoint verifying with the fake's signing secret. One clock for the
 * lifecycle, the webhook tolerance check and the fake's `created` and
 * signature timestamps, so time moves for all of them at once.
 */
export const startStripeWorld = async (options: StripeWorldOptions = {}) => {
  const world = await openStripeWorld(options);
  onTestFinished(() => world.close());
  return world;
};

/** A fake Stripe server closed when the test ends. */
export const startFakeStripe = async (options: FakeStripeServerOptions = {}) => {
  const fake = await startFakeStripeServer(options);
  onTestFinished(() => fake.close());
  return fake;
};

/** The same world for a whole `describe` (opened in `beforeAll`): the caller closes it. */
export const openStripeWorld = async (options: StripeWorldOptions = {}) => {
  // These tests follow credit notes from `requested` to settled by webhook, so card
  // refunds here settle later (`setRefundStatus`), not at creation as in Stripe's
  // default; a test of the default passes `fake: { cardRefundsSettle: 'at_creation' }`.
  const fake = await startFakeStripeServer({ cardRefundsSettle: 'later', ...options.fake });
  const stripe = new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });
  const clock = manualClock('2026-03-02T09:00:00.000Z');
  const unixNow = () => Math.floor(clock.now().getTime() / 1000);
  fake.setClock(unixNow());

  const store = inMemoryEventStore();
  const lifecycleStore = options.wrapStore ? options.wrapStore(store) : store;
  const notifier = recordingNotifier();
  const lifecycle = createRefundLifecycle({
    store: lifecycleStore,
    gateway: stripeGateway({ stripe }),
    notifier,
    clock,
    ...options.lifecycle,
  });
  const webhooks = stripeWebhooks({
    lifecycle,
    stripe,
    webhookSecret: fake.webhookSecret,
    clock,
    ...options.webhooks,
  });

  /** The reconciler a host runs beside the endpoint: the same lifecycle, client, mode and clock, and the lifecycle's store. */
  const reconcilerWith = (settings: Partial<Pick<StripeReconcilerOptions, 'pageSize' | 'livemode'>> = {}) =>
    stripeReconciler({ lifecycle, stripe, clock, store: lifecycleStore, ...options.webhooks, ...options.reconciler, ...settings });

  /**
   * Hands each webhook to the endpoint in turn, as Stripe would (never two at
   * once). An `Ok` is the 200 a host answers: the fake counts the event delivered.
   */
  const deliver = async (signed: readonly SignedWebhook[]) => {
    const results = [];
    for (const webhook of signed) {
      const result = await webhooks.handleWebhook({ rawBody: webhook.rawBody, signature: webhook.signature });
      if (result.isOk()) fake.markWebhooksDelivered(webhook.event.id);
      results.push(result);
    }
    return results;
  };

  return {
    close: () => fake.close(),
    fake,
    stripe,
    clock,
    store,
    notifier,
    lifecycle,
    webhooks,
    deliver,
    /** The host's reconciler (`stripeReconciler`), built on the world's lifecycle, client and store. */
    reconciler: reconcilerWith(),
    reconcilerWith,
    unixNow,
    /** Moves the lifecycle's clock and the fake Stripe's together. */
    advance(ms: number) {
      clock.advance(ms);
      fake.setClock(unixNow());
    },
    /** A Stripe event signed with the endpoint's secret at the current time, the way the fake signs its own. */
    signed(event: object): SignedWebhook {
      const rawBody = JSON.stringify(event, null, 2);
      return { event: event as StripeEventJson, rawBody, signature: fake.sign(rawBody) };
    },
    /** A credit note against a payment of the fake Stripe, by default confirmed, on the payment's account. */
    issue(input: Partial<IssueCreditNoteInput> & { creditNoteId: string; paymentId: string; account?: string | null }) {
      const { paymentId, account = null, ...rest } = input;
      return lifecycle.issueCreditNote({
        amount: 1_000,
        currency: 'EUR',
        reason: 'desk booking cancelled',
        chargeConfirmed: true,
        actor,
        ...rest,
        payment: { paymentId, account },
      });
    },
  };
};

export type StripeWorld = Awaited<ReturnType<typeof startStripeWorld>>;

/** Everything the store holds, for "nothing was written" assertions. */
export const storeSnapshot = async (store: EventStore) =>
  structuredClone({
    events: await store.readAll(),
    outbox: await store.listOutbox(),
    creditNotes: await store.listCreditNotes(),
  });

/** The webhooks of one event type, from a batch taken from the fake. */
export const ofType = (signed: readonly SignedWebhook[], type: string): SignedWebhook[] =>
  signed.filter((webhook) => webhook.event.type === type);

/** The one webhook of this type in the batch; throws when there is none or several, so a test cannot pass on the wrong one. */
export const onlyOfType = (signed: readonly SignedWebhook[], type: string): SignedWebhook => {
  const found = ofType(signed, type);
  if (found.length !== 1) throw new Error(`expected one ${type} webhook, found ${found.length}`);
  return found[0]!;
};

/** The error an SDK call threw; fails the test when it did not throw. */
export const caught = async (promise: Promise<unknown>): Promise<Stripe.errors.StripeError> => {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error('expected the SDK call to throw');
};
