import { defaultGatewayCapabilities, type GatewayCapabilities } from '../ports/refundGateway.js';
import type { PaymentRef, ProcessorPendingReason } from '../events/primitives.js';
import { machineAccepts } from '../machine/creditNoteMachine.js';
import {
  isRefundInFlight,
  latestAttempt,
  type CreditNoteContext,
  type CreditNoteState,
  type CreditNoteStatus,
  type PendingReason,
  type RefundAttempt,
  type RefundFailure,
} from '../machine/creditNoteState.js';

/** The buttons a host may show for a credit note now, as the machine allows them. */
export type CreditNoteAction = 'retry' | 'mark_refunded' | 'refresh';

/**
 * What the processor's reason for holding an accepted refund as pending asks
 * of the merchant: the "Refund in progress" banner, made specific
 * (docs/glossary.md#processor-notice).
 */
export type ProcessorNotice = {
  pendingReason: ProcessorPendingReason;
  message: string;
  /** `top_up_balance`: the refund waits for money on the processor account; `none`: it moves on by itself. */
  recovery: 'top_up_balance' | 'none';
};

const processorNotices: Readonly<Record<ProcessorPendingReason, Omit<ProcessorNotice, 'pendingReason'>>> = {
  charge_pending: {
    message: 'The processor pays the refund out once the original charge has settled; nothing to do.',
    recovery: 'none',
  },
  insufficient_funds: {
    message:
      "The processor account's balance cannot cover the refund yet: top up the balance and the refund proceeds by itself.",
    recovery: 'top_up_balance',
  },
  processing: {
    message: 'The processor is paying the refund out (usually 5–10 business days to appear on the statement).',
    recovery: 'none',
  },
};

export const processorNoticeOf = (refund: RefundAttempt | null): ProcessorNotice | null =>
  refund?.status === 'accepted' && refund.processorPendingReason !== null
    ? { pendingReason: refund.processorPendingReason, ...processorNotices[refund.processorPendingReason] }
    : null;

/** A credit note as a host displays it: its state plus what may be done with it now. */
export type CreditNoteView = {
  creditNoteId: string;
  status: Exclude<CreditNoteStatus, 'unissued'>;
  amount: number;
  currency: string;
  payment: PaymentRef | null;
  reason: string;
  issuedAt: string;
  /** The latest attempt's number, 0 before any. */
  attempt: number;
  refund: RefundAttempt | null;
  pendingReason: PendingReason | null;
  /** The processor's reason an accepted refund is still pending, with what it asks of the merchant. */
  processorNotice: ProcessorNotice | null;
  transientError: CreditNoteContext['transientError'];
  failure: RefundFailure | null;
  manual: CreditNoteContext['manual'];
  settledAt: string | null;
  allowedActions: CreditNoteAction[];
  /** The stream version this view was folded from. */
  version: number;
};

// What a Retry or a Mark-as-refunded button would propose, asked of the machine without being recorded.
const retryProbe = { occurredAt: new Date(0).toISOString(), type: 'RetryRequested', data: {} } as const;
const markRefundedProbe = {
  occurredAt: new Date(0).toISOString(),
  type: 'MarkedRefundedManually',
  data: { reason: 'probe', reference: null, method: 'other' },
} as const;

/** Refresh is offered only where the processor can be asked (Adyen tells outcomes only by notification). */
export const allowedActions = (state: CreditNoteState, capabilities: GatewayCapabilities = defaultGatewayCapabilities): CreditNoteAction[] => {
  const actions: CreditNoteAction[] = [];
  if (machineAccepts(state, retryProbe)) actions.push('retry');
  if (machineAccepts(state, markRefundedProbe)) actions.push('mark_refunded');
  if (isRefundInFlight(state.context.refund) && capabilities.pullsRefundStatus) {
    actions.push('refresh');
  }
  return actions;
};

export const toCreditNoteView = (
  state: CreditNoteState,
  version: number,
  capabilities: GatewayCapabilities = defaultGatewayCapabilities,
): CreditNoteView => {
  const { context } = state;
  return {
    creditNoteId: context.creditNoteId,
    status: state.status as CreditNoteView['status'],
    amount: context.amount,
    currency: context.currency,
    payment: context.payment,
    reason: context.reason,
    issuedAt: context.issuedAt ?? '',
    attempt: latestAttempt(context),
    refund: context.refund,
    pendingReason: context.pendingReason,
    processorNotice: processorNoticeOf(context.refund),
    transientError: context.transientError,
    failure: context.failure,
    manual: context.manual,
    settledAt: context.settledAt,
    allowedActions: allowedActions(state, capabilities),
    version,
  };
};
