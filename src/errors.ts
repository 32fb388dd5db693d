import type { FailureClassification } from './events/primitives.js';
import type { CreditNoteStatus } from './machine/creditNoteState.js';

/**
 * Every failure the library reports is an instance of one of these classes,
 * each with a stable `code` a host can switch on and a human `message`.
 * Expected failures are returned inside a neverthrow `Err`, never thrown.
 */
export abstract class RefundLifecycleError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export type ValidationIssue = {
  /** Dotted path of the offending field, e.g. `amount` or `payment.paymentId`. */
  readonly path: string;
  readonly message: string;
};

/** Data that does not match its schema, with every wrong field. */
abstract class InvalidDataError extends RefundLifecycleError {
  constructor(
    readonly issues: readonly ValidationIssue[],
    what: string,
  ) {
    super(`${what}: ${issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ')}`);
  }
  /** The first offending field. */
  get field(): string {
    return this.issues[0]?.path ?? '';
  }
}

/** A command's input was rejected before anything was read or written. */
export class ValidationError extends InvalidDataError {
  readonly code = 'validation_failed' as const;
  constructor(issues: readonly ValidationIssue[]) {
    super(issues, 'Invalid input');
  }
}

/** A stored, replayed or incoming event does not match its schema. */
export class EventValidationError extends InvalidDataError {
  readonly code = 'invalid_event' as const;
  constructor(issues: readonly ValidationIssue[]) {
    super(issues, 'Invalid event');
  }
}

export class CreditNoteNotFoundError extends RefundLifecycleError {
  readonly code = 'credit_note_not_found' as const;
  constructor(readonly creditNoteId: string) {
    super(`Credit note ${creditNoteId} does not exist`);
  }
}

/** The id is taken by a credit note with different terms (same terms is an idempotent repeat). */
export class CreditNoteAlreadyExistsError extends RefundLifecycleError {
  readonly code = 'credit_note_exists' as const;
  constructor(readonly creditNoteId: string) {
    super(`Credit note ${creditNoteId} already exists with different terms`);
  }
}

/** The lifecycle does not allow this command in the credit note's current status. */
export class TransitionConflictError extends RefundLifecycleError {
  readonly code = 'transition_not_allowed' as const;
  constructor(
    readonly creditNoteId: string,
    readonly command: string,
    readonly status: CreditNoteStatus,
    /** Why, when the status alone does not say (e.g. a refund attempt is in doubt). */
    readonly detail: string | null = null,
  ) {
    super(`Cannot ${command} credit note ${creditNoteId}: it is ${status}${detail ? ` (${detail})` : ''}`);
  }
}

/**
 * News of a refund came from another processor account (Stripe Connect) than
 * the one the credit note's payment lives on: it cannot be about that credit
 * note. Nothing is written.
 */
export class AccountMismatchError extends RefundLifecycleError {
  readonly code = 'account_mismatch' as const;
  constructor(
    readonly creditNoteId: string,
    /** The account of the credit note's payment; null for the platform's own. */
    readonly expectedAccount: string | null,
    readonly actualAccount: string | null,
  ) {
    super(
      `News of credit note ${creditNoteId} came from account ${actualAccount ?? 'platform'}, its payment is on ${expectedAccount ?? 'platform'}`,
    );
  }
}

/** Another writer changed a stream between our read and our append. */
export class VersionConflictError extends RefundLifecycleError {
  readonly code = 'version_conflict' as const;
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`Stream ${streamId} is at version ${actualVersion}, expected ${expectedVersion}`);
  }
}

