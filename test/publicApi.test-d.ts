import type { Result, ResultAsync } from 'neverthrow';
import { describe, expectTypeOf, it } from 'vitest';
import {
  ConcurrencyError,
  CreditNoteAlreadyExistsError,
  CreditNoteNotFoundError,
  DuplicateOutboxEntryError,
  EventValidationError,
  GatewayError,
  RefreshUnavailableError,
  ForbiddenError,
  RefundRequestNotFoundError,
  RefundRequestConflictError,
  PolicyRefusedError,
  OutboxClaimLostError,
  RefundLifecycleError,
  StoreError,
  AccountMismatchError,
  UnexpectedError,
  TransitionConflictError,
  RefundableBalanceExceededError,
  RefundWindowClosedError,
  ValidationError,
  VersionConflictError,
  createRefundLifecycle,
  createLogReplay,
  explainCreditNote,
  importLog,
  LogImportError,
  parseEvent,
  parseStoredEvent,
  type LogImportReport,
  type LogLine,
  type LogReplayReport,
  type ViolationKind,
  type CreditNoteExplanation,
  type SweepReport,
  type Health,
  type ParkedSideEffect,
  type AdoptExternalRefundError,
  type RequestRefundInput,
  type ApproveRequestInput,
  type RejectRequestInput,
  type RefundRequestView,
  type RefundRequestReason,
  type SubscriptionOption,
  type RequestRefundError,
  type ApproveRequestError,
  type CloseRequestError,
  type Notification,
  type CreditNoteNotification,
  type RefundRequestNotification,
  type AdoptionResult,
  type ChargeConfirmationResult,
  type ConfirmChargeError,
  type CreditNoteCommandError,
  type IssueCreditNoteError,
  type ListError,
  type ObserveRefundError,
  type ReadError,
  type RefreshStatusError,
  type Clock,
  type CommandError,
  type CreditNoteStatus,
  type CreditNoteView,
  type DispatchReport,
  type EventStore,
  type IssueCreditNoteInput,
  type MarkRefundedInput,
  type Notifier,
  type ObservationResult,
  type RefreshResult,
  type ProcessorRefund,
  type RefundGateway,
  type RefundLifecycle,
  type StoredEvent,
  type DomainEvent,
  silentLogger,
  type Logger,
  type RefundLifecycleConfig,
  type Telemetry,
  type TelemetrySpan,
} from '../src/index.js';
import { openTelemetry, type OpenTelemetryOptions } from '../src/adapters/opentelemetry/index.js';
import type { Meter, Tracer } from '@opentelemetry/api';
import {
  fakeGateway,
  inMemoryEventStore,
  manualClock,
  recordingNotifier,
  type FakeGateway,
  type RecordingNotifier,
} from '../src/testing/index.js';

/*
 * The public types are part of the contract: a host switches on error codes,
 * reads `status` off a conflict and passes the testing kit where the ports go.
 * A change here is a breaking change and must be deliberate.
 */

type RetryOrMarkCodes = CreditNoteCommandError['code'];

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

