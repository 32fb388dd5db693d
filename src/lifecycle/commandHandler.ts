import { err, ok, type Result, type ResultAsync } from 'neverthrow';
import {
  ConcurrencyError,
  DuplicateOutboxEntryError,
  type EventValidationError,
  OutboxClaimLostError,
  VersionConflictError,
} from '../errors.js';
import { CURRENT_SCHEMA_VERSION, type DomainEvent } from '../events/envelope.js';
import type { PaymentEvent } from '../events/paymentEvents.js';
import { parseEvent } from '../events/parseEvent.js';
import type { Actor, EventSource } from '../events/primitives.js';
import type { Intent } from '../machine/creditNoteMachine.js';
import type { CreditNoteState } from '../machine/creditNoteState.js';
import { outboxDraftFor } from './outboxDrafts.js';
import type { Clock } from '../ports/notifier.js';
import type { AppendRequest, EventStore, OutboxClaim, OutboxDraft, ProcessorRefundLink } from '../ports/eventStore.js';
import type { CreditNoteChange, DistributiveOmit } from './creditNoteChange.js';
import { creditNoteSummary, type KnownCreditNote, type LoadedPayment } from './streams.js';
import type { RefundRequestChange } from '../requests/refundRequestChange.js';
import { requestOutboxDraftFor } from '../requests/refundRequestOutbox.js';
import { refundRequestSummary, type KnownRefundRequest } from '../requests/refundRequestStream.js';
import type { Observer } from '../observability/observer.js';

/** Who and what caused a command: copied onto every event it appends. */
export type CommandMeta = {
  actor: Actor;
  source: EventSource;
  causationId: string | null;
  correlationId: string;
};

export type PaymentChange = { loaded: LoadedPayment; events: Array<DistributiveOmit<PaymentEvent, 'occurredAt'>> };

/** What a decision wants written, all in one atomic append, and what to answer once it is. */
export type Plan<T> = {
  creditNotes?: CreditNoteChange[];
  payments?: PaymentChange[];
  refundRequests?: RefundRequestChange[];
  result: T;
};

export type HandlerDeps = {
  store: EventStore;
  clock: Clock;
  generateId: () => string;
  /** Which side effects a refund adopted from the processor's dashboard still asks for. Default: all. */
  adoptedRefunds?: AdoptedRefundEffects;
  /** Whether a command's append wakes listening dispatchers (`AppendRequest.wakeDispatchers`); default true. */
  wakeDispatchers?: boolean;
  /** Where a lost race is logged; silent when absent. */
  observer?: Observer;
};

/**
 * A merchant who refunded in the processor's dashboard may have told the
 * client already: the host decides whether the lifecycle emails the client
 * and runs its hooks for such refunds too. Notices to the merchant always go.
 */
export type AdoptedRefundEffects = { notifyClient: boolean; runHooks: boolean };

const isWanted = (deps: HandlerDeps, intent: Intent, state: CreditNoteState): boolean => {
  if (state.context.origin !== 'processor' || deps.adoptedRefunds === undefined) return true;
  if (intent.type === 'notify') return intent.params.recipient !== 'client' || deps.adoptedRefunds.notifyClient;
  if (intent.type === 'runHook') return deps.adoptedRefunds.runHooks;
  return true;
};

/** What the append recorded: the plan's answer, the entries due now, and each credit note's and request's state as decided. */
export type Executed<T> = { result: T; dueOutboxIds: string[]; decided: KnownCreditNote[]; decidedRequests: KnownRefundRequest[] };

const decidedStates = <T>(plan: Plan<T>): KnownCreditNote[] =>
  (plan.creditNotes ?? []).map((change) => ({
    streamId: change.loaded.streamId,
    version: change.loaded.version + change.events.length,
    state: change.state,
  }));

const decidedRequestStates = <T>(plan: Plan<T>): KnownRefundRequest[] =>
  (plan.refundRequests ?? []).map((change) => ({
    streamId: change.loaded.streamId,
    version: change.loaded.version + change.events.length,
    state: change.state,
  }));

/** Optimistic concurrency: a lost race reloads and decides again, this many times at most. */
export const MAX_DECISION_ATTEMPTS = 8;

type Decide<T, E> = (now: Date) => Promise<Result<Plan<T>, E>> | ResultAsync<Plan<T>, E>;
type Failure<E> = E | ConcurrencyError | EventValidationError;

/**
 * Emmett's command-handler shape: load, decide, append with the versions read;
 * on a version conflict, reload and decide again. `decide` is re-run from
 * scratch each time, so it must read everything it relies on (a processor's
 * answer is asked before, once). With a `claim`, the append also completes
 * that outbox entry, and losing the claim is an answer; without one, the store
 * cannot lose it.
 */
