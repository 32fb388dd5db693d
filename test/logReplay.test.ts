import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildLifecycle } from '../bench/replayMemory.js';
import type { CreditNoteEvent } from '../src/events/creditNoteEvents.js';
import type { StoredEvent } from '../src/events/envelope.js';
import { createLogReplay, type LogReplayReport } from '../src/logs/logReplay.js';
import { foldCreditNote } from '../src/machine/fold.js';
import { numRuns } from './support/numRuns.js';
import { actor, buildFixture, okValue, submitRefundRequest } from './support/fixtures.js';

/*
 * The audit behind `refund-lifecycle replay`, in process: generated
 * lifecycles (the benchmark's, a real mix of stories) replayed in commit
 * order and grouped by stream agree with each other and with the fold, and
 * each kind of damage to a log is found where it is.
 */

const asOf = new Date('2030-01-01T00:00:00Z');

/** The events of `streams` lifecycles, in commit order (by time), with positions 1…n. */
const commitOrderLog = (streams: readonly number[]): StoredEvent[] => {
  const timed = streams.flatMap((stream) => buildLifecycle(stream));
  timed.sort((a, b) => a.at - b.at || a.stream - b.stream || a.event.streamVersion - b.event.streamVersion);
  return timed.map((item, index) => ({ ...item.event, globalPosition: index + 1 }) as unknown as StoredEvent);
};

const replayAll = (events: readonly unknown[], options: { creditNoteId?: string } = {}): LogReplayReport => {
  const replay = createLogReplay({ asOf, stuckAfterDays: 7, ...options });
  events.forEach((event, index) => replay.add(event, { line: index + 1 }));
  return replay.report();
};

const streamsArbitrary = fc.uniqueArray(fc.nat({ max: 5_000 }), { minLength: 1, maxLength: 30 });

