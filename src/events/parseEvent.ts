import { err, ok, type Result } from 'neverthrow';
import { EventValidationError } from '../errors.js';
import { lazyCheck, REJECTED } from './compileSchema.js';
import {
  CURRENT_SCHEMA_VERSION,
  eventEnvelopeSchema,
  eventSchemasByType,
  globalPositionSchema,
  isDomainEventType,
  type DomainEvent,
  type DomainEventType,
  type StoredEvent,
} from './envelope.js';
import { upcastEvent } from './upcast.js';
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

/** The compiled check of the event's type, on an event in the current schema version. */
const checkCurrent = <T>(checks: typeof eventChecks, input: unknown): Result<T, EventValidationError> => {
  const wrongType = typeError(input);
  if (wrongType !== null) return err(wrongType);
  const parsed = checks.get((input as { type: string }).type)!(input);
  return parsed === REJECTED ? err(explainRejection(input)) : ok(parsed as T);
};

// Nearly every event read was written by this version: those go straight to the check, with nothing copied.
const isCurrentVersion = (input: unknown): boolean =>
  typeof input === 'object' && input !== null && (input as { schemaVersion?: unknown }).schemaVersion === CURRENT_SCHEMA_VERSION;

/**
 * Validates anything claiming to be a domain event: a stored row, a line of a
 * replayed log, an event built in memory. An event of an older schema version
 * is upcast first (the input is left as it was), so callers only ever see
 * current events. The error names the wrong field.
 */
export const parseEvent = (input: unknown): Result<DomainEvent, EventValidationError> =>
  isCurrentVersion(input)
    ? checkCurrent<DomainEvent>(eventChecks, input)
    : upcastEvent(input).andThen((event) => checkCurrent<DomainEvent>(eventChecks, event));

/**
 * A line of a log: a stored event (with the position a store gave it, as an export holds it) or a bare event (as
 * one credit note's history may be written), each validated as such.
 */
export const parseLoggedEvent = (input: unknown): Result<DomainEvent | StoredEvent, EventValidationError> =>
  typeof input === 'object' && input !== null && 'globalPosition' in input ? parseStoredEvent(input) : parseEvent(input);

/** As {@link parseEvent}, keeping the global position the store assigned. */
export const parseStoredEvent = (input: unknown): Result<StoredEvent, EventValidationError> => {
  const position = (input as { globalPosition?: unknown } | null)?.globalPosition;
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 1) {
    return err(new EventValidationError([{ path: 'globalPosition', message: 'must be a positive integer' }]));
  }
  return isCurrentVersion(input)
    ? checkCurrent<StoredEvent>(storedEventChecks, input)
    : upcastEvent(input).andThen((event) => checkCurrent<StoredEvent>(storedEventChecks, event));
};
