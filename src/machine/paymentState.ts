import type { z } from 'zod';
import type { PaymentEvent, paymentDescribedSchema } from '../events/paymentEvents.js';

/** What the processor said of the payment, as recorded by `PaymentDescribed`. */
export type PaymentFacts = z.output<typeof paymentDescribedSchema>;

/** What the payment stream tells: is the charge confirmed, what was charged, and which credit notes refund it. */
export type PaymentState = {
  chargeConfirmed: boolean;
  facts: PaymentFacts | null;
  creditNotes: Array<{ creditNoteId: string; amount: number; currency: string }>;
  /** Refund requests awaiting review: at most one. */
  openRequests: string[];
};

export const initialPaymentState: PaymentState = { chargeConfirmed: false, facts: null, creditNotes: [], openRequests: [] };

/**
 * Every credit note counts against the charge, a failed one included: it is
 * still owed (retry it or mark it refunded). Concurrent issues serialise on
 * this stream, so two can never both take the last euro. (The issue command
 * then gives back what failed dashboard refunds hold: see issueCreditNote.)
 */
export const committedAmount = (state: PaymentState): number =>
  state.creditNotes.reduce((sum, creditNote) => sum + creditNote.amount, 0);

export const evolvePayment = (state: PaymentState, event: PaymentEvent): PaymentState => {
  switch (event.type) {
    case 'ChargeConfirmed':
      return { ...state, chargeConfirmed: true };
    case 'PaymentDescribed':
      return { ...state, facts: event.data };
    case 'CreditNoteAttached':
      return { ...state, creditNotes: [...state.creditNotes, event.data] };
    case 'RefundRequestOpened':
      return { ...state, openRequests: [...state.openRequests, event.data.requestId] };
    case 'RefundRequestClosed':
      return { ...state, openRequests: state.openRequests.filter((requestId) => requestId !== event.data.requestId) };
  }
};

export const foldPayment = (events: Iterable<PaymentEvent>): PaymentState => {
  let state = initialPaymentState;
  for (const event of events) state = evolvePayment(state, event);
  return state;
};