describe('log replay', () => {
  it('ends each credit note where folding its own stream ends it, in commit order and grouped alike, with nothing to report', () => {
    fc.assert(
      fc.property(streamsArbitrary, (streams) => {
        const log = commitOrderLog(streams);
        const grouped = [...log].sort((a, b) => a.streamId.localeCompare(b.streamId) || a.streamVersion - b.streamVersion);
        const inOrder = replayAll(log);
        const byStream = replayAll(grouped);

        const expected: Record<string, number> = { issued: 0, pending: 0, requested: 0, succeeded: 0, failed: 0, manual: 0 };
        for (const stream of streams) {
          const events = buildLifecycle(stream).map(({ event }) => event) as unknown as CreditNoteEvent[];
          expected[foldCreditNote(events).state.status]! += 1;
        }
        expect(inOrder.statuses).toEqual(expected);
        expect(byStream.statuses).toEqual(expected);
        expect(inOrder.order).toBe('commit');
        for (const report of [inOrder, byStream]) {
          expect(report.violations).toEqual([]);
          expect(report.badLines).toEqual([]);
          expect(report.creditNotes).toBe(streams.length);
          expect(report.events).toBe(log.length);
        }
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('finds a lost, a repeated and a reordered event in their stream, at their line', () => {
    fc.assert(
      fc.property(streamsArbitrary, fc.nat(), fc.constantFrom('lose', 'repeat', 'swap'), (streams, pick, damage) => {
        const log = commitOrderLog(streams);
        // A stream with at least three events, so the damage lands inside it.
        const candidates = log.filter((event) => event.streamVersion === 2 && log.some((other) => other.streamId === event.streamId && other.streamVersion === 3));
        fc.pre(candidates.length > 0);
        const victim = candidates[pick % candidates.length]!;
        const at = log.indexOf(victim);
        const damaged = [...log];
        if (damage === 'lose') damaged.splice(at, 1);
        else if (damage === 'repeat') damaged.splice(at + 1, 0, victim);
        else {
          const third = damaged.findIndex((event) => event.streamId === victim.streamId && event.streamVersion === 3);
          [damaged[at], damaged[third]] = [damaged[third]!, damaged[at]!];
        }
        const report = replayAll(damaged);
        const found = report.violations.filter((violation) => violation.kind === 'version_out_of_order');
        expect(found.length).toBeGreaterThan(0);
        expect(found.every((violation) => violation.streamId === victim.streamId)).toBe(true);
        const line = (found[0]!.at as { line: number }).line;
        expect(line).toBe(damage === 'repeat' ? at + 2 : damage === 'lose' ? damaged.findIndex((event) => event.streamId === victim.streamId && event.streamVersion === 3) + 1 : at + 1);
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('reports a bad event with its line, and does not judge its credit note on what remains', () => {
    const log = commitOrderLog([1, 2, 3]);
    const broken = log.map((event, index) => (index === 1 ? { ...event, data: { ...event.data, amount: -5 } } : event));
    const report = replayAll(broken);
    expect(report.badLines).toEqual([{ at: { line: 2 }, message: expect.stringContaining('data.') }]);
    expect(report.incomplete).toEqual([log[1]!.streamId.replace('credit-note-', '')]);
    expect(report.violations).toEqual([]);
    expect(report.creditNotes).toBe(3);
  });

  it('does not judge a credit note whose line was cut short, when the cut line still names it', () => {
    const log = commitOrderLog([1, 2]);
    const replay = createLogReplay({ asOf, stuckAfterDays: 7 });
    log.forEach((event, index) => {
      const text = JSON.stringify(event);
      if (index === 1) replay.reject({ line: 2 }, 'not JSON: Unexpected end of JSON input', text.slice(0, text.indexOf('"streamVersion"')));
      else replay.add(event, { line: index + 1 });
    });
    const report = replay.report();
    expect(report.incomplete).toEqual([log[1]!.streamId.replace('credit-note-', '')]);
    expect(report.violations).toEqual([]);
  });

  it('lists an attempt in doubt as stuck at once when nothing will try it again', () => {
    const lives = Array.from({ length: 200 }, (_, stream) => buildLifecycle(stream).map(({ event: { globalPosition: _, ...event } }) => event as unknown as StoredEvent));
    const life = lives.find((events) => events.some((event) => event.type === 'RefundDeferred' && (event.data as { reason: string }).reason === 'transient_error'))!;
    const deferred = life.findIndex((event) => event.type === 'RefundDeferred');
    const untilInDoubt = life.slice(0, deferred + 1);
    const retryAt = Date.parse((life[deferred]!.data as { retryAt: string }).retryAt);
    const at = (instant: number) => {
      const replay = createLogReplay({ asOf: new Date(instant), stuckAfterDays: 7 });
      untilInDoubt.forEach((event, index) => replay.add(event, { line: index + 1 }));
      return replay.report().stuck;
    };
    expect(at(retryAt - 1_000)).toEqual([]);
    expect(at(retryAt + 60_000)).toEqual([expect.objectContaining({ status: 'pending', inDoubt: true, why: expect.stringMatching(/in doubt after timeout; next try at/) })]);
  });

  it('narrows to one credit note', () => {
    const log = commitOrderLog([10, 11, 12]);
    const only = log[0]!.streamId.replace('credit-note-', '');
    const report = replayAll(log, { creditNoteId: only });
    expect(report.creditNotes).toBe(1);
    expect(report.events).toBe(log.filter((event) => event.streamId === log[0]!.streamId).length);
  });

  it('lists a credit note waiting longer than the threshold as stuck, saying what it waits for', () => {
    // The first generated lifecycle whose refund Stripe accepts as pending, cut right after: requested, waiting on the processor.
    const lives = Array.from({ length: 50 }, (_, stream) => buildLifecycle(stream).map(({ event: { globalPosition: _, ...event } }) => event as unknown as StoredEvent));
    const accepted = lives.find((events) => events.some((event) => event.type === 'RefundAccepted' && (event.data as { processorStatus: string }).processorStatus === 'pending'))!;
    const untilAccepted = accepted.slice(0, accepted.findIndex((event) => event.type === 'RefundAccepted') + 1);
    const replay = createLogReplay({ asOf: new Date(Date.parse(untilAccepted.at(-1)!.occurredAt) + 8 * 86_400_000), stuckAfterDays: 7 });
    untilAccepted.forEach((event, index) => replay.add(event, { line: index + 1 }));
    const { stuck } = replay.report();
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({ status: 'requested', why: expect.stringMatching(/^refund re_\w+ pending at Stripe/) });
    expect(stuck[0]!.ageDays).toBeGreaterThan(7);
  });
});

/** A lifecycle's log with refund requests: pending, approved (refunded), approved cancel-only, rejected, withdrawn. */
const requestLog = async (): Promise<StoredEvent[]> => {
  const fx = buildFixture();
  const customer = { kind: 'customer', id: 'cus_1' } as const;
  const submit = async (requestId: string, paymentId: string, subscriptionId: string | null = null) => {
    await submitRefundRequest(fx, { requestId, paymentId, subscriptionId });
    fx.clock.advance(60_000);
  };
  await submit('rr_pending', 'pi_1');
  await submit('rr_approved', 'pi_2');
  await submit('rr_cancel', 'pi_3', 'sub_3');
  await submit('rr_rejected', 'pi_4');
  await submit('rr_withdrawn', 'pi_5');
  okValue(await fx.lifecycle.approveRequest('rr_approved', { actor }));
  okValue(await fx.lifecycle.approveRequest('rr_cancel', { actor, option: 'cancel_only' }));
  okValue(await fx.lifecycle.rejectRequest('rr_rejected', { actor }));
  okValue(await fx.lifecycle.withdrawRequest('rr_withdrawn', { actor: customer }));
  fx.gateway.setRefundStatus(fx.gateway.refunds()[0]!.processorRefundId, 'succeeded');
  await fx.deliver(fx.gateway.takeNotices());
  return fx.store.readAll({ limit: 10_000 });
};

const REQUEST_STATUSES = { pending: 1, approved: 2, rejected: 1, withdrawn: 1 };
const requestStream = (requestId: string) => `refund-request-${requestId}`;

describe('log replay of refund requests', () => {
  it('counts requests by their own status apart from credit notes, in commit order and grouped alike, with nothing to report', async () => {
    const log = await requestLog();
    const grouped = [...log].sort((a, b) => a.streamId.localeCompare(b.streamId) || a.streamVersion - b.streamVersion);
    for (const report of [replayAll(log), replayAll(grouped)]) {
      expect(report.violations).toEqual([]);
      expect(report.badLines).toEqual([]);
      expect(report.events).toBe(log.length);
      // The one credit note is the approval's; request streams are not credit notes.
      expect(report.creditNotes).toBe(1);
      expect(report.statuses).toMatchObject({ succeeded: 1 });
      expect(report.refundRequests).toEqual({ count: 5, statuses: REQUEST_STATUSES, incomplete: [] });
      expect(report.incomplete).toEqual([]);
    }
    // Narrowed to the approval's credit note, requests are not replayed.
    expect(replayAll(log, { creditNoteId: 'rr-rr_approved' }).refundRequests).toEqual({ count: 0, statuses: { pending: 0, approved: 0, rejected: 0, withdrawn: 0 }, incomplete: [] });
  });

  it.each(['lose', 'repeat', 'swap'] as const)('finds a %s event in a request stream at its line', async (damage) => {
    const log = await requestLog();
    const stream = requestStream('rr_rejected');
    const submitted = log.findIndex((event) => event.streamId === stream && event.streamVersion === 1);
    const decided = log.findIndex((event) => event.streamId === stream && event.streamVersion === 2);
    const damaged = [...log];
    if (damage === 'lose') damaged.splice(submitted, 1);
    else if (damage === 'repeat') damaged.splice(submitted + 1, 0, log[submitted]!);
    else [damaged[submitted], damaged[decided]] = [damaged[decided]!, damaged[submitted]!];
    const report = replayAll(damaged);
    const found = report.violations.filter((violation) => violation.kind === 'version_out_of_order');
    expect(found.length).toBeGreaterThan(0);
    expect(report.violations.every((violation) => violation.streamId === stream)).toBe(true);
    const line = { lose: decided, repeat: submitted + 2, swap: submitted + 1 }[damage];
    expect(found[0]).toMatchObject({ at: { line }, streamId: stream });
    expect(report.creditNotes).toBe(1);
  });

  it('reports an event the request machine rejects as transition_rejected, at its line', async () => {
    const log = await requestLog();
    const stream = requestStream('rr_approved');
    const submitted = log.findIndex((event) => event.streamId === stream && event.streamVersion === 1);
    const approved = log.findIndex((event) => event.streamId === stream && event.streamVersion === 2);
    // The approval written as the stream's first event, the submission after it: versions in order, the story not.
    const edited = log.map((event, index) =>
      index === submitted ? { ...log[approved]!, streamVersion: 1 } : index === approved ? { ...log[submitted]!, streamVersion: 2 } : event,
    );
    const report = replayAll(edited);
    expect(report.violations).toEqual([
      { kind: 'transition_rejected', streamId: stream, at: { line: submitted + 1 }, message: `${stream}: RefundRequestApproved is not allowed from unsubmitted` },
    ]);
    expect(report.refundRequests.statuses).toEqual({ ...REQUEST_STATUSES, approved: 1, pending: 2 });

    // A second decision after the first, and an event of another kind on a request stream.
    const rejected = log.find((event) => event.streamId === requestStream('rr_rejected') && event.streamVersion === 2)!;
    const again = { ...rejected, eventId: 'again', streamVersion: 3, type: 'RefundRequestWithdrawn', data: { details: null }, globalPosition: log.length + 1 };
    const described = log.find((event) => event.type === 'PaymentDescribed')!;
    const stray = { ...described, eventId: 'stray', streamId: requestStream('rr_pending'), streamVersion: 2, globalPosition: log.length + 2 };
    const more = replayAll([...log, again, stray]);
    expect(more.violations).toEqual([
      { kind: 'transition_rejected', streamId: requestStream('rr_rejected'), at: { line: log.length + 1 }, message: `${requestStream('rr_rejected')}: RefundRequestWithdrawn is not allowed from rejected` },
      { kind: 'transition_rejected', streamId: requestStream('rr_pending'), at: { line: log.length + 2 }, message: `${requestStream('rr_pending')}: PaymentDescribed is not allowed from pending` },
    ]);
    expect(more.creditNotes).toBe(1);
  });

  it('reports an approval whose credit note the log never issues (they are one append: the log was cut or edited)', async () => {
    const log = await requestLog();
    const cut = log.filter((event) => event.streamId !== 'credit-note-rr-rr_approved');
    const report = replayAll(cut);
    expect(report.violations).toEqual([
      {
        kind: 'approval_without_credit_note',
        streamId: requestStream('rr_approved'),
        at: null,
        message: `${requestStream('rr_approved')}: approved with credit note rr-rr_approved, which the log never issues`,
      },
    ]);
    // A cancel-only approval issues none, and is not reported.
    expect(report.violations.some((violation) => violation.streamId === requestStream('rr_cancel'))).toBe(false);
  });

  it('does not count a request with a bad line as a credit note, and does not judge it', async () => {
    const log = await requestLog();
    const stream = requestStream('rr_withdrawn');
    const bad = log.findIndex((event) => event.streamId === stream && event.streamVersion === 1);
    const replay = createLogReplay({ asOf, stuckAfterDays: 7 });
    log.forEach((event, index) => {
      if (index !== bad) replay.add(event, { line: index + 1 });
      else {
        const text = JSON.stringify(event);
        replay.reject({ line: index + 1 }, 'not JSON: Unexpected end of JSON input', text.slice(0, text.indexOf('"streamVersion"')));
      }
    });
    const broken = log.map((event, index) => (index === bad ? { ...event, data: { ...event.data, amount: -1 } } : event));
    for (const report of [replay.report(), replayAll(broken)]) {
      expect(report.badLineCount).toBe(1);
      expect(report.creditNotes).toBe(1);
      expect(report.incomplete).toEqual([]);
      expect(report.refundRequests).toEqual({ count: 5, statuses: { ...REQUEST_STATUSES, withdrawn: 0 }, incomplete: ['rr_withdrawn'] });
      expect(report.violations).toEqual([]);
    }
  });
});
