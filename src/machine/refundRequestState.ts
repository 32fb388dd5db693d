import type { PolicyOverride, RefundRequestReason, SubscriptionOption } from '../events/refundRequestEvents.js';
import type { PaymentRef } from '../events/primitives.js';
import type { CreditNoteStatus } from './creditNoteState.js';

/** Where the request's own events leave it. `unsubmitted` is the state before the first event. */
export const refundRequestMachineStatuses = ['unsubmitted', 'pending', 'approved', 'rejected', 'withdrawn'] as const;
export type RefundRequestMachineStatus = (typeof refundRequestMachineStatuses)[number];

/**
 * The ticket's status as the merchant and customer see it (seed 004). An
 * approved request is `processing`, `succeeded` or `failed` as its credit note
 * is: derived on every read, never recorded twice.
 */
export const refundRequestStatuses = ['pending', 'processing', 'succeeded', 'failed', 'rejected', 'withdrawn'] as const;
export type RefundRequestStatus = (typeof refundRequestStatuses)[number];

export type RefundRequestDecision =
  | {
      kind: 'approved';
      option: SubscriptionOption;
      /** Null for `cancel_only`: nothing was refunded. */
      creditNoteId: string | null;
      amount: number | null;
      note: string | null;
      override: PolicyOverride | null;
      decidedAt: string;
    }
  | { kind: 'rejected'; note: string | null; decidedAt: string }
  | { kind: 'withdrawn'; details: string | null; decidedAt: string };

export type RefundRequestContext = {
  requestId: string;
  payment: PaymentRef | null;
  amount: number;
  currency: string;
  reason: RefundRequestReason | null;
  details: string | null;
  customerId: string;
  purchasedAt: string | null;
  product: { productId: string; kind: string } | null;
  subscriptionId: string | null;
  /** The rules an operator overrode to accept the submission. */
  submissionOverride: PolicyOverride | null;
  submittedAt: string | null;
  decision: RefundRequestDecision | null;
};

export type RefundRequestState = { status: RefundRequestMachineStatus; context: RefundRequestContext };

export const initialRefundRequestState: RefundRequestState = {
  status: 'unsubmitted',
  context: {
    requestId: '',
    payment: null,
    amount: 0,
    currency: '',
    reason: null,
    details: null,
    customerId: '',
    purchasedAt: null,
    product: null,
    subscriptionId: null,
    submissionOverride: null,
    submittedAt: null,
    decision: null,
  },
};

/**
 * The ticket's status: its own for every decision but an approval. An
 * approved refund is as far as its credit note; a cancel-only approval
 * (no credit note: `null`) refunds nothing and is done. A credit note that
 * cannot be found is `unissued`: processing, never reported as refunded.
 */
export const refundRequestStatusOf = (
  status: Exclude<RefundRequestMachineStatus, 'unsubmitted'>,
  creditNoteStatus: CreditNoteStatus | null,
): RefundRequestStatus => {
  if (status !== 'approved') return status;
  switch (creditNoteStatus) {
    case null:
    case 'succeeded':
    case 'manual':
      return 'succeeded';
    case 'failed':
      return 'failed';
    default:
      return 'processing';
  }
};
