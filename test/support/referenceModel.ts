import type { CreditNoteEvent, CreditNoteEventType } from '../../src/events/creditNoteEvents.js';
import type { ProcessorPendingReason, ProcessorRefundStatus } from '../../src/events/primitives.js';

/*
 * A reference model of the credit-note lifecycle, written from the documents
 * and NOT from src/machine (nothing here imports it): docs/glossary.md and the
 * README's "The lifecycle", "Decide, then append, then act", "The
 * charge-confirmation gate", "A succeeded refund that Stripe later fails", "Refunds made in the dashboard" and the observeRefund /
 * retryRefund / markRefunded sections. Only the event types come from src.
 *
 * The rules are one explicit table: a rule applies in the statuses it lists, to
 * one event type, when its `when` holds. The first rule that applies decides;
 * when none does, the event is refused and changes nothing.
 */

export type RefStatus = 'unissued' | 'issued' | 'pending' | 'requested' | 'succeeded' | 'failed' | 'manual';
export const refLifecycleStatuses = ['issued', 'pending', 'requested', 'succeeded', 'failed', 'manual'] as const;

export type RefAttemptStatus = 'requested' | 'accepted' | 'in_doubt' | 'succeeded' | 'failed';

export type RefAttempt = {
  number: number;
  status: RefAttemptStatus;
  /** `<creditNoteId>:refund:<attempt>`; null for an adopted refund (nobody asked under a key of ours). */
  idempotencyKey: string | null;
  processorRefundId: string | null;
  processorStatus: ProcessorRefundStatus | null;
  processorPendingReason: ProcessorPendingReason | null;
  consecutiveFailures: number;
};

export type RefState = {
  status: RefStatus;
  creditNoteId: string;
  amount: number;
  currency: string;
  hasPayment: boolean;
  origin: 'host' | 'processor';
  attempt: RefAttempt | null;
  /** "Refund completed on {settledAt}": set when a refund or a manual refund settles the credit note. */
  settledAt: string | null;
  /** A failure with its reason is on the credit note (the banner "Refund failed: {reason}"). */
  hasFailure: boolean;
};

export type RefEffect =
  | 'create_refund'
  | 'notify:refund_completed'
  | 'notify:refund_failed'
  | 'notify:manual_refund_recorded'
  | 'hook:refundSucceeded'
  | 'hook:refundFailed'
  | 'hook:refundedManually';

export type RefStep = { accepted: boolean; state: RefState; effects: RefEffect[]; rule: RuleName | null };

export const initialRefState: RefState = {
  status: 'unissued',
  creditNoteId: '',
  amount: 0,
  currency: '',
  hasPayment: false,
  origin: 'host',
  attempt: null,
  settledAt: null,
  hasFailure: false,
};

type EventOf<T extends CreditNoteEventType> = Extract<CreditNoteEvent, { type: T }>;

type Rule<T extends CreditNoteEventType> = {
  name: string;
  /** The doc sentence(s) the rule comes from. */
  source: string;
  from: readonly RefStatus[];
  event: T;
  when: (state: RefState, event: EventOf<T>) => boolean;
  to: RefStatus;
  effects: (state: RefState, event: EventOf<T>) => RefEffect[];
  update: (state: RefState, event: EventOf<T>) => Omit<RefState, 'status'>;
};

const rule = <T extends CreditNoteEventType>(r: Rule<T>): Rule<CreditNoteEventType> => r as unknown as Rule<CreditNoteEventType>;

// ---- helpers, each tied to a sentence of the docs ------------------------------------------------------------

/** "Asked of the processor and not settled: it may still pay out" — requested, in doubt, or accepted. */
const inFlight = (attempt: RefAttempt | null): attempt is RefAttempt =>
  attempt !== null && (attempt.status === 'requested' || attempt.status === 'accepted' || attempt.status === 'in_doubt');

/**
 * retryRefund: "attempt + 1 after a failure, the same attempt and idempotency key when the last one is in doubt";
 * issueCreditNote / confirmCharge: "asks for refund attempt 1".
 */
export const refExpectedAttempt = (state: RefState): number =>
  state.attempt === null ? 1 : state.attempt.status === 'in_doubt' ? state.attempt.number : state.attempt.number + 1;

/** "The refund request carries `<creditNoteId>:refund:<attempt>` in its RefundRequested event." */
export const refKey = (creditNoteId: string, attempt: number): string => `${creditNoteId}:refund:${attempt}`;

