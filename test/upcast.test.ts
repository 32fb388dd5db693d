import { describe, expect, it } from 'vitest';
import { EventValidationError } from '../src/errors.js';
import { CURRENT_SCHEMA_VERSION } from '../src/events/envelope.js';
import { parseEvent, parseStoredEvent } from '../src/events/parseEvent.js';
import { createUpcaster, upcastEvent, type RawEvent, type UpcastSteps } from '../src/events/upcast.js';
import { replayCreditNote } from '../src/machine/replay.js';
import { creditNoteHistories, readSchemaV1Log, schemaV1FinalStates, schemaV1Statuses } from './support/schemaV1Log.js';

/*
 * Stored events are never rewritten: an event of an older schema version is
 * brought to the current one each time it is read, before validation, and
 * whatever it was read from (a frozen in-memory row, a shared object) is left
 * exactly as it was.
 */

const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
};

/** A frozen event and a copy of it to compare against afterwards. */
const frozenWithSnapshot = <T>(value: T): [T, T] => [deepFreeze(structuredClone(value)), structuredClone(value)];

const v1 = (type: string, data: Record<string, unknown> | null, overrides: Record<string, unknown> = {}) => ({
  eventId: 'evt_1',
  streamId: 'credit-note-cn_1',
  streamVersion: 1,
  schemaVersion: 1,
  occurredAt: '2025-03-01T10:00:00.000Z',
  actor: { kind: 'user', id: 'u_1' },
  causationId: null,
  correlationId: 'corr_1',
  source: 'command',
  type,
  data,
  ...overrides,
});

const issuedV1 = { creditNoteId: 'cn_1', amount: 5000, currency: 'eur', payment: { processor: 'stripe', paymentId: 'pi_1', account: null }, reason: 'order cancelled' };
const acceptedV1 = { attempt: 1, processorRefundId: 're_1', processorStatus: 'pending' };

const upcast = (input: unknown): RawEvent => upcastEvent(input)._unsafeUnwrap();
const refusal = (input: unknown): EventValidationError => upcastEvent(input)._unsafeUnwrapErr();

