import { err, ok, type Result } from 'neverthrow';
import { EventValidationError } from '../errors.js';
import { CURRENT_SCHEMA_VERSION } from './envelope.js';

/** An event as it was written (a stored row, a log line), before validation: only its shape is known. */
export type RawEvent = { readonly [field: string]: unknown };

/**
 * Rewrites one event from schema version n into the shape of version n + 1.
 * Stored events may be frozen or shared with the store, so a step returns new
 * objects for what it changes and leaves the rest shared; the upcaster, not
 * the step, stamps the new version.
 */
export type UpcastStep = (event: RawEvent) => RawEvent;

/** Step n takes an event from version n to n + 1; every version below the current one needs its step. */
export type UpcastSteps = Readonly<Record<number, UpcastStep>>;

/** Brings an event of any version this library has written to the current one; the event itself is left as it was. */
export type Upcaster = (input: unknown) => Result<RawEvent, EventValidationError>;

const refused = (path: string, message: string) => err(new EventValidationError([{ path, message }]));

export const createUpcaster = (steps: UpcastSteps, currentVersion: number): Upcaster => {
  // A missing step is a bug of this library's, not bad data: fail when the module loads, not on some old event.
  for (let version = 1; version < currentVersion; version += 1) {
    if (typeof steps[version] !== 'function') throw new Error(`No upcast step from schema version ${version} to ${version + 1}`);
  }
  return (input) => {
    if (typeof input !== 'object' || input === null) return refused('', 'must be an object');
    const written = (input as RawEvent).schemaVersion;
    if (written === currentVersion) return ok(input as RawEvent);
    if (typeof written !== 'number' || !Number.isInteger(written) || written < 1) {
      return refused('schemaVersion', 'must be a positive integer, the schema version the event was written in');
    }
    if (written > currentVersion) {
      // Reading it anyway would drop or misread what the newer version added: the host must upgrade this library first.
      return refused(
        'schemaVersion',
        `written by a newer refund-lifecycle: schema version ${written}, this one reads up to ${currentVersion}`,
      );
    }
    let event = input as RawEvent;
    for (let version = written; version < currentVersion; version += 1) {
      event = { ...steps[version]!(event), schemaVersion: version + 1 };
    }
    return ok(event);
  };
};

const isRecord = (value: unknown): value is RawEvent => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A step for fields a version made required: an older event of one of these
 * types that lacks one gets the value its absence meant. Data that is not an
 * object is left for validation to refuse.
 */
const fillInData =
  (meaningOfAbsence: Readonly<Record<string, RawEvent>>): UpcastStep =>
  (event) => {
    const type = event.type;
    const data = event.data;
    if (typeof type !== 'string' || !Object.hasOwn(meaningOfAbsence, type) || !isRecord(data)) return event;
    let filled: Record<string, unknown> | null = null;
    for (const [field, value] of Object.entries(meaningOfAbsence[type]!)) {
      // `undefined` counts as absent, as the zod defaults these fields had in version 1 treated it.
      if (data[field] !== undefined) continue;
      filled ??= { ...data };
      filled[field] = value;
    }
    return filled === null ? event : { ...event, data: filled };
  };

/** The domain's history, one step per schema version. */
const domainSteps: UpcastSteps = {
  1: fillInData({
    // Version 1 predates credit notes of processor origin (refunds made in the dashboard): every one was the host's.
    CreditNoteIssued: { origin: 'host' },
    // Version 1 did not record why the processor kept a refund pending: read as "no reason given".
    RefundAccepted: { pendingReason: null },
    RefundProgressed: { pendingReason: null },
  }),
};

/**
 * Brings a stored or logged event of any older schema version to
 * {@link CURRENT_SCHEMA_VERSION}, before validation; an event already there
 * comes back as the same object. `parseEvent` and `parseStoredEvent` call it,
 * so every reader of stored events sees current events only.
 */
export const upcastEvent: Upcaster = createUpcaster(domainSteps, CURRENT_SCHEMA_VERSION);
