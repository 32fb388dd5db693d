import type { PaymentEvent } from '../events/paymentEvents.js';

/** What the payment stream tells: is the charge confirmed, and which credit notes refund it. */
export type PaymentState = {
  chargeConfirmed: boolean;
  creditNotes: Array<{ creditNoteId: string; amount: number; currency: string }>;
};

export const initialPaymentState: PaymentState = { chargeConfirmed: false, creditNotes: [] };

export const evolvePayment = (state: PaymentState, event: PaymentEvent): PaymentState => {
  switch (event.type) {
    case 'ChargeConfirmed':
      return { ...state, chargeConfirmed: true };
    case 'CreditNoteAttached':
      return { ...state, creditNotes: [...state.creditNotes, event.data] };
  }
};

export const foldPayment = (events: Iterable<PaymentEvent>): PaymentState => {
  let state = initialPaymentState;
  for (const event of events) state = evolvePayment(state, event);
  return state;
};