describe('createRefundLifecycle', () => {
  it('returns ResultAsync everywhere, each method with the union of the errors it can answer', () => {
    expectTypeOf(createRefundLifecycle).returns.toEqualTypeOf<RefundLifecycle>();
    expectTypeOf<RefundLifecycle['issueCreditNote']>().returns.toEqualTypeOf<ResultAsync<CreditNoteView, IssueCreditNoteError>>();
    expectTypeOf<RefundLifecycle['retryRefund']>().returns.toEqualTypeOf<ResultAsync<CreditNoteView, CreditNoteCommandError>>();
    expectTypeOf<RefundLifecycle['markRefunded']>().returns.toEqualTypeOf<ResultAsync<CreditNoteView, CreditNoteCommandError>>();
    expectTypeOf<RefundLifecycle['getCreditNote']>().returns.toEqualTypeOf<ResultAsync<CreditNoteView, ReadError>>();
    expectTypeOf<RefundLifecycle['observeRefund']>().returns.toEqualTypeOf<ResultAsync<ObservationResult, ObserveRefundError>>();
    expectTypeOf<RefundLifecycle['adoptExternalRefund']>().returns.toEqualTypeOf<
      ResultAsync<AdoptionResult, AdoptExternalRefundError>
    >();
    expectTypeOf<RefundLifecycle['refreshStatus']>().returns.toEqualTypeOf<ResultAsync<RefreshResult, RefreshStatusError>>();
    expectTypeOf<RefreshResult['processorRefund']>().toEqualTypeOf<ProcessorRefund | null>();
    expectTypeOf<RefundLifecycle['confirmCharge']>().returns.toEqualTypeOf<
      ResultAsync<ChargeConfirmationResult, ConfirmChargeError>
    >();
    expectTypeOf<RefundLifecycle['history']>().returns.toEqualTypeOf<ResultAsync<StoredEvent[], ReadError>>();
    expectTypeOf<RefundLifecycle['listCreditNotes']>().returns.toEqualTypeOf<ResultAsync<CreditNoteView[], ListError>>();
    expectTypeOf<RefundLifecycle['dispatch']>().returns.toEqualTypeOf<
      ResultAsync<DispatchReport, ValidationError | StoreError | UnexpectedError>
    >();
  });

  it('pins each method\u2019s error codes: a host\u2019s switch sees only the codes that can happen', () => {
    type Infrastructure = 'store_unavailable' | 'unexpected_error';
    expectTypeOf<RetryOrMarkCodes>().toEqualTypeOf<
      'validation_failed' | 'invalid_event' | 'credit_note_not_found' | 'transition_not_allowed' | 'forbidden' | 'concurrency_conflict' | Infrastructure
    >();
    expectTypeOf<IssueCreditNoteError['code']>().toEqualTypeOf<
      | 'validation_failed'
      | 'invalid_event'
      | 'credit_note_exists'
      | 'transition_not_allowed'
      | 'forbidden'
      | 'gateway_error'
      | 'refundable_balance_exceeded'
      | 'refund_window_closed'
      | 'concurrency_conflict'
      | Infrastructure
    >();
    expectTypeOf<ObserveRefundError['code']>().toEqualTypeOf<
      'validation_failed' | 'invalid_event' | 'credit_note_not_found' | 'account_mismatch' | 'concurrency_conflict' | Infrastructure
    >();
    expectTypeOf<ConfirmChargeError['code']>().toEqualTypeOf<
      'validation_failed' | 'invalid_event' | 'transition_not_allowed' | 'concurrency_conflict' | Infrastructure
    >();
    expectTypeOf<ReadError['code']>().toEqualTypeOf<'validation_failed' | 'invalid_event' | 'credit_note_not_found' | Infrastructure>();
    expectTypeOf<ListError['code']>().toEqualTypeOf<'validation_failed' | Infrastructure>();
    // A processor that cannot be asked (Adyen) answers Refresh with refresh_unavailable and its advice.
    expectTypeOf<'refresh_unavailable'>().toExtend<RefreshStatusError['code']>();
    // Every method's errors are among the documented CommandError union.
    expectTypeOf<IssueCreditNoteError | RefreshStatusError | AdoptExternalRefundError>().toExtend<CommandError>();
  });

  it('CommandError is exactly the documented union, each member a RefundLifecycleError', () => {
    expectTypeOf<CommandError>().toEqualTypeOf<
      | ValidationError
      | EventValidationError
      | CreditNoteNotFoundError
      | CreditNoteAlreadyExistsError
      | TransitionConflictError
      | AccountMismatchError
      | RefundableBalanceExceededError
      | RefundWindowClosedError
      | ConcurrencyError
      | GatewayError
      | RefreshUnavailableError
      | ForbiddenError
      | RefundRequestNotFoundError
      | RefundRequestConflictError
      | PolicyRefusedError
      | StoreError
      | UnexpectedError
    >();
    expectTypeOf<CommandError>().toExtend<RefundLifecycleError>();
    expectTypeOf<CommandError['code']>().toEqualTypeOf<
      | 'validation_failed'
      | 'invalid_event'
      | 'credit_note_not_found'
      | 'credit_note_exists'
      | 'transition_not_allowed'
      | 'account_mismatch'
      | 'refundable_balance_exceeded'
      | 'refund_window_closed'
      | 'concurrency_conflict'
      | 'gateway_error'
      | 'refresh_unavailable'
      | 'forbidden'
      | 'refund_request_not_found'
      | 'refund_request_conflict'
      | 'policy_refused'
      | 'store_unavailable'
      | 'unexpected_error'
    >();
  });

  it('refund request commands answer only the codes that can happen', () => {
    type Infrastructure = 'store_unavailable' | 'unexpected_error';
    expectTypeOf<RequestRefundError['code']>().toEqualTypeOf<
      'validation_failed' | 'invalid_event' | 'forbidden' | 'policy_refused' | 'refund_request_conflict' | 'concurrency_conflict' | Infrastructure
    >();
    // An approval issues a credit note: the balance guard, the refund window and the processor's answer apply.
    expectTypeOf<'refundable_balance_exceeded' | 'refund_window_closed' | 'gateway_error' | 'policy_refused'>().toExtend<ApproveRequestError['code']>();
    expectTypeOf<CloseRequestError['code']>().toEqualTypeOf<
      'validation_failed' | 'invalid_event' | 'forbidden' | 'refund_request_not_found' | 'refund_request_conflict' | 'concurrency_conflict' | Infrastructure
    >();
    expectTypeOf<RequestRefundError | ApproveRequestError | CloseRequestError>().toExtend<CommandError>();
    expectTypeOf<Notification>().toEqualTypeOf<CreditNoteNotification | RefundRequestNotification>();
  });

  it('the config takes the ports; notifier, hooks, clock and the rest are optional', () => {
    expectTypeOf<RequiredKeys<Parameters<typeof createRefundLifecycle>[0]>>().toEqualTypeOf<'store' | 'gateway'>();
  });
});

