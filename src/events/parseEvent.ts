import { err, ok, type Result } from 'neverthrow';
import { EventValidationError } from '../errors.js';
import { eventEnvelopeSchema, isDomainEventType, type DomainEvent, type StoredEvent } from './envelope.js';
import { toValidationIssues } from './validationIssues.js';

/**
 * Validates anything claiming to be a domain event: a stored row, a line of a
 * replayed log, an event built in memory. The error names the wrong field.
 */
export const parseEvent = (input: unknown): Result<DomainEvent, EventValidationError> => {
  if (typeof input !== 'object' || input === null) {
    return err(new EventValidationError([{ path: '', message: 'must be an object' }]));
  }
  const type = (input as { type?: unknown }).type;
  if (typeof type !== 'string' || !isDomainEventType(type)) {
    return err(new EventValidationError([{ path: 'type', message: `unknown event type ${JSON.stringify(type)}` }]));
  }
  const parsed = eventEnvelopeSchema.safeParse(input);
  return parsed.success
    ? ok(parsed.data as unknown as DomainEvent)
    : err(new EventValidationError(toValidationIssues(parsed.error)));
};

/** As {@link parseEvent}, keeping the global position the store assigned. */
export const parseStoredEvent = (input: unknown): Result<StoredEvent, EventValidationError> => {
  const position = (input as { globalPosition?: unknown } | null)?.globalPosition;
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 1) {
    return err(new EventValidationError([{ path: 'globalPosition', message: 'must be a positive integer' }]));
  }
  return parseEvent(input).map((event) => ({ ...event, globalPosition: position }));
};
