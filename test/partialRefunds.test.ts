import fc from 'fast-check';
import { err } from 'neverthrow';
import { describe, expect, it } from 'vitest';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { GatewayError, RefundableBalanceExceededError, RefundWindowClosedError } from '../src/errors.js';
import type { EventStore } from '../src/ports/eventStore.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import { manualClock } from '../src/testing/manualClock.js';
import { numRuns } from './support/numRuns.js';

/* Several credit notes against one payment: never more than was charged, never after the refund window (docs/glossary.md#refundable-balance). */

const actor = { kind: 'user', id: 'freelancer' } as const;
const issue = (creditNoteId: string, amount: number, extra: Record<string, unknown> = {}) => ({
  creditNoteId,
  amount,
  currency: 'EUR',
  payment: { paymentId: 'pi_deposit' },
  reason: 'partial refund',
  chargeConfirmed: true,
  actor,
  ...extra,
});

const setup = (store: EventStore = inMemoryEventStore()) => {
  const gateway = fakeGateway();
  const clock = manualClock('2026-06-01T09:00:00.000Z');
  const refunds = createRefundLifecycle({ store, gateway, clock });
  return { gateway, clock, store, refunds };
};

describe('the refundable balance of a payment', () => {
  it('admits credit notes up to the charge and refuses the one that would exceed it, writing nothing', async () => {
    const { gateway, refunds, store } = setup();
    gateway.capture('pi_deposit', 10_000);
    expect((await refunds.issueCreditNote(issue('cn_1', 6_000))).isOk()).toBe(true);
    expect((await refunds.issueCreditNote(issue('cn_2', 4_000))).isOk()).toBe(true);
    const before = await store.readAll();

    const refused = await refunds.issueCreditNote(issue('cn_3', 1));

    expect(refused._unsafeUnwrapErr()).toBeInstanceOf(RefundableBalanceExceededError);
    expect(refused._unsafeUnwrapErr()).toMatchObject({
      code: 'refundable_balance_exceeded',
      chargedAmount: 10_000,
      committedAmount: 10_000,
      requestedAmount: 1,
      availableAmount: 0,
    });
    expect(await store.readAll()).toEqual(before);
    expect(gateway.refunds().map((refund) => refund.amount)).toEqual([6_000, 4_000]);
  });

  it('asks the processor about the payment once and keeps its answer on the payment stream', async () => {
    const { gateway, refunds, store } = setup();
    gateway.capture('pi_deposit', 10_000, { method: 'card' });
    await refunds.issueCreditNote(issue('cn_1', 1_000));
    await refunds.issueCreditNote(issue('cn_2', 1_000));
    const described = (await store.readStream('payment-pi_deposit')).events.filter((e) => e.type === 'PaymentDescribed');
    expect(described.map((event) => event.data)).toEqual([
      { amount: 10_000, currency: 'eur', method: 'card', refundableUntil: null },
    ]);
  });

  it('refuses a credit note in another currency than the charge', async () => {
    const { gateway, refunds } = setup();
    gateway.capture('pi_deposit', 10_000, { currency: 'usd' });
    const refused = await refunds.issueCreditNote(issue('cn_1', 1_000));
    expect(refused._unsafeUnwrapErr()).toMatchObject({ code: 'validation_failed', field: 'currency' });
  });

  it('writes nothing when the processor cannot describe the payment', async () => {
    const gateway = fakeGateway();
    gateway.describePayment = async () => err(new GatewayError('transient', 'rate_limit', 'slow down'));
    const store = inMemoryEventStore();
    const refunds = createRefundLifecycle({ store, gateway });
    const refused = await refunds.issueCreditNote(issue('cn_1', 1_000));
    expect(refused._unsafeUnwrapErr()).toMatchObject({ code: 'gateway_error', kind: 'transient' });
    expect(await store.readAll()).toEqual([]);
  });

  it('is never exceeded by credit notes issued concurrently, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.integer({ min: 1, max: 6_000 }), { minLength: 2, maxLength: 5 }),
        async (s, amounts) => {
          const inner = inMemoryEventStore();
          // Every store call waits for the scheduler, so the issues' reads and appends interleave freely.
          const store: EventStore = Object.fromEntries(
            Object.entries(inner).map(([name, call]) => [
              name,
              async (...args: unknown[]) => {
                await s.schedule(Promise.resolve(), name);
                return (call as (...a: unknown[]) => Promise<unknown>)(...args);
              },
            ]),
          ) as unknown as EventStore;
          const { gateway, refunds } = setup(store);
          gateway.capture('pi_deposit', 10_000);

          const issued = amounts.map((amount, index) => refunds.issueCreditNote(issue(`cn_${index}`, amount)));
          let settled = false;
          const all = Promise.all(issued).then((values) => {
            settled = true;
            return values;
          });
          while (!settled) {
            await s.waitIdle();
            await new Promise((resolve) => setImmediate(resolve));
          }
          const outcomes = await all;

          const accepted = outcomes.flatMap((outcome, index) => (outcome.isOk() ? [amounts[index]!] : []));
          for (const outcome of outcomes) {
            if (outcome.isErr()) expect(['refundable_balance_exceeded', 'concurrency_conflict']).toContain(outcome.error.code);
          }
          const total = accepted.reduce((sum, amount) => sum + amount, 0);
          expect(total).toBeLessThanOrEqual(10_000);
          // What was refused left no trace: the payment stream lists exactly the accepted credit notes.
          const attached = (await inner.readStream('payment-pi_deposit')).events.filter((e) => e.type === 'CreditNoteAttached');
          expect(attached).toHaveLength(accepted.length);
          expect(gateway.refunds().reduce((sum, refund) => sum + refund.amount, 0)).toBe(total);
          // No spurious refusal: a credit note refused for the balance would not have fit beside those accepted.
          outcomes.forEach((outcome, index) => {
            if (outcome.isErr() && outcome.error.code === 'refundable_balance_exceeded') {
              expect(total + amounts[index]!).toBeGreaterThan(10_000);
            }
          });
        },
      ),
      { numRuns: numRuns(100) },
    );
  });
});

