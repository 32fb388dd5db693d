import type { ResultAsync } from 'neverthrow';
import { describe, expectTypeOf, it } from 'vitest';
import {
  ConcurrencyError,
  CreditNoteAlreadyExistsError,
  CreditNoteNotFoundError,
  DuplicateOutboxEntryError,
  EventValidationError,
  GatewayError,
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
  type ChargeConfirmationResult,
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
} from '../src/index.js';
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

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

describe('createRefundLifecycle', () => {
  it('returns ResultAsync everywhere, with CommandError for commands and reads, ValidationError | StoreError for dispatch', () => {
    expectTypeOf(createRefundLifecycle).returns.toEqualTypeOf<RefundLifecycle>();
    expectTypeOf<RefundLifecycle['issueCreditNote']>().returns.toEqualTypeOf<
      ResultAsync<CreditNoteView, CommandError>
    >();
    expectTypeOf<RefundLifecycle['retryRefund']>().returns.toEqualTypeOf<ResultAsync<CreditNoteView, CommandError>>();
    expectTypeOf<RefundLifecycle['markRefunded']>().returns.toEqualTypeOf<ResultAsync<CreditNoteView, CommandError>>();
    expectTypeOf<RefundLifecycle['getCreditNote']>().returns.toEqualTypeOf<ResultAsync<CreditNoteView, CommandError>>();
    expectTypeOf<RefundLifecycle['observeRefund']>().returns.toEqualTypeOf<
      ResultAsync<ObservationResult, CommandError>
    >();
    expectTypeOf<RefundLifecycle['refreshStatus']>().returns.toEqualTypeOf<ResultAsync<RefreshResult, CommandError>>();
    expectTypeOf<RefreshResult['processorRefund']>().toEqualTypeOf<ProcessorRefund | null>();
    expectTypeOf<RefundLifecycle['confirmCharge']>().returns.toEqualTypeOf<
      ResultAsync<ChargeConfirmationResult, CommandError>
    >();
    expectTypeOf<RefundLifecycle['history']>().returns.toEqualTypeOf<ResultAsync<StoredEvent[], CommandError>>();
    expectTypeOf<RefundLifecycle['listCreditNotes']>().returns.toEqualTypeOf<
      ResultAsync<CreditNoteView[], CommandError>
    >();
    expectTypeOf<RefundLifecycle['dispatch']>().returns.toEqualTypeOf<
      ResultAsync<DispatchReport, ValidationError | StoreError | UnexpectedError>
    >();
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
      | 'store_unavailable'
      | 'unexpected_error'
    >();
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
    expectTypeOf<IssueCreditNoteInput['actor']['kind']>().toEqualTypeOf<'user' | 'system' | 'processor'>();
    const withoutActor = { creditNoteId: 'cn_1', amount: 100, currency: 'EUR', payment: null, reason: 'r' };
    // @ts-expect-error no actor: every command says who did it
    const refused: IssueCreditNoteInput = withoutActor;
    void refused;
  });

  it('MarkRefundedInput requires a reason and an actor', () => {
    expectTypeOf<RequiredKeys<MarkRefundedInput>>().toEqualTypeOf<'reason' | 'actor'>();
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
