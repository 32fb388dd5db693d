import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileSchema, REJECTED } from '../src/events/compileSchema.js';
import { creditNoteEventDataSchemas } from '../src/events/creditNoteEvents.js';
import { CURRENT_SCHEMA_VERSION, eventEnvelopeSchema, eventSchemasByType, globalPositionSchema } from '../src/events/envelope.js';
import { parseEvent, parseStoredEvent } from '../src/events/parseEvent.js';
import { paymentEventDataSchemas } from '../src/events/paymentEvents.js';
import { upcastEvent } from '../src/events/upcast.js';
import {
  actorSchema,
  creditNoteIdSchema,
  currencySchema,
  identifierSchema,
  isoTimestampSchema,
  minorAmountSchema,
  paymentRefSchema,
} from '../src/events/primitives.js';
import * as commandInputs from '../src/lifecycle/commandInputs.js';
import { createRefundPayloadSchema, notifyPayloadSchema, runHookPayloadSchema } from '../src/lifecycle/outboxDrafts.js';
import { handledEventObjects, stripeEventEnvelopeSchema } from '../src/adapters/stripe/stripeEventSchemas.js';
import { creditNoteEventArb } from './support/creditNoteEventArbitraries.js';
import { numRuns } from './support/numRuns.js';

const fixtureDir = path.join(import.meta.dirname, 'stripe', 'fixtures');

/*
 * The compiled validators must accept exactly what zod accepts and return
 * exactly what zod returns: the schemas stay the one source of truth.
 * Differential property tests, zod as the oracle.
 */

const zodAnswer = (schema: z.ZodType, input: unknown) => {
  const parsed = schema.safeParse(input);
  return parsed.success ? { accepted: true, value: parsed.data } : { accepted: false };
};
const compiledAnswer = (check: (input: unknown) => unknown, input: unknown) => {
  const value = check(input);
  return value === REJECTED ? { accepted: false } : { accepted: true, value };
};

// Values near the edges of what the schemas check: formats, bounds, types, padding, prototypes.
const edgyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything(),
  fc.constantFrom(
    '',
    ' ',
    ' x ',
    'EUR',
    'eur',
    'eu',
    'EURO',
    're_1',
    're 1',
    'a'.repeat(200),
    'a'.repeat(201),
    'a'.repeat(255),
    'a'.repeat(256),
    // zod measures lengths in code points: a surrogate pair is one, a lone surrogate one too.
    '😀',
    '😀😀',
    '😀😀😀',
    '😀😀😀😀',
    'a😀',
    '\ud83d',
    '\ud83d\ud83d',
    '🏦'.repeat(200),
    '🏦'.repeat(256),
    '🙏'.repeat(999),
    '🙏'.repeat(1001),
    '2026-03-02T09:00:00.000Z',
    '2026-03-02T09:00:00+01:00',
    '2026-03-02T09:00:00',
    '2026-13-02T09:00:00Z',
    '2026-03-02',
    0,
    -0,
    1,
    -1,
    1.5,
    99_999_999_999,
    100_000_000_000,
    Number.MAX_SAFE_INTEGER + 1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    null,
    undefined,
    [],
    {},
    true,
    'pending',
    'succeeded',
    'host',
    'processor',
  ),
);

const envelopeArb = fc.record({
  eventId: fc.uuid(),
  streamId: fc.constant('credit-note-cn_1'),
  streamVersion: fc.integer({ min: 1, max: 50 }),
  schemaVersion: fc.constant(CURRENT_SCHEMA_VERSION),
  occurredAt: fc.constant('2026-03-02T09:00:00.000Z'),
  actor: fc.record({ kind: fc.constantFrom('user', 'system', 'processor'), id: fc.constantFrom('u_1', 'stripe') }),
  causationId: fc.option(fc.constantFrom('evt_1', 'ob_1'), { nil: null }),
  correlationId: fc.uuid(),
  source: fc.constantFrom('command', 'webhook', 'refresh', 'dispatcher'),
  globalPosition: fc.integer({ min: 1, max: 1_000 }),
});

/** A valid event, then zero to three fields replaced by edge values or removed, anywhere in it. */
const maybeBrokenEventArb = fc
  .tuple(
    envelopeArb,
    creditNoteEventArb(),
    fc.array(fc.tuple(fc.nat(), fc.nat(), fc.option(edgyValue, { nil: '__remove__' as const })), { maxLength: 3 }),
    fc.option(fc.constantFrom(...Object.keys(eventSchemasByType)), { freq: 5 }),
  )
  .map(([envelope, event, edits, otherType]) => {
    const input: Record<string, unknown> = structuredClone({ ...envelope, type: otherType ?? event.type, data: event.data });
    for (const [which, inner, value] of edits) {
      const keys = Object.keys(input);
      const key = keys[which % keys.length]!;
      const target = input[key];
      // Into a nested object (data, actor, payment…) half the time.
      if (typeof target === 'object' && target !== null && !Array.isArray(target) && inner % 2 === 0) {
        const innerKeys = Object.keys(target);
        if (innerKeys.length === 0) continue;
        const innerKey = innerKeys[inner % innerKeys.length]!;
        if (value === '__remove__') delete (target as Record<string, unknown>)[innerKey];
        else (target as Record<string, unknown>)[innerKey] = value;
      } else if (value === '__remove__') delete input[key];
      else input[key] = value;
    }
    return input;
  });

