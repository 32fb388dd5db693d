// The public API of refund-lifecycle, listed one by one: anything not here is internal.

export {
  createRefundLifecycle,
  type RefundLifecycle,
  type RefundLifecycleConfig,
  type ObservationResult,
  type AdoptionResult,
  type RefreshResult,
  type ChargeConfirmationResult,
  type IssueCreditNoteError,
  type CreditNoteCommandError,
  type ObserveRefundError,
  type AdoptExternalRefundError,
  type RefreshStatusError,
  type ConfirmChargeError,
  type ReadError,
  type ListError,
  type RequestRefundError,
  type ApproveRequestError,
  type CloseRequestError,
  type RefundRequestReadError,
  type ListedRefundRequestView,
} from './lifecycle/createRefundLifecycle.js';
export type {
  RequestRefundInput,
  ApproveRequestInput,
  RejectRequestInput,
  WithdrawRequestInput,
  ListRefundRequestsInput,
  RefundRequestReportInput,
} from './requests/refundRequestInputs.js';
export { DEFAULT_REFUND_WINDOW_DAYS, type RefundRequestPolicy } from './requests/refundPolicy.js';
export { defaultCreditNoteIdFor } from './requests/commands/decideRequest.js';
export type { RefundRequestView, RefundRequestAction, RefundRequestDecided } from './requests/refundRequestView.js';
export {
  refundRequestStatuses,
  refundRequestStatusOf,
  type RefundRequestStatus,
  type RefundRequestMachineStatus,
  type RefundRequestState,
  type RefundRequestContext,
  type RefundRequestDecision,
} from './machine/refundRequestState.js';
export {
  refundRequestReasons,
  subscriptionOptions,
  policyRules,
  type RefundRequestEvent,
  type RefundRequestEventType,
  type RefundRequestReason,
  type SubscriptionOption,
  type PolicyRule,
  type PolicyOverride,
} from './events/refundRequestEvents.js';
export type {
  IssueCreditNoteInput,
  RetryRefundInput,
  MarkRefundedInput,
  ConfirmChargeInput,
  ObserveRefundInput,
  ListCreditNotesInput,
  DispatchInput,
} from './lifecycle/commandInputs.js';
export type { RefreshStatusInput } from './lifecycle/commands/refreshStatus.js';
export { externalCreditNoteId, type AdoptExternalRefundInput } from './lifecycle/commands/adoptExternalRefund.js';
export type { CreditNoteView, CreditNoteAction, ProcessorNotice } from './lifecycle/creditNoteView.js';
export { defaultRetryPolicy, type RetryPolicy } from './lifecycle/deps.js';
export type { Authorize, LifecycleAction, AuthorizationSubject } from './lifecycle/authorization.js';
export type { AdoptedRefundEffects } from './lifecycle/commandHandler.js';
export type { DispatchReport } from './lifecycle/dispatcher.js';
export {
  silentLogger,
  type Logger,
  type Telemetry,
  type TelemetrySpan,
  type TelemetrySpanOptions,
  type TelemetrySpanEnd,
  type TelemetryAttributes,
  type TelemetryCounter,
  type TelemetryHistogram,
  type TelemetryInstrumentOptions,
} from './observability/index.js';

export {
  RefundLifecycleError,
  ValidationError,
  EventValidationError,
  CreditNoteNotFoundError,
  CreditNoteAlreadyExistsError,
  TransitionConflictError,
  AccountMismatchError,
  RefundableBalanceExceededError,
  RefundWindowClosedError,
  VersionConflictError,
  ConcurrencyError,
  OutboxClaimLostError,
  DuplicateOutboxEntryError,
  GatewayError,
  StoreError,
  UnexpectedError,
  LogImportError,
  RefreshUnavailableError,
  ForbiddenError,
  RefundRequestNotFoundError,
  RefundRequestConflictError,
  PolicyRefusedError,
  type PolicyRefusal,
  type CommandError,
  type InfrastructureError,
  type GatewayErrorKind,
  type ValidationIssue,
} from './errors.js';

export { parseEvent, parseStoredEvent } from './events/parseEvent.js';
export { CURRENT_SCHEMA_VERSION, type DomainEvent, type DomainEventType, type StoredEvent } from './events/envelope.js';
export type { CreditNoteEvent, CreditNoteEventType } from './events/creditNoteEvents.js';
export type { PaymentEvent, PaymentEventType } from './events/paymentEvents.js';
export type {
  Actor,
  EventSource,
  PaymentRef,
  FailureClassification,
  ManualRefundMethod,
  ProcessorRefundStatus,
  ProcessorPendingReason,
} from './events/primitives.js';

export {
  creditNoteStatuses,
  type CreditNoteStatus,
  type CreditNoteState,
  type CreditNoteContext,
  type RefundAttempt,
  type RefundFailure,
  type PendingReason,
} from './machine/creditNoteState.js';
export { replayCreditNote, type ReplayStep } from './machine/replay.js';
export {
  createLogReplay,
  type LogReplay,
  type LogReplayOptions,
  type LogReplayReport,
  type LogLocation,
  type Violation,
  type ViolationKind,
  type BadLine,
  type StuckCreditNote,
} from './logs/logReplay.js';
export {
  explainCreditNote,
  type CreditNoteExplanation,
  type ExplainedStep,
  type OwedSideEffect,
  type SideEffectRun,
} from './logs/explainCreditNote.js';
export { importLog, type LogLine, type LogImportReport } from './logs/importLog.js';
export { toMermaid } from './machine/mermaid.js';

export type {
  EventStore,
  AppendRequest,
  AppendError,
  StreamAppend,
  OutboxDraft,
  OutboxEntry,
  OutboxClaim,
  OutboxKind,
  ClaimedOutboxEntry,
  ClaimOutboxRequest,
  CreditNoteSummary,
  ListCreditNotesFilter,
  JsonValue,
  ListCreditNotesByAgeFilter,
  ListOutboxFilter,
  OutboxCounts,
  Checkpoint,
  RefundRequestSummary,
  ListedRefundRequest,
  ListRefundRequestsFilter,
  RefundRequestReportRow,
} from './ports/eventStore.js';
export {
  defaultGatewayCapabilities,
  type RefundGateway,
  type GatewayCapabilities,
  type CreateRefundRequest,
  type ProcessorRefund,
  type ProcessorPayment,
} from './ports/refundGateway.js';
export type { SweepInput, SweepReport, SweptCreditNote } from './operations/sweep.js';
export type {
  ParkedSideEffect,
  ParkedSideEffectsInput,
  RequeueInput,
  AgedCreditNote,
  CreditNotesByAgeInput,
  FailureReasonCount,
  Health,
} from './operations/operations.js';
export {
  systemClock,
  type Clock,
  type Notifier,
  type Notification,
  type CreditNoteNotification,
  type RefundRequestNotification,
  type CancelSubscriptionCall,
  type RefundRequestNoticeKind,
  type RefundRequestRecipient,
  type RefundRequestHookName,
  type DecidedOutcome,
  type NotificationKind,
  type Recipient,
  type RefundHooks,
  type HookCall,
  type HookName,
} from './ports/notifier.js';
