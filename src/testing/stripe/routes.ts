import { expansions, type FormRecord, type FormValue } from './formEncoding.js';
import type { ChangeCause, EventRecord, FakeStripeWorld, RefundRecord } from './fakeStripeWorld.js';
import { invalidRequest, resourceMissing, unrecognizedUrl, type ApiAnswer } from './stripeErrors.js';
import type { RefundReason, RefundStatus } from './stripeJson.js';

/**
 * The HTTP endpoints the fake serves, on top of the world. Each answer says
 * whether Stripe would keep it under an idempotency key: answers of an
 * endpoint that ran (an object, or a refusal such as `amount_too_large`) are
 * kept; parameter errors found before anything ran are not.
 */
export type ApiRequest = {
  method: string;
  path: string;
  params: FormRecord;
  account: string | null;
  cause: ChangeCause;
};

export type RoutedAnswer = { answer: ApiAnswer; storable: boolean };

const kept = (answer: ApiAnswer): RoutedAnswer => ({ answer, storable: true });
const notKept = (answer: ApiAnswer): RoutedAnswer => ({ answer, storable: false });
const found = (body: unknown): RoutedAnswer => kept({ status: 200, body });

// What each object lets a caller expand, and the kind of object it becomes.
type Expandable = 'refund' | 'charge' | 'payment_intent' | 'refund_list' | 'event';
const expandableFields: Record<Expandable, Record<string, Expandable>> = {
  event: {},
  refund: { charge: 'charge', payment_intent: 'payment_intent' },
  charge: { refunds: 'refund_list' },
  payment_intent: { latest_charge: 'charge' },
  refund_list: { data: 'refund' },
};

const badExpansion = (kind: Expandable, paths: string[]) =>
  paths.find((path) => {
    let current: Expandable | undefined = kind;
    for (const field of path.split('.')) {
      current = current === undefined ? undefined : expandableFields[current][field];
      if (current === undefined) return true;
    }
    return false;
  });

const unknownParam = (params: FormRecord, allowed: readonly string[]) => Object.keys(params).find((key) => !allowed.includes(key));

const text = (value: FormValue | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

const refundReasons: readonly RefundReason[] = ['duplicate', 'fraudulent', 'requested_by_customer'];

/** Stripe's metadata rules: string values, at most 50 keys of 40 characters, values of 500. */
const readMetadata = (value: FormValue | undefined): { ok: true; metadata: Record<string, string> } | { ok: false; answer: ApiAnswer } => {
  const refused = (message: string, param: string) => ({ ok: false as const, answer: invalidRequest(undefined, message, param) });
  if (value === undefined || value === '') return { ok: true, metadata: {} };
  if (typeof value === 'string' || Array.isArray(value)) return refused('Invalid object', 'metadata');
  const entries = Object.entries(value);
  if (entries.length > 50) return refused('Metadata can have at most 50 keys.', 'metadata');
  const metadata: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (typeof item !== 'string') return refused('Metadata values must be strings.', `metadata[${key}]`);
    if (key.length > 40) return refused(`Metadata keys can be at most 40 characters long (${key}).`, `metadata[${key}]`);
    if (item.length > 500) return refused('Metadata values can be at most 500 characters long.', `metadata[${key}]`);
    metadata[key] = item;
  }
  return { ok: true, metadata };
};

