import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import * as testing from '../src/testing/index.js';
import * as opentelemetry from '../src/adapters/opentelemetry/index.js';

/*
 * The runtime exports of the entry points, listed by hand: adding or
 * removing one is an API change and must show up as a deliberate edit here
 * (and in the CHANGELOG), never as a side effect of a refactor.
 */
describe('public runtime exports', () => {
  it('refund-lifecycle exports exactly these names', () => {
    expect(Object.keys(api).sort()).toEqual([
      'AccountMismatchError',
      'CURRENT_SCHEMA_VERSION',
      'ConcurrencyError',
      'CreditNoteAlreadyExistsError',
      'CreditNoteNotFoundError',
      'DEFAULT_REFUND_WINDOW_DAYS',
      'DuplicateOutboxEntryError',
      'EventValidationError',
      'ForbiddenError',
      'GatewayError',
      'LogImportError',
      'OutboxClaimLostError',
      'PolicyRefusedError',
      'RefreshUnavailableError',
      'RefundLifecycleError',
      'RefundRequestConflictError',
      'RefundRequestNotFoundError',
      'RefundWindowClosedError',
      'RefundableBalanceExceededError',
      'StoreError',
      'TransitionConflictError',
      'UnexpectedError',
      'ValidationError',
      'VersionConflictError',
      'createLogReplay',
      'createRefundLifecycle',
      'creditNoteStatuses',
      'defaultCreditNoteIdFor',
      'defaultGatewayCapabilities',
      'defaultRetryPolicy',
      'explainCreditNote',
      'externalCreditNoteId',
      'importLog',
      'parseEvent',
      'parseStoredEvent',
      'policyRules',
      'refundRequestReasons',
      'refundRequestStatusOf',
      'refundRequestStatuses',
      'replayCreditNote',
      'silentLogger',
      'subscriptionOptions',
      'systemClock',
      'toMermaid',
    ]);
  });

  it('refund-lifecycle/opentelemetry exports exactly these names', () => {
    expect(Object.keys(opentelemetry).sort()).toEqual(['openTelemetry']);
  });

  it('refund-lifecycle/testing exports exactly these names', () => {
    expect(Object.keys(testing).sort()).toEqual([
      'fakeFailureClassification',
      'fakeGateway',
      'inMemoryEventStore',
      'manualClock',
      'recordingNotifier',
    ]);
  });

  it('every exported error class is a RefundLifecycleError with its own stable code', () => {
    const errorClasses = Object.entries(api).filter(
      ([name, value]) => typeof value === 'function' && name.endsWith('Error') && name !== 'RefundLifecycleError',
    );
    expect(errorClasses).toHaveLength(21);
    for (const [, ErrorClass] of errorClasses) {
      expect((ErrorClass as { prototype: unknown }).prototype).toBeInstanceOf(api.RefundLifecycleError);
    }
    const codes = [
      new api.ValidationError([{ path: 'amount', message: 'must be an integer' }]).code,
      new api.EventValidationError([]).code,
      new api.CreditNoteNotFoundError('cn_1').code,
      new api.CreditNoteAlreadyExistsError('cn_1').code,
      new api.TransitionConflictError('cn_1', 'retry', 'succeeded').code,
      new api.VersionConflictError('s', 1, 2).code,
      new api.ConcurrencyError(8, new api.VersionConflictError('s', 1, 2)).code,
      new api.OutboxClaimLostError('e').code,
      new api.DuplicateOutboxEntryError('e').code,
      new api.GatewayError('transient', 'rate_limit', 'slow down').code,
      new api.StoreError(new Error('down')).code,
      new api.UnexpectedError(new TypeError('a bug')).code,
      new api.AccountMismatchError('cn_1', 'acct_1', null).code,
      new api.RefundableBalanceExceededError('pi_1', 100, 80, 30).code,
      new api.RefundWindowClosedError('pi_1', 'sepa_debit', '2026-01-01T00:00:00.000Z').code,
      new api.LogImportError('different_event', { line: 3 }, 'another event at version 2').code,
      new api.RefreshUnavailableError('cn_1', 'adyen', 'its outcome arrives by notification').code,
      new api.ForbiddenError({ kind: 'user', id: 'u_1' }, 'retry', { creditNoteId: 'cn_1' }).code,
      new api.RefundRequestNotFoundError('rr_1').code,
      new api.RefundRequestConflictError('rr_1', 'approve', 'rejected').code,
      new api.PolicyRefusedError('rr_1', [{ rule: 'purchase_window', message: 'asked 40 days after purchase', overridable: true }]).code,
    ];
    expect(new Set(codes).size).toBe(codes.length);
  });
});