describe('upcastEvent, schema version 1 to 2', () => {
  it('reads a CreditNoteIssued without origin as issued by the host', () => {
    expect(upcast(v1('CreditNoteIssued', issuedV1))).toEqual(
      v1('CreditNoteIssued', { ...issuedV1, origin: 'host' }, { schemaVersion: 2 }),
    );
  });

  it.each(['RefundAccepted', 'RefundProgressed'])('reads a %s without pendingReason as giving no reason', (type) => {
    expect(upcast(v1(type, acceptedV1))).toEqual(v1(type, { ...acceptedV1, pendingReason: null }, { schemaVersion: 2 }));
  });

  it('keeps a value already there: only absence is filled in', () => {
    expect(upcast(v1('CreditNoteIssued', { ...issuedV1, origin: 'processor' })).data).toMatchObject({ origin: 'processor' });
    expect(upcast(v1('RefundAccepted', { ...acceptedV1, pendingReason: 'insufficient_funds' })).data).toMatchObject({
      pendingReason: 'insufficient_funds',
    });
  });

  it('moves every other event type to version 2 as it is, sharing its data', () => {
    const requested = v1('RefundRequested', { attempt: 1, idempotencyKey: 'cn_1:refund:1', amount: 5000, currency: 'eur' });

    const result = upcast(requested);

    expect(result).toEqual({ ...requested, schemaVersion: 2 });
    expect(result.data).toBe(requested.data);
  });

  it('leaves data that is not an object, or an unknown type, for validation to refuse', () => {
    expect(upcast(v1('CreditNoteIssued', null)).data).toBeNull();
    expect(upcast(v1('RefundTeleported', { ...acceptedV1 })).data).toEqual(acceptedV1);
    expect(upcast(v1('toString', { ...acceptedV1 })).data).toEqual(acceptedV1);
  });

  it('never writes to the event it reads: frozen inputs come back unchanged, untouched parts shared', () => {
    for (const event of [v1('CreditNoteIssued', issuedV1), v1('RefundAccepted', acceptedV1), v1('RefundProgressed', acceptedV1)]) {
      const [frozen, snapshot] = frozenWithSnapshot(event);

      const result = upcast(frozen);

      expect(frozen).toEqual(snapshot);
      expect(result).not.toBe(frozen);
      expect(result.data).not.toBe(frozen.data);
      expect(result.actor).toBe(frozen.actor);
    }
  });

  it('returns an event of the current version as the same object', () => {
    const current = deepFreeze(v1('CreditNoteIssued', { ...issuedV1, origin: 'host' }, { schemaVersion: CURRENT_SCHEMA_VERSION }));

    expect(upcastEvent(current)._unsafeUnwrap()).toBe(current);
  });

  it.each([CURRENT_SCHEMA_VERSION + 1, 17])('refuses schema version %i, written by a newer refund-lifecycle', (version) => {
    const error = refusal(v1('CreditNoteIssued', issuedV1, { schemaVersion: version }));

    expect(error).toBeInstanceOf(EventValidationError);
    expect(error.issues).toEqual([
      {
        path: 'schemaVersion',
        message: `written by a newer refund-lifecycle: schema version ${version}, this one reads up to ${CURRENT_SCHEMA_VERSION}`,
      },
    ]);
  });

  it.each([[undefined], [null], [0], [-1], [1.5], ['1'], [Number.NaN], [Number.POSITIVE_INFINITY]])(
    'refuses schemaVersion %s, naming the field',
    (version) => {
      expect(refusal(v1('CreditNoteIssued', issuedV1, { schemaVersion: version })).field).toBe('schemaVersion');
    },
  );

  it('refuses a non-object at the root', () => {
    for (const input of [null, undefined, 'CreditNoteIssued', 42]) expect(refusal(input).field).toBe('');
  });
});

describe('createUpcaster, a chain of versions', () => {
  // A synthetic history: version 2 renamed data.total to data.amount, version 3 renamed happenedAt to occurredAt.
  const steps: UpcastSteps = {
    1: ({ data, ...event }) => {
      const { total, ...rest } = data as Record<string, unknown>;
      return { ...event, data: { ...rest, amount: total } };
    },
    2: ({ happenedAt, ...event }) => ({ ...event, occurredAt: happenedAt }),
  };
  const toVersion3 = createUpcaster(steps, 3);
  const writtenIn = {
    1: { schemaVersion: 1, type: 'Charged', happenedAt: '2025-01-01T00:00:00.000Z', actor: { id: 'u_1' }, data: { total: 100, note: 'x' } },
    2: { schemaVersion: 2, type: 'Charged', happenedAt: '2025-01-01T00:00:00.000Z', actor: { id: 'u_1' }, data: { amount: 100, note: 'x' } },
    3: { schemaVersion: 3, type: 'Charged', occurredAt: '2025-01-01T00:00:00.000Z', actor: { id: 'u_1' }, data: { amount: 100, note: 'x' } },
  };

  it.each([1, 2] as const)('brings version %i to version 3, every rename applied once, nothing written to the input', (version) => {
    const [frozen, snapshot] = frozenWithSnapshot(writtenIn[version]);

    const result = toVersion3(frozen)._unsafeUnwrap();

    expect(result).toStrictEqual(writtenIn[3]);
    expect(frozen).toStrictEqual(snapshot);
    expect(result.actor).toBe(frozen.actor);
  });

  it('is idempotent: an event already at version 3 is the same object, however often it is upcast', () => {
    const once = toVersion3(writtenIn[1])._unsafeUnwrap();

    expect(toVersion3(once)._unsafeUnwrap()).toBe(once);
    expect(toVersion3(writtenIn[3])._unsafeUnwrap()).toBe(writtenIn[3]);
  });

  it('refuses version 4 in the words of a newer writer', () => {
    expect(toVersion3({ ...writtenIn[3], schemaVersion: 4 })._unsafeUnwrapErr().message).toContain(
      'schema version 4, this one reads up to 3',
    );
  });

  it('will not be built with a version left without its step', () => {
    expect(() => createUpcaster({ 1: steps[1]! }, 3)).toThrow(/from schema version 2 to 3/);
  });
});

