import { describe, expect, it } from 'vitest';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import type { ProcessorRefund } from '../src/ports/refundGateway.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import { recordingNotifier } from '../src/testing/recordingNotifier.js';

/* Refunds made in the processor's dashboard are followed without duplicates (docs/glossary.md#processor-origin). */

const actor = { kind: 'user', id: 'freelancer' } as const;

const setup = async () => {
  const store = inMemoryEventStore();
  const gateway = fakeGateway();
  const notifier = recordingNotifier();
  const refunds = createRefundLifecycle({ store, gateway, notifier });
  gateway.capture('pi_known', 10_000);
  await refunds.issueCreditNote({
    creditNoteId: 'cn_ours',
    amount: 3_000,
    currency: 'EUR',
    payment: { paymentId: 'pi_known' },
    reason: 'part of the deposit',
    chargeConfirmed: true,
    actor,
  });
  return { store, gateway, notifier, refunds };
};

const dashboardRefund = (overrides: Partial<ProcessorRefund> = {}): ProcessorRefund => ({
  processorRefundId: 're_dashboard',
  paymentId: 'pi_known',
  amount: 2_000,
  currency: 'eur',
  status: 'pending',
  failure: null,
  metadata: { creditNoteId: null, attempt: null },
  ...overrides,
});

describe('a refund made outside the library', () => {
  it('of a known payment becomes one credit note of processor origin, followed to its end', async () => {
    const { refunds, notifier, gateway } = await setup();

    const created = (await refunds.adoptExternalRefund({ refund: dashboardRefund(), source: 'webhook', causationId: 'evt_1' }))._unsafeUnwrap();
    expect(created).toMatchObject({
      changed: true,
      creditNote: { creditNoteId: 'fake-re_dashboard', status: 'requested', amount: 2_000, refund: { attempt: 1, idempotencyKey: null, status: 'accepted' } },
    });

    // The same refund seen through more events is still that one credit note.
    const again = (await refunds.adoptExternalRefund({ refund: dashboardRefund(), source: 'webhook', causationId: 'evt_1' }))._unsafeUnwrap();
    expect(again.changed).toBe(false);
    const settled = (
      await refunds.adoptExternalRefund({ refund: dashboardRefund({ status: 'succeeded' }), source: 'webhook', causationId: 'evt_2' })
    )._unsafeUnwrap();
    expect(settled.creditNote?.status).toBe('succeeded');
    expect((await refunds.listCreditNotes())._unsafeUnwrap().map((view) => view.creditNoteId).sort()).toEqual([
      'cn_ours',
      'fake-re_dashboard',
    ]);
    expect(notifier.delivered().map((n) => [n.creditNote.creditNoteId, n.kind])).toEqual([['fake-re_dashboard', 'refund_completed']]);
    // Nothing was asked of the processor for it: the refund already existed there.
    expect(gateway.createCalls).toBe(1);
  });

  it('counts against the payment: a later credit note cannot take what the dashboard refunded', async () => {
    const { refunds } = await setup();
    await refunds.adoptExternalRefund({ refund: dashboardRefund({ amount: 7_000 }), source: 'webhook' });
    const refused = await refunds.issueCreditNote({
      creditNoteId: 'cn_late',
      amount: 1,
      currency: 'EUR',
      payment: { paymentId: 'pi_known' },
      reason: 'one cent too many',
      actor,
    });
    expect(refused._unsafeUnwrapErr().code).toBe('refundable_balance_exceeded');
  });

  it('of an unknown payment is none of ours: nothing is written', async () => {
    const { refunds, store } = await setup();
    const before = await store.readAll();
    const outcome = (await refunds.adoptExternalRefund({ refund: dashboardRefund({ paymentId: 'pi_stranger' }), source: 'webhook' }))._unsafeUnwrap();
    expect(outcome).toEqual({ creditNote: null, changed: false });
    expect(await store.readAll()).toEqual(before);
  });

  it('is never confused with our own refunds, which name their credit note', async () => {
    const { refunds, gateway } = await setup();
    const ours = gateway.refunds()[0]!;
    const outcome = await refunds.adoptExternalRefund({ refund: ours, source: 'webhook' });
    expect(outcome._unsafeUnwrapErr()).toMatchObject({ code: 'validation_failed', field: 'refund.metadata.creditNoteId' });
  });
});

describe('a dashboard refund that fails or is canceled at the processor', () => {
  it('is not retried by the library and gives its amount back to the payment', async () => {
    const { refunds } = await setup();
    await refunds.adoptExternalRefund({ refund: dashboardRefund({ amount: 7_000 }), source: 'webhook' });
    const canceled = (
      await refunds.adoptExternalRefund({
        refund: dashboardRefund({
          amount: 7_000,
          status: 'canceled',
          failure: { reason: 'merchant_request', classification: { retry: 'will_not_help', recovery: 'none' }, message: 'canceled' },
        }),
        source: 'webhook',
      })
    )._unsafeUnwrap();
    expect(canceled.creditNote).toMatchObject({ status: 'failed', allowedActions: ['mark_refunded'] });
    const retry = await refunds.retryRefund('fake-re_dashboard', { actor });
    expect(retry._unsafeUnwrapErr()).toMatchObject({ code: 'transition_not_allowed', status: 'failed' });

    // 10 000 charged, 3 000 by our credit note: the 7 000 the merchant canceled are refundable again.
    const issued = await refunds.issueCreditNote({
      creditNoteId: 'cn_rest',
      amount: 7_000,
      currency: 'EUR',
      payment: { paymentId: 'pi_known' },
      reason: 'the rest of the deposit',
      actor,
    });
    expect(issued.isOk()).toBe(true);
  });
});