/**
 * observeRefund: an observation must be of the current attempt, and "a refund id once recorded on a credit note
 * belongs to that credit note's attempt"; "not the refund the processor accepted for it: metadata alone never
 * settles a credit note". Before the processor named its refund, any id fits.
 */
const isOutcomeOfCurrentAttempt = (state: RefState, attempt: number, processorRefundId: string | null): boolean =>
  inFlight(state.attempt) &&
  state.attempt.number === attempt &&
  (state.attempt.processorRefundId === null || processorRefundId === null || state.attempt.processorRefundId === processorRefundId);

/** The current attempt with some of its fields changed (only called by rules whose guard saw an attempt). */
const settleAttempt = (state: RefState, changes: Partial<RefAttempt>): RefAttempt => ({
  ...(state.attempt as RefAttempt),
  ...changes,
});

const rest = (state: RefState): Omit<RefState, 'status'> => {
  const { status: _status, ...others } = state;
  void _status;
  return others;
};

// ---- the table -----------------------------------------------------------------------------------------------

const failureRule = (name: string, from: readonly RefStatus[], when: (s: RefState, e: EventOf<'RefundFailed'>) => boolean, source: string) =>
  rule({
    name,
    source,
    from,
    event: 'RefundFailed',
    when,
    to: 'failed',
    // README lifecycle table: "failed — The processor said no ... The merchant was notified once per attempt";
    // reversal: "the merchant's refund_failed notification and the refundFailed hook fire once".
    effects: () => ['notify:refund_failed', 'hook:refundFailed'],
    update: (s, e) => ({
      ...rest(s),
      attempt: settleAttempt(s, {
        status: 'failed',
        processorRefundId: e.data.processorRefundId ?? s.attempt?.processorRefundId ?? null,
        processorStatus: 'failed',
        processorPendingReason: null,
      }),
      // A failed credit note is not settled: "Retry and Mark refunded are offered again" after a reversal.
      settledAt: null,
      hasFailure: true,
    }),
  });