const createRefund = (world: FakeStripeWorld, request: ApiRequest, initialStatus: () => RefundStatus | undefined): RoutedAnswer => {
  const { params } = request;
  const unknown = unknownParam(params, [
    'amount', 'charge', 'currency', 'customer', 'expand', 'instructions_email', 'metadata', 'origin',
    'payment_intent', 'reason', 'refund_application_fee', 'reverse_transfer',
  ]);
  if (unknown) return notKept(invalidRequest('parameter_unknown', `Received unknown parameter: ${unknown}`, unknown));
  const paymentIntent = text(params['payment_intent']);
  const charge = text(params['charge']);
  if (!paymentIntent && !charge) {
    return notKept(
      invalidRequest('parameter_missing', 'One of the following params should be provided for this request: payment_intent or charge.', 'payment_intent'),
    );
  }
  const rawAmount = params['amount'];
  if (rawAmount !== undefined && (typeof rawAmount !== 'string' || !/^\d+$/.test(rawAmount) || Number(rawAmount) < 1)) {
    return notKept(invalidRequest('parameter_invalid_integer', `Invalid positive integer: ${String(rawAmount)}`, 'amount'));
  }
  const reason = params['reason'];
  if (reason !== undefined && (typeof reason !== 'string' || !refundReasons.includes(reason as RefundReason))) {
    return notKept(invalidRequest(undefined, 'Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer', 'reason'));
  }
  const metadata = readMetadata(params['metadata']);
  if (!metadata.ok) return notKept(metadata.answer);
  const expand = expansions(params);
  const invalid = badExpansion('refund', expand);
  if (invalid) return notKept(invalidRequest(undefined, `This property cannot be expanded (${invalid}).`, 'expand'));

  const outcome = world.createRefund(
    {
      account: request.account,
      ...(paymentIntent ? { paymentIntent } : {}),
      ...(charge ? { charge } : {}),
      ...(rawAmount === undefined ? {} : { amount: Number(rawAmount) }),
      reason: (reason as RefundReason | undefined) ?? null,
      metadata: metadata.metadata,
      ...statusOf(initialStatus()),
    },
    request.cause,
  );
  if (!outcome.ok) return kept(outcome.answer);
  const refund = world.findRefund(request.account, outcome.refund.id)!;
  return found(world.refundJson(refund, expand));
};

const statusOf = (status: RefundStatus | undefined) => (status === undefined ? {} : { status });

const listRefunds = (world: FakeStripeWorld, request: ApiRequest): RoutedAnswer => {
  const { params, account } = request;
  const unknown = unknownParam(params, ['payment_intent', 'charge', 'limit', 'starting_after', 'ending_before', 'created', 'expand']);
  if (unknown) return notKept(invalidRequest('parameter_unknown', `Received unknown parameter: ${unknown}`, unknown));
  const rawLimit = text(params['limit']) ?? '10';
  const limit = Number(rawLimit);
  if (!/^\d+$/.test(rawLimit) || limit < 1 || limit > 100) {
    return notKept(invalidRequest('parameter_invalid_integer', 'Invalid integer: limit must be between 1 and 100', 'limit'));
  }
  const expand = expansions(params);
  const invalid = badExpansion('refund_list', expand);
  if (invalid) return notKept(invalidRequest(undefined, `This property cannot be expanded (${invalid}).`, 'expand'));

  let chargeId: string | undefined;
  const paymentIntent = text(params['payment_intent']);
  const charge = text(params['charge']);
  if (paymentIntent !== undefined) {
    const payment = world.findPaymentIntent(account, paymentIntent);
    if (!payment) return kept(resourceMissing('payment_intent', paymentIntent, 'payment_intent'));
    chargeId = payment.chargeId;
  } else if (charge !== undefined) {
    const payment = world.findCharge(account, charge);
    if (!payment) return kept(resourceMissing('charge', charge, 'charge'));
    chargeId = payment.chargeId;
  }

  // Newest first; `starting_after` pages towards older refunds, `ending_before` towards newer ones.
  const all: RefundRecord[] = world.listRefunds(account, chargeId);
  const startingAfter = text(params['starting_after']);
  const endingBefore = text(params['ending_before']);
  let page: RefundRecord[];
  let hasMore: boolean;
  if (endingBefore !== undefined) {
    const index = all.findIndex((refund) => refund.id === endingBefore);
    if (index < 0) return kept(resourceMissing('refund', endingBefore, 'ending_before'));
    page = all.slice(Math.max(0, index - limit), index);
    hasMore = index - limit > 0;
  } else {
    const index = startingAfter === undefined ? -1 : all.findIndex((refund) => refund.id === startingAfter);
    if (startingAfter !== undefined && index < 0) return kept(resourceMissing('refund', startingAfter, 'starting_after'));
    const rest = all.slice(index + 1);
    page = rest.slice(0, limit);
    hasMore = rest.length > limit;
  }
  const list = world.refundList(page, '/v1/refunds', expand.filter((path) => path.startsWith('data.')).map((path) => path.slice(5)));
  return found({ object: 'list', data: list.data, has_more: hasMore, url: list.url });
};