/** The host's `authorize` hook refused this actor this decision; nothing was read or written. */
export class ForbiddenError extends RefundLifecycleError {
  readonly code = 'forbidden' as const;
  /** Set when the refused decision was about a credit note. */
  readonly creditNoteId: string | undefined;
  /** Set when the refused decision was about a refund request. */
  readonly requestId: string | undefined;
  constructor(
    readonly actor: { kind: string; id: string },
    readonly action: string,
    subject: { creditNoteId: string } | { requestId: string },
  ) {
    const about = 'creditNoteId' in subject ? `credit note ${subject.creditNoteId}` : `refund request ${subject.requestId}`;
    super(`${actor.kind} ${actor.id} may not ${action.replace(/_/g, ' ')} ${about}`);
    this.creditNoteId = 'creditNoteId' in subject ? subject.creditNoteId : undefined;
    this.requestId = 'requestId' in subject ? subject.requestId : undefined;
  }
}

/** No refund request has this id. */
export class RefundRequestNotFoundError extends RefundLifecycleError {
  readonly code = 'refund_request_not_found' as const;
  constructor(readonly requestId: string) {
    super(`Refund request ${requestId} does not exist`);
  }
}

/**
 * The request is not where the command needs it (approving a rejected one,
 * withdrawing an approved one), or the same id was submitted with other terms.
 * Nothing was written; `status` is where it is.
 */
export class RefundRequestConflictError extends RefundLifecycleError {
  readonly code = 'refund_request_conflict' as const;
  constructor(
    readonly requestId: string,
    readonly command: 'submit' | 'approve' | 'reject' | 'withdraw',
    /** The request's own decision so far (an approved one's refund may be processing, succeeded or failed). */
    readonly status: 'pending' | 'approved' | 'rejected' | 'withdrawn' | 'unsubmitted',
    detail?: string,
  ) {
    super(`Cannot ${command} refund request ${requestId}: it is ${status}${detail === undefined ? '' : ` (${detail})`}`);
  }
}

/** One rule of the host's refund policy that refused, in words a person can pass on. */
export type PolicyRefusal = {
  readonly rule: 'purchase_window' | 'excluded_product' | 'excluded_kind' | 'one_open_request';
  readonly message: string;
  /** Whether a person with the `override` permission may let the request through with a reason. */
  readonly overridable: boolean;
};

/** The host's refund policy refused the request (at submission or at approval). Nothing was written. */
export class PolicyRefusedError extends RefundLifecycleError {
  readonly code = 'policy_refused' as const;
  constructor(
    readonly requestId: string,
    readonly refusals: readonly PolicyRefusal[],
  ) {
    super(`Refund request ${requestId} is refused by the refund policy: ${refusals.map((refusal) => `${refusal.rule} (${refusal.message})`).join('; ')}`);
  }
}

/**
 * Refresh asked of a processor that cannot be asked about a refund (Adyen:
 * outcomes come only by notification). Nothing was written; `advice` says what
 * a person can do instead.
 */
export class RefreshUnavailableError extends RefundLifecycleError {
  readonly code = 'refresh_unavailable' as const;
  constructor(
    readonly creditNoteId: string,
    readonly processor: string,
    readonly advice: string,
  ) {
    super(`${processor} cannot be asked about the refund of credit note ${creditNoteId}: ${advice}`);
  }
}

/** Where `importLog` stopped: the line (or position) of the event it could not take, why, and how much went in before. */
export class LogImportError extends RefundLifecycleError {
  readonly code = 'log_import_refused' as const;
  constructor(
    readonly reason: 'invalid_event' | 'version_out_of_order' | 'different_event' | 'transition_rejected' | 'store_changed',
    readonly at: { line: number } | { position: number } | null,
    readonly detail: string,
    /** Events written by the import before it stopped: everything before `at`. */
    readonly imported = 0,
  ) {
    super(`${at === null ? '' : 'line' in at ? `line ${at.line}: ` : `position ${at.position}: `}${detail}`);
  }

  /** The same refusal, knowing how many events went in before it. */
  after(imported: number): LogImportError {
    return new LogImportError(this.reason, this.at, this.detail, imported);
  }
}

/** Optimistic-concurrency conflicts persisted after every bounded retry. */
export class ConcurrencyError extends RefundLifecycleError {
  readonly code = 'concurrency_conflict' as const;
  constructor(
    readonly attempts: number,
    cause: VersionConflictError,
  ) {
    super(`Gave up after ${attempts} attempts: ${cause.message}`, { cause });
  }
}

