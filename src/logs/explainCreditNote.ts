import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import { isCreditNoteEvent, type DomainEvent } from '../events/envelope.js';
import type { RefundRequestEvent } from '../events/refundRequestEvents.js';
import type { Intent } from '../machine/creditNoteMachine.js';
import { initialCreditNoteState, type CreditNoteState, type CreditNoteStatus } from '../machine/creditNoteState.js';
import { evolveCreditNote } from '../machine/fold.js';
import { decideRefundRequest } from '../machine/refundRequestMachine.js';
import { initialRefundRequestState } from '../machine/refundRequestState.js';
import type { OutboxEntry, OutboxKind } from '../ports/eventStore.js';
import { REFUND_REQUEST_STREAM_PREFIX } from '../requests/refundRequestStream.js';
import { waitingFor } from './logReplay.js';
import { causeOf, describeEvent, describeRequestEvent, instant, processorName } from './narrate.js';

/*
 * `refund-lifecycle explain`: one credit note's life as a timeline. Each step
 * is an event with the status before and after it, who or what caused it,
 * and the side effects it made owed — with whether they ran, as far as the
 * source can tell: a store's outbox knows; a log file only shows the
 * processor's answers to refund calls. A credit note issued by a refund
 * request's approval tells who asked and who decided: the request's events
 * join the timeline.
 */

export type SideEffectRun =
  /** The outbox entry completed. */
  | 'done'
  /** The dispatcher gave up after its retries (a dead letter). */
  | 'gave_up'
  /** Claimed by a dispatcher, not finished. */
  | 'in_progress'
  /** Waiting for its time or a dispatcher. */
  | 'due'
  /** From a log: a later event is the processor's answer to this refund call. */
  | 'answered'
  /** From a log: no answer to this refund call yet. */
  | 'no_answer'
  /** Deliveries are not events: a log cannot tell, nor a store without the entry (imported history, nothing configured). */
  | 'unknown';

export type OwedSideEffect = { kind: OutboxKind; what: string; run: SideEffectRun; detail: string };

export type ExplainedStep = {
  event: DomainEvent;
  /** Statuses of the credit note around the event; equal for payment and request events and rejected ones. */
  from: CreditNoteStatus;
  to: CreditNoteStatus;
  /** False when the lifecycle (for a request's event, the request machine) would not allow the event (the log was edited or written by something else). */
  accepted: boolean;
  said: string;
  cause: string;
  owed: OwedSideEffect[];
};

export type CreditNoteExplanation = {
  creditNoteId: string;
  /** The refund request whose approval issued the credit note; null when none was given. */
  requestId: string | null;
  state: CreditNoteState;
  steps: ExplainedStep[];
  /** Plain words: where it stands now. */
  now: string;
};

const owedBy = (intent: Intent, state: CreditNoteState, processor: string): { kind: OutboxKind; what: string; match: (entry: OutboxEntry) => boolean } => {
  switch (intent.type) {
    case 'requestRefund':
    case 'scheduleRefundRetry':
      return {
        kind: 'create_refund',
        what: `create refund attempt ${state.context.refund?.attempt ?? '?'} at ${processorName(processor)}${intent.type === 'scheduleRefundRetry' ? ' (automatic retry)' : ''}`,
        match: (entry) => entry.kind === 'create_refund',
      };
    case 'notify':
      return {
        kind: 'notify',
        what: `send "${intent.params.kind.replace(/_/g, ' ')}" to the ${intent.params.recipient}`,
        match: (entry) => entry.kind === 'notify' && entry.payload.kind === intent.params.kind,
      };
    case 'runHook':
      return {
        kind: 'run_hook',
        what: `run the host's ${intent.params.hook} hook`,
        match: (entry) => entry.kind === 'run_hook' && entry.payload.hook === intent.params.hook,
      };
  }
};

const runOf = (entry: OutboxEntry): { run: SideEffectRun; detail: string } => {
  const tries = `${entry.deliveries} ${entry.deliveries === 1 ? 'try' : 'tries'}`;
  if (entry.completedAt !== null) return { run: 'done', detail: `done ${instant(entry.completedAt)} (${tries})` };
  if (entry.deadAt !== null) return { run: 'gave_up', detail: `gave up ${instant(entry.deadAt)} after ${tries}: ${entry.lastError ?? 'no error recorded'}` };
  if (entry.claim !== null) return { run: 'in_progress', detail: `claimed by ${entry.claim.owner} until ${instant(entry.claim.leaseUntil)} (${tries})` };
  return {
    run: 'due',
    detail: `not run yet: due ${instant(entry.availableAt)}${entry.lastError === null ? '' : `, last error: ${entry.lastError}`}`,
  };
};

/** From a log alone: a refund call ran if a later event is the processor's answer for that attempt. */
const answerTo = (events: readonly DomainEvent[], after: number, attempt: number): DomainEvent | undefined =>
  events.slice(after + 1).find(
    (event) =>
      isCreditNoteEvent(event) &&
      (event.data as { attempt?: number }).attempt === attempt &&
      (event.type === 'RefundAccepted' || event.type === 'RefundSucceeded' || event.type === 'RefundFailed' || event.type === 'RefundDeferred'),
  );

/**
 * Explains a credit note from its stream's events (validated, in version
 * order), the payment stream's events when known, the events of the refund
 * request whose approval issued it when there is one, and the store's outbox
 * entries for the credit note (null when reading a log file).
 */
