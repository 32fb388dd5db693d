import { err, ok, safeTry, type Result } from 'neverthrow';
import { EventValidationError, type ValidationIssue } from '../errors.js';
import { isCreditNoteEvent, isPaymentEvent, type StoredEvent } from '../events/envelope.js';
import type { CreditNoteEvent } from '../events/creditNoteEvents.js';
import type { PaymentEvent } from '../events/paymentEvents.js';
import { parseStoredEvent } from '../events/parseEvent.js';
import { foldCreditNote } from '../machine/fold.js';
import type { CreditNoteState } from '../machine/creditNoteState.js';
import { foldPayment, type PaymentState } from '../machine/paymentState.js';
import type { EventStore } from '../ports/eventStore.js';

export const creditNoteStreamId = (creditNoteId: string): string => `credit-note-${creditNoteId}`;
export const paymentStreamId = (paymentId: string): string => `payment-${paymentId}`;

/** A credit note's state at a stream version: what a decision appended, or what a load replayed. */
export type KnownCreditNote = { streamId: string; version: number; state: CreditNoteState };
export type LoadedCreditNote = KnownCreditNote & { events: StoredEvent[] };
export type LoadedPayment = { streamId: string; version: number; state: PaymentState; events: StoredEvent[] };

const toDomain = (event: StoredEvent) => ({ type: event.type, data: event.data, occurredAt: event.occurredAt });

/** Stored events are data entering the process: each is validated, and the replay must be one the machine accepts. */
const readValidated = (store: EventStore, streamId: string) =>
  safeTry(async function* () {
    const { version, events } = await store.readStream(streamId);
    const parsed: StoredEvent[] = [];
    for (const [index, raw] of events.entries()) {
      const at = (issue: ValidationIssue) => ({ path: `${streamId}[${index}].${issue.path}`, message: issue.message });
      parsed.push(yield* parseStoredEvent(raw).mapErr((error) => new EventValidationError(error.issues.map(at))));
    }
    return ok({ version, events: parsed });
  });

export const loadCreditNote = async (
  store: EventStore,
  creditNoteId: string,
): Promise<Result<LoadedCreditNote, EventValidationError>> =>
  safeTry(async function* () {
    const streamId = creditNoteStreamId(creditNoteId);
    const { version, events } = yield* readValidated(store, streamId);
    const replay = foldCreditNote(events.filter(isCreditNoteEvent).map((event) => toDomain(event) as CreditNoteEvent));
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
  });

export const loadPayment = async (
  store: EventStore,
  paymentId: string,
): Promise<Result<LoadedPayment, EventValidationError>> => {
  const streamId = paymentStreamId(paymentId);
  return readValidated(store, streamId).map(({ version, events }) => ({
    streamId,
    version,
    state: foldPayment(events.filter(isPaymentEvent).map((event) => toDomain(event) as PaymentEvent)),
    events,
  }));
};
