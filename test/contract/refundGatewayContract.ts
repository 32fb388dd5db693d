import type { Result } from 'neverthrow';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayError } from '../../src/errors.js';
import { processorRefundStatusSchema, type PaymentRef } from '../../src/events/primitives.js';
import type { CreateRefundRequest, ProcessorRefund, RefundGateway } from '../../src/ports/refundGateway.js';

/*
 * The one contract every RefundGateway passes: the core's fake and the Stripe
 * adapter talking to the fake Stripe server through the real SDK. It speaks
 * only through the port, so what the lifecycle relies on (per-attempt
 * idempotency, one refund per attempt, typed transient/definitive errors)
 * holds for every processor, not just the one the core was tested with.
 */

export type GatewayWorld = {
  gateway: RefundGateway;
  /** A confirmed, captured payment the gateway can refund. */
  payment(p: { amount: number; currency?: string; account?: string | null; method?: string }): Promise<PaymentRef>;
  /** The processor refuses the next create call: `transient` (nothing created) or `disputed` (definitive). */
  refuseNextCreate(kind: 'transient' | 'disputed'): void;
  /** The processor forgets every idempotency key (Stripe does after 24 h). Absent where keys are never forgotten. */
  forgetIdempotencyKeys?(): void;
  /**
   * The account the processor made a refund on, as its own records say (null: the platform's own). For a gateway
   * that cannot be asked about refunds, this is how the contract sees where a refund went.
   */
  refundAccount?(processorRefundId: string): string | null;
  close(): Promise<void>;
};

/** The request the lifecycle sends for attempt `attempt` of credit note `creditNoteId`. */
const refundRequest = (
  payment: PaymentRef,
  creditNoteId: string,
  attempt: number,
  amount: number,
  currency = 'eur',
): CreateRefundRequest => ({
  idempotencyKey: `${creditNoteId}:refund:${attempt}`,
  payment,
  amount,
  currency,
  metadata: { creditNoteId, attempt },
});

const refundOf = (result: Result<ProcessorRefund, GatewayError>): ProcessorRefund => {
  if (result.isErr()) throw new Error(`expected a refund, got ${result.error.kind} ${result.error.processorCode}: ${result.error.message}`);
  return result.value;
};

const errorOf = <T>(result: Result<T, GatewayError>): GatewayError => {
  if (result.isOk()) throw new Error(`expected the gateway to refuse, got ${JSON.stringify(result.value)}`);
  return result.error;
};

/**
 * Whether the gateway can be asked about refunds (`retrieveRefund`, `findRefunds`). A processor whose outcomes
 * come only by webhook (Adyen) declares `capabilities.pullsRefundStatus: false`: the cases that need asking are
 * skipped for it, and the others check what they can without asking.
 */
const pulls = (gateway: RefundGateway): boolean => gateway.capabilities?.pullsRefundStatus !== false;

