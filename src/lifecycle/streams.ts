import { err, ok, type Result } from 'neverthrow';
import { EventValidationError } from '../errors.js';
import { isCreditNoteEvent, isPaymentEvent, type StoredEvent } from '../events/envelope.js';
import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import type { PaymentEvent } from '../events/paymentEvents.js';
import { parseStoredEvent } from '../events/parseEvent.js';
import { foldCreditNote } from '../machine/fold.js';
import type { CreditNoteState } from '../machine/creditNoteState.js';
import { foldPayment, type PaymentState } from '../machine/paymentState.js';
import type { CreditNoteSummary, EventStore } from '../ports/eventStore.js';

export const CREDIT_NOTE_STREAM_PREFIX = 'credit-note-';
export const PAYMENT_STREAM_PREFIX = 'payment-';
export const creditNoteStreamId = (creditNoteId: string): string => `${CREDIT_NOTE_STREAM_PREFIX}${creditNoteId}`;
export const paymentStreamId = (paymentId: string): string => `${PAYMENT_STREAM_PREFIX}${paymentId}`;

/** The read-model row of a credit note at a stream version, written in the same append as the events that led there. */
export const creditNoteSummary = (streamId: string, version: number, state: CreditNoteState, updatedAt: string): CreditNoteSummary => ({
  creditNoteId: state.context.creditNoteId,
  streamId,
  status: state.status,
  paymentId: state.context.payment?.paymentId ?? null,
  version,
  // Canonical UTC: rows are ordered by this text (sweep, operations), and an imported event may carry an offset.
  updatedAt: new Date(updatedAt).toISOString(),
  state,
});

/** A credit note's state at a stream version: what a decision appended, or what a load replayed. */
export type KnownCreditNote = { streamId: string; version: number; state: CreditNoteState };
export type LoadedCreditNote = KnownCreditNote & { events: StoredEvent[] };
export type LoadedPayment = { streamId: string; version: number; state: PaymentState; events: StoredEvent[] };

/** Stored events are data entering the process: each is validated, and the replay must be one the machine accepts. */
export const readValidated = async (store: EventStore, streamId: string): Promise<Result<{ version: number; events: StoredEvent[] }, EventValidationError>> => {
  const { version, events } = await store.readStream(streamId);
  const parsed: StoredEvent[] = new Array(events.length);
  for (let index = 0; index < events.length; index += 1) {
    const event = parseStoredEvent(events[index]);
    if (event.isErr()) {
      return err(new EventValidationError(event.error.issues.map((issue) => ({ path: `${streamId}[${index}].${issue.path}`, message: issue.message }))));
    }
    parsed[index] = event.value;
  }
  return ok({ version, events: parsed });
};

export const loadCreditNote = async (
  store: EventStore,
  creditNoteId: string,
): Promise<Result<LoadedCreditNote, EventValidationError>> => {
  const streamId = creditNoteStreamId(creditNoteId);
  const read = await readValidated(store, streamId);
  if (read.isErr()) return err(read.error);
  const { version, events } = read.value;
  // A stored event is a domain event with its envelope around it: the fold reads only type, data and occurredAt.
  const replay = foldCreditNote(events.filter(isCreditNoteEvent) as CreditNoteEvent[]);
  if (replay.rejected !== null) {
    return err(
      new EventValidationError([
        {
          path: `${streamId}[${replay.rejected.index}]`,
          message: `${replay.rejected.event.type} is not a transition the lifecycle allows from ${replay.state.status}`,
        },
      ]),
    );
  }
  return ok({ streamId, version, state: replay.state, events });
};

export const loadPayment = async (
  store: EventStore,
  paymentId: string,
): Promise<Result<LoadedPayment, EventValidationError>> => {
  const streamId = paymentStreamId(paymentId);
  return (await readValidated(store, streamId)).map(({ version, events }) => ({
    streamId,
    version,
    state: foldPayment(events.filter(isPaymentEvent) as PaymentEvent[]),
    events,
  }));
};
