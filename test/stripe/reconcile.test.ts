import { recordingLogger } from '../support/observability.js';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import {
  ReconcileInterruptedError,
  reconcileCheckpointName,
  stripeReconciler,
  type ReconcileReport,
} from '../../src/adapters/stripe/stripeReconciler.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import type { StripeEventJson } from '../../src/testing/stripe/fakeStripeServer.js';
import { startStripeWorld, storeSnapshot, type StripeWorld, type StripeWorldOptions } from './support.js';

/*
 * Issue 12: webhooks lost for a while, then `reconcile` fetches Stripe's
 * events (GET /v1/events through the real SDK, against the fake) and applies
 * them through the webhook handler's own code. Every assertion counts real
 * side effects: refunds created at Stripe, notifications sent, statuses.
 */

const merchant = 'acct_merchant';
const studio = 'acct_studio';
const minute = 60_000;
const day = 86_400_000;

const view = async (world: StripeWorld, creditNoteId: string) => (await world.lifecycle.getCreditNote(creditNoteId))._unsafeUnwrap();
const statuses = async (world: StripeWorld, ...creditNoteIds: string[]) =>
  Object.fromEntries(await Promise.all(creditNoteIds.map(async (id) => [id, (await view(world, id)).status] as const)));
const notified = (world: StripeWorld) => world.notifier.calls.map((call) => [call.creditNote.creditNoteId, call.kind]);
const refundCreations = (world: StripeWorld) =>
  world.fake.requests.filter((request) => request.method === 'POST' && request.path === '/v1/refunds');
const eventListings = (world: StripeWorld) => world.fake.requests.filter((request) => request.path === '/v1/events');
/** The refunds of one payment at the fake Stripe, oldest first. */
const refundsOf = (world: StripeWorld, paymentIntent: string) => world.fake.refunds({ paymentIntent });

/** Webhooks that are delivered, as a host's endpoint answers them (200 on Ok): the fake counts them delivered. */
const deliverAll = async (world: StripeWorld) => world.deliver(world.fake.takeWebhooks());

/** Stripe's automatic retries of events whose deliveries were lost, signed now. */
const redeliver = async (world: StripeWorld, events: readonly StripeEventJson[]) =>
  (await world.deliver(events.map((event) => world.signed(event)))).map((result) => result._unsafeUnwrap().outcome);

const counts = (report: ReconcileReport) => ({
  fetched: report.fetched,
  applied: report.applied,
  unchanged: report.unchanged,
  ignored: report.ignored,
  rejected: report.rejected.length,
});

/**
 * Four credit notes whose webhooks were all delivered until the endpoint went
 * down, then, unheard: cn_a's refund succeeds, cn_b's fails, the merchant
 * refunds part of cn_c's payment in the dashboard, and the SEPA payment cn_d
 * waits on clears (`payment_intent.succeeded`).
 */
const outage = async (options: StripeWorldOptions = {}) => {
  const world = await startStripeWorld(options);
  const pa = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur' });
  const pb = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur' });
  const pc = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur' });
  const pd = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur', method: 'sepa_debit', status: 'processing' });
  await world.issue({ creditNoteId: 'cn_a', paymentId: pa.id, amount: 2_500 });
  await world.issue({ creditNoteId: 'cn_b', paymentId: pb.id, amount: 2_500 });
  await world.issue({ creditNoteId: 'cn_c', paymentId: pc.id, amount: 2_500 });
  await world.issue({ creditNoteId: 'cn_d', paymentId: pd.id, amount: 2_500, chargeConfirmed: false });
  await deliverAll(world);
  const healthy = world.fake.events().length;
  world.advance(minute);

  // The endpoint is down from here on: every delivery is lost.
  const [ra] = refundsOf(world, pa.id);
  const [rb] = refundsOf(world, pb.id);
  world.fake.setRefundStatus(ra!.id, 'succeeded');
  world.advance(minute);
  world.fake.setRefundStatus(rb!.id, 'failed', 'insufficient_funds');
  world.advance(minute);
  const dashboard = world.fake.createDashboardRefund({ paymentIntent: pc.id, amount: 1_000, status: 'succeeded' });
  world.advance(minute);
  world.fake.succeedPaymentIntent(pd.id);
  const lost = world.fake.dropWebhooks();
  world.advance(minute);
  return { world, payments: { pa, pb, pc, pd }, refunds: { ra: ra!, rb: rb! }, dashboard, lost, healthy };
};

