import { describe, expect, it } from 'vitest';
import { EventValidationError } from '../src/errors.js';
import { creditNoteEventDataSchemas } from '../src/events/creditNoteEvents.js';
import { paymentEventDataSchemas } from '../src/events/paymentEvents.js';
import { refundRequestEventDataSchemas } from '../src/events/refundRequestEvents.js';
import { CURRENT_SCHEMA_VERSION, type DomainEventType } from '../src/events/envelope.js';
import { parseEvent, parseStoredEvent } from '../src/events/parseEvent.js';

/** A valid envelope around `data`, as a store row or a replayed log line would carry it. */
const envelope = (type: string, data: unknown, overrides: Record<string, unknown> = {}) => ({
  eventId: 'evt_1',
  streamId: 'credit-note-cn_1',
  streamVersion: 1,
  schemaVersion: CURRENT_SCHEMA_VERSION,
  type,
  data,
  occurredAt: '2025-03-01T10:00:00.000Z',
  actor: { kind: 'user', id: 'u_1' },
  causationId: null,
  correlationId: 'corr_1',
  source: 'command',
  ...overrides,
});

const classification = { retry: 'may_help', recovery: 'top_up_balance' };

/** A real payload for every event type; two for RefundDeferred, one per reason. */
const validPayloads: Array<[DomainEventType, unknown]> = [
  [
    'CreditNoteIssued',
    {
      creditNoteId: 'cn_1',
      amount: 5000,
      currency: 'eur',
      payment: { processor: 'stripe', paymentId: 'pi_1', account: 'acct_1' },
      reason: 'order cancelled',
      origin: 'host',
    },
  ],
  ['RefundDeferred', { reason: 'charge_not_confirmed' }],
  [
    'RefundDeferred',
    {
      reason: 'transient_error',
      attempt: 1,
      error: { code: 'rate_limit', message: 'Too many requests' },
      consecutiveFailures: 1,
      retryAt: '2025-03-01T10:00:02.000Z',
    },
  ],
  ['RefundRequested', { attempt: 1, idempotencyKey: 'cn_1:refund:1', amount: 5000, currency: 'eur' }],
  ['RefundAccepted', { attempt: 1, processorRefundId: 're_1', processorStatus: 'pending', pendingReason: 'insufficient_funds' }],
  ['RefundSucceeded', { attempt: 1, processorRefundId: 're_1' }],
  [
    'RefundFailed',
    {
      attempt: 1,
      processorRefundId: null,
      processorReason: 'insufficient_funds',
      classification,
      message: 'The merchant balance is too low',
    },
  ],
  ['RetryRequested', {}],
  ['RefundProgressed', { attempt: 1, processorRefundId: 're_1', processorStatus: 'action_required', pendingReason: null }],
  ['MarkedRefundedManually', { reason: 'SEPA transfer', reference: 'BANK-REF-42', method: 'bank_transfer' }],
  ['CreditNoteAttached', { creditNoteId: 'cn_1', amount: 5000, currency: 'eur' }],
  ['ChargeConfirmed', { paymentId: 'pi_1', processor: 'stripe' }],
  ['RefundAdopted', { attempt: 1, processorRefundId: 're_9', amount: 5000, currency: 'eur', processorStatus: 'succeeded' }],
  ['PaymentDescribed', { amount: 5000, currency: 'eur', method: 'sepa_debit', refundableUntil: '2025-09-01T10:00:00.000Z' }],
  ['RefundRequestOpened', { requestId: 'rr_1' }],
  ['RefundRequestClosed', { requestId: 'rr_1' }],
  [
    'RefundRequestSubmitted',
    {
      requestId: 'rr_1',
      payment: { processor: 'stripe', paymentId: 'pi_1', account: null },
      amount: 4000,
      currency: 'eur',
      reason: 'unexpected_charge',
      details: "I didn't realise I'd be charged after the trial.",
      customerId: 'cus_1',
      purchasedAt: '2025-02-27T10:00:00.000Z',
      product: { productId: 'prod_1', kind: 'subscription' },
      subscriptionId: 'sub_1',
      override: { reason: 'Trial emails bounced', rules: ['purchase_window'] },
    },
  ],
  ['RefundRequestApproved', { option: 'refund_and_cancel', creditNoteId: 'rr-rr_1', amount: 4000, note: null, override: null }],
  ['RefundRequestApproved', { option: 'cancel_only', note: 'Your access lasts until the period ends.', override: null }],
  ['RefundRequestRejected', { note: 'The course was completed in full.' }],
  ['RefundRequestWithdrawn', { details: null }],
];

