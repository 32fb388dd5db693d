import type { Result } from 'neverthrow';
import { expect } from 'vitest';
import type { CreditNoteEvent } from '../../src/events/creditNoteEvents.js';
import type { CreditNoteChange, ProposedCreditNoteEvent } from '../../src/lifecycle/creditNoteChange.js';
import { creditNoteStreamId, type KnownCreditNote } from '../../src/lifecycle/streams.js';
import type { Intent } from '../../src/machine/creditNoteMachine.js';
import { foldCreditNote } from '../../src/machine/fold.js';
import { refundIdempotencyKey } from '../../src/machine/idempotencyKeys.js';

/*
 * Given / when / then for pure deciders, in the spirit of Emmett's
 * `DeciderSpecification`: given the events a credit note already holds, when a
 * decision is taken at `now`, then these events are appended (or this error is
 * answered). No store, no processor, no clock: only the decision.
 */

/** A pure decision about one credit note, as the command handler calls it. */
export type Decider<E> = (creditNote: KnownCreditNote, now: Date) => Result<CreditNoteChange, E>;

/** An effect owed: a full intent, or the name of one that carries no parameters. */
export type ExpectedEffect = Intent | Exclude<Intent, { params: unknown }>['type'];

const givenAt = '2026-01-01T09:00:00.000Z';
export const creditNoteId = 'cn_1';
/** The processor's id of an attempt's refund in these specs. */
export const refundId = (attempt: number): string => `re_${attempt}`;

/** Prior events, so a specification reads as the credit note's story. All are for `cn_1`, 5 000 eur on `pi_1`. */
export const story = {
  issued: (data: Partial<Extract<CreditNoteEvent, { type: 'CreditNoteIssued' }>['data']> = {}): CreditNoteEvent => ({
    type: 'CreditNoteIssued',
    data: {
      creditNoteId,
      amount: 5_000,
      currency: 'eur',
      payment: { processor: 'fake', paymentId: 'pi_1', account: null },
      reason: 'proposal amended',
      origin: 'host',
      ...data,
    },
    occurredAt: givenAt,
  }),
  requested: (attempt: number): CreditNoteEvent => ({
    type: 'RefundRequested',
    data: { attempt, idempotencyKey: refundIdempotencyKey(creditNoteId, attempt), amount: 5_000, currency: 'eur' },
    occurredAt: givenAt,
  }),
  accepted: (attempt: number): CreditNoteEvent => ({
    type: 'RefundAccepted',
    data: { attempt, processorRefundId: refundId(attempt), processorStatus: 'pending', pendingReason: null },
    occurredAt: givenAt,
  }),
  succeeded: (attempt: number): CreditNoteEvent => ({
    type: 'RefundSucceeded',
    data: { attempt, processorRefundId: refundId(attempt) },
    occurredAt: givenAt,
  }),
  failed: (attempt: number, processorReason = 'insufficient_funds'): CreditNoteEvent => ({
    type: 'RefundFailed',
    data: {
      attempt,
      processorRefundId: refundId(attempt),
      processorReason,
      classification: { retry: 'may_help', recovery: 'retry' },
      message: processorReason,
    },
    occurredAt: givenAt,
  }),
  /** The charge-confirmation gate held the first request back. */
  chargeNotConfirmed: (): CreditNoteEvent => ({ type: 'RefundDeferred', data: { reason: 'charge_not_confirmed' }, occurredAt: givenAt }),
  /** A timeout or 5xx: the attempt is in doubt. */
  transientError: (attempt: number, consecutiveFailures = 1): CreditNoteEvent => ({
    type: 'RefundDeferred',
    data: { reason: 'transient_error', attempt, error: { code: 'timeout', message: 'timed out' }, consecutiveFailures, retryAt: null },
    occurredAt: givenAt,
  }),
  /** A refund made in the processor's dashboard, adopted by a processor-origin credit note. */
  adopted: (): CreditNoteEvent => ({
    type: 'RefundAdopted',
    data: { attempt: 1, processorRefundId: refundId(1), amount: 5_000, currency: 'eur', processorStatus: 'pending' },
    occurredAt: givenAt,
  }),
  retryRequested: (): CreditNoteEvent => ({ type: 'RetryRequested', data: {}, occurredAt: givenAt }),
  markedRefundedManually: (): CreditNoteEvent => ({
    type: 'MarkedRefundedManually',
    data: { reason: 'SEPA transfer', reference: null, method: 'bank_transfer' },
    occurredAt: givenAt,
  }),
};

/**
 * `deciderSpecification().given(events).when(decide).then(events)` or `.thenError(Class, fields)`.
 * The given history must be one the machine accepts; `then` also checks that each appended event
 * happened at `now` and that the change's state is the replay of the whole stream.
 */
export const deciderSpecification = ({ now = new Date('2026-01-01T10:00:00.000Z') } = {}) => ({
  given: (history: readonly CreditNoteEvent[]) => {
    const replay = foldCreditNote(history);
    if (replay.rejected !== null) throw new Error(`given: the machine refuses ${replay.rejected.event.type} at ${replay.rejected.index}`);
    const creditNote: KnownCreditNote = { streamId: creditNoteStreamId(creditNoteId), version: history.length, state: replay.state };
    return {
      when: <E>(decide: Decider<E>) => {
        const result = decide(creditNote, now);
        return {
          /** The decision succeeds and appends exactly these events (`[]`: nothing changes). */
          then: (expected: readonly ProposedCreditNoteEvent[]) => {
            if (result.isErr()) expect.fail(`expected events, got ${String(result.error)}`);
            const change = result.value;
            expect(change.events).toEqual(expected.map((event) => ({ ...event, occurredAt: now.toISOString() })));
            expect(change.state).toEqual(foldCreditNote([...history, ...change.events]).state);
            return {
              change,
              /** The side effects the appended events owe, in order, each at the version of an appended event. */
              thenEffects: (effects: readonly ExpectedEffect[]) => {
                expect(change.effects.map(({ intent }) => intent)).toEqual(
                  effects.map((effect) => (typeof effect === 'string' ? { type: effect } : effect)),
                );
                for (const { version } of change.effects) {
                  expect(version).toBeGreaterThan(history.length);
                  expect(version).toBeLessThanOrEqual(history.length + change.events.length);
                }
              },
            };
          },
          /** The decision is refused with an error of this class carrying these fields. */
          thenError: <T extends E>(errorClass: abstract new (...args: never[]) => T, fields: Partial<T>) => {
            if (result.isOk()) expect.fail(`expected ${errorClass.name}, got events ${result.value.events.map((e) => e.type).join(', ')}`);
            expect(result.error).toBeInstanceOf(errorClass);
            expect(result.error).toMatchObject(fields);
          },
        };
      },
    };
  },
});