describe('reconcile after lost webhooks', () => {
  it('settles every credit note once, with the refunds, notifications and statuses the webhooks would have brought', async () => {
    const { world, payments, refunds, dashboard, lost, healthy } = await outage();
    const adopted = `stripe-${dashboard.id}`;
    expect(await statuses(world, 'cn_a', 'cn_b', 'cn_c', 'cn_d')).toEqual({ cn_a: 'requested', cn_b: 'requested', cn_c: 'requested', cn_d: 'pending' });
    expect(world.notifier.calls).toEqual([]);
    expect(refundCreations(world)).toHaveLength(3);

    const report = (await world.reconciler.reconcile())._unsafeUnwrap();

    expect(await statuses(world, 'cn_a', 'cn_b', 'cn_c', 'cn_d', adopted)).toEqual({
      cn_a: 'succeeded',
      cn_b: 'failed',
      cn_c: 'requested',
      // payment_intent.succeeded released it: its refund was asked for during the run.
      cn_d: 'requested',
      [adopted]: 'succeeded',
    });
    expect(await view(world, 'cn_b')).toMatchObject({ failure: { processorReason: 'insufficient_funds' } });
    expect(await view(world, adopted)).toMatchObject({ amount: 1_000, refund: { processorRefundId: dashboard.id } });
    expect((await world.lifecycle.history(adopted))._unsafeUnwrap()[0]).toMatchObject({ data: { origin: 'processor' }, source: 'reconcile' });
    // One refund asked of Stripe per credit note: cn_d's, during the run, under its first key.
    expect(refundCreations(world).map((request) => request.idempotencyKey)).toEqual([
      'cn_a:refund:1',
      'cn_b:refund:1',
      'cn_c:refund:1',
      'cn_d:refund:1',
    ]);
    expect(refundsOf(world, payments.pd.id)).toHaveLength(1);
    expect(world.fake.refunds()).toHaveLength(5);
    expect(notified(world)).toEqual([
      ['cn_a', 'refund_completed'],
      ['cn_b', 'refund_failed'],
      [adopted, 'refund_completed'],
    ]);
    // The first run goes back Stripe's 30 days: the events delivered before the outage are read again, and known.
    expect(report).toMatchObject({ account: null, livemode: false, rejected: [], failed: null, retentionGap: false, limitReached: false });
    expect(world.fake.events().length).toBe(healthy + lost.length + 2);
    expect(report.fetched).toBe(world.fake.events().length);
    // cn_a settled, cn_b failed, the dashboard refund adopted, cn_d released; the events of cn_d's refund, made during
    // the run, are read too and already known (the gateway recorded Stripe's answer).
    expect(report.applied).toBe(4);
    expect(report.fetched).toBe(report.applied + report.unchanged + report.ignored);
    expect(report.from).toBe(world.unixNow() - 30 * 86_400);
    expect([...report.creditNoteIds].sort()).toEqual(['cn_a', 'cn_b', 'cn_c', 'cn_d', adopted].sort());
    // The checkpoint is the newest event, cn_d's refund's, created by the run itself.
    const newest = world.fake.events().at(-1)!;
    expect(report.checkpoint).toEqual({ created: newest.created, eventId: newest.id });
    expect((await world.store.readCheckpoint('stripe.reconcile:platform:test'))?.value).toEqual(report.checkpoint);
    // What the reconciliation wrote says where it came from: the Stripe event, fetched, not delivered.
    const settled = (await world.lifecycle.history('cn_a'))._unsafeUnwrap().at(-1)!;
    const updated = lost.find((event) => event.type === 'refund.updated' && (event.data.object as { id: string }).id === refunds.ra.id)!;
    expect(settled).toMatchObject({ type: 'RefundSucceeded', source: 'reconcile', causationId: updated.id });

    // A second run: nothing new at Stripe, nothing fetched, nothing changed.
    const before = await storeSnapshot(world.store);
    const again = (await world.reconciler.reconcile())._unsafeUnwrap();
    expect(counts(again)).toEqual({ fetched: 0, applied: 0, unchanged: 0, ignored: 0, rejected: 0 });
    expect(again.checkpoint).toEqual(report.checkpoint);
    // Looking back over everything again (`since`) reads every event once more and changes nothing either.
    const lookBack = (await world.reconciler.reconcile({ since: new Date(world.clock.now().getTime() - day) }))._unsafeUnwrap();
    expect(lookBack).toMatchObject({ fetched: report.fetched, applied: 0 });
    // Stripe keeps retrying the lost deliveries (it still counts them undelivered): each is already known.
    expect(new Set(await redeliver(world, lost))).toEqual(new Set(['unchanged', 'ignored']));
    expect(await storeSnapshot(world.store)).toEqual(before);
    expect(notified(world)).toHaveLength(3);
    expect(refundCreations(world)).toHaveLength(4);
  });

  it('applies events oldest first: a refund that succeeds and is then failed by the bank ends failed, told twice in order', async () => {
    const world = await startStripeWorld();
    const payment = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur' });
    await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, amount: 4_000 });
    await world.issue({ creditNoteId: 'cn_2', paymentId: payment.id, amount: 3_000 });
    await deliverAll(world);
    const [r1, r2] = refundsOf(world, payment.id);
    /** Stripe says the refund succeeded, then a minute later that the bank sent it back; nobody hears. */
    const succeedThenFail = (refundId: string) => {
      world.advance(minute);
      world.fake.setRefundStatus(refundId, 'succeeded');
      world.advance(minute);
      world.fake.setRefundStatus(refundId, 'failed', 'expired_or_canceled_card');
      const lost = world.fake.dropWebhooks();
      world.advance(minute);
      return lost;
    };

    // A first run (no checkpoint): one page, found by reading newest first, applied reversed.
    const lost = succeedThenFail(r1!.id);
    (await world.reconciler.reconcile())._unsafeUnwrap();
    expect(await view(world, 'cn_1')).toMatchObject({ status: 'failed', failure: { processorReason: 'expired_or_canceled_card' } });
    expect(notified(world)).toEqual([
      ['cn_1', 'refund_completed'],
      ['cn_1', 'refund_failed'],
    ]);

    // A later run (from the checkpoint): pages walked towards newer events, each applied reversed.
    lost.push(...succeedThenFail(r2!.id));
    (await world.reconciler.reconcile())._unsafeUnwrap();
    expect(await view(world, 'cn_2')).toMatchObject({ status: 'failed', failure: { processorReason: 'expired_or_canceled_card' } });
    expect(notified(world).slice(2)).toEqual([
      ['cn_2', 'refund_completed'],
      ['cn_2', 'refund_failed'],
    ]);

    // Stripe still retries the lost deliveries, in any order: the reconciliation already applied each event id.
    const before = await storeSnapshot(world.store);
    expect(new Set(await redeliver(world, [...lost].reverse()))).toEqual(new Set(['unchanged']));
    expect(await storeSnapshot(world.store)).toEqual(before);
    expect(await statuses(world, 'cn_1', 'cn_2')).toEqual({ cn_1: 'failed', cn_2: 'failed' });
    expect(notified(world)).toHaveLength(4);
  });

  it('is interrupted by Stripe failing on the second page, keeps what it did, and resumes from its checkpoint', async () => {
    const { world } = await outage({ reconciler: { pageSize: 2 } });
    const reconciler = world.reconciler;
    const listed = world.fake.events();
    // A first run has no event to start from: it reads newest first down to the oldest page, then applies oldest first.
    const scans = Math.ceil(listed.length / 2);
    const oldestPage = listed.length % 2 === 0 ? 2 : 1;

    // Stripe fails while the run looks for its oldest page: nothing applied, nothing saved.
    world.fake.failNext({ path: '/v1/events', status: 500, skip: 1 });
    const early = (await reconciler.reconcile())._unsafeUnwrapErr() as ReconcileInterruptedError;
    expect(early).toBeInstanceOf(ReconcileInterruptedError);
    expect(early.report).toMatchObject({ fetched: 0, checkpoint: null, failed: { eventId: null, code: 'gateway_error' } });
    expect(await world.store.readCheckpoint(early.report.checkpointName)).toBeNull();

    // Stripe fails on the second page of events to apply: the first page is applied and its checkpoint saved.
    world.fake.failNext({ path: '/v1/events', status: 500, skip: scans });
    const interrupted = (await reconciler.reconcile())._unsafeUnwrapErr() as ReconcileInterruptedError;
    const done = interrupted.report;
    expect(interrupted.code).toBe('reconcile_interrupted');
    expect(done.failed).toMatchObject({ eventId: null, code: 'gateway_error' });
    expect(done.fetched).toBe(oldestPage);
    const lastDone = listed[oldestPage - 1]!;
    expect(done.checkpoint).toEqual({ created: lastDone.created, eventId: lastDone.id });
    expect((await world.store.readCheckpoint(done.checkpointName))?.value).toEqual(done.checkpoint);

    const requestsBefore = eventListings(world).length;
    const resumed = (await reconciler.reconcile())._unsafeUnwrap();

    // Resumed at the checkpoint: from its second, just after its event; nothing before it is fetched again.
    expect(eventListings(world)[requestsBefore]?.query).toMatchObject({
      created: { gte: String(lastDone.created) },
      ending_before: lastDone.id,
      limit: '2',
    });
    expect(done.fetched + resumed.fetched).toBe(world.fake.events().length);
    expect(done.applied + resumed.applied).toBe(4);
    expect(await statuses(world, 'cn_a', 'cn_b', 'cn_d')).toEqual({ cn_a: 'succeeded', cn_b: 'failed', cn_d: 'requested' });
    expect(notified(world)).toHaveLength(3);
    expect(refundCreations(world)).toHaveLength(4);
  });

  it('stops at an event the store could not record, saving the checkpoint just before it, and applies it on the next run', async () => {
    let failAppends = 0;
    const wrapStore = (store: EventStore): EventStore => ({
      ...store,
      append: async (request) => {
        if (failAppends > 0) {
          failAppends -= 1;
          throw new Error('connection terminated');
        }
        return store.append(request);
      },
    });
    const { world, lost, refunds, healthy } = await outage({ wrapStore });
    const settling = lost.find((event) => event.type === 'refund.updated' && (event.data.object as { id: string }).id === refunds.ra.id)!;
    const before = world.fake.events()[world.fake.events().findIndex((event) => event.id === settling.id) - 1]!;
    failAppends = 1;

    const stopped = (await world.reconciler.reconcile())._unsafeUnwrapErr() as ReconcileInterruptedError;

    // The first event that had something to write is where it stopped; everything before it was got through.
    expect(stopped.report.failed).toMatchObject({ eventId: settling.id, eventType: 'refund.updated', code: 'store_unavailable' });
    expect(stopped.report).toMatchObject({ fetched: healthy + 1, applied: 0, checkpoint: { eventId: before.id, created: before.created } });
    expect((await world.store.readCheckpoint(stopped.report.checkpointName))?.value).toEqual(stopped.report.checkpoint);
    expect(await statuses(world, 'cn_a')).toEqual({ cn_a: 'requested' });
    expect(notified(world)).toEqual([]);

    const resumed = (await world.reconciler.reconcile())._unsafeUnwrap();
    expect(resumed.fetched).toBe(world.fake.events().length - healthy);
    expect(resumed.applied).toBe(4);
    expect(await statuses(world, 'cn_a', 'cn_b', 'cn_d')).toEqual({ cn_a: 'succeeded', cn_b: 'failed', cn_d: 'requested' });
    expect(notified(world)).toHaveLength(3);
  });

  it('with delivery_success false, fetches only the events Stripe could not deliver', async () => {
    const { world, lost, healthy } = await outage();

    const report = (await world.reconciler.reconcile({ deliverySuccess: false }))._unsafeUnwrap();

    // The lost events, and those the run itself caused (cn_d's refund), which no endpoint heard of either.
    const caused = world.fake.events().slice(healthy + lost.length);
    expect(caused.map((event) => event.type)).toEqual(['refund.created', 'charge.refunded']);
    expect(eventListings(world).every((request) => request.query['delivery_success'] === 'false')).toBe(true);
    expect(report.fetched).toBe(lost.length + caused.length);
    expect(report.applied).toBe(4);
    expect(await statuses(world, 'cn_a', 'cn_b', 'cn_d')).toEqual({ cn_a: 'succeeded', cn_b: 'failed', cn_d: 'requested' });
    expect(notified(world)).toHaveLength(3);
  });

  it('reconciles each Connect account on its own, with its own checkpoint', async () => {
    const world = await startStripeWorld();
    const onMerchant = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur', account: merchant });
    const onStudio = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur', account: studio });
    await world.issue({ creditNoteId: 'cn_m', paymentId: onMerchant.id, account: merchant, amount: 2_000 });
    await world.issue({ creditNoteId: 'cn_s', paymentId: onStudio.id, account: studio, amount: 3_000 });
    await deliverAll(world);
    world.advance(minute);
    world.fake.setRefundStatus(refundsOf(world, onMerchant.id)[0]!.id, 'succeeded');
    world.fake.setRefundStatus(refundsOf(world, onStudio.id)[0]!.id, 'succeeded');
    world.fake.dropWebhooks();
    world.advance(minute);

    const platform = (await world.reconciler.reconcile())._unsafeUnwrap();
    expect(platform).toMatchObject({ account: null, fetched: 0, checkpoint: null });
    expect(await statuses(world, 'cn_m', 'cn_s')).toEqual({ cn_m: 'requested', cn_s: 'requested' });

    const merchantRun = (await world.reconciler.reconcile({ account: merchant }))._unsafeUnwrap();
    expect(merchantRun).toMatchObject({ account: merchant, applied: 1, checkpointName: `stripe.reconcile:${merchant}:test` });
    expect(await statuses(world, 'cn_m', 'cn_s')).toEqual({ cn_m: 'succeeded', cn_s: 'requested' });
    expect(eventListings(world).slice(1).every((request) => request.account === merchant)).toBe(true);

    const studioRun = (await world.reconciler.reconcile({ account: studio }))._unsafeUnwrap();
    expect(studioRun).toMatchObject({ account: studio, applied: 1, checkpointName: `stripe.reconcile:${studio}:test` });
    expect(await statuses(world, 'cn_m', 'cn_s')).toEqual({ cn_m: 'succeeded', cn_s: 'succeeded' });
    expect(notified(world)).toEqual([
      ['cn_m', 'refund_completed'],
      ['cn_s', 'refund_completed'],
    ]);
    expect((await world.store.readCheckpoint(`stripe.reconcile:${merchant}:test`))?.value).toEqual(merchantRun.checkpoint);
    expect((await world.store.readCheckpoint(`stripe.reconcile:${studio}:test`))?.value).toEqual(studioRun.checkpoint);
    expect(await world.store.readCheckpoint('stripe.reconcile:platform:test')).toBeNull();
  });

  it('never fetches again what came before its checkpoint', async () => {
    const world = await startStripeWorld();
    const payment = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur' });
    await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, amount: 2_000 });
    await world.issue({ creditNoteId: 'cn_2', paymentId: payment.id, amount: 3_000 });
    world.fake.dropWebhooks();
    const first = (await world.reconciler.reconcile())._unsafeUnwrap();
    const seen = new Set(world.fake.events().map((event) => event.id));
    expect(first.fetched).toBe(seen.size);
    world.advance(minute);

    const [r1, r2] = refundsOf(world, payment.id);
    world.fake.setRefundStatus(r1!.id, 'succeeded');
    world.fake.setRefundStatus(r2!.id, 'canceled');
    world.fake.dropWebhooks();
    const fresh = world.fake.events().filter((event) => !seen.has(event.id));

    const requestsBefore = eventListings(world).length;
    const second = (await world.reconciler.reconcile())._unsafeUnwrap();

    expect(second.fetched).toBe(fresh.length);
    expect(second.applied).toBe(2);
    const listings = eventListings(world).slice(requestsBefore);
    expect(listings[0]?.query).toMatchObject({ created: { gte: String(first.checkpoint!.created) }, ending_before: first.checkpoint!.eventId });
    expect(await statuses(world, 'cn_1', 'cn_2')).toEqual({ cn_1: 'succeeded', cn_2: 'failed' });
  });

  it('goes back no further than Stripe keeps events, and says when its checkpoint is older than that', async () => {
    const world = await startStripeWorld();
    const payment = world.fake.createPaymentIntent({ amount: 10_000, currency: 'eur' });
    await world.issue({ creditNoteId: 'cn_1', paymentId: payment.id, amount: 2_000 });
    world.fake.dropWebhooks();
    (await world.reconciler.reconcile())._unsafeUnwrap();
    world.advance(45 * day);
    world.fake.setRefundStatus(refundsOf(world, payment.id)[0]!.id, 'succeeded');
    world.fake.dropWebhooks();

    const report = (await world.reconciler.reconcile())._unsafeUnwrap();

    // The checkpoint's event is gone: Stripe answers 404 for it as a cursor, and the run starts again from its second.
    expect(report).toMatchObject({ retentionGap: true, applied: 1 });
    expect(eventListings(world).map((request) => request.status)).toContain(404);
    expect(await statuses(world, 'cn_1')).toEqual({ cn_1: 'succeeded' });

    const firstRun = await startStripeWorld();
    const old = firstRun.fake.createPaymentIntent({ amount: 10_000, currency: 'eur' });
    await firstRun.issue({ creditNoteId: 'cn_old', paymentId: old.id, amount: 2_000 });
    firstRun.fake.dropWebhooks();
    firstRun.advance(31 * day);
    const nothing = (await firstRun.reconciler.reconcile())._unsafeUnwrap();
    expect(nothing).toMatchObject({ fetched: 0, retentionGap: false, from: firstRun.unixNow() - 30 * 86_400 });
  });

  it('applies at most `limit` events a run, the oldest, and the next run carries on', async () => {
    const { world } = await outage();
    const total = world.fake.events().length;

    const first = (await world.reconciler.reconcile({ limit: 4 }))._unsafeUnwrap();
    expect(first).toMatchObject({ fetched: 4, limitReached: true });
    expect(first.checkpoint?.eventId).toBe(world.fake.events()[3]!.id);

    const rest = (await world.reconciler.reconcile())._unsafeUnwrap();
    expect(first.fetched + rest.fetched).toBe(world.fake.events().length);
    expect(total).toBeLessThan(world.fake.events().length); // the run released cn_d: its refund's events came during it
    expect(first.applied + rest.applied).toBe(4);
    expect(notified(world)).toHaveLength(3);
  });

  it('refuses events of the other mode as the webhook endpoint does, and writes nothing for them', async () => {
    const { world } = await outage();
    const before = await storeSnapshot(world.store);

    const report = (await world.reconcilerWith({ livemode: true }).reconcile())._unsafeUnwrap();

    expect(report.rejected.length).toBe(report.fetched);
    expect(new Set(report.rejected.map((rejection) => rejection.reason))).toEqual(new Set(['livemode_mismatch']));
    expect(report.checkpointName).toBe('stripe.reconcile:platform:live');
    expect((await storeSnapshot(world.store)).events).toEqual(before.events);
    expect(notified(world)).toEqual([]);
  });

  it('refuses options it cannot take', async () => {
    const world = await startStripeWorld();
    const refused = async (options: object) =>
      ((await world.reconciler.reconcile(options as never))._unsafeUnwrapErr() as ValidationError).issues.map((issue) => issue.path);

    expect(await refused({ limit: 0 })).toEqual(['limit']);
    expect(await refused({ types: ['charge.succeeded'] })).toEqual(['types.0']);
    expect(await refused({ account: 'merchant' })).toEqual(['account']);
    expect(await refused({ since: new Date('nope') })).toEqual(['since']);
    expect(await refused({ deliverySucces: false })).toEqual(['deliverySucces']);
    expect(eventListings(world)).toEqual([]);
    expect(() => stripeReconciler({ lifecycle: world.lifecycle, stripe: world.stripe, store: world.store, pageSize: 101 })).toThrow(RangeError);
    expect(reconcileCheckpointName('acct_x', true, ['refund.updated', 'refund.created'])).toBe('stripe.reconcile:acct_x:live:refund.created,refund.updated');
  });
});