const issuedData = validPayloads[0]![1] as Record<string, unknown>;
const { origin: _origin, ...issuedWithoutOrigin } = issuedData;

const paths = (input: unknown): string[] => {
  const result = parseEvent(input);
  expect(result.isErr()).toBe(true);
  const error = result._unsafeUnwrapErr();
  expect(error).toBeInstanceOf(EventValidationError);
  expect(error.code).toBe('invalid_event');
  return error.issues.map((issue) => issue.path);
};

describe('parseEvent', () => {
  it('reads a RefundAccepted or RefundProgressed of schema version 1, before pendingReason existed, as giving no reason', () => {
    for (const type of ['RefundAccepted', 'RefundProgressed'] as const) {
      const old = envelope(type, { attempt: 1, processorRefundId: 're_1', processorStatus: 'pending' }, { schemaVersion: 1 });

      const parsed = parseEvent(old)._unsafeUnwrap();

      expect(parsed.data).toEqual({ attempt: 1, processorRefundId: 're_1', processorStatus: 'pending', pendingReason: null });
      expect(parsed.schemaVersion).toBe(CURRENT_SCHEMA_VERSION);
    }
  });

  it.each<[DomainEventType, Record<string, unknown>, string]>([
    ['CreditNoteIssued', issuedWithoutOrigin, 'data.origin'],
    ['RefundAccepted', { attempt: 1, processorRefundId: 're_1', processorStatus: 'pending' }, 'data.pendingReason'],
    ['RefundProgressed', { attempt: 1, processorRefundId: 're_1', processorStatus: 'pending' }, 'data.pendingReason'],
  ])('requires %s of the current schema version to carry %s', (type, data, path) => {
    // Only older versions may lack it: a current writer that leaves it out has a bug worth hearing about.
    expect(paths(envelope(type, data))).toEqual([path]);
  });

  it.each(validPayloads)('accepts a valid %s and returns it unchanged', (type, data) => {
    const input = envelope(type, data);

    const result = parseEvent(input);

    expect(result._unsafeUnwrap()).toEqual(input);
  });

  it('has a valid example for every event type the envelope knows', () => {
    // A new event type without an example here would go untested.
    const known = [...Object.keys(creditNoteEventDataSchemas), ...Object.keys(paymentEventDataSchemas), ...Object.keys(refundRequestEventDataSchemas)].sort();

    expect([...new Set(validPayloads.map(([type]) => type))].sort()).toEqual(known);
  });

  it('lower-cases the currency, as processors report it', () => {
    const parsed = parseEvent(envelope('CreditNoteIssued', { ...issuedData, currency: 'EUR' }))._unsafeUnwrap();

    expect(parsed.data).toMatchObject({ currency: 'eur' });
  });

  it('defaults a payment without account to account null (a platform charge)', () => {
    const parsed = parseEvent(
      envelope('CreditNoteIssued', { ...issuedData, payment: { processor: 'stripe', paymentId: 'pi_1' } }),
    )._unsafeUnwrap();

    expect(parsed.data).toMatchObject({ payment: { processor: 'stripe', paymentId: 'pi_1', account: null } });
  });

  it.each([null, undefined, 'CreditNoteIssued', 42, true])('refuses a non-object (%s) at the root', (input) => {
    expect(paths(input)).toEqual(['']);
  });

  it.each([['RefundTeleported'], [undefined], [7]])('refuses the unknown type %s at path "type"', (type) => {
    expect(paths(envelope(type as string, issuedData))).toEqual(['type']);
  });

  it('refuses a payload meant for another type', () => {
    expect(paths(envelope('RefundSucceeded', issuedData))).toContain('data.attempt');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a fractional amount', { amount: 12.5 }, 'data.amount'],
    ['a zero amount', { amount: 0 }, 'data.amount'],
    ['an amount as a string', { amount: '5000' }, 'data.amount'],
    ['a four-letter currency', { currency: 'EURO' }, 'data.currency'],
    ['an empty reason', { reason: '   ' }, 'data.reason'],
    ['a credit note id with spaces', { creditNoteId: 'cn 1' }, 'data.creditNoteId'],
    ['a payment without its id', { payment: { processor: 'stripe' } }, 'data.payment.paymentId'],
  ])('names the field of %s', (_case, change, path) => {
    expect(paths(envelope('CreditNoteIssued', { ...issuedData, ...change }))).toEqual([path]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a negative streamVersion', { streamVersion: -1 }, 'streamVersion'],
    ['a streamVersion of 0', { streamVersion: 0 }, 'streamVersion'],
    ['a schemaVersion of a newer writer', { schemaVersion: CURRENT_SCHEMA_VERSION + 1 }, 'schemaVersion'],
    ['a schemaVersion of 0', { schemaVersion: 0 }, 'schemaVersion'],
    ['a schemaVersion as a string', { schemaVersion: String(CURRENT_SCHEMA_VERSION) }, 'schemaVersion'],
    ['occurredAt that is not ISO 8601', { occurredAt: 'March 1st 2025' }, 'occurredAt'],
    ['occurredAt without a time zone', { occurredAt: '2025-03-01T10:00:00' }, 'occurredAt'],
    ['an unknown actor kind', { actor: { kind: 'robot', id: 'r_1' } }, 'actor.kind'],
    ['an unknown source', { source: 'carrier_pigeon' }, 'source'],
    ['an empty correlationId', { correlationId: '' }, 'correlationId'],
  ])('names the envelope field of %s', (_case, change, path) => {
    expect(paths(envelope('CreditNoteIssued', issuedData, change))).toEqual([path]);
  });

  it('refuses an event without an actor', () => {
    const { actor: _actor, ...withoutActor } = envelope('CreditNoteIssued', issuedData);

    expect(paths(withoutActor)).toEqual(['actor']);
  });

  it('names nested fields of the transient-error deferral', () => {
    const data = { ...(validPayloads[2]![1] as object), consecutiveFailures: 0, retryAt: 'soon' };

    expect(paths(envelope('RefundDeferred', data)).sort()).toEqual(['data.consecutiveFailures', 'data.retryAt']);
  });

  it('refuses an unknown deferral reason at data.reason', () => {
    expect(paths(envelope('RefundDeferred', { reason: 'bored' }))).toEqual(['data.reason']);
  });

  it('refuses attempt 0: attempts are numbered from 1', () => {
    expect(paths(envelope('RefundAccepted', { attempt: 0, processorRefundId: 're_1', processorStatus: 'pending', pendingReason: null }))).toEqual(
      ['data.attempt'],
    );
  });
});

describe('parseStoredEvent', () => {
  const stored = (globalPosition: unknown) => ({ ...envelope(...validPayloads[0]!), globalPosition });

  it('keeps the global position the store assigned', () => {
    const result = parseStoredEvent(stored(17));

    expect(result._unsafeUnwrap()).toEqual(stored(17));
  });

  it.each([0, -3, 1.5, '17', null, undefined, Number.MAX_SAFE_INTEGER + 1])(
    'refuses globalPosition %s: it must be a positive integer',
    (position) => {
      const result = parseStoredEvent(stored(position));

      expect(result._unsafeUnwrapErr().issues.map((issue) => issue.path)).toEqual(['globalPosition']);
    },
  );

  it('still validates the event itself', () => {
    const result = parseStoredEvent({ ...stored(1), schemaVersion: CURRENT_SCHEMA_VERSION + 1 });

    expect(result._unsafeUnwrapErr().field).toBe('schemaVersion');
  });

  it('refuses a non-object without throwing', () => {
    expect(parseStoredEvent(null).isErr()).toBe(true);
    expect(parseStoredEvent('event').isErr()).toBe(true);
  });
});
