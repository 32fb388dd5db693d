import { describe, expect, it } from 'vitest';
import { colourful, paint, progressBar } from '../src/cli/output.js';
import { explainCreditNote } from '../src/logs/explainCreditNote.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { fakeGateway, inMemoryEventStore, manualClock, recordingNotifier } from '../src/testing/index.js';

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
