import { describe, expect, it } from 'vitest';
import { startStripeWorld, storeSnapshot } from './support.js';

/* Payments named by their charge, and genuine Stripe events the lifecycle cannot take. */

describe('a credit note issued on the charge id of a payment intent', () => {
  it('settles through the webhooks Stripe reports under the payment intent', async () => {
    const world = await startStripeWorld();
    const intent = world.fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    const chargeId = String(intent.latest_charge);
    world.fake.takeWebhooks();

    expect((await world.issue({ creditNoteId: 'cn_charge', paymentId: chargeId }))._unsafeUnwrap().status).toBe('requested');
    world.fake.setRefundStatus(world.fake.refunds()[0]!.id, 'succeeded');
    const outcomes = await world.deliver(world.fake.takeWebhooks({ copies: 2 }));

    expect(outcomes.every((outcome) => outcome.isOk())).toBe(true);
    expect((await world.lifecycle.getCreditNote('cn_charge'))._unsafeUnwrap().status).toBe('succeeded');
    expect(world.notifier.delivered().map((n) => n.kind)).toEqual(['refund_completed']);
  });

  it('waiting for the confirmation, is released by payment_intent.succeeded', async () => {
    const world = await startStripeWorld();
    const intent = world.fake.createPaymentIntent({ amount: 5_000, currency: 'eur', status: 'processing' });
    const chargeId = String(intent.latest_charge);
    world.fake.takeWebhooks();
    const issued = await world.issue({ creditNoteId: 'cn_charge', paymentId: chargeId, chargeConfirmed: false });
    expect(issued._unsafeUnwrap().status).toBe('pending');

    world.fake.succeedPaymentIntent(intent.id);
    const [confirmation] = await world.deliver(world.fake.takeWebhooks());

    expect(confirmation?._unsafeUnwrap()).toMatchObject({ outcome: 'applied', creditNoteIds: ['cn_charge'] });
    expect((await world.lifecycle.getCreditNote('cn_charge'))._unsafeUnwrap().status).toBe('requested');
    expect(world.fake.refunds()).toHaveLength(1);
  });
});

describe('a refund another system made, with its own creditNoteId metadata', () => {
  it('is followed as an external refund, not mistaken for ours', async () => {
    const world = await startStripeWorld();
    const intent = world.fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    world.fake.takeWebhooks();
    await world.issue({ creditNoteId: 'cn_1', paymentId: intent.id });
    const rawBody = JSON.stringify({
      id: 'evt_erp',
      object: 'event',
      api_version: '2026-10-28.endive',
      created: world.unixNow(),
      livemode: false,
      type: 'refund.created',
      data: {
        object: {
          id: 're_erp',
          object: 'refund',
          amount: 700,
          currency: 'eur',
          status: 'pending',
          payment_intent: intent.id,
          charge: intent.latest_charge,
          metadata: { creditNoteId: 'CN 2026/0042', origin: 'erp' },
        },
      },
    });
    const outcome = await world.webhooks.handleWebhook({ rawBody, signature: world.fake.sign(rawBody) });
    expect(outcome._unsafeUnwrap()).toMatchObject({ outcome: 'applied', creditNoteIds: ['stripe-re_erp'] });
  });
});

describe('a genuine refund event the lifecycle cannot take', () => {
  const refundEvent = (world: Awaited<ReturnType<typeof startStripeWorld>>, refund: Record<string, unknown>) =>
    world.signed({
      id: 'evt_odd',
      object: 'event',
      api_version: '2026-10-28.endive',
      created: world.unixNow(),
      livemode: false,
      type: 'refund.created',
      data: { object: { id: 're_odd', object: 'refund', amount: 1_000, currency: 'eur', status: 'succeeded', metadata: {}, ...refund } },
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
    });

  it.each([
    ['a customer-balance refund without a payment', { charge: null, payment_intent: null }, 'no_payment'],
    ['a zero amount', { amount: 0, payment_intent: 'pi_known' }, 'unprocessable_event'],
  ])('is acknowledged and ignored: %s', async (_, refund, reason) => {
    const world = await startStripeWorld();
    const intent = world.fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    world.fake.takeWebhooks();
    await world.issue({ creditNoteId: 'cn_1', paymentId: intent.id });
    const before = await storeSnapshot(world.store);
    const pi = (refund as { payment_intent?: string | null }).payment_intent === 'pi_known' ? { payment_intent: intent.id } : {};

    const [outcome] = await world.deliver([refundEvent(world, { ...refund, ...pi })]);

    expect(outcome?._unsafeUnwrap()).toMatchObject({ outcome: 'ignored', reason });
    expect(await storeSnapshot(world.store)).toEqual(before);
  });
});

describe('refunds made in the dashboard before the first credit note', () => {
  it('join the ledger at the first issue: the balance counts them once, and their late webhooks find them', async () => {
    const world = await startStripeWorld();
    const intent = world.fake.createPaymentIntent({ amount: 5_000, currency: 'eur' });
    world.fake.createDashboardRefund({ paymentIntent: intent.id, amount: 3_000 });
    const early = world.fake.takeWebhooks();
    // Nobody refunds this payment yet: its refund webhooks are not ours to follow.
    await world.deliver(early);
    expect((await world.lifecycle.listCreditNotes())._unsafeUnwrap()).toEqual([]);

    const tooMuch = await world.issue({ creditNoteId: 'cn_1', paymentId: intent.id, amount: 2_001 });
    expect(tooMuch._unsafeUnwrapErr()).toMatchObject({ code: 'refundable_balance_exceeded', availableAmount: 2_000 });
    const fits = await world.issue({ creditNoteId: 'cn_1', paymentId: intent.id, amount: 2_000 });
    expect(fits._unsafeUnwrap().status).toBe('requested');

    const dashboardRefund = world.fake.refunds().find((refund) => !refund.metadata.creditNoteId)!;
    const adopted = (await world.lifecycle.getCreditNote(`stripe-${dashboardRefund.id}`))._unsafeUnwrap();
    expect(adopted).toMatchObject({ amount: 3_000, refund: { processorRefundId: dashboardRefund.id } });
    // The early webhooks again, late: still one credit note for that refund, and the ledger unchanged.
    await world.deliver(early);
    const listed = (await world.lifecycle.listCreditNotes({ paymentId: intent.id }))._unsafeUnwrap();
    expect(listed.map((view) => view.creditNoteId).sort()).toEqual(['cn_1', `stripe-${dashboardRefund.id}`]);
    expect(world.fake.refunds()).toHaveLength(2);
  });
});
