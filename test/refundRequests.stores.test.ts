import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, pgliteStore } from '../src/adapters/pglite/index.js';
import { postgresStore } from '../src/adapters/postgres/index.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import type { CancelSubscriptionCall } from '../src/ports/notifier.js';
import type { EventStore } from '../src/ports/eventStore.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import { manualClock } from '../src/testing/manualClock.js';
import { recordingNotifier } from '../src/testing/recordingNotifier.js';
import { errValue, okValue } from './support/fixtures.js';

/*
 * Refund requests through the lifecycle on the SQL stores: the approval and its
 * credit note in one transaction, the read model joined to the credit note's
 * row, the one-open-request rule under real concurrent transactions.
 */

const DAY = 24 * 60 * 60 * 1000;
const merchant = { kind: 'user', id: 'owner_1' } as const;
const customer = { kind: 'customer', id: 'cus_1' } as const;

const story = (name: string, open: () => Promise<{ store: EventStore; close: () => Promise<unknown> }>) =>
  describe(`refund requests on ${name}`, () => {
    let store: EventStore;
    let close: () => Promise<unknown>;
    beforeAll(async () => ({ store, close } = await open()), 30_000);
    afterAll(() => close?.());

    it('submits, approves, refunds, rejects and reports, each once, as in memory', async () => {
      const gateway = fakeGateway();
      const notifier = recordingNotifier();
      const clock = manualClock('2026-05-04T09:00:00.000Z');
      const cancelCalls: CancelSubscriptionCall[] = [];
      const lifecycle = createRefundLifecycle({ store, gateway, notifier, clock, hooks: { cancelSubscription: (call) => void cancelCalls.push(call) } });
      for (const payment of ['pi_a', 'pi_b', 'pi_c']) gateway.capture(payment, 5_000), gateway.setChargeConfirmed(payment, true);
      const ask = (requestId: string, paymentId: string, extra: { subscriptionId?: string } = {}) =>
        lifecycle.requestRefund({
          requestId,
          payment: { paymentId },
          amount: 3_000,
          currency: 'EUR',
          reason: 'technical_issue',
          customerId: 'cus_1',
          purchasedAt: new Date(clock.now().getTime() - DAY).toISOString(),
          actor: customer,
          ...extra,
        });
      const from = clock.now().toISOString();

      // Two submissions on one payment, racing in two transactions: one opens, the other is refused.
      const raced = await Promise.all([ask('rr_a', 'pi_a', { subscriptionId: 'sub_a' }), ask('rr_a2', 'pi_a')]);
      expect(raced.filter((result) => result.isOk())).toHaveLength(1);
      const opened = raced[0]!.isOk() ? 'rr_a' : 'rr_a2';
      expect(errValue(raced.find((result) => result.isErr())!)).toMatchObject({ code: 'policy_refused', refusals: [{ rule: 'one_open_request' }] });
      okValue(await ask('rr_b', 'pi_b'));

      // Two approvals racing: one credit note, one refund.
      const approvals = await Promise.all([lifecycle.approveRequest(opened, { actor: merchant }), lifecycle.approveRequest(opened, { actor: merchant })]);
      for (const approval of approvals) okValue(approval);
      okValue(await lifecycle.rejectRequest('rr_b', { actor: merchant, note: 'Used in full.' }));
      expect(gateway.createCalls).toBe(1);
      expect(okValue(await lifecycle.listRefundRequests({ status: 'processing' })).map((request) => request.requestId)).toEqual([opened]);

      gateway.setRefundStatus(gateway.refunds()[0]!.processorRefundId, 'succeeded');
      for (const notice of gateway.takeNotices()) okValue(await lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId }));
      expect(okValue(await lifecycle.listRefundRequests({ status: 'succeeded' })).map((request) => request.requestId)).toEqual([opened]);
      expect(okValue(await lifecycle.listRefundRequests({ status: 'rejected' })).map((request) => request.requestId)).toEqual(['rr_b']);
      expect(okValue(await lifecycle.getRefundRequest(opened))).toMatchObject({ status: 'succeeded', creditNoteStatus: 'succeeded' });

      const kinds = notifier.deliveredRequestNotices().map((notice) => `${notice.request.requestId}:${notice.kind}`).sort();
      expect(kinds).toEqual([`${opened}:refund_request_approved`, `${opened}:refund_request_received`, 'rr_b:refund_request_received', 'rr_b:refund_request_rejected']);
      expect(notifier.requestCalls).toHaveLength(4);
      expect(cancelCalls).toHaveLength(opened === 'rr_a' ? 1 : 0);

      clock.advance(DAY);
      expect(okValue(await lifecycle.refundRequestReport({ from, to: clock.now().toISOString() }))).toEqual([
        { reason: 'technical_issue', ticketStatus: 'rejected', currency: 'eur', count: 1, requestedAmount: 3_000, approvedAmount: 0 },
        { reason: 'technical_issue', ticketStatus: 'succeeded', currency: 'eur', count: 1, requestedAmount: 3_000, approvedAmount: 3_000 },
      ]);
    });
  });

story('PGlite', async () => {
  const db = await openPglite('memory://');
  const store = pgliteStore({ db });
  await store.migrate();
  return { store, close: () => db.close() };
});

const databaseUrl = process.env.DATABASE_URL;
describe.runIf(databaseUrl !== undefined)('with DATABASE_URL', () => {
  story('PostgreSQL', async () => {
    const schema = `refund_lifecycle_requests_${randomBytes(6).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    const store = postgresStore({ pool, schema });
    await store.migrate();
    return {
      store,
      close: async () => {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await store.close();
        await pool.end();
      },
    };
  });
});
