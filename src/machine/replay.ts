import { err, ok, type Result } from 'neverthrow';
import { EventValidationError } from '../errors.js';
import { isCreditNoteEvent, type DomainEvent } from '../events/envelope.js';
import { parseEvent } from '../events/parseEvent.js';
import type { CreditNoteState, CreditNoteStatus } from './creditNoteState.js';
import { evolveCreditNote } from './fold.js';
import { initialCreditNoteState } from './creditNoteState.js';

export type ReplayStep = { event: DomainEvent; from: CreditNoteStatus; to: CreditNoteStatus };

/**
 * "Why is this refund stuck?": replays a credit note's exported log (parsed
 * JSON, e.g. from `history()` or a database dump) and explains each step.
 * Every event is validated; one the lifecycle would not allow is reported
 * with its index rather than silently skipped.
 */
export const replayCreditNote = (
  rawEvents: readonly unknown[],
): Result<{ state: CreditNoteState; steps: ReplayStep[] }, EventValidationError> => {
  let state = initialCreditNoteState;
  const steps: ReplayStep[] = [];
  for (const [index, raw] of rawEvents.entries()) {
    const parsed = parseEvent(raw);
    if (parsed.isErr()) {
      return err(
        new EventValidationError(parsed.error.issues.map((issue) => ({ ...issue, path: `[${index}].${issue.path}` }))),
      );
    }
    const event = parsed.value;
    if (!isCreditNoteEvent(event)) continue;
    const next = evolveCreditNote(state, { type: event.type, data: event.data, occurredAt: event.occurredAt } as never);
    if (!next.accepted) {
      return err(
        new EventValidationError([
          { path: `[${index}]`, message: `${event.type} is not allowed from ${state.status}` },
        ]),
      );
    }
    steps.push({ event, from: state.status, to: next.state.status });
    state = next.state;
  }
  return ok({ state, steps });
};
