import { z } from 'zod';
import { creditNoteEventDataSchemas, type CreditNoteEvent } from './creditNoteEvents.js';
import { paymentEventDataSchemas, type PaymentEvent } from './paymentEvents.js';
import { refundRequestEventDataSchemas, type RefundRequestEvent } from './refundRequestEvents.js';
import { actorSchema, eventSourceSchema, isoTimestampSchema, type Actor, type EventSource } from './primitives.js';

/**
 * The shape events are written in. Raise it with a step in `upcast.ts` whenever
 * a change would make an event already stored fail validation or mean
 * something else: stored events are never rewritten, they are upcast on read.
 * 2: `CreditNoteIssued.origin` and `pendingReason` (RefundAccepted, RefundProgressed) became required.
 */
export const CURRENT_SCHEMA_VERSION = 2;

const envelopeFields = {
  eventId: z.string().min(1),
  streamId: z.string().min(1),
  /** 1 for the stream's first event. */
  streamVersion: z.number().int().min(1),
  schemaVersion: z.literal(CURRENT_SCHEMA_VERSION),
  occurredAt: isoTimestampSchema,
  actor: actorSchema,
  /** The event or message that directly caused this one (a webhook's event id, a previous event). */
  causationId: z.string().min(1).nullable(),
  /** Shared by every event one command or webhook produced. */
  correlationId: z.string().min(1),
  source: eventSourceSchema,
};

const allDataSchemas = { ...creditNoteEventDataSchemas, ...paymentEventDataSchemas, ...refundRequestEventDataSchemas };
export type DomainEventType = keyof typeof allDataSchemas;

/** One object schema per event type: the envelope's fields, the type, and that type's data. */
export const eventSchemasByType = Object.fromEntries(
  Object.entries(allDataSchemas).map(([type, data]) => [type, z.object({ ...envelopeFields, type: z.literal(type), data })]),
) as unknown as Record<DomainEventType, z.ZodObject>;

export const eventEnvelopeSchema = z.discriminatedUnion(
  'type',
  Object.values(eventSchemasByType) as unknown as [z.ZodObject, ...z.ZodObject[]],
);

/** A stored event is an event plus the position the store gave it in the global log. */
export const globalPositionSchema = z.number().int().min(1);

type EnvelopeMeta = {
  eventId: string;
  streamId: string;
  streamVersion: number;
  schemaVersion: typeof CURRENT_SCHEMA_VERSION;
  occurredAt: string;
  actor: Actor;
  causationId: string | null;
  correlationId: string;
  source: EventSource;
};

/** A domain event with its envelope, as appended to a stream. */
export type DomainEvent = EnvelopeMeta & (CreditNoteEvent | PaymentEvent | RefundRequestEvent);

/** A domain event as the store returns it: with its place in the global log. */
export type StoredEvent = DomainEvent & { globalPosition: number };

export const isDomainEventType = (type: string): type is DomainEventType => Object.hasOwn(allDataSchemas, type);
export const isCreditNoteEvent = (event: DomainEvent): event is EnvelopeMeta & CreditNoteEvent =>
  Object.hasOwn(creditNoteEventDataSchemas, event.type);
export const isPaymentEvent = (event: DomainEvent): event is EnvelopeMeta & PaymentEvent =>
  Object.hasOwn(paymentEventDataSchemas, event.type);
export const isRefundRequestEvent = (event: DomainEvent): event is EnvelopeMeta & RefundRequestEvent =>
  Object.hasOwn(refundRequestEventDataSchemas, event.type);