describe('compiled schemas', () => {
  it('compile every event schema, stored or not, without falling back to zod', () => {
    for (const [type, schema] of Object.entries(eventSchemasByType)) {
      expect(compileSchema(schema).compiled, type).toBe(true);
      expect(compileSchema(schema.extend({ globalPosition: globalPositionSchema })).compiled, type).toBe(true);
    }
  });

  it('accept and return exactly what zod does for events, valid or broken anywhere', () => {
    fc.assert(
      fc.property(maybeBrokenEventArb, (input) => {
        // An edit may set an older schemaVersion: zod then judges what the upcaster made of it, as the checks do.
        const current = upcastEvent(input).unwrapOr(input);
        const expected = zodAnswer(eventEnvelopeSchema, current);
        const parsed = parseEvent(input);
        expect(parsed.isOk()).toBe(expected.accepted);
        if (parsed.isOk()) expect(parsed.value).toStrictEqual(expected.value);

        const storedExpected = zodAnswer(eventEnvelopeSchema.and(z.object({ globalPosition: globalPositionSchema })), current);
        const stored = parseStoredEvent(input);
        expect(stored.isOk()).toBe(storedExpected.accepted);
        if (stored.isOk()) {
          const { globalPosition, ...event } = stored.value;
          expect(event).toStrictEqual(expected.value);
          expect(globalPosition).toBe(input.globalPosition);
        }
      }),
      { numRuns: numRuns(2_000) },
    );
  });

  it('compile every Stripe event schema the webhook handler validates with', () => {
    for (const [name, schema] of Object.entries({ stripeEventEnvelopeSchema, ...handledEventObjects })) {
      expect(compileSchema(schema as z.ZodType), name).toMatchObject({ compiled: true });
    }
  });

  it('accept and return exactly what zod does for real Stripe events, valid or broken anywhere', () => {
    const fixtures = readdirSync(fixtureDir)
      .filter((name) => name.startsWith('event.') && name.endsWith('.json'))
      .map((name) => JSON.parse(readFileSync(path.join(fixtureDir, name), 'utf8')) as Record<string, unknown>);
    const brokenEventArb = fc
      .tuple(fc.constantFrom(...fixtures), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), edgyValue), { maxLength: 3 }))
      .map(([fixture, edits]) => {
        const event = structuredClone(fixture);
        for (const [a, b, c, value] of edits) {
          // Somewhere in the envelope, in data, or in data.object.
          const data = event.data as Record<string, unknown> | undefined;
          const object = data?.object as Record<string, unknown> | undefined;
          const targets = [event, data, object].filter(
            (candidate): candidate is Record<string, unknown> =>
              typeof candidate === 'object' && candidate !== null && !Array.isArray(candidate),
          );
          const target = targets[a % targets.length]!;
          const keys = Object.keys(target);
          if (keys.length === 0) continue;
          if (c % 4 === 0) delete target[keys[b % keys.length]!];
          else target[keys[b % keys.length]!] = value;
        }
        return event;
      });
    const schemas = { stripeEventEnvelopeSchema, ...handledEventObjects } as Record<string, z.ZodType>;
    const checks = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, compileSchema(schema).check]));
    fc.assert(
      fc.property(brokenEventArb, (event) => {
        expect(compiledAnswer(checks.stripeEventEnvelopeSchema!, event)).toStrictEqual(zodAnswer(stripeEventEnvelopeSchema, event));
        const object = (event.data as { object?: unknown } | undefined)?.object;
        for (const type of Object.keys(handledEventObjects)) {
          expect(compiledAnswer(checks[type]!, object), type).toStrictEqual(zodAnswer(schemas[type]!, object));
        }
      }),
      { numRuns: numRuns(1_000) },
    );
  });

  it('compile every command input schema, outbox payload and processor answer', () => {
    const inputSchemas = [
      ...Object.entries(commandInputs).filter(([name]) => name.endsWith('InputSchema') || name === 'processorRefundSchema'),
      ...Object.entries({ createRefundPayloadSchema, notifyPayloadSchema, runHookPayloadSchema }),
    ];
    expect(inputSchemas.length).toBeGreaterThan(8);
    for (const [name, schema] of inputSchemas) expect(compileSchema(schema as z.ZodType), name).toMatchObject({ compiled: true });
  });

  it('accept and return exactly what zod does for each kind of field the events use', () => {
    const schemas: Record<string, z.ZodType> = {
      identifierSchema,
      creditNoteIdSchema,
      currencySchema,
      isoTimestampSchema,
      minorAmountSchema,
      paymentRefSchema,
      actorSchema,
      ...creditNoteEventDataSchemas,
      ...paymentEventDataSchemas,
      // The compiler's own building blocks, bare, so an edge one schema above happens to mask still shows.
      number: z.number(),
      boundedNumber: z.number().min(-1).max(1),
      positiveNumber: z.number().positive(),
      shortString: z.string().min(1).max(3),
      twoToThree: z.string().min(2).max(3),
      trimmedString: z.string().trim().min(1),
      nullableDefault: z.string().nullable().default(null),
      enumDefault: z.enum(['host', 'processor']).default('host'),
      union: z.union([z.literal('a'), z.number().int()]),
      nullableField: z.object({ a: z.string().nullable() }),
      boolean: z.boolean(),
      array: z.array(z.number().int()).min(1).max(2),
      strictObject: z.strictObject({ a: z.string().optional() }),
      optionalFields: z.object({ a: z.string().optional(), b: z.number().nullable().optional(), c: z.literal(1) }),
    };
    for (const [name, schema] of Object.entries(schemas)) {
      const { check, compiled } = compileSchema(schema);
      expect(compiled, name).toBe(true);
      fc.assert(
        fc.property(edgyValue, (input) => {
          expect(compiledAnswer(check, input), name).toStrictEqual(zodAnswer(schema, input));
        }),
        { numRuns: numRuns(300) },
      );
    }
  });

  it('agrees with zod on corners it leaves to zod, compiled or not', () => {
    enum Numeric {
      A,
      B,
    }
    const corners: Record<string, z.ZodType> = {
      optionalOverDefault: z.object({ a: z.string().default('x').optional() }),
      customRequiredKey: z.object({ a: z.custom(() => true) }),
      undefinedLiteralKey: z.object({ a: z.literal([undefined, 'x']) }),
      protoKey: z.object({ ['__proto__']: z.string().optional(), b: z.string() }),
      exactOptional: z.object({ a: z.string().exactOptional() }),
      numericEnum: z.enum(Numeric),
      transformWithContext: z.string().transform((value, context) => {
        if (value === 'bad') context.issues.push({ code: 'custom', message: 'bad', input: value });
        return value.length;
      }),
    };
    const inputs: unknown[] = [{}, { a: undefined }, { a: 'x' }, { b: 'x' }, { a: 'x', b: 'y' }, 'A', 0, 1, 'bad', 'good', undefined, null];
    for (const [name, schema] of Object.entries(corners)) {
      const { check } = compileSchema(schema);
      for (const input of inputs) {
        expect(compiledAnswer(check, input), `${name} ${JSON.stringify(input)}`).toStrictEqual(zodAnswer(schema, input));
      }
    }
  });

  it('trims like zod before checking lengths, and drops unknown keys like zod', () => {
    const schema = z.object({ reason: z.string().trim().min(1).max(3), nested: z.object({ a: z.number() }) });
    const { check } = compileSchema(schema);
    for (const input of [
      { reason: '  ab  ', nested: { a: 1, extra: true }, extra: 'x' },
      { reason: '   ', nested: { a: 1 } },
      { reason: ' abcd ', nested: { a: 1 } },
      { reason: 'ab', nested: [] },
    ]) {
      expect(compiledAnswer(check, input)).toStrictEqual(zodAnswer(schema, input));
    }
  });

  it('runs zod itself for a feature it does not compile, so nothing is validated less', () => {
    const schema = z.object({ email: z.email(), tags: z.array(z.string()) });
    const { check, compiled } = compileSchema(schema);
    expect(compiled).toBe(false);
    expect(compiledAnswer(check, { email: 'a@b.co', tags: ['x'] })).toStrictEqual({ accepted: true, value: { email: 'a@b.co', tags: ['x'] } });
    expect(compiledAnswer(check, { email: 'not an email', tags: [] })).toStrictEqual({ accepted: false });
    const refined = z.string().refine((value) => value !== 'no');
    expect(compileSchema(refined).compiled).toBe(false);
    expect(compiledAnswer(compileSchema(refined).check, 'no')).toStrictEqual({ accepted: false });
  });

  it('answers a rejected event with zod’s issues naming the field', () => {
    const parsed = parseEvent({
      eventId: 'e_1',
      streamId: 'credit-note-cn_1',
      streamVersion: 1,
      schemaVersion: CURRENT_SCHEMA_VERSION,
      occurredAt: '2026-03-02T09:00:00.000Z',
      actor: { kind: 'user', id: 'u_1' },
      causationId: null,
      correlationId: 'c_1',
      source: 'command',
      type: 'RefundRequested',
      data: { attempt: 0, idempotencyKey: 'k', amount: 100, currency: 'eur' },
    });
    expect(parsed.isErr() && parsed.error.issues).toEqual([{ path: 'data.attempt', message: 'attempts are numbered from 1' }]);
  });
});