export function executeCommand<T, E>(deps: HandlerDeps, meta: CommandMeta, decide: Decide<T, E>): Promise<Result<Executed<T>, Failure<E>>>;
export function executeCommand<T, E>(
  deps: HandlerDeps,
  meta: CommandMeta,
  decide: Decide<T, E>,
  claim: OutboxClaim,
): Promise<Result<Executed<T>, Failure<E> | OutboxClaimLostError>>;
export async function executeCommand<T, E>(
  deps: HandlerDeps,
  meta: CommandMeta,
  decide: Decide<T, E>,
  claim?: OutboxClaim,
): Promise<Result<Executed<T>, Failure<E> | OutboxClaimLostError>> {
  let lastConflict: VersionConflictError | undefined;
  for (let attempt = 1; attempt <= MAX_DECISION_ATTEMPTS; attempt += 1) {
    // One instant per decision: the machine's view of time and the envelopes agree, so replays match.
    const now = deps.clock.now();
    const plan = await decide(now);
    if (plan.isErr()) return err(plan.error);
    const request = buildAppend(deps, meta, plan.value, claim === undefined ? [] : [claim], now);
    if (request.isErr()) return err(request.error);
    const { append, dueOutboxIds } = request.value;
    const decided = decidedStates(plan.value);
    const decidedRequests = decidedRequestStates(plan.value);
    if (append.streams.length === 0 && (append.completeOutbox ?? []).length === 0) {
      return ok({ result: plan.value.result, dueOutboxIds: [], decided, decidedRequests });
    }
    const appended = await deps.store.append(append);
    if (appended.isOk()) return ok({ result: plan.value.result, dueOutboxIds, decided, decidedRequests });
    const failure = appended.error;
    if (failure instanceof VersionConflictError) {
      lastConflict = failure;
      deps.observer?.log(
        'debug',
        {
          event: 'refund_lifecycle.decision_conflict',
          correlationId: meta.correlationId,
          causationId: meta.causationId ?? undefined,
          streamId: failure.streamId,
          expectedVersion: failure.expectedVersion,
          actualVersion: failure.actualVersion,
          decision: attempt,
        },
        'another writer got in first: deciding again',
      );
      continue;
    }
    if (failure instanceof OutboxClaimLostError && claim !== undefined) return err(failure);
    // Outbox ids derive from stream versions, so a duplicate (or a claim we never held) means a bug, not a race.
    throw failure satisfies DuplicateOutboxEntryError | OutboxClaimLostError;
  }
  return err(new ConcurrencyError(MAX_DECISION_ATTEMPTS, lastConflict as VersionConflictError));
}

/**
 * Every processor refund a change names for the first time, so the store can
 * lead the refund's later news back to its credit note. The refund the
 * credit note already knew was linked by the append that first named it.
 */
export const processorRefundLinks = (change: Pick<CreditNoteChange, 'loaded' | 'state' | 'events'>): ProcessorRefundLink[] => {
  const { creditNoteId, payment } = change.state.context;
  if (payment === null) return [];
  const known = change.loaded.state.context.refund?.processorRefundId ?? null;
  const links = new Map<string, ProcessorRefundLink>();
  for (const event of change.events) {
    const processorRefundId = 'processorRefundId' in event.data ? event.data.processorRefundId : null;
    if (processorRefundId == null || processorRefundId === known || !('attempt' in event.data)) continue;
    links.set(processorRefundId, { processor: payment.processor, processorRefundId, creditNoteId, attempt: event.data.attempt });
  }
  return [...links.values()];
};

const buildAppend = <T>(
  deps: HandlerDeps,
  meta: CommandMeta,
  plan: Plan<T>,
  claims: OutboxClaim[],
  now: Date,
): Result<{ append: AppendRequest; dueOutboxIds: string[] }, EventValidationError> => {
  const occurredAt = now.toISOString();
  const envelope = (streamId: string, version: number, event: { type: string; data: unknown }) =>
    parseEvent({
      eventId: deps.generateId(),
      streamId,
      streamVersion: version,
      schemaVersion: CURRENT_SCHEMA_VERSION,
      occurredAt,
      ...meta,
      type: event.type,
      data: event.data,
    });

  const append: Required<AppendRequest> = {
    streams: [],
    outbox: [],
    completeOutbox: claims,
    creditNotes: [],
    processorRefunds: [],
    refundRequests: [],
    // A dispatcher recording a result performs what it enqueues itself, in the same run.
    wakeDispatchers: claims.length === 0 && (deps.wakeDispatchers ?? true),
  };
  const written = [
    ...(plan.creditNotes ?? []).map((change) => ({ loaded: change.loaded, events: change.events })),
    ...(plan.payments ?? []),
    ...(plan.refundRequests ?? []).map((change) => ({ loaded: change.loaded, events: change.events })),
  ];
  for (const { loaded, events } of written) {
    if (events.length === 0) continue;
    const enveloped: DomainEvent[] = [];
    for (const [index, event] of events.entries()) {
      const parsed = envelope(loaded.streamId, loaded.version + index + 1, event);
      if (parsed.isErr()) return err(parsed.error);
      enveloped.push(parsed.value);
    }
    append.streams.push({ streamId: loaded.streamId, expectedVersion: loaded.version, events: enveloped });
  }
  for (const change of plan.creditNotes ?? []) {
    if (change.events.length === 0) continue;
    const version = change.loaded.version + change.events.length;
    const drafts: OutboxDraft[] = change.effects
      .filter(({ intent, state }) => isWanted(deps, intent, state))
      .map(({ intent, state, version: decidedAt }) => outboxDraftFor(intent, state, change.loaded.streamId, decidedAt, now));
    append.outbox.push(...drafts);
    append.creditNotes.push(creditNoteSummary(change.loaded.streamId, version, change.state, occurredAt));
    append.processorRefunds.push(...processorRefundLinks(change));
  }
  for (const change of plan.refundRequests ?? []) {
    if (change.events.length === 0) continue;
    const { streamId } = change.loaded;
    append.outbox.push(...change.effects.map(({ intent, state, version }) => requestOutboxDraftFor(intent, state, streamId, version, now)));
    append.refundRequests.push(refundRequestSummary({ streamId, version: change.loaded.version + change.events.length, state: change.state }, occurredAt));
  }
  const dueOutboxIds = append.outbox.filter((draft) => Date.parse(draft.availableAt) <= now.getTime()).map((d) => d.id);
  return ok({ append, dueOutboxIds });
};