describe('error classes', () => {
  it('carry literal codes a host can switch on', () => {
    expectTypeOf<ValidationError['code']>().toEqualTypeOf<'validation_failed'>();
    expectTypeOf<EventValidationError['code']>().toEqualTypeOf<'invalid_event'>();
    expectTypeOf<CreditNoteNotFoundError['code']>().toEqualTypeOf<'credit_note_not_found'>();
    expectTypeOf<CreditNoteAlreadyExistsError['code']>().toEqualTypeOf<'credit_note_exists'>();
    expectTypeOf<TransitionConflictError['code']>().toEqualTypeOf<'transition_not_allowed'>();
    expectTypeOf<ConcurrencyError['code']>().toEqualTypeOf<'concurrency_conflict'>();
    expectTypeOf<GatewayError['code']>().toEqualTypeOf<'gateway_error'>();
    expectTypeOf<StoreError['code']>().toEqualTypeOf<'store_unavailable'>();
    expectTypeOf<UnexpectedError['code']>().toEqualTypeOf<'unexpected_error'>();
    expectTypeOf<VersionConflictError['code']>().toEqualTypeOf<'version_conflict'>();
    expectTypeOf<OutboxClaimLostError['code']>().toEqualTypeOf<'outbox_claim_lost'>();
    expectTypeOf<DuplicateOutboxEntryError['code']>().toEqualTypeOf<'duplicate_outbox_entry'>();
  });

  it('TransitionConflictError carries the credit note’s status; ValidationError its issues', () => {
    expectTypeOf<TransitionConflictError['status']>().toEqualTypeOf<CreditNoteStatus>();
    expectTypeOf<TransitionConflictError['command']>().toEqualTypeOf<string>();
    expectTypeOf<ValidationError['issues']>().toEqualTypeOf<
      readonly { readonly path: string; readonly message: string }[]
    >();
    expectTypeOf<GatewayError['kind']>().toEqualTypeOf<'transient' | 'definitive'>();
  });

  it('narrow by code inside a CommandError', () => {
    const describe = (error: CommandError) => {
      if (error.code === 'transition_not_allowed') expectTypeOf(error).toEqualTypeOf<TransitionConflictError>();
      if (error.code === 'validation_failed') expectTypeOf(error).toEqualTypeOf<ValidationError>();
    };
    expectTypeOf(describe).parameter(0).toEqualTypeOf<CommandError>();
  });
});

describe('events', () => {
  it('are read in the current schema version only: older ones are upcast inside parseEvent and parseStoredEvent', () => {
    expectTypeOf<StoredEvent['schemaVersion']>().toEqualTypeOf<2>();
    expectTypeOf(parseEvent).parameter(0).toEqualTypeOf<unknown>();
    expectTypeOf(parseStoredEvent).returns.toEqualTypeOf<Result<StoredEvent, EventValidationError>>();
    expectTypeOf(parseEvent).returns.toEqualTypeOf<Result<DomainEvent, EventValidationError>>();
  });

  it('carry the fields schema version 2 made required', () => {
    type DataOf<T extends DomainEvent['type']> = Extract<DomainEvent, { type: T }>['data'];
    expectTypeOf<RequiredKeys<DataOf<'CreditNoteIssued'>>>().toEqualTypeOf<
      'creditNoteId' | 'amount' | 'currency' | 'payment' | 'reason' | 'origin'
    >();
    expectTypeOf<DataOf<'CreditNoteIssued'>['origin']>().toEqualTypeOf<'host' | 'processor'>();
    expectTypeOf<DataOf<'RefundAccepted'>['pendingReason']>().toEqualTypeOf<'charge_pending' | 'insufficient_funds' | 'processing' | null>();
    expectTypeOf<'pendingReason'>().toExtend<RequiredKeys<DataOf<'RefundAccepted'>>>();
    expectTypeOf<'pendingReason'>().toExtend<RequiredKeys<DataOf<'RefundProgressed'>>>();
  });
});