describe('what an operator sees of webhooks and reconciliation', () => {
  it('health() reports the last reconciliation run; each webhook is one log line with its event id, never its body', async () => {
    const logs = recordingLogger();
    const world = await startStripeWorld({ webhooks: { logger: logs.logger } });
    expect((await world.lifecycle.health())._unsafeUnwrap().lastReconcile).toBeNull();
    const intent = world.fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    await world.issue({ creditNoteId: 'cn_logged', paymentId: intent.id, amount: 2_500 });
    const delivered = await world.deliver(world.fake.takeWebhooks());
    expect(delivered.every((answer) => answer.isOk())).toBe(true);

    const webhookLines = logs.lines.filter((line) => line.fields.event === 'refund_lifecycle.webhook');
    expect(webhookLines.length).toBe(delivered.length);
    for (const line of webhookLines) {
      expect(line.fields).toMatchObject({ processor: 'stripe', eventId: expect.stringMatching(/^evt_/), correlationId: expect.any(String) });
      expect(JSON.stringify(line.fields)).not.toContain('"object":');
    }

    world.advance(60_000);
    const report = (await world.reconciler.reconcile())._unsafeUnwrap();
    const health = (await world.lifecycle.health())._unsafeUnwrap();
    expect(health.lastReconcile).toEqual({ at: world.clock.now().toISOString(), name: report.checkpointName });
    expect(logs.lines.some((line) => line.message === 'stripe reconciliation run' && line.fields.fetched === report.fetched)).toBe(true);
  });
});