/** `created=<t>` or `created[gt|gte|lt|lte]=<t>`: a test of an event's `created`, or the answer refusing it. */
const readCreated = (value: FormValue | undefined): { ok: true; test: (created: number) => boolean } | { ok: false; answer: ApiAnswer } => {
  const integer = (raw: FormValue | undefined, param: string) =>
    typeof raw === 'string' && /^-?\d+$/.test(raw)
      ? ({ ok: true, value: Number(raw) } as const)
      : ({ ok: false, answer: invalidRequest('parameter_invalid_integer', `Invalid integer: ${String(raw)}`, param) } as const);
  if (value === undefined) return { ok: true, test: () => true };
  if (typeof value === 'string') {
    const exact = integer(value, 'created');
    return exact.ok ? { ok: true, test: (created) => created === exact.value } : exact;
  }
  if (Array.isArray(value)) return { ok: false, answer: invalidRequest(undefined, 'Invalid hash', 'created') };
  const bounds: Array<(created: number) => boolean> = [];
  const operators: Record<string, (created: number, bound: number) => boolean> = {
    gt: (created, bound) => created > bound,
    gte: (created, bound) => created >= bound,
    lt: (created, bound) => created < bound,
    lte: (created, bound) => created <= bound,
  };
  for (const [key, raw] of Object.entries(value)) {
    const operator = operators[key];
    if (!operator) return { ok: false, answer: invalidRequest('parameter_unknown', `Received unknown parameter: created[${key}]`, `created[${key}]`) };
    const bound = integer(raw, `created[${key}]`);
    if (!bound.ok) return bound;
    bounds.push((created) => operator(created, bound.value));
  }
  return { ok: true, test: (created) => bounds.every((test) => test(created)) };
};

/** `type`: one event type, `*` a wildcard (`refund.*`); `types[]`: up to 20 exact types. Never both. */
const readEventTypes = (params: FormRecord): { ok: true; test: (type: string) => boolean } | { ok: false; answer: ApiAnswer } => {
  const type = params['type'];
  const types = params['types'];
  if (type !== undefined && types !== undefined) {
    return { ok: false, answer: invalidRequest(undefined, 'You may pass either `type` or `types`, but not both.', 'types') };
  }
  if (type !== undefined) {
    if (typeof type !== 'string' || type === '') return { ok: false, answer: invalidRequest(undefined, 'Invalid string', 'type') };
    const escaped = type.split('*').map((part) => part.replace(/[.+?^$(){}|[\]\\]/g, '\\$&'));
    const pattern = new RegExp(`^${escaped.join('.*')}$`);
    return { ok: true, test: (candidate) => pattern.test(candidate) };
  }
  if (types !== undefined) {
    if (!Array.isArray(types) || types.some((item) => typeof item !== 'string' || item === '')) {
      return { ok: false, answer: invalidRequest(undefined, 'Invalid array', 'types') };
    }
    if (types.length > 20) return { ok: false, answer: invalidRequest(undefined, 'Invalid array: types must have at most 20 elements', 'types') };
    const wanted = new Set(types as string[]);
    return { ok: true, test: (candidate) => wanted.has(candidate) };
  }
  return { ok: true, test: () => true };
};

/**
 * `GET /v1/events`: the account's events of the last 30 days, newest first.
 * Cursors (`starting_after`, `ending_before`) are events of the account,
 * placed by their position in the whole list, so a cursor still works when
 * the filters leave it out; `ending_before` answers the `limit` events just
 * newer than it (still newest first), as the SDK's reverse auto-pagination expects.
 */