/** The outbox entry's claim expired and another dispatcher took it over. */
export class OutboxClaimLostError extends RefundLifecycleError {
  readonly code = 'outbox_claim_lost' as const;
  constructor(readonly entryId: string) {
    super(`Outbox entry ${entryId} is no longer claimed by this dispatcher`);
  }
}

/** An outbox entry id was appended twice: a decision bug, never expected. */
export class DuplicateOutboxEntryError extends RefundLifecycleError {
  readonly code = 'duplicate_outbox_entry' as const;
  constructor(readonly entryId: string) {
    super(`Outbox entry ${entryId} already exists`);
  }
}

export type GatewayErrorKind = 'transient' | 'definitive';

/**
 * The payment processor refused or could not be reached. `transient` errors
 * (rate limit, 5xx, network, timeout, a gateway that threw or answered
 * nonsense, a setup the operator must fix) leave the refund pending and are
 * retried with the same idempotency key; `definitive` ones fail the refund.
 */
export class GatewayError extends RefundLifecycleError {
  readonly code = 'gateway_error' as const;
  constructor(
    readonly kind: GatewayErrorKind,
    /** The processor's own code, e.g. `rate_limit` or `charge_disputed`. */
    readonly processorCode: string,
    message: string,
    options?: { cause?: unknown; classification?: FailureClassification },
  ) {
    super(message, options);
    this.classification = options?.classification ?? defaultClassification(kind);
  }
  /** What a retry can do and the recovery to offer, when the refund fails on this error. */
  readonly classification: FailureClassification;
}

/** The credit notes of a payment would add up to more than was charged. Nothing is written. */
export class RefundableBalanceExceededError extends RefundLifecycleError {
  readonly code = 'refundable_balance_exceeded' as const;
  constructor(
    readonly paymentId: string,
    readonly chargedAmount: number,
    /** The sum of the payment's credit notes so far. */
    readonly committedAmount: number,
    readonly requestedAmount: number,
  ) {
    super(
      `Payment ${paymentId} has ${chargedAmount - committedAmount} left to refund of ${chargedAmount}; ${requestedAmount} was asked`,
    );
  }
  get availableAmount(): number {
    return this.chargedAmount - this.committedAmount;
  }
}

/**
 * The processor no longer refunds this payment (ACH and SEPA debits: about
 * 180 days after the charge). Refund it outside the processor and record that
 * with a credit note without payment and `markRefunded`. Nothing is written.
 */
export class RefundWindowClosedError extends RefundLifecycleError {
  readonly code = 'refund_window_closed' as const;
  readonly recovery = 'manual_refund' as const;
  constructor(
    readonly paymentId: string,
    readonly method: string | null,
    readonly refundableUntil: string,
  ) {
    super(`Payment ${paymentId} (${method ?? 'unknown method'}) could be refunded only until ${refundableUntil}`);
  }
}

/** The store threw: the database is unreachable or broke an invariant. Only the store's own failures are this. */
export class StoreError extends RefundLifecycleError {
  readonly code = 'store_unavailable' as const;
  constructor(cause: unknown) {
    super(`Event store failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Something threw that is neither the store nor an expected failure: a bug in
 * the library or in a host callback. Answer it as a server error and report
 * it; it is never an outage of the database, and nothing half-done was
 * written (every write is one atomic append).
 */
export class UnexpectedError extends RefundLifecycleError {
  readonly code = 'unexpected_error' as const;
  constructor(cause: unknown) {
    super(`Unexpected failure: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export type CommandError =
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
  | UnexpectedError;

/** Failures that are not a command's answer: the store down, or a bug. Any method may return them. */
export type InfrastructureError = StoreError | UnexpectedError;

const defaultClassification = (kind: GatewayErrorKind): FailureClassification =>
  kind === 'transient' ? { retry: 'may_help', recovery: 'retry' } : { retry: 'will_not_help', recovery: 'manual_refund' };