export const referenceRules = [
  rule({
    name: 'issue',
    source: 'glossary "Credit note": "an amount in minor units, a currency, the payment it refunds..."',
    from: ['unissued'],
    event: 'CreditNoteIssued',
    when: () => true,
    to: 'issued',
    effects: () => [],
    update: (s, e) => ({
      ...rest(s),
      creditNoteId: e.data.creditNoteId,
      amount: e.data.amount,
      currency: e.data.currency,
      hasPayment: e.data.payment !== null,
      origin: e.data.origin,
    }),
  }),
  rule({
    name: 'request',
    source:
      'issueCreditNote: "for a confirmed processor charge, asks for refund attempt 1"; charge-confirmation gate: pending "moves on by itself ' +
      'when the confirmation arrives"; retryRefund: "asks again for the same amount on the same payment and account: ' +
      'attempt + 1 after a failure, the same attempt and idempotency key when the last one is in doubt"; ' +
      '"payment: null ... only a manual refund fits".',
    from: ['issued', 'pending'],
    event: 'RefundRequested',
    // No origin check: the docs only say an adopted refund is one "nothing is requested" for and that a
    // processor-origin note gets no Retry; the machine accepts a request on a processor-origin note still in
    // `issued` (never emitted by a command). Reported as a doc gap, modelled as the machine does.
    when: (s, e) =>
      s.hasPayment &&
      e.data.attempt === refExpectedAttempt(s) &&
      e.data.idempotencyKey === refKey(s.creditNoteId, e.data.attempt) &&
      e.data.amount === s.amount &&
      e.data.currency === s.currency,
    to: 'requested',
    // "Decide, then append, then act": the refund call is an outbox entry written with the RefundRequested.
    effects: () => ['create_refund'],
    update: (s, e) => {
      // Asking the in-doubt attempt again under its key keeps what is known of it (docs silent; same refund).
      const same = s.attempt?.number === e.data.attempt ? s.attempt : null;
      return {
        ...rest(s),
        attempt: {
          number: e.data.attempt,
          status: 'requested',
          idempotencyKey: e.data.idempotencyKey,
          processorRefundId: same?.processorRefundId ?? null,
          processorStatus: same?.processorStatus ?? null,
          processorPendingReason: same?.processorPendingReason ?? null,
          // Docs silent; a person's retry starts the automatic backoff ("2 s, 4 s, 8 s… 5 times") afresh.
          consecutiveFailures: 0,
        },
        // Retry (docs/glossary.md#retry): "It clears the stale failure"; the retry starts clean.
        hasFailure: false,
      };
    },
  }),
  rule({
    name: 'adopt',
    source:
      'RefundAdopted: "A refund the processor made without us (dashboard) becomes this credit note\'s first attempt; ' +
      'nothing is requested"; adoptExternalRefund: "of a payment the library knows ... a credit note of processor origin"; ' +
      'observeRefund: a refund whose "amount or currency differs" changes nothing.',
    from: ['issued'],
    event: 'RefundAdopted',
    when: (s, e) =>
      s.origin === 'processor' && s.attempt === null && s.hasPayment && e.data.amount === s.amount && e.data.currency === s.currency,
    to: 'requested',
    effects: () => [],
    update: (s, e) => ({
      ...rest(s),
      attempt: {
        number: 1,
        status: 'accepted',
        idempotencyKey: null,
        processorRefundId: e.data.processorRefundId,
        processorStatus: e.data.processorStatus,
        processorPendingReason: null,
        consecutiveFailures: 0,
      },
    }),
  }),
  rule({
    name: 'defer:charge_not_confirmed',
    source:
      'Charge-confirmation gate: "A credit note issued before that stays pending with pendingReason charge_not_confirmed and asks nothing of ' +
      'the processor" — so only before any attempt, and only for a processor payment.',
    from: ['issued', 'pending'],
    event: 'RefundDeferred',
    when: (s, e) => e.data.reason === 'charge_not_confirmed' && s.hasPayment && s.attempt === null,
    to: 'pending',
    effects: () => [],
    update: (s) => rest(s),
  }),
  rule({
    name: 'defer:transient_error',
    source:
      'README lifecycle table: pending when "a transient error stopped the request"; README: "leaves the ' +
      'credit note pending with the attempt in doubt: it is asked again automatically, under the same key ... then waits ' +
      'for a person\'s Retry"; schema: consecutiveFailures counts "this one included", retryAt "null once the automatic ' +
      'retries are used up".',
    from: ['pending', 'requested'],
    event: 'RefundDeferred',
    when: (s, e) =>
      e.data.reason === 'transient_error' &&
      s.attempt !== null &&
      (s.attempt.status === 'requested' || s.attempt.status === 'in_doubt') &&
      s.attempt.number === e.data.attempt &&
      e.data.consecutiveFailures === s.attempt.consecutiveFailures + 1,
    to: 'pending',
    effects: (_s, e) => (e.data.reason === 'transient_error' && e.data.retryAt !== null ? ['create_refund'] : []),
    update: (s, e) => ({
      ...rest(s),
      attempt: settleAttempt(s, {
        status: 'in_doubt',
        consecutiveFailures: e.data.reason === 'transient_error' ? e.data.consecutiveFailures : 0,
      }),
    }),
  }),
  rule({
    name: 'accept',
    source:
      'README lifecycle table: "requested — The processor has been asked or has accepted the refund"; observeRefund: duplicates and observations "about an ' +
      'older attempt" append nothing — so only the current attempt, and only once (not when already accepted).',
    from: ['pending', 'requested'],
    event: 'RefundAccepted',
    when: (s, e) =>
      s.attempt !== null &&
      (s.attempt.status === 'requested' || s.attempt.status === 'in_doubt') &&
      s.attempt.number === e.data.attempt,
    to: 'requested',
    effects: () => [],
    update: (s, e) => ({
      ...rest(s),
      attempt: settleAttempt(s, {
        status: 'accepted',
        processorRefundId: e.data.processorRefundId,
        processorStatus: e.data.processorStatus,
        processorPendingReason: e.data.pendingReason,
      }),
    }),
  }),
  rule({
    name: 'progress',
    source:
      'observeRefund: "A new interim status of an accepted refund (action_required, back to pending) is recorded as ' +
      'RefundProgressed"; "Duplicates ... append nothing"; glossary "Processor notice": the "Refund in progress" banner ' +
      'can say what the processor reports.',
    from: ['requested'],
    event: 'RefundProgressed',
    when: (s, e) =>
      s.attempt !== null &&
      s.attempt.status === 'accepted' &&
      s.attempt.number === e.data.attempt &&
      s.attempt.processorRefundId === e.data.processorRefundId &&
      (s.attempt.processorStatus !== e.data.processorStatus || s.attempt.processorPendingReason !== e.data.pendingReason),
    to: 'requested',
    effects: () => [],
    update: (s, e) => ({
      ...rest(s),
      attempt: settleAttempt(s, { processorStatus: e.data.processorStatus, processorPendingReason: e.data.pendingReason }),
    }),
  }),
  rule({
    name: 'succeed',
    source:
      'README lifecycle table: "succeeded — The processor confirmed; the client\'s refund completed email and ' +
      'refundSucceeded fired once"; glossary "Refresh status": the same transition as a webhook, "side effects never fire twice"; the outcome must be of the ' +
      'current attempt and, once known, of its refund (observeRefund).',
    from: ['pending', 'requested'],
    event: 'RefundSucceeded',
    when: (s, e) => isOutcomeOfCurrentAttempt(s, e.data.attempt, e.data.processorRefundId),
    to: 'succeeded',
    effects: () => ['notify:refund_completed', 'hook:refundSucceeded'],
    update: (s, e) => ({
      ...rest(s),
      attempt: settleAttempt(s, {
        status: 'succeeded',
        processorRefundId: e.data.processorRefundId,
        processorStatus: 'succeeded',
        processorPendingReason: null,
      }),
      settledAt: e.occurredAt,
    }),
  }),
  failureRule(
    'fail',
    ['pending', 'requested'],
    (s, e) => isOutcomeOfCurrentAttempt(s, e.data.attempt, e.data.processorRefundId),
    'README lifecycle table: "failed — The processor said no; failure.processorReason"; same attempt/refund matching as success.',
  ),
  failureRule(
    'reverse',
    ['succeeded'],
    // Issue 7 item 6: a reversal that names no refund (processorRefundId null) is refused.
    (s, e) =>
      s.attempt !== null &&
      s.attempt.status === 'succeeded' &&
      s.attempt.number === e.data.attempt &&
      e.data.processorRefundId !== null &&
      e.data.processorRefundId === s.attempt.processorRefundId,
    'README "A succeeded refund that Stripe later fails": "moves from succeeded to failed ... Only the very refund that ' +
      'succeeded can do this; a failure of another refund is ignored, and manual stays final".',
  ),
  rule({
    name: 'retry',
    source:
      'glossary "Retry": "allowed from pending and failed only; from requested, succeeded or manual it is a ' +
      'conflict"; "It clears the stale failure"; README dashboard refunds: "moves its credit note to failed without a Retry ' +
      '(the library never made it ...)".',
    from: ['pending', 'failed'],
    event: 'RetryRequested',
    when: (s) => s.origin === 'host',
    to: 'pending',
    // The refund call itself is owed by the RefundRequested that follows the retry.
    effects: () => [],
    update: (s) => ({ ...rest(s), hasFailure: false }),
  }),
  rule({
    name: 'manual',
    source:
      'README lifecycle diagram: issued, pending and failed → manual; table: "manual — Final ... with a mandatory reason; ' +
      'the client\'s confirmation fired once"; markRefunded: "Refused while a processor attempt may still pay out ' +
      '(requested, or pending on a transient error)".',
    from: ['issued', 'pending', 'failed'],
    event: 'MarkedRefundedManually',
    when: (s) => !inFlight(s.attempt),
    to: 'manual',
    effects: () => ['notify:manual_refund_recorded', 'hook:refundedManually'],
    update: (s, e) => ({ ...rest(s), settledAt: e.occurredAt }),
  }),
] as const;

export type RuleName =
  | 'issue'
  | 'request'
  | 'adopt'
  | 'defer:charge_not_confirmed'
  | 'defer:transient_error'
  | 'accept'
  | 'progress'
  | 'succeed'
  | 'fail'
  | 'reverse'
  | 'retry'
  | 'manual';

/** Decides one event: the first rule that applies, or a refusal that changes nothing. */
export const referenceStep = (state: RefState, event: CreditNoteEvent): RefStep => {
  for (const candidate of referenceRules) {
    if (candidate.event !== event.type || !candidate.from.includes(state.status)) continue;
    if (!candidate.when(state, event)) continue;
    return {
      accepted: true,
      state: { ...candidate.update(state, event), status: candidate.to },
      effects: candidate.effects(state, event),
      rule: candidate.name as RuleName,
    };
  }
  return { accepted: false, state, effects: [], rule: null };
};

/** Every (rule, from-status) pair of the table, for coverage checks. */
export const referenceRuleKeys: readonly string[] = referenceRules.flatMap((candidate) =>
  candidate.from.map((from) => `${candidate.name}@${from}`),
);