describe('checkpoints that must not hide events', () => {
  it('a run filtered on delivery keeps its own checkpoint: the full run still applies an event marked delivered but never applied', async () => {
    const world = await startStripeWorld();
    const pa = world.fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    const pb = world.fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    await world.issue({ creditNoteId: 'cn_a', paymentId: pa.id, amount: 2_500 });
    await world.issue({ creditNoteId: 'cn_b', paymentId: pb.id, amount: 2_500 });
    await deliverAll(world);
    world.advance(minute);
    // cn_a's refund settles and Stripe counts its webhook delivered (another endpoint took it); cn_b's is lost.
    world.fake.setRefundStatus(refundsOf(world, pa.id)[0]!.id, 'succeeded');
    const taken = world.fake.takeWebhooks();
    world.fake.markWebhooksDelivered(...taken.map((webhook) => webhook.event.id));
    world.advance(minute);
    world.fake.setRefundStatus(refundsOf(world, pb.id)[0]!.id, 'succeeded');
    world.fake.dropWebhooks();
    world.advance(minute);

    (await world.reconciler.reconcile({ deliverySuccess: false }))._unsafeUnwrap();
    expect(await statuses(world, 'cn_a', 'cn_b')).toEqual({ cn_a: 'requested', cn_b: 'succeeded' });
    (await world.reconciler.reconcile())._unsafeUnwrap();
    expect(await statuses(world, 'cn_a', 'cn_b')).toEqual({ cn_a: 'succeeded', cn_b: 'succeeded' });
  });

  it('a `since` later than the checkpoint does not skip the events in between', async () => {
    const world = await startStripeWorld();
    const pa = world.fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    await world.issue({ creditNoteId: 'cn_a', paymentId: pa.id, amount: 2_500 });
    await deliverAll(world);
    (await world.reconciler.reconcile())._unsafeUnwrap();
    world.advance(minute);
    world.fake.setRefundStatus(refundsOf(world, pa.id)[0]!.id, 'succeeded');
    world.fake.dropWebhooks();
    world.advance(day);
    (await world.reconciler.reconcile({ since: new Date(world.clock.now().getTime() - minute) }))._unsafeUnwrap();
    expect(await statuses(world, 'cn_a')).toEqual({ cn_a: 'succeeded' });
  });
});