describe('log tooling (what the CLI is built on)', () => {
  it('replays raw events one at a time and reports; add() says whether the event was valid', () => {
    const replay = createLogReplay({ asOf: new Date(), stuckAfterDays: 7 });
    expectTypeOf(replay.add).parameters.toEqualTypeOf<[unknown, { line: number } | { position: number }]>();
    expectTypeOf(replay.add).returns.toEqualTypeOf<boolean>();
    expectTypeOf(replay.report).returns.toEqualTypeOf<LogReplayReport>();
    expectTypeOf<ViolationKind>().toEqualTypeOf<
      | 'version_out_of_order'
      | 'transition_rejected'
      | 'event_after_terminal'
      | 'two_refunds_for_one_attempt'
      | 'refund_on_two_credit_notes'
      | 'refunded_beyond_charge'
      | 'approval_without_credit_note'
    >();
  });

  it('imports into any EventStore, refusing with a typed LogImportError', () => {
    expectTypeOf(importLog).parameter(0).toEqualTypeOf<EventStore>();
    expectTypeOf(importLog).parameter(1).toEqualTypeOf<AsyncIterable<LogLine> | Iterable<LogLine>>();
    expectTypeOf(importLog).returns.resolves.toEqualTypeOf<Result<LogImportReport, LogImportError>>();
    expectTypeOf<LogImportError['code']>().toEqualTypeOf<'log_import_refused'>();
    expectTypeOf<LogImportError['reason']>().toEqualTypeOf<'invalid_event' | 'version_out_of_order' | 'different_event' | 'transition_rejected' | 'store_changed'>();
  });

  it('explains from events, with an outbox when the source has one', () => {
    expectTypeOf(explainCreditNote).returns.toEqualTypeOf<CreditNoteExplanation>();
    expectTypeOf(explainCreditNote).parameter(0).toHaveProperty('outbox');
  });
});

describe('operations', () => {
  it('sweep and the operations reads answer ResultAsync with typed errors, never a rejection', () => {
    const lifecycle = createRefundLifecycle({ store: inMemoryEventStore(), gateway: fakeGateway() });
    expectTypeOf(lifecycle.sweep).returns.toEqualTypeOf<ResultAsync<SweepReport, ValidationError | StoreError | UnexpectedError>>();
    expectTypeOf(lifecycle.health).returns.toEqualTypeOf<ResultAsync<Health, StoreError | UnexpectedError>>();
    expectTypeOf(lifecycle.parkedSideEffects).returns.toEqualTypeOf<ResultAsync<ParkedSideEffect[], ValidationError | StoreError | UnexpectedError>>();
    expectTypeOf(lifecycle.requeueSideEffects).parameter(0).toEqualTypeOf<{ entryIds: string[] } | { all: true }>();
    expectTypeOf(lifecycle.startSweeping).returns.toEqualTypeOf<{ stop(): Promise<void> }>();
  });
});