export const describeRefundGatewayContract = (name: string, makeWorld: () => Promise<GatewayWorld>) => {
  describe(`RefundGateway contract: ${name}`, () => {
    const open: GatewayWorld[] = [];
    afterEach(async () => {
      for (const world of open.splice(0)) await world.close();
    });
    const newWorld = async () => {
      const world = await makeWorld();
      open.push(world);
      return world;
    };

    /** The case needs asking the processor: skipped for a gateway that cannot be asked. */
    const skipUnlessPulling = (gateway: RefundGateway, context: { skip(note?: string): void }) => {
      if (pulls(gateway)) return false;
      context.skip(`${gateway.processor} cannot be asked about refunds (capabilities.pullsRefundStatus is false)`);
      return true;
    };

    /** A world with one card payment of 50.00 EUR. */
    const paidWorld = async (account: string | null = null) => {
      const world = await newWorld();
      const payment = await world.payment({ amount: 5_000, currency: 'eur', account, method: 'card' });
      return { world, gateway: world.gateway, payment };
    };

    const listed = async (gateway: RefundGateway, payment: PaymentRef) => {
      if (!pulls(gateway)) throw new Error(`${gateway.processor} cannot list refunds: this case should have been skipped`);
      const found = await gateway.findRefunds(payment);
      if (found.isErr()) throw new Error(`findRefunds failed: ${found.error.message}`);
      return found.value;
    };

    it('creates a refund carrying our metadata, the amount, currency and payment, in a neutral status', async () => {
      const { gateway, payment } = await paidWorld();

      const refund = refundOf(await gateway.createRefund(refundRequest(payment, 'cn_1', 1, 1_500)));

      expect(refund).toMatchObject({
        paymentId: payment.paymentId,
        amount: 1_500,
        currency: 'eur',
        metadata: { creditNoteId: 'cn_1', attempt: 1 },
        failure: null,
      });
      expect(refund.processorRefundId).toEqual(expect.any(String));
      expect(processorRefundStatusSchema.options).toContain(refund.status);
      // A fresh refund is under way or done, never failed on creation in this world.
      expect(['pending', 'succeeded']).toContain(refund.status);
    });

    it('answers the same attempt sent again with the same refund: still one refund', async () => {
      const { gateway, payment } = await paidWorld();
      const request = refundRequest(payment, 'cn_1', 1, 2_000);

      const first = refundOf(await gateway.createRefund(request));
      const again = refundOf(await gateway.createRefund(request));

      expect(again.processorRefundId).toBe(first.processorRefundId);
      if (pulls(gateway)) {
        expect((await listed(gateway, payment)).map((refund) => refund.processorRefundId)).toEqual([first.processorRefundId]);
      }
    });

    it('creates a distinct refund for each attempt', async () => {
      const { gateway, payment } = await paidWorld();

      const first = refundOf(await gateway.createRefund(refundRequest(payment, 'cn_1', 1, 1_000)));
      const second = refundOf(await gateway.createRefund(refundRequest(payment, 'cn_1', 2, 1_000)));

      expect(second.processorRefundId).not.toBe(first.processorRefundId);
      expect(second.metadata).toEqual({ creditNoteId: 'cn_1', attempt: 2 });
      if (pulls(gateway)) expect(await listed(gateway, payment)).toHaveLength(2);
    });

    it('retrieves a refund it created', async (context) => {
      const { gateway, payment } = await paidWorld();
      if (skipUnlessPulling(gateway, context)) return;
      const created = refundOf(await gateway.createRefund(refundRequest(payment, 'cn_1', 1, 700)));

      const retrieved = await gateway.retrieveRefund({ payment, processorRefundId: created.processorRefundId });

      expect(retrieved.isOk() && retrieved.value).toEqual(created);
    });

    it('answers a refund it does not know with a definitive error', async (context) => {
      const { gateway, payment } = await paidWorld();
      if (skipUnlessPulling(gateway, context)) return;

      const error = errorOf(await gateway.retrieveRefund({ payment, processorRefundId: 're_does_not_exist' }));

      expect(error.kind).toBe('definitive');
    });

    it("lists a payment's refunds with their metadata, and no other payment's", async (context) => {
      const { world, gateway, payment } = await paidWorld();
      if (skipUnlessPulling(gateway, context)) return;
      const otherPayment = await world.payment({ amount: 3_000, currency: 'eur' });
      const ours = [
        refundOf(await gateway.createRefund(refundRequest(payment, 'cn_1', 1, 1_000))),
        refundOf(await gateway.createRefund(refundRequest(payment, 'cn_2', 1, 500))),
      ];
      const theirs = refundOf(await gateway.createRefund(refundRequest(otherPayment, 'cn_3', 1, 300)));

      const found = await listed(gateway, payment);

      const byId = (refunds: ProcessorRefund[]) =>
        refunds.map((refund) => [refund.processorRefundId, refund.metadata]).sort(([a], [b]) => String(a).localeCompare(String(b)));
      expect(byId(found)).toEqual(byId(ours));
      expect(found.map((refund) => refund.processorRefundId)).not.toContain(theirs.processorRefundId);
      expect(found.every((refund) => refund.paymentId === payment.paymentId)).toBe(true);
    });

    it('describes a payment: amount, currency and method', async () => {
      const world = await newWorld();
      const card = await world.payment({ amount: 4_200, currency: 'eur', method: 'card' });
      const debit = await world.payment({ amount: 900, currency: 'eur', method: 'sepa_debit' });

      const described = await world.gateway.describePayment(card);
      const describedDebit = await world.gateway.describePayment(debit);

      if (!pulls(world.gateway)) {
        // A processor that cannot be asked says what it knows and never guesses: each fact is right or null.
        for (const [answer, paid] of [[described, { amount: 4_200, currency: 'eur', method: 'card' }], [describedDebit, { amount: 900, currency: 'eur', method: 'sepa_debit' }]] as const) {
          if (answer.isErr()) throw new Error(`describePayment failed: ${answer.error.message}`);
          expect([paid.amount, null]).toContain(answer.value.amount);
          expect([paid.currency, null]).toContain(answer.value.currency);
          expect([paid.method, null]).toContain(answer.value.method);
          expect([true, null, undefined]).toContain(answer.value.chargeConfirmed);
        }
        return;
      }
      expect(described.isOk() && described.value).toMatchObject({
        paymentId: card.paymentId,
        amount: 4_200,
        currency: 'eur',
        method: 'card',
        // Cards can be refunded without a deadline.
        refundableUntil: null,
      });
      // A paid payment is confirmed, or the processor cannot say (null, or not told): never "not confirmed".
      expect([true, null, undefined]).toContain(described.isOk() ? described.value.chargeConfirmed : 'error');
      expect(describedDebit.isOk() && describedDebit.value).toMatchObject({ paymentId: debit.paymentId, amount: 900, method: 'sepa_debit' });
    });

    it('refuses a refund beyond what is left of the payment, definitively and not to be retried', async () => {
      const { gateway, payment } = await paidWorld();
      refundOf(await gateway.createRefund(refundRequest(payment, 'cn_1', 1, 3_000)));

      const error = errorOf(await gateway.createRefund(refundRequest(payment, 'cn_2', 1, 3_000)));

      expect(error.kind).toBe('definitive');
      expect(error.classification.recovery).not.toBe('retry');
      expect(error.classification.retry).not.toBe('may_help');
      if (pulls(gateway)) expect(await listed(gateway, payment)).toHaveLength(1);
    });

    it('reports a transient refusal with nothing created, then the same call succeeds', async () => {
      const { world, gateway, payment } = await paidWorld();
      const request = refundRequest(payment, 'cn_1', 1, 1_000);
      world.refuseNextCreate('transient');

      const error = errorOf(await gateway.createRefund(request));
      expect(error.kind).toBe('transient');
      if (pulls(gateway)) expect(await listed(gateway, payment)).toEqual([]);

      const refund = refundOf(await gateway.createRefund(request));
      expect(refund.metadata).toEqual({ creditNoteId: 'cn_1', attempt: 1 });
      if (pulls(gateway)) expect(await listed(gateway, payment)).toHaveLength(1);
    });

    it('refuses to refund a disputed charge, pointing at the dispute', async () => {
      const { world, gateway, payment } = await paidWorld();
      world.refuseNextCreate('disputed');

      const error = errorOf(await gateway.createRefund(refundRequest(payment, 'cn_1', 1, 1_000)));

      expect(error.kind).toBe('definitive');
      expect(error.classification.recovery).toBe('resolve_dispute');
      if (pulls(gateway)) expect(await listed(gateway, payment)).toEqual([]);
    });

    it('finds the attempt by its metadata once the processor forgot the key: still one refund', async (context) => {
      const { world, gateway, payment } = await paidWorld();
      // Finding the attempt again means asking the processor for the payment's refunds.
      if (skipUnlessPulling(gateway, context)) return;
      if (!world.forgetIdempotencyKeys) {
        context.skip('this processor never forgets idempotency keys');
        return;
      }
      const request = refundRequest(payment, 'cn_1', 1, 1_000);
      const first = refundOf(await gateway.createRefund(request));

      world.forgetIdempotencyKeys();
      const late = refundOf(await gateway.createRefund(request));

      expect(late.processorRefundId).toBe(first.processorRefundId);
      expect(await listed(gateway, payment)).toHaveLength(1);
    });

    it('refunds a payment on a connected account on that account', async () => {
      const { world, gateway, payment } = await paidWorld('acct_x');
      expect(payment.account).toBe('acct_x');

      const refund = refundOf(await gateway.createRefund(refundRequest(payment, 'cn_1', 1, 1_000)));

      expect(refund).toMatchObject({ paymentId: payment.paymentId, amount: 1_000, metadata: { creditNoteId: 'cn_1', attempt: 1 } });
      if (world.refundAccount) expect(world.refundAccount(refund.processorRefundId)).toBe('acct_x');
      // Asked again, the same attempt is the same refund on that account.
      expect(refundOf(await gateway.createRefund(refundRequest(payment, 'cn_1', 1, 1_000))).processorRefundId).toBe(refund.processorRefundId);
      // The rest asks the processor about the refund and the payment.
      if (!pulls(gateway)) return;

      const retrieved = await gateway.retrieveRefund({ payment, processorRefundId: refund.processorRefundId });
      expect(retrieved.isOk() && retrieved.value.processorRefundId).toBe(refund.processorRefundId);
      expect((await listed(gateway, payment)).map((found) => found.processorRefundId)).toEqual([refund.processorRefundId]);
      const described = await gateway.describePayment(payment);
      expect(described.isOk() && described.value.amount).toBe(5_000);
    });
  });
};