describe('the refund window of debit payments', () => {
  it('refuses a SEPA debit refund after the window, with manual refund as the recovery, writing nothing', async () => {
    const { gateway, refunds, store, clock } = setup();
    gateway.capture('pi_deposit', 10_000, { method: 'sepa_debit', refundableUntil: '2026-06-30T00:00:00.000Z' });
    clock.set('2026-07-01T00:00:00.000Z');

    const refused = await refunds.issueCreditNote(issue('cn_1', 1_000));

    expect(refused._unsafeUnwrapErr()).toBeInstanceOf(RefundWindowClosedError);
    expect(refused._unsafeUnwrapErr()).toMatchObject({
      code: 'refund_window_closed',
      recovery: 'manual_refund',
      method: 'sepa_debit',
      refundableUntil: '2026-06-30T00:00:00.000Z',
    });
    expect(await store.readAll()).toEqual([]);
  });

  it('admits it within the window', async () => {
    const { gateway, refunds } = setup();
    gateway.capture('pi_deposit', 10_000, { method: 'sepa_debit', refundableUntil: '2026-06-30T00:00:00.000Z' });
    expect((await refunds.issueCreditNote(issue('cn_1', 1_000)))._unsafeUnwrap().status).toBe('requested');
  });
});

describe('a payment the processor could not yet describe', () => {
  it('is described again once it can say what was charged, and the balance is guarded from then on', async () => {
    const { gateway, refunds, store } = setup();
    // Not captured yet: the fake cannot say what was charged.
    expect((await refunds.issueCreditNote(issue('cn_1', 6_000))).isOk()).toBe(true);
    gateway.capture('pi_deposit', 10_000);
    expect((await refunds.issueCreditNote(issue('cn_2', 4_000))).isOk()).toBe(true);
    expect((await refunds.issueCreditNote(issue('cn_3', 1))).isErr()).toBe(true);
    const described = (await store.readStream('payment-pi_deposit')).events.filter((e) => e.type === 'PaymentDescribed');
    expect(described.map((event) => (event.data as { amount: number | null }).amount)).toEqual([null, 10_000]);
  });
});
