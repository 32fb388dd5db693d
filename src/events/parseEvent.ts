import { err, ok, type Result } from 'neverthrow';
import { EventValidationError } from '../errors.js';
import { lazyCheck, REJECTED } from './compileSchema.js';
import {
  eventEnvelopeSchema,
  eventSchemasByType,
  globalPositionSchema,
  isDomainEventType,
  type DomainEvent,
  type DomainEventType,
  type StoredEvent,
} from './envelope.js';
import { toValidationIssues } from './validationIssues.js';

const compileByType = (extend: (schema: (typeof eventSchemasByType)[DomainEventType]) => (typeof eventSchemasByType)[DomainEventType]) =>
  new Map(Object.entries(eventSchemasByType).map(([type, schema]) => [type, lazyCheck(extend(schema))]));

// One compiled check per event type, chosen by `type`: no union to try, no generic check machinery per field.
const eventChecks = compileByType((schema) => schema);
const storedEventChecks = compileByType((schema) => schema.extend({ globalPosition: globalPositionSchema }));

const typeError = (input: unknown): EventValidationError | null => {
  if (typeof input !== 'object' || input === null) return new EventValidationError([{ path: '', message: 'must be an object' }]);
  const type = (input as { type?: unknown }).type;
  return typeof type === 'string' && isDomainEventType(type)
    ? null
    : new EventValidationError([{ path: 'type', message: `unknown event type ${JSON.stringify(type)}` }]);
};

/** Runs zod itself on a rejected event, for the issues naming what is wrong (the slow path is the failing one). */
const explainRejection = (input: unknown): EventValidationError => {
  const parsed = eventEnvelopeSchema.safeParse(input);
  return new EventValidationError(
    parsed.success ? [{ path: '', message: 'is not a valid event' }] : toValidationIssues(parsed.error),
  );
};

/**
 * Validates anything claiming to be a domain event: a stored row, a line of a
 * replayed log, an event built in memory. The error names the wrong field.
 */
export const parseEvent = (input: unknown): Result<DomainEvent, EventValidationError> => {
  const wrongType = typeError(input);
  if (wrongType !== null) return err(wrongType);
  const parsed = eventChecks.get((input as { type: string }).type)!(input);
  return parsed === REJECTED ? err(explainRejection(input)) : ok(parsed as DomainEvent);
};

/** As {@link parseEvent}, keeping the global position the store assigned. */
export const parseStoredEvent = (input: unknown): Result<StoredEvent, EventValidationError> => {
  const position = (input as { globalPosition?: unknown } | null)?.globalPosition;
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 1) {
    return err(new EventValidationError([{ path: 'globalPosition', message: 'must be a positive integer' }]));
  }
  const wrongType = typeError(input);
  if (wrongType !== null) return err(wrongType);
  const parsed = storedEventChecks.get((input as { type: string }).type)!(input);
  return parsed === REJECTED ? err(explainRejection(input)) : ok(parsed as StoredEvent);
};
