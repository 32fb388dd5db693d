import type {
  FailureClassification,
  ManualRefundMethod,
  PaymentRef,
  ProcessorPendingReason,
  ProcessorRefundStatus,
} from '../events/primitives.js';

/** `unissued` is the state before the first event; the other six are the lifecycle. */
export const creditNoteStatuses = ['unissued', 'issued', 'pending', 'requested', 'succeeded', 'failed', 'manual'] as const;
export type CreditNoteStatus = (typeof creditNoteStatuses)[number];

/**
 * One try at the processor. `in_doubt`: a transient error (timeout, 5xx) means
 * the processor may or may not hold the refund, so the same attempt is tried
 * again with the same idempotency key, never a new one.
 */
export type RefundAttempt = {
  attempt: number;
  /** Null for a refund adopted from the processor: nobody asked for it under a key of ours. */
  idempotencyKey: string | null;
  amount: number;
  currency: string;
  processorRefundId: string | null;
  processorStatus: ProcessorRefundStatus | null;
  /** Why the processor still holds an accepted refund as pending, when it says. */
  processorPendingReason: ProcessorPendingReason | null;
  status: 'requested' | 'accepted' | 'in_doubt' | 'succeeded' | 'failed';
  consecutiveFailures: number;
};

/** Asked of the processor and not settled: it may still pay out. */
export const isRefundInFlight = (refund: RefundAttempt | null): refund is RefundAttempt =>
  refund !== null && (refund.status === 'requested' || refund.status === 'in_doubt' || refund.status === 'accepted');

export type PendingReason = 'charge_not_confirmed' | 'transient_error' | 'retry_requested';

export type RefundFailure = {
  processorReason: string;
  classification: FailureClassification;
  message: string;
};

export type CreditNoteContext = {
  creditNoteId: string;
  amount: number;
  currency: string;
  payment: PaymentRef | null;
  reason: string;
  origin: 'host' | 'processor';
  issuedAt: string | null;
  refund: RefundAttempt | null;
  pendingReason: PendingReason | null;
  transientError: { code: string; message: string; retryAt: string | null } | null;
  failure: RefundFailure | null;
  manual: { reason: string; reference: string | null; method: ManualRefundMethod } | null;
  settledAt: string | null;
};

export type CreditNoteState = { status: CreditNoteStatus; context: CreditNoteContext };

export const emptyCreditNoteContext: CreditNoteContext = {
  creditNoteId: '',
  amount: 0,
  currency: '',
  payment: null,
  reason: '',
  origin: 'host',
  issuedAt: null,
  refund: null,
  pendingReason: null,
  transientError: null,
  failure: null,
  manual: null,
  settledAt: null,
};

/** Number of the latest attempt asked of the processor; 0 before the first. */
export const latestAttempt = (context: CreditNoteContext): number => context.refund?.attempt ?? 0;

export const initialCreditNoteState: CreditNoteState = { status: 'unissued', context: emptyCreditNoteContext };
