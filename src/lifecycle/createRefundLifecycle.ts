import { randomUUID } from 'node:crypto';
import { err, ok, ResultAsync, safeTry, type Result } from 'neverthrow';
import {
  CreditNoteNotFoundError,
  StoreError,
  UnexpectedError,
  type EventValidationError,
  type InfrastructureError,
  type ValidationError,
} from '../errors.js';
import type { StoredEvent } from '../events/envelope.js';
import { createDispatcher, type DispatchReport } from './dispatcher.js';
import type { EventStore } from '../ports/eventStore.js';
import { systemClock, type Clock, type Notifier, type RefundHooks } from '../ports/notifier.js';
import type { ProcessorRefund, RefundGateway } from '../ports/refundGateway.js';
import {
  dispatchInputSchema,
  listCreditNotesInputSchema,
  validateCreditNoteId,
  validateInput,
  type DispatchInput,
  type ListCreditNotesInput,
} from './commandInputs.js';
import { adoptExternalRefund, type AdoptExternalRefundInput } from './commands/adoptExternalRefund.js';
import { confirmCharge } from './commands/confirmCharge.js';
import type { Authorize } from './authorization.js';
import {
  createOperations,
  type AgedCreditNote,
  type CreditNotesByAgeInput,
  type FailureReasonCount,
  type Health,
  type ParkedSideEffect,
  type ParkedSideEffectsInput,
  type RequeueInput,
} from '../operations/operations.js';
import { timerSleep } from '../operations/pacer.js';
import { sweep, type SweepInput, type SweepReport } from '../operations/sweep.js';
import { issueCreditNote } from './commands/issueCreditNote.js';
import { markRefunded } from './commands/markRefunded.js';
import { observeRefund } from './commands/observeRefund.js';
import { refreshStatus } from './commands/refreshStatus.js';
import { retryRefund } from './commands/retryRefund.js';
import { loadIssuedCreditNote } from './commands/commandSupport.js';
import type { IssueCreditNoteInput, MarkRefundedInput, ObserveRefundInput, RetryRefundInput, ConfirmChargeInput } from './commandInputs.js';
import type { RefreshStatusInput } from './commands/refreshStatus.js';
import { toCreditNoteView, type CreditNoteView } from './creditNoteView.js';
import { defaultGatewayCapabilities } from '../ports/refundGateway.js';
import { guardedGateway } from './guardedGateway.js';
import type { Logger } from '../observability/logger.js';
import { observedGateway } from '../observability/observedGateway.js';
import { observeCommands } from '../observability/observedLifecycle.js';
import { createObserver, type Observer } from '../observability/observer.js';
import type { Telemetry } from '../observability/telemetry.js';
import { guardedStore } from './guardedStore.js';
import { defaultRetryPolicy, type LifecycleDeps, type RetryPolicy } from './deps.js';
import { creditNoteStreamId, loadCreditNote, type KnownCreditNote } from './streams.js';
import type { CommandOutcome } from './commands/commandSupport.js';
import type { ObservationOutcome } from './commands/observeRefund.js';
import type { AdoptedRefundEffects } from './commandHandler.js';
import type { RefundRequestPolicy } from '../requests/refundPolicy.js';
import { requestRefund } from '../requests/commands/requestRefund.js';
import { approveRequest, rejectRequest, withdrawRequest } from '../requests/commands/decideRequest.js';
import type { RequestDeps, RequestOutcome } from '../requests/commands/requestSupport.js';
import { validateRequestId } from '../requests/commands/requestSupport.js';
import { loadRefundRequestView, refundRequestHistory, viewOfRequest } from '../requests/refundRequestReads.js';
import type { RefundRequestView } from '../requests/refundRequestView.js';
import { toRefundRequestView } from '../requests/refundRequestView.js';
import {
  listRefundRequestsInputSchema,
  refundRequestReportInputSchema,
  type ApproveRequestInput,
  type ListRefundRequestsInput,
  type RefundRequestReportInput,
  type RejectRequestInput,
  type RequestRefundInput,
  type WithdrawRequestInput,
} from '../requests/refundRequestInputs.js';
import type { RefundRequestReportRow } from '../ports/eventStore.js';
import type { RefundRequestNotFoundError } from '../errors.js';

