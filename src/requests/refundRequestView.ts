import type { PolicyOverride, RefundRequestReason, SubscriptionOption } from '../events/refundRequestEvents.js';
import type { PaymentRef } from '../events/primitives.js';
import type { CreditNoteStatus } from '../machine/creditNoteState.js';
import {
  refundRequestStatusOf,
  type RefundRequestDecision,
  type RefundRequestMachineStatus,
  type RefundRequestState,
  type RefundRequestStatus,
} from '../machine/refundRequestState.js';

/** What a person can do with the request now. */
export type RefundRequestAction = 'approve' | 'reject' | 'withdraw';

/** A refund request as the merchant's page and the customer portal show it. */
export type RefundRequestView = {
  requestId: string;
  /** pending → processing → succeeded / failed, or rejected / withdrawn: an approved request follows its credit note. */
  status: RefundRequestStatus;
  payment: PaymentRef;
  /** What the customer asked for, minor units. */
  amount: number;
  currency: string;
  reason: RefundRequestReason;
  details: string | null;
  customerId: string;
  purchasedAt: string;
  product: { productId: string; kind: string } | null;
  subscriptionId: string | null;
  submittedAt: string;
  /** The merchant's or the customer's decision, once made (who made it: `refundRequestHistory`). */
  decision: RefundRequestDecision | null;
  /** The credit note an approval issued, and how far its refund is. */
  creditNoteId: string | null;
  creditNoteStatus: CreditNoteStatus | null;
  /** Policy rules set aside, at submission or approval, with the reason given. */
  overrides: PolicyOverride[];
  version: number;
  allowedActions: RefundRequestAction[];
};

/** The decision a request notice or hook speaks of, as recorded with its outbox entry. */
export type RefundRequestDecided = {
  status: Exclude<RefundRequestMachineStatus, 'unsubmitted'>;
  requestId: string;
  amount: number;
  currency: string;
  /** What the approval refunds; null otherwise. */
  approvedAmount: number | null;
  option: SubscriptionOption | null;
  /** The merchant's note to the customer. */
  note: string | null;
  creditNoteId: string | null;
  subscriptionId: string | null;
  decidedAt: string;
  streamVersion: number;
};

export const toRefundRequestView = (
  state: RefundRequestState,
  version: number,
  creditNoteStatus: CreditNoteStatus | null,
): RefundRequestView => {
  const { status, context } = state;
  if (status === 'unsubmitted' || context.payment === null || context.reason === null || context.purchasedAt === null || context.submittedAt === null) {
    throw new Error(`Refund request ${context.requestId || '(unknown)'} has not been submitted`);
  }
  const decision = context.decision;
  const approval = decision?.kind === 'approved' ? decision : null;
  return {
    requestId: context.requestId,
    status: refundRequestStatusOf(status, creditNoteStatus),
    payment: context.payment,
    amount: context.amount,
    currency: context.currency,
    reason: context.reason,
    details: context.details,
    customerId: context.customerId,
    purchasedAt: context.purchasedAt,
    product: context.product,
    subscriptionId: context.subscriptionId,
    submittedAt: context.submittedAt,
    decision,
    creditNoteId: approval?.creditNoteId ?? null,
    creditNoteStatus,
    overrides: [context.submissionOverride, approval?.override ?? null].filter((override) => override !== null),
    version,
    allowedActions: status === 'pending' ? ['approve', 'reject', 'withdraw'] : [],
  };
};

export const decidedOf = (state: RefundRequestState, streamVersion: number, decidedAt: string): RefundRequestDecided => {
  const { status, context } = state;
  if (status === 'unsubmitted') throw new Error('A notice of a request never submitted');
  const decision = context.decision;
  return {
    status,
    requestId: context.requestId,
    amount: context.amount,
    currency: context.currency,
    approvedAmount: decision?.kind === 'approved' ? decision.amount : null,
    option: decision?.kind === 'approved' ? decision.option : null,
    note: decision?.kind === 'approved' || decision?.kind === 'rejected' ? decision.note : null,
    creditNoteId: decision?.kind === 'approved' ? decision.creditNoteId : null,
    subscriptionId: context.subscriptionId,
    decidedAt,
    streamVersion,
  };
};