const listEvents = (world: FakeStripeWorld, request: ApiRequest): RoutedAnswer => {
  const { params, account } = request;
  const unknown = unknownParam(params, ['created', 'delivery_success', 'ending_before', 'expand', 'limit', 'starting_after', 'type', 'types']);
  if (unknown) return notKept(invalidRequest('parameter_unknown', `Received unknown parameter: ${unknown}`, unknown));
  const rawLimit = text(params['limit']) ?? '10';
  const limit = Number(rawLimit);
  if (!/^\d+$/.test(rawLimit) || limit < 1 || limit > 100) {
    return notKept(invalidRequest('parameter_invalid_integer', 'Invalid integer: limit must be between 1 and 100', 'limit'));
  }
  const [expanded] = expansions(params);
  if (expanded !== undefined) return notKept(invalidRequest(undefined, `This property cannot be expanded (${expanded}).`, 'expand'));
  const created = readCreated(params['created']);
  if (!created.ok) return notKept(created.answer);
  const types = readEventTypes(params);
  if (!types.ok) return notKept(types.answer);
  const deliverySuccess = params['delivery_success'];
  if (deliverySuccess !== undefined && deliverySuccess !== 'true' && deliverySuccess !== 'false') {
    return notKept(invalidRequest(undefined, `Invalid boolean: ${String(deliverySuccess)}`, 'delivery_success'));
  }

  const all = world.listEvents(account);
  const position = new Map(all.map((record, index) => [record.event.id, index]));
  const cursorAt = (param: 'starting_after' | 'ending_before'): number | ApiAnswer | undefined => {
    const id = text(params[param]);
    if (id === undefined) return undefined;
    return position.get(id) ?? resourceMissing('event', id, param);
  };
  const startingAfter = cursorAt('starting_after');
  const endingBefore = cursorAt('ending_before');
  for (const cursor of [startingAfter, endingBefore]) if (typeof cursor === 'object') return kept(cursor);

  const matching = all
    .map((record, index) => ({ record, index }))
    .filter(
      ({ record }) =>
        created.test(record.event.created) &&
        types.test(record.event.type) &&
        (deliverySuccess === undefined || record.delivered === (deliverySuccess === 'true')),
    );
  let page: Array<{ record: EventRecord }>;
  let hasMore: boolean;
  if (typeof endingBefore === 'number') {
    const newer = matching.filter(({ index }) => index < endingBefore);
    page = newer.slice(Math.max(0, newer.length - limit));
    hasMore = newer.length > limit;
  } else {
    const older = typeof startingAfter === 'number' ? matching.filter(({ index }) => index > startingAfter) : matching;
    page = older.slice(0, limit);
    hasMore = older.length > limit;
  }
  return found({ object: 'list', data: page.map(({ record }) => world.eventJson(record)), has_more: hasMore, url: '/v1/events' });
};

/** Answers one API request; unknown routes get Stripe's 404. */
export const routeApiRequest = (
  world: FakeStripeWorld,
  request: ApiRequest,
  initialRefundStatus: () => RefundStatus | undefined,
): RoutedAnswer => {
  const { method, path, params, account } = request;
  const [, version, resource, id, extra] = path.split('/');
  if (version !== 'v1' || extra !== undefined) return notKept(unrecognizedUrl(method, path));

  const retrieve = (kind: Expandable, lookup: () => unknown): RoutedAnswer => {
    const expand = expansions(params);
    const invalid = badExpansion(kind, expand);
    if (invalid) return notKept(invalidRequest(undefined, `This property cannot be expanded (${invalid}).`, 'expand'));
    return found(lookup());
  };

  if (resource === 'refunds' && id === undefined) {
    if (method === 'POST') return createRefund(world, request, initialRefundStatus);
    if (method === 'GET') return listRefunds(world, request);
  }
  if (resource === 'events' && id === undefined && method === 'GET') return listEvents(world, request);
  if (method === 'GET' && id) {
    if (resource === 'refunds') {
      const refund = world.findRefund(account, id);
      if (!refund) return kept(resourceMissing('refund', id, 'id'));
      return retrieve('refund', () => world.refundJson(refund, expansions(params)));
    }
    if (resource === 'payment_intents') {
      const payment = world.findPaymentIntent(account, id);
      if (!payment) return kept(resourceMissing('payment_intent', id, 'intent'));
      return retrieve('payment_intent', () => world.paymentIntentJson(payment, expansions(params)));
    }
    if (resource === 'charges') {
      const payment = world.findCharge(account, id);
      if (!payment) return kept(resourceMissing('charge', id, 'id'));
      return retrieve('charge', () => world.chargeJson(payment, expansions(params)));
    }
    if (resource === 'events') {
      // Another account's events, and events older than 30 days, do not exist for the caller.
      const event = world.findEvent(account, id);
      if (!event) return kept(resourceMissing('event', id, 'id'));
      return retrieve('event', () => world.eventJson(event));
    }
  }
  return notKept(unrecognizedUrl(method, path));
};
