import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildLifecycle } from '../bench/replayMemory.js';
import type { CreditNoteEvent } from '../src/events/creditNoteEvents.js';
import type { StoredEvent } from '../src/events/envelope.js';
import { createLogReplay, type LogReplayReport } from '../src/logs/logReplay.js';
import { foldCreditNote } from '../src/machine/fold.js';
import { numRuns } from './support/numRuns.js';

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