export const explainCreditNote = (input: {
  creditNoteId: string;
  events: readonly DomainEvent[];
  paymentEvents?: readonly DomainEvent[];
  requestEvents?: readonly DomainEvent[];
  outbox: readonly OutboxEntry[] | null;
}): CreditNoteExplanation => {
  const { outbox } = input;
  const events = [...input.events].sort((a, b) => a.streamVersion - b.streamVersion);
  // A payment's facts sit in the timeline where they happened; other credit notes' attachments are not this story.
  const paymentFacts = (input.paymentEvents ?? [])
    .filter((event) => event.type === 'PaymentDescribed' || event.type === 'ChargeConfirmed')
    .sort((a, b) => a.streamVersion - b.streamVersion);
  // The credit note's events are folded in version order, whatever their clocks say; the payment's facts are merged
  // in where they happened (by position when both sides have one, otherwise by time).
  const positionOf = (event: DomainEvent) => (event as { globalPosition?: number }).globalPosition;
  const before = (fact: DomainEvent, event: DomainEvent) => {
    const [left, right] = [positionOf(fact), positionOf(event)];
    return left !== undefined && right !== undefined ? left < right : Date.parse(fact.occurredAt) < Date.parse(event.occurredAt);
  };
  type Entry = { event: DomainEvent; index: number };
  /** Other streams' events (in their own order) merged into the timeline where `first` puts them. */
  const merge = (into: readonly Entry[], facts: readonly DomainEvent[], first: (fact: DomainEvent, event: DomainEvent) => boolean): Entry[] => {
    const merged: Entry[] = [];
    let next = 0;
    for (const entry of into) {
      while (next < facts.length && first(facts[next]!, entry.event)) merged.push({ event: facts[next++]!, index: -1 });
      merged.push(entry);
    }
    while (next < facts.length) merged.push({ event: facts[next++]!, index: -1 });
    return merged;
  };
  const requestEvents = [...(input.requestEvents ?? [])].sort((a, b) => a.streamVersion - b.streamVersion);
  const withPayment = merge(
    events.map((event, index) => ({ event, index })),
    paymentFacts,
    before,
  );
  // The approval was appended with the issue it decided (one correlation id): it comes first, as its cause.
  const timeline = merge(withPayment, requestEvents, (fact, event) => fact.correlationId === event.correlationId || before(fact, event));
  let state = initialCreditNoteState;
  let request = initialRefundRequestState;
  const steps: ExplainedStep[] = [];
  for (const { event, index } of timeline) {
    const processor = state.context.payment?.processor ?? (event.actor.kind === 'processor' ? event.actor.id : 'stripe');
    if (event.streamId.startsWith(REFUND_REQUEST_STREAM_PREFIX)) {
      // The request's own machine judges its events; an approval names only the amount, in the submission's currency.
      const decision = decideRefundRequest(request, event as unknown as RefundRequestEvent);
      const said = describeRequestEvent(event, request.context.currency);
      steps.push({ event, from: state.status, to: state.status, accepted: decision.accepted, said, cause: causeOf(event, processor), owed: [] });
      request = decision.state;
      continue;
    }
    if (!isCreditNoteEvent(event)) {
      steps.push({ event, from: state.status, to: state.status, accepted: true, said: describeEvent(event, state.context, processor), cause: causeOf(event, processor), owed: [] });
      continue;
    }
    const before = state;
    const decision = evolveCreditNote(before, event as unknown as CreditNoteEvent);
    const after = decision.accepted ? decision.state : before;
    const payment = after.context.payment?.processor ?? processor;
    const decidedHere = outbox?.filter((entry) => entry.id.startsWith(`${event.streamId}#${event.streamVersion}:`)) ?? [];
    const owed = (decision.accepted ? decision.intents : []).map((intent): OwedSideEffect => {
      const { kind, what, match } = owedBy(intent, after, payment);
      const entry = decidedHere.find(match);
      if (entry !== undefined) return { kind, what, ...runOf(entry) };
      // No outbox record (a log file, or a store that imported its history): only a refund call leaves a trace, its answer.
      if (kind !== 'create_refund') {
        const detail = outbox === null ? 'deliveries are not in the log (explain from the store to see them)' : 'no outbox record in this store (imported history, or no notifier or hook configured then)';
        return { kind, what, run: 'unknown', detail };
      }
      const answer = answerTo(events, index, after.context.refund?.attempt ?? 0);
      return answer === undefined
        ? { kind, what, run: 'no_answer', detail: 'no answer from the processor recorded' }
        : { kind, what, run: 'answered', detail: `answered ${instant(answer.occurredAt)} (${answer.type})` };
    });
    steps.push({
      event,
      from: before.status,
      to: after.status,
      accepted: decision.accepted,
      said: describeEvent(event, before.context, payment),
      cause: causeOf(event, payment),
      owed,
    });
    state = after;
  }
  const requestId = requestEvents.length === 0 ? null : requestEvents[0]!.streamId.slice(REFUND_REQUEST_STREAM_PREFIX.length);
  return { creditNoteId: input.creditNoteId, requestId, state, steps, now: standing(state, steps) };
};

const standing = (state: CreditNoteState, steps: readonly ExplainedStep[]): string => {
  let last: string | undefined;
  for (const step of steps) if (step.from !== step.to) last = step.event.occurredAt;
  const since = last === undefined ? '' : ` since ${instant(last)}`;
  switch (state.status) {
    case 'unissued':
      return 'No such credit note in this source.';
    case 'issued':
      return `Issued${since}; no refund asked for yet.`;
    case 'succeeded':
      return `Refunded${since}: refund ${state.context.refund?.processorRefundId ?? '?'} succeeded.`;
    case 'manual':
      return `Refunded outside the processor${since}.`;
    case 'failed':
      return `Failed${since}: ${state.context.failure?.message ?? ''} Retry or mark it refunded.`;
    default:
      return `${state.status === 'pending' ? 'Pending' : 'Requested'}${since}: ${waitingFor(state)}.`;
  }
};
