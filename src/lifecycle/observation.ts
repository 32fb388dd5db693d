import type { CreditNoteState } from '../machine/creditNoteState.js';
import type { ProcessorRefund } from '../ports/refundGateway.js';
import type { ProposedCreditNoteEvent } from './creditNoteChange.js';

/**
 * What one look at the processor's refund tells us, whatever carried it (a
 * webhook, a refresh, the create call's answer), through the same transition
 * logic (docs/glossary.md#observation). The machine then keeps only what is
 * new, so duplicates, stale and out-of-order observations change nothing.
 */
export const eventsForObservation = (state: CreditNoteState, refund: ProcessorRefund): ProposedCreditNoteEvent[] => {
  const current = state.context.refund;
  if (current === null) return [];
  const attempt =
    refund.metadata.attempt ?? (current.processorRefundId === refund.processorRefundId ? current.attempt : null);
  // An older attempt's news (a late webhook of a refund that failed before a retry) is history, not state.
  if (attempt !== current.attempt) return [];
  // Metadata can be copied onto any refund; only one that refunds this attempt's payment, amount and currency
  // (and, once known, is the very refund the processor accepted) may settle the credit note.
  const paymentId = state.context.payment?.paymentId;
  const samePayment = refund.paymentId === paymentId || (paymentId !== undefined && (refund.paymentAliases ?? []).includes(paymentId));
  const sameRefund =
    samePayment &&
    refund.amount === current.amount &&
    refund.currency === current.currency &&
    (current.processorRefundId === null || current.processorRefundId === refund.processorRefundId);
  if (!sameRefund) return [];
  const processorRefundId = refund.processorRefundId;
  // A reason only explains a pending refund; whatever a processor says alongside another status is noise.
  const pendingReason = refund.status === 'pending' ? (refund.pendingReason ?? null) : null;
  const events: ProposedCreditNoteEvent[] = [
    { type: 'RefundAccepted', data: { attempt, processorRefundId, processorStatus: refund.status, pendingReason } },
  ];
  if (refund.status === 'pending' || refund.status === 'action_required') {
    events.push({ type: 'RefundProgressed', data: { attempt, processorRefundId, processorStatus: refund.status, pendingReason } });
  }
  if (refund.status === 'succeeded') {
    events.push({ type: 'RefundSucceeded', data: { attempt, processorRefundId } });
  }
  if (refund.status === 'failed' || refund.status === 'canceled') {
    events.push({
      type: 'RefundFailed',
      data: {
        attempt,
        processorRefundId,
        processorReason: refund.failure?.reason ?? refund.status,
        classification: refund.failure?.classification ?? { retry: 'may_help', recovery: 'retry' },
        message: refund.failure?.message ?? `The processor reports the refund ${refund.status}`,
      },
    });
  }
  return events;
};
