import { describe, expect, it } from 'vitest';
import { colourful, paint, progressBar } from '../src/cli/output.js';
import { explainCreditNote } from '../src/logs/explainCreditNote.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { fakeGateway, inMemoryEventStore, manualClock, recordingNotifier } from '../src/testing/index.js';
import { explanationText } from '../src/cli/explainCommand.js';
import { buildFixture, okValue, submitRefundRequest } from './support/fixtures.js';

/*
 * `explain` from a store knows what a log file cannot: whether each owed side
 * effect ran, from the outbox. And the CLI's terminal manners, which a child
 * process with pipes cannot show: colour and the progress bar only on a TTY.
 */

const actor = { kind: 'user', id: 'user_anna' } as const;

describe('explainCreditNote from a store', () => {
  it('says which side effects ran, failed for good, or still wait', async () => {
    const store = inMemoryEventStore();
    const gateway = fakeGateway();
    const clock = manualClock('2026-03-02T09:00:00.000Z');
    let refusals = 0;
    const notifier = recordingNotifier();
    const lifecycle = createRefundLifecycle({
      store,
      gateway,
      clock,
      notifier,
      hooks: {
        refundSucceeded: async () => {
          refusals += 1;
          throw new Error('the host hook is down');
        },
      },
      retryPolicy: { maxSideEffectDeliveries: 1 },
    });
    const issued = await lifecycle.issueCreditNote({ creditNoteId: 'cn_1', amount: 5_000, currency: 'EUR', reason: 'Late delivery', payment: { paymentId: 'pi_1' }, chargeConfirmed: true, actor });
    if (issued.isErr()) throw issued.error;
    const refund = gateway.refunds()[0]!;
    gateway.setRefundStatus(refund.processorRefundId, 'succeeded');
    const refreshed = await lifecycle.refreshStatus('cn_1', { actor });
    if (refreshed.isErr()) throw refreshed.error;
    await lifecycle.dispatch();

    const streamId = 'credit-note-cn_1';
    const explanation = explainCreditNote({
      creditNoteId: 'cn_1',
      events: (await store.readStream(streamId)).events,
      outbox: await store.listOutbox({ streamId }),
    });
    const owed = explanation.steps.flatMap((step) => step.owed.map((effect) => [step.event.type, effect.kind, effect.run]));
    expect(owed).toEqual([
      ['RefundRequested', 'create_refund', 'done'],
      ['RefundSucceeded', 'notify', 'done'],
      ['RefundSucceeded', 'run_hook', 'gave_up'],
    ]);
    expect(refusals).toBeGreaterThan(0);
    expect(explanation.now).toMatch(/^Refunded since 2026-03-02 09:00:00 UTC: refund \S+ succeeded\.$/);
  });
});

describe('explainCreditNote from a log file', () => {
  it('folds the credit note in version order even when the writers\' clocks disagree', async () => {
    const store = inMemoryEventStore();
    const gateway = fakeGateway();
    const lifecycle = createRefundLifecycle({ store, gateway, clock: manualClock('2026-03-02T09:00:00.000Z') });
    const issued = await lifecycle.issueCreditNote({ creditNoteId: 'cn_skew', amount: 5_000, currency: 'EUR', reason: 'Late delivery', payment: { paymentId: 'pi_9' }, chargeConfirmed: true, actor });
    if (issued.isErr()) throw issued.error;
    const events = (await store.readStream('credit-note-cn_skew')).events.map(({ globalPosition: _, ...event }, index) =>
      // The acceptance written by a worker whose clock runs a second behind.
      index === 2 ? { ...event, occurredAt: '2026-03-02T08:59:59.000Z' } : event,
    );
    const explanation = explainCreditNote({ creditNoteId: 'cn_skew', events: [...events].reverse(), outbox: null });
    expect(explanation.steps.map((step) => [step.event.type, step.accepted])).toEqual([
      ['CreditNoteIssued', true],
      ['RefundRequested', true],
      ['RefundAccepted', true],
    ]);
  });
});