export type RefundLifecycleConfig = {
  store: EventStore;
  gateway: RefundGateway;
  /** Emails: refund completed (client), refund failed (merchant), manual refund recorded (client). */
  notifier?: Notifier;
  hooks?: RefundHooks;
  clock?: Clock;
  /** Event ids; defaults to random UUIDs. */
  generateId?: () => string;
  retryPolicy?: Partial<RetryPolicy>;
  /**
   * Structured logs (a pino instance fits): one line per command, side effect and processor call, each with its
   * correlation id. Silent by default.
   */
  logger?: Logger;
  /** Spans and metrics, e.g. `openTelemetry()` from `refund-lifecycle/opentelemetry`. None by default. */
  telemetry?: Telemetry;
  /**
   * A refund made in the processor's dashboard is adopted as a credit note of
   * processor origin, and by default the client is emailed (`refund_completed`)
   * and the hooks run (`refundSucceeded`…) as for any credit note. A merchant
   * who told the client already turns them off here; the merchant's own
   * notices (`refund_failed`) always go.
   */
  adoptedRefunds?: Partial<AdoptedRefundEffects>;
  /**
   * Perform the side effects a command enqueued right after its append, so a
   * retry answers with the processor's verdict (docs/glossary.md#retry). Anything that fails
   * there stays in the outbox for `dispatch()`. Default true.
   */
  dispatchInline?: boolean;
  /**
   * How rate-limited work (`sweep`) waits between processor calls. Default a timer; a test with a manual clock
   * passes its `sleep`, which moves that clock instead.
   */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Who may decide what: consulted after validation and before any read or decision of `issueCreditNote`,
   * `retryRefund`, `markRefunded` and `refreshStatus`. False refuses with `ForbiddenError` (`forbidden`) and nothing
   * is written. Default: everything is allowed.
   */
  authorize?: Authorize;
  /** Customer refund requests: the policy they are held to (default: a 30-day window, no exclusions). */
  refundRequests?: { policy?: RefundRequestPolicy };
};

export type ObservationResult = { creditNote: CreditNoteView; changed: boolean };
export type AdoptionResult = { creditNote: CreditNoteView | null; changed: boolean };
/** A refresh also tells what the processor reported, e.g. to show `action_required` on the banner. */
export type RefreshResult = ObservationResult & { processorRefund: ProcessorRefund | null };
/** `changed`: the confirmation was new or released credit notes; false for a repeat. */
export type ChargeConfirmationResult = { paymentId: string; changed: boolean; released: string[] };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- only the error side is read
type ErrorOf<F> = F extends (...args: never[]) => ResultAsync<any, infer E> ? E : never;

/*
 * What each method can answer, derived from its command and pinned by the
 * type tests: a host's switch over `error.code` sees only the codes that can
 * happen. Any method may also answer an `InfrastructureError`.
 */
export type IssueCreditNoteError = ErrorOf<typeof issueCreditNote> | InfrastructureError;
/** Retry and mark refunded: the credit note must exist and the lifecycle allow the move now. */
export type CreditNoteCommandError = ErrorOf<typeof retryRefund> | ErrorOf<typeof markRefunded> | InfrastructureError;
export type ObserveRefundError = ErrorOf<typeof observeRefund> | InfrastructureError;
export type AdoptExternalRefundError = ErrorOf<typeof adoptExternalRefund> | InfrastructureError;
export type RefreshStatusError = ErrorOf<typeof refreshStatus> | InfrastructureError;
export type ConfirmChargeError = ErrorOf<typeof confirmCharge> | InfrastructureError;
/** Reads of one credit note: `getCreditNote`, `history`. */
export type ReadError = ValidationError | EventValidationError | CreditNoteNotFoundError | InfrastructureError;
export type ListError = ValidationError | InfrastructureError;
export type RequestRefundError = ErrorOf<typeof requestRefund> | InfrastructureError;
export type ApproveRequestError = ErrorOf<typeof approveRequest> | InfrastructureError;
/** Reject and withdraw. */
export type CloseRequestError = ErrorOf<typeof rejectRequest> | ErrorOf<typeof withdrawRequest> | InfrastructureError;
export type RefundRequestReadError = ValidationError | EventValidationError | RefundRequestNotFoundError | InfrastructureError;
/** A listed request carries how long ago it was submitted. */
export type ListedRefundRequestView = RefundRequestView & { ageMs: number };