describe('parseEvent and parseStoredEvent read older versions through the upcaster', () => {
  it('returns a version 1 event as a valid current event and leaves the stored one as it was', () => {
    const [frozen, snapshot] = frozenWithSnapshot({ ...v1('CreditNoteIssued', issuedV1), globalPosition: 7 });

    const parsed = parseStoredEvent(frozen)._unsafeUnwrap();

    expect(parsed).toMatchObject({ schemaVersion: CURRENT_SCHEMA_VERSION, globalPosition: 7, data: { origin: 'host' } });
    expect(parseEvent(frozen)._unsafeUnwrap().data).toEqual(parsed.data);
    expect(frozen).toEqual(snapshot);
  });

  it('validates what the upcaster made of an old event, naming the wrong field', () => {
    const error = parseEvent(v1('CreditNoteIssued', { ...issuedV1, amount: 12.5 }))._unsafeUnwrapErr();

    expect(error.issues.map((issue) => issue.path)).toEqual(['data.amount']);
  });

  it('refuses an event of a newer version as an EventValidationError on schemaVersion', () => {
    const newer = { ...v1('CreditNoteIssued', issuedV1, { schemaVersion: CURRENT_SCHEMA_VERSION + 1 }), globalPosition: 1 };

    for (const result of [parseEvent(newer), parseStoredEvent(newer)]) {
      const error = result._unsafeUnwrapErr();
      expect(error).toBeInstanceOf(EventValidationError);
      expect(error.field).toBe('schemaVersion');
      expect(error.message).toContain('written by a newer refund-lifecycle');
    }
  });
});

describe('a log written in schema version 1 (test/fixtures/logs/schema-v1.jsonl)', () => {
  const lines = readSchemaV1Log();

  it('is what version 1 wrote: no origin, no pendingReason, in global commit order', () => {
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.map((line) => line.globalPosition)).toEqual(lines.map((_, index) => index + 1));
    for (const line of lines) {
      expect(line.schemaVersion).toBe(1);
      expect(line.data).not.toHaveProperty('origin');
      expect(line.data).not.toHaveProperty('pendingReason');
    }
    expect(new Set(lines.map((line) => line.type))).toEqual(
      new Set(['CreditNoteIssued', 'RefundRequested', 'RefundAccepted', 'RefundProgressed', 'RefundSucceeded', 'RefundFailed', 'RefundDeferred',
        'MarkedRefundedManually', 'PaymentDescribed', 'ChargeConfirmed', 'CreditNoteAttached']),
    );
  });

  it('parses line by line into current events carrying the fields version 2 requires', () => {
    for (const line of lines) {
      const event = parseStoredEvent(line)._unsafeUnwrap();
      expect(event.schemaVersion).toBe(CURRENT_SCHEMA_VERSION);
      expect(event.globalPosition).toBe(line.globalPosition);
      if (event.type === 'CreditNoteIssued') expect(event.data.origin).toBe('host');
      if (event.type === 'RefundAccepted' || event.type === 'RefundProgressed') expect(event.data.pendingReason).toBeNull();
    }
  });

  it('replays every credit note to the state the run that wrote it left it in', () => {
    const finalStates = schemaV1FinalStates();
    const byCreditNote = creditNoteHistories(lines);

    expect([...byCreditNote.keys()].sort()).toEqual(Object.keys(schemaV1Statuses).sort());
    for (const [creditNoteId, events] of byCreditNote) {
      const { state } = replayCreditNote(events)._unsafeUnwrap();
      expect(state.status, creditNoteId).toBe(schemaV1Statuses[creditNoteId]);
      expect(state, creditNoteId).toEqual(finalStates[creditNoteId]);
    }
  });
});