describe('explainCreditNote of a credit note issued by a refund request', () => {
  const merchant = { kind: 'user', id: 'merchant_1' } as const;
  /** A request approved under a credit note id of the merchant's choosing (not the default `rr-<requestId>`). */
  const approvedRequest = async () => {
    const fx = buildFixture();
    await submitRefundRequest(fx, {
      requestId: 'rr_7',
      paymentId: 'pi_7',
      details: 'The export never finished.',
      customerId: 'cus_7',
      purchasedAt: '2025-12-30T09:00:00.000Z',
    });
    fx.clock.advance(3_600_000);
    okValue(await fx.lifecycle.approveRequest('rr_7', { actor: merchant, amount: 2_500, creditNoteId: 'cn_from_request' }));
    return {
      events: (await fx.store.readStream('credit-note-cn_from_request')).events,
      requestEvents: (await fx.store.readStream('refund-request-rr_7')).events,
    };
  };

  it('tells who asked and who decided, the approval right before the issue it decided', async () => {
    const { events, requestEvents } = await approvedRequest();
    const explanation = explainCreditNote({ creditNoteId: 'cn_from_request', events, requestEvents, outbox: null });
    expect(explanation.requestId).toBe('rr_7');
    expect(explanation.steps.map((step) => [step.event.type, step.event.actor.id, step.from, step.to, step.accepted])).toEqual([
      ['RefundRequestSubmitted', 'cus_7', 'unissued', 'unissued', true],
      ['RefundRequestApproved', 'merchant_1', 'unissued', 'unissued', true],
      ['CreditNoteIssued', 'merchant_1', 'unissued', 'issued', true],
      ['RefundRequested', 'merchant_1', 'issued', 'requested', true],
      ['RefundAccepted', expect.any(String), 'requested', 'requested', true],
    ]);
    expect(explanation.steps[0]!.said).toBe('Refund request rr_7 submitted by customer cus_7 for 40.00 EUR on payment pi_7 (technical issue).');
    expect(explanation.steps[1]!.said).toBe('Approved by user merchant_1 (refund only): credit note cn_from_request issued for 25.00 EUR.');
    expect(explanation.steps[0]!.cause).toBe('by cus_7');
    expect(explanation.steps[1]!.cause).toBe('by user merchant_1');

    const text = explanationText(explanation, false);
    expect(text[2]).toBe('Issued on the approval of refund request rr_7.');
    expect(text).toContain('2026-01-01 09:00:00 UTC  refund request');

    // From a log without the store's positions (a per-credit-note dump), the same order: by time, the approval with its append.
    const unpositioned = (list: readonly { globalPosition: number }[]) => list.map(({ globalPosition: _, ...event }) => event as never);
    const fromLog = explainCreditNote({ creditNoteId: 'cn_from_request', events: unpositioned(events), requestEvents: unpositioned(requestEvents), outbox: null });
    expect(fromLog.steps.map((step) => step.event.type)).toEqual(explanation.steps.map((step) => step.event.type));
    // Without the request's events, nothing is said of it.
    const alone = explainCreditNote({ creditNoteId: 'cn_from_request', events, outbox: null });
    expect(alone.requestId).toBeNull();
    expect(alone.steps).toHaveLength(events.length);
  });

  it('marks a request event the request machine rejects', async () => {
    const { events, requestEvents } = await approvedRequest();
    const explanation = explainCreditNote({ creditNoteId: 'cn_from_request', events, requestEvents: requestEvents.filter((event) => event.type === 'RefundRequestApproved'), outbox: null });
    expect(explanation.steps.find((step) => step.event.type === 'RefundRequestApproved')).toMatchObject({ accepted: false });
  });
});

describe('CLI terminal manners', () => {
  const stream = (isTTY: boolean) => {
    let written = '';
    return { isTTY, write: (text: string) => ((written += text), true), get written() { return written; }, columns: 80, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, on: () => {} } as unknown as NodeJS.WriteStream & { written: string };
  };

  it('colours only a terminal, and never with NO_COLOR set', () => {
    expect(colourful(stream(true), {})).toBe(true);
    expect(colourful(stream(true), { NO_COLOR: '1' })).toBe(false);
    expect(colourful(stream(true), { NO_COLOR: '' })).toBe(true);
    expect(colourful(stream(false), {})).toBe(false);
    expect(paint(false).red('x')).toBe('x');
    expect(paint(true).red('x')).toBe('\u001b[31mx\u001b[39m');
  });

  it('draws a progress bar on a terminal stderr for a large input, and nothing otherwise', () => {
    const tty = stream(true);
    const big = progressBar({ stdout: stream(false), stderr: tty, env: {} }, 64 << 20, 'replay');
    big.add(32 << 20);
    big.stop();
    expect(tty.written).toContain('replay [');

    for (const [stderr, size] of [[stream(false), 64 << 20], [stream(true), 1 << 20], [stream(true), null]] as const) {
      const bar = progressBar({ stdout: stream(false), stderr, env: {} }, size, 'replay');
      bar.add(1 << 20);
      bar.stop();
      expect(stderr.written).toBe('');
    }
  });
});