const noNotifier: Notifier = { send: async () => {} };



/**
 * Nothing thrown below this line leaves as a rejection. The store's own
 * failures arrive as `StoreError` (see `guardedStore`); anything else thrown
 * is a bug and says so, so an on-call person is never told the database is
 * down when it is not.
 */
export function boundary<T, E>(work: () => ResultAsync<T, E>): ResultAsync<T, E | InfrastructureError>;
export function boundary<T, E>(work: () => Promise<Result<T, E>>): ResultAsync<T, E | InfrastructureError>;
export function boundary<T, E>(work: () => Promise<Result<T, E>> | ResultAsync<T, E>): ResultAsync<T, E | InfrastructureError> {
  const run = async (): Promise<Result<T, E | InfrastructureError>> => {
    try {
      return await work();
    } catch (cause) {
      return err(cause instanceof StoreError ? cause : new UnexpectedError(cause));
    }
  };
  return new ResultAsync(run());
}

/** Runs `round` now and then every `intervalMs` after each round ends, until `stop()`, which waits for the round in progress. */
const periodically = (intervalMs: number, round: () => Promise<unknown>) => {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<unknown> = Promise.resolve();
  const tick = () => {
    current = round()
      .catch(() => undefined)
      .then(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  tick();
  return {
    stop: async (): Promise<void> => {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
};

/**
 * The library's entry point: one object whose commands return neverthrow
 * `ResultAsync`s with typed errors and never throw for expected failures.
 */
export const createRefundLifecycle = (config: RefundLifecycleConfig) => {
  const observer = createObserver({ logger: config.logger, telemetry: config.telemetry, clock: config.clock });
  return observeCommands(assembleRefundLifecycle(config, observer), observer, config.generateId ?? randomUUID);
};

/** The lifecycle's methods over its dependencies; `createRefundLifecycle` adds the observation of its commands. */
const assembleRefundLifecycle = (config: RefundLifecycleConfig, observer: Observer) => {
  const deps: LifecycleDeps = {
    store: guardedStore(config.store),
    gateway: observedGateway(guardedGateway(config.gateway), observer),
    notifier: config.notifier ?? noNotifier,
    hooks: config.hooks ?? {},
    clock: config.clock ?? systemClock,
    generateId: config.generateId ?? randomUUID,
    policy: { ...defaultRetryPolicy, ...config.retryPolicy },
    adoptedRefunds: { notifyClient: true, runHooks: true, ...config.adoptedRefunds },
    // What a command enqueues is performed right after its append, here, unless another process is to do it.
    wakeDispatchers: !(config.dispatchInline ?? true),
    observer,
    ...(config.authorize === undefined ? {} : { authorize: config.authorize }),
  };
  const requestDeps: RequestDeps = { ...deps, requestPolicy: config.refundRequests?.policy ?? {} };
  const capabilities = config.gateway.capabilities ?? defaultGatewayCapabilities;
  const viewOf = (known: KnownCreditNote): CreditNoteView => toCreditNoteView(known.state, known.version, capabilities);
  const dispatcher = createDispatcher(deps);
  const operations = createOperations({ ...deps, capabilities });
  const sleep = config.sleep ?? timerSleep;
  const dispatchInline = config.dispatchInline ?? true;

  const view = (creditNoteId: string) => new ResultAsync(loadIssuedCreditNote(deps, creditNoteId)).map(viewOf);

  /**
   * The append is done: performs what it made due, starting from the states
   * just decided, and answers with the newest state of each credit note (what
   * the side effects recorded, else what was decided). A failure of this
   * follow-up work must not turn the command into an error.
   */
  const settle = async (outcome: Pick<CommandOutcome, 'decided' | 'dueOutboxIds'>): Promise<Map<string, KnownCreditNote>> => {
    const latest = new Map(outcome.decided.map((known) => [known.streamId, known]));
    if (!dispatchInline || outcome.dueOutboxIds.length === 0) return latest;
    try {
      await dispatcher.dispatch({ entryIds: outcome.dueOutboxIds, latest });
    } catch {
      // Left claimed; the lease expires and a background `dispatch()` performs it.
    }
    return latest;
  };

  /** The command's credit note as its decision and the side effects it made due left it: no reload. */
  const answer = async (outcome: CommandOutcome): Promise<CreditNoteView> => {
    const latest = await settle(outcome);
    return viewOf(latest.get(outcome.creditNote.streamId) ?? outcome.creditNote);
  };

  /** The request as its command left it, with its credit note as the side effects just performed left it. */
  const answerRequest = (outcome: RequestOutcome) =>
    ResultAsync.fromSafePromise(settle(outcome)).andThen((latest) => viewOfRequest(deps.store, outcome.request, latest));

  const answerObservation = async (outcome: ObservationOutcome): Promise<ObservationResult> => ({
    creditNote: await answer(outcome),
    changed: outcome.changed,
  });

  return {
    /** Issues a credit note and, for a confirmed processor charge, asks for the refund. */
    issueCreditNote: (input: IssueCreditNoteInput): ResultAsync<CreditNoteView, IssueCreditNoteError> =>
      boundary(() => issueCreditNote(deps, input).map(answer)),

    /** A processor refund as a webhook or another push channel reported it. */
    observeRefund: (input: ObserveRefundInput): ResultAsync<ObservationResult, ObserveRefundError> =>
      boundary(() => observeRefund(deps, input).map(answerObservation)),

    /**
     * A refund made outside the library (no credit note in its metadata), e.g.
     * in the processor's dashboard: followed as a credit note of processor
     * origin when its payment is known; `creditNote: null` when it is not.
     */
    adoptExternalRefund: (input: AdoptExternalRefundInput): ResultAsync<AdoptionResult, AdoptExternalRefundError> =>
      boundary(() =>
        adoptExternalRefund(deps, input).map(
          async ({ creditNote, changed, ...adoption }): Promise<AdoptionResult> => ({
            creditNote: creditNote === null ? null : await answer({ ...adoption, creditNote }),
            changed,
          }),
        ),
      ),

    /** Pulls the refund's status from the processor: the same transition logic as a webhook. */
    refreshStatus: (creditNoteId: string, input: RefreshStatusInput = {}): ResultAsync<RefreshResult, RefreshStatusError> =>
      boundary(() =>
        refreshStatus(deps, creditNoteId, input).map(
          async (refreshed): Promise<RefreshResult> => ({ ...(await answerObservation(refreshed)), processorRefund: refreshed.processorRefund }),
        ),
      ),

    /** Allowed from pending and failed; otherwise `Err(TransitionConflictError)` carrying the status. */
    retryRefund: (creditNoteId: string, input: RetryRefundInput): ResultAsync<CreditNoteView, CreditNoteCommandError> =>
      boundary(() => retryRefund(deps, creditNoteId, input).map(answer)),

    /** Records a refund made outside the processor. `reason` is mandatory. */
    markRefunded: (creditNoteId: string, input: MarkRefundedInput): ResultAsync<CreditNoteView, CreditNoteCommandError> =>
      boundary(() => markRefunded(deps, creditNoteId, input).map(answer)),

    /** The charge is confirmed (docs/glossary.md#charge-confirmation-gate): every credit note waiting for it moves on. */
    confirmCharge: (input: ConfirmChargeInput): ResultAsync<ChargeConfirmationResult, ConfirmChargeError> =>
      boundary(() =>
        confirmCharge(deps, input).map(async (confirmed): Promise<ChargeConfirmationResult> => {
          await settle(confirmed);
          return { paymentId: confirmed.paymentId, changed: confirmed.changed, released: confirmed.released };
        }),
      ),

    /** The credit note replayed from its events, with the actions allowed now. */
    getCreditNote: (creditNoteId: string): ResultAsync<CreditNoteView, ReadError> =>
      boundary(() => validateCreditNoteId(creditNoteId).asyncAndThen(view)),

    /** Every event of the credit note, in order, with its envelope. */
    history: (creditNoteId: string): ResultAsync<StoredEvent[], ReadError> =>
      boundary(() =>
        safeTry(async function* () {
          const id = yield* validateCreditNoteId(creditNoteId);
          const loaded = yield* await loadCreditNote(deps.store, id);
          return loaded.version === 0 ? err(new CreditNoteNotFoundError(id)) : ok(loaded.events);
        }),
      ),

    /** The Credit Notes page: filtered by status or payment, ordered by id, paged by `after`. */
    listCreditNotes: (filter: ListCreditNotesInput = {}): ResultAsync<CreditNoteView[], ListError> =>
      boundary(() =>
        safeTry(async function* () {
          const rows = await deps.store.listCreditNotes(yield* validateInput(listCreditNotesInputSchema, filter));
          return ok(rows.map((row) => viewOf(row)));
        }),
      ),

    /**
     * A customer asks for a refund (seed 004's customer portal). The policy
     * decides (a refusal names its rules, nothing written); the merchant is
     * told once. `override` with a reason lets a person allowed to
     * (`override_policy`) set refusing rules aside.
     */
    requestRefund: (input: RequestRefundInput): ResultAsync<RefundRequestView, RequestRefundError> =>
      boundary(() => requestRefund(requestDeps, input).andThen(answerRequest)),

    /**
     * Approves a pending request: the credit note is issued in the same atomic
     * append, for `amount` (default: what was asked), and refunds like any other.
     * `option` says what happens to the subscription; the customer is told once.
     */
    approveRequest: (requestId: string, input: ApproveRequestInput): ResultAsync<RefundRequestView, ApproveRequestError> =>
      boundary(() => approveRequest(requestDeps, requestId, input).andThen(answerRequest)),

    /** Declines a pending request; `note` goes to the customer. */
    rejectRequest: (requestId: string, input: RejectRequestInput): ResultAsync<RefundRequestView, CloseRequestError> =>
      boundary(() => rejectRequest(requestDeps, requestId, input).andThen(answerRequest)),

    /** The customer takes a pending request back. */
    withdrawRequest: (requestId: string, input: WithdrawRequestInput): ResultAsync<RefundRequestView, CloseRequestError> =>
      boundary(() => withdrawRequest(requestDeps, requestId, input).andThen(answerRequest)),

    /** The request replayed from its events, its status following its credit note's. */
    getRefundRequest: (requestId: string): ResultAsync<RefundRequestView, RefundRequestReadError> =>
      boundary(() => validateRequestId(requestId).asyncAndThen((id) => loadRefundRequestView(deps.store, id))),

    /** The request's events and its credit note's, in commit order, each with its actor: who decided what. */
    refundRequestHistory: (requestId: string): ResultAsync<StoredEvent[], RefundRequestReadError> =>
      boundary(() => validateRequestId(requestId).asyncAndThen((id) => refundRequestHistory(deps.store, id))),

    /** The review queue and its neighbours: by status or payment, oldest submission first, with each one's age. */
    listRefundRequests: (filter: ListRefundRequestsInput = {}): ResultAsync<ListedRefundRequestView[], ListError> =>
      boundary(() =>
        safeTry(async function* () {
          const { after, ...rest } = yield* validateInput(listRefundRequestsInputSchema, filter);
          // Stores order by canonical UTC text: a cursor with an offset is read as the instant it names.
          const cursor = after === undefined ? {} : { after: { ...after, submittedAt: new Date(after.submittedAt).toISOString() } };
          const rows = await deps.store.listRefundRequests({ ...rest, ...cursor });
          const now = deps.clock.now().getTime();
          return ok(
            rows.map((row) => ({
              ...toRefundRequestView(row.state, row.version, row.creditNoteStatus),
              ageMs: Math.max(0, now - Date.parse(row.submittedAt)),
            })),
          );
        }),
      ),

    /** Requests submitted in [from, to) by reason and outcome (seed 004: "learn from patterns"). */
    refundRequestReport: (period: RefundRequestReportInput): ResultAsync<RefundRequestReportRow[], ListError> =>
      boundary(() =>
        validateInput(refundRequestReportInputSchema, period).asyncMap(({ from, to }) =>
          deps.store.refundRequestReport({ from: new Date(from).toISOString(), to: new Date(to).toISOString() }),
        ),
      ),

    /** Performs due side effects. Call it from a timer or a worker loop; it is safe to run several at once. */
    dispatch: (options: DispatchInput = {}): ResultAsync<DispatchReport, ValidationError | InfrastructureError> =>
      boundary(() => validateInput(dispatchInputSchema, options).asyncMap((parsed) => dispatcher.dispatch(parsed))),

    /**
     * A worker loop for long-running processes: `dispatch()` every `intervalMs`
     * (default 1 s) until `stop()`, which waits for the round in progress.
     * Failures go to `onError` and the loop carries on; leases keep several
     * processes running it at once safe.
     */
    startDispatching: (options: { intervalMs?: number; onError?: (error: InfrastructureError) => void } = {}) => {
      const intervalMs = options.intervalMs ?? 1_000;
      let stopped = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let round: Promise<void> = Promise.resolve();
      let busy = false;
      let wokenWhileBusy = false;
      const tick = () => {
        busy = true;
        round = boundary(async () => ok(await dispatcher.dispatch()))
          .match(
            () => undefined,
            (error) => {
              try {
                options.onError?.(error);
              } catch {
                // A failing error handler must not stop the worker.
              }
            },
          )
          .then(() => {
            busy = false;
            if (stopped) return;
            if (wokenWhileBusy) {
              wokenWhileBusy = false;
              tick();
            } else timer = setTimeout(tick, intervalMs);
          });
      };
      // A store that can tell of new outbox entries (PostgreSQL LISTEN/NOTIFY) wakes the loop at once.
      const wake = () => {
        if (stopped) return;
        if (busy) wokenWhileBusy = true;
        else {
          clearTimeout(timer);
          tick();
        }
      };
      const unwatch = deps.store.watchOutbox?.(wake).catch(() => undefined);
      tick();
      return {
        stop: async (): Promise<void> => {
          stopped = true;
          clearTimeout(timer);
          await round;
          try {
            await (await unwatch)?.();
          } catch {
            // The listening connection is already gone: nothing left to stop.
          }
        },
      };
    },

    /** The stream id a credit note's events live in, for hosts reading the global log. */
    streamIdOf: creditNoteStreamId,

    /**
     * Asks the processor about credit notes that heard nothing for `olderThanMs`: `requested` ones (and attempts in
     * doubt) are refreshed, `pending` ones on a charge confirmation ask whether the charge is confirmed now. Oldest
     * first, at most `limit`, at most `ratePerSecond` processor calls a second.
     */
    sweep: (input: SweepInput): ResultAsync<SweepReport, ValidationError | InfrastructureError> =>
      boundary(() => sweep(deps, input, { sleep, dispatchInline })),

    /**
     * `sweep()` every `intervalMs` (default 5 minutes) until `stop()`, beside `startDispatching`. Opt-in: a host
     * that reconciles and sweeps from its own scheduler does not need it. Failures go to `onError`.
     */
    startSweeping: (options: SweepInput & { intervalMs?: number; onReport?: (report: SweepReport) => void; onError?: (error: ValidationError | InfrastructureError) => void }) => {
      const { intervalMs = 5 * 60_000, onReport, onError, ...input } = options;
      return periodically(intervalMs, () =>
        boundary(() => sweep(deps, input, { sleep, dispatchInline })).match(
          (report) => onReport?.(report),
          (error) => onError?.(error),
        ),
      );
    },

    /** Side effects the dispatcher gave up on, oldest first: `{ limit?, after? }`. */
    parkedSideEffects: (input: ParkedSideEffectsInput = {}): ResultAsync<ParkedSideEffect[], ValidationError | InfrastructureError> =>
      boundary(() => operations.parkedSideEffects(input)),
    /** Gives parked side effects back to the dispatchers: `{ entryIds }` or `{ all: true }`. */
    requeueSideEffects: (input: RequeueInput): ResultAsync<{ requeued: number }, ValidationError | InfrastructureError> =>
      boundary(() => operations.requeueSideEffects(input)),
    /** Credit notes by status, least recently changed first, with their age. */
    creditNotesByAge: (input: CreditNotesByAgeInput = {}): ResultAsync<AgedCreditNote[], ValidationError | InfrastructureError> =>
      boundary(() => operations.creditNotesByAge(input)),
    /** Credit notes whose attempt is in doubt after a transient error, oldest first. */
    refundsInDoubt: (input: { limit?: number } = {}): ResultAsync<AgedCreditNote[], ValidationError | InfrastructureError> =>
      boundary(() => operations.refundsInDoubt(input)),
    /** Failed credit notes grouped by the processor's reason. */
    failuresByReason: (): ResultAsync<FailureReasonCount[], InfrastructureError> => boundary(() => operations.failuresByReason()),
    /** For a status endpoint: oldest waiting credit notes, due and parked side effects, the last reconciliation. */
    health: (): ResultAsync<Health, InfrastructureError> => boundary(() => operations.health()),
  };
};

export type RefundLifecycle = ReturnType<typeof createRefundLifecycle>;