describe('views and inputs', () => {
  it('CreditNoteView never shows the internal unissued status', () => {
    expectTypeOf<CreditNoteView['status']>().toEqualTypeOf<
      'issued' | 'pending' | 'requested' | 'succeeded' | 'failed' | 'manual'
    >();
    expectTypeOf<Extract<CreditNoteView['status'], 'unissued'>>().toBeNever();
    expectTypeOf<CreditNoteView['allowedActions']>().toEqualTypeOf<Array<'retry' | 'mark_refunded' | 'refresh'>>();
  });

  it('IssueCreditNoteInput requires actor, creditNoteId, amount (and currency, payment, reason)', () => {
    expectTypeOf<RequiredKeys<IssueCreditNoteInput>>().toEqualTypeOf<
      'creditNoteId' | 'amount' | 'currency' | 'payment' | 'reason' | 'actor'
    >();
    expectTypeOf<IssueCreditNoteInput['amount']>().toEqualTypeOf<number>();
    expectTypeOf<IssueCreditNoteInput['actor']['kind']>().toEqualTypeOf<'user' | 'customer' | 'system' | 'processor'>();
    const withoutActor = { creditNoteId: 'cn_1', amount: 100, currency: 'EUR', payment: null, reason: 'r' };
    // @ts-expect-error no actor: every command says who did it
    const refused: IssueCreditNoteInput = withoutActor;
    void refused;
  });

  it('MarkRefundedInput requires a reason and an actor', () => {
    expectTypeOf<RequiredKeys<MarkRefundedInput>>().toEqualTypeOf<'reason' | 'actor'>();
  });

  it('a refund request names its payment, amount, reason, customer and purchase; decisions need only an actor', () => {
    expectTypeOf<RequiredKeys<RequestRefundInput>>().toEqualTypeOf<
      'requestId' | 'payment' | 'amount' | 'currency' | 'reason' | 'customerId' | 'purchasedAt' | 'actor'
    >();
    expectTypeOf<RequestRefundInput['reason']>().toEqualTypeOf<RefundRequestReason>();
    expectTypeOf<RequiredKeys<ApproveRequestInput>>().toEqualTypeOf<'actor'>();
    expectTypeOf<ApproveRequestInput['option']>().toEqualTypeOf<SubscriptionOption | undefined>();
    expectTypeOf<RequiredKeys<RejectRequestInput>>().toEqualTypeOf<'actor'>();
    expectTypeOf<RefundRequestView['status']>().toEqualTypeOf<'pending' | 'processing' | 'succeeded' | 'failed' | 'rejected' | 'withdrawn'>();
    expectTypeOf<RefundLifecycle['approveRequest']>().returns.toEqualTypeOf<ResultAsync<RefundRequestView, ApproveRequestError>>();
    // @ts-expect-error a reason outside the fixed list: reports group by it
    const unknownReason: RequestRefundInput['reason'] = 'because';
    void unknownReason;
  });
});

describe('the testing kit fits the ports', () => {
  it('fake gateway, recording notifier, manual clock and in-memory store satisfy their ports', () => {
    expectTypeOf(fakeGateway).returns.toEqualTypeOf<FakeGateway>();
    expectTypeOf<FakeGateway>().toExtend<RefundGateway>();
    expectTypeOf(recordingNotifier).returns.toEqualTypeOf<RecordingNotifier>();
    expectTypeOf<RecordingNotifier>().toExtend<Notifier>();
    expectTypeOf(manualClock).returns.toExtend<Clock>();
    expectTypeOf(inMemoryEventStore).returns.toEqualTypeOf<EventStore>();
  });

  it('plug straight into createRefundLifecycle', () => {
    const lifecycle = createRefundLifecycle({
      store: inMemoryEventStore(),
      gateway: fakeGateway(),
      notifier: recordingNotifier(),
      clock: manualClock(),
    });
    expectTypeOf(lifecycle).toEqualTypeOf<RefundLifecycle>();
  });
});

/* pino's logging methods and `child`, as its type definitions declare them (pino.d.ts: `LogFn`, `LoggerExtras.child`). */
interface PinoLogFn {
  <T extends object>(obj: T, msg?: string, ...args: unknown[]): void;
  (obj: unknown, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}
interface PinoShapedLogger {
  level: string;
  fatal: PinoLogFn;
  error: PinoLogFn;
  warn: PinoLogFn;
  info: PinoLogFn;
  debug: PinoLogFn;
  trace: PinoLogFn;
  child(bindings: Record<string, unknown>, options?: { level?: string }): PinoShapedLogger;
}

describe('logs and telemetry', () => {
  it('a pino logger is a Logger, and so is silentLogger', () => {
    expectTypeOf<PinoShapedLogger>().toExtend<Logger>();
    expectTypeOf(silentLogger).toEqualTypeOf<Logger>();
    expectTypeOf<RefundLifecycleConfig['logger']>().toEqualTypeOf<Logger | undefined>();
  });

  it('a Logger takes fields first, then a message', () => {
    expectTypeOf<Logger['info']>().parameters.toEqualTypeOf<[obj: object, msg?: string]>();
    // @ts-expect-error a message alone is not the port's convention
    silentLogger.info('refund created');
  });

  it('refund-lifecycle/opentelemetry builds a Telemetry, from the global API or a given tracer and meter', () => {
    expectTypeOf(openTelemetry).parameters.toEqualTypeOf<[options?: OpenTelemetryOptions]>();
    expectTypeOf(openTelemetry).returns.toEqualTypeOf<Telemetry>();
    expectTypeOf<OpenTelemetryOptions>().toEqualTypeOf<{ tracer?: Tracer; meter?: Meter }>();
    expectTypeOf<RefundLifecycleConfig['telemetry']>().toEqualTypeOf<Telemetry | undefined>();
    expectTypeOf<ReturnType<Telemetry['startSpan']>>().toEqualTypeOf<TelemetrySpan>();
  });
});
