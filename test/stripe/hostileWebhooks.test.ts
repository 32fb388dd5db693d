import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WebhookDelivery } from '../../src/adapters/stripe/stripeWebhooks.js';
import type { SignedWebhook } from '../../src/testing/stripe/fakeStripeServer.js';
import { storeSnapshot } from './support.js';
import {
  copyOf,
  expectPrototypeUntouched,
  merchant,
  ourOrigin,
  rawWith,
  runCase,
  setPath,
  useScene,
  type Expected,
  type Json,
  type Scene,
} from './hostileCases.js';

/*
 * Hostile webhooks: forged, replayed, malformed, misrouted and booby-trapped
 * deliveries. Every case proves the endpoint's typed answer, and that it wrote
 * nothing, asked nothing of Stripe, mailed nobody, ran no hook and left
 * Object.prototype alone. The genuine events the cases start from would each
 * write (settle a credit note, mail a client, create a refund) if accepted.
 */

type Case = {
  name: string;
  delivery: (scene: Scene) => WebhookDelivery;
  expected: Expected | ((scene: Scene) => Expected);
};

const reject = (reason: string, field?: string): Expected => (field === undefined ? { reject: reason } : { reject: reason, field });
const invalid = (field?: string) => reject('payload_invalid', field);

const asDelivery = (webhook: SignedWebhook): WebhookDelivery => ({ rawBody: webhook.rawBody, signature: webhook.signature });
const signedEvent = (scene: Scene, event: Json): WebhookDelivery => asDelivery(scene.world.signed(event));
const signedRaw = (scene: Scene, rawBody: string): WebhookDelivery => scene.world.signedRaw(rawBody);

type Base = (scene: Scene) => SignedWebhook | Json;
const eventOf = (scene: Scene, base: Base): Json => copyOf(base(scene));
/** A deep copy of a genuine event, mutated, signed with the endpoint's secret. */
const mutated = (base: Base, mutate: (event: Json, scene: Scene) => void) => (scene: Scene) => {
  const event = eventOf(scene, base);
  mutate(event, scene);
  return signedEvent(scene, event);
};

let freshIds = 0;
/** A new event id per case, so no case answers from another's event id. */
const freshId = (label: string) => `evt_hostile_${label}_${++freshIds}`;

const hmac = (secret: string, payload: string, algorithm = 'sha256', encoding: 'hex' | 'base64' = 'hex') =>
  createHmac(algorithm, secret).update(payload, 'utf8').digest(encoding);

// The genuine webhooks the cases start from (see buildScene).
const re1Updated = (s: Scene) => s.webhooks.re1Updated; // would settle cn_1 and mail the client
const re1Created = (s: Scene) => s.webhooks.re1Created; // already known: unchanged
const re2Failed = (s: Scene) => s.webhooks.re2Failed; // would fail cn_4 and mail the merchant
const re1ChargeRefundUpdated = (s: Scene) => s.webhooks.re1ChargeRefundUpdated; // would settle cn_1
const dashboardCreated = (s: Scene) => s.webhooks.dashboardCreated; // would adopt a dashboard refund
const chargeRefundedSettling = (s: Scene) => s.events.p1ChargeRefundedSettling; // would settle cn_1
const p1ChargeRefunded = (s: Scene) => s.webhooks.p1ChargeRefunded; // already known: unchanged
const p2Succeeded = (s: Scene) => s.webhooks.p2Succeeded; // would release cn_2 and create a refund at Stripe
const p3Succeeded = (s: Scene) => s.webhooks.p3Succeeded;
const p1Succeeded = (s: Scene) => s.webhooks.p1Succeeded; // already delivered

const unchangedCn1 = (eventId?: string): Expected => ({
  ok: { outcome: 'unchanged', reason: null, creditNoteIds: ['cn_1'], ...(eventId ? { eventId } : {}) },
});

const runTable = (handle: ReturnType<typeof useScene>) => async (_name: string, { delivery, expected }: Case) => {
  await runCase(handle, delivery, expected);
};

/** `[name, case]` rows: `it.each(named(cases))('%s', …)` titles each case in full ($name would be truncated). */
const named = (cases: Case[]): Array<[string, Case]> => {
  expect(new Set(cases.map((testCase) => testCase.name)).size, 'case names are distinct').toBe(cases.length);
  return cases.map((testCase) => [testCase.name, testCase]);
};

// ── 0. the genuine events the hostile ones are made from ─────────────────────

describe('the genuine events the cases start from (each would write if accepted)', () => {
  const handle = useScene();
  const bases: Array<[string, Base, string]> = [
    ['refund.updated (re_1 succeeded)', re1Updated, 'cn_1'],
    ['refund.failed (re_2 failed)', re2Failed, 'cn_4'],
    ['charge.refund.updated (re_1 succeeded)', re1ChargeRefundUpdated, 'cn_1'],
    ['refund.created of the dashboard refund', dashboardCreated, 'stripe-'],
    ['charge.refunded listing re_1 succeeded', chargeRefundedSettling, 'cn_1'],
    ['payment_intent.succeeded of P2', p2Succeeded, 'cn_2'],
    ['payment_intent.succeeded of P3', p3Succeeded, 'cn_3'],
  ];
  it.each(bases)('%s applies', async (_name, base, creditNote) => {
    const { world } = handle.scene;
    const before = await storeSnapshot(world.store);
    const result = await world.webhooks.handleWebhook(signedEvent(handle.scene, eventOf(handle.scene, base)));
    handle.markDirty();
    expect(result._unsafeUnwrap().outcome).toBe('applied');
    expect(result._unsafeUnwrap().creditNoteIds.some((id) => id.startsWith(creditNote))).toBe(true);
    expect(await storeSnapshot(world.store)).not.toEqual(before);
  });
});

// ── 1. the body ───────────────────────────────────────────────────────────────

describe('the raw body', () => {
  const handle = useScene();
  const raw = (s: Scene) => re1Updated(s).rawBody;
  const sig = (s: Scene) => re1Updated(s).signature;
  const notRaw: Array<[string, (s: Scene) => unknown]> = [
    ['the parsed event (a JSON body parser ran first)', (s) => JSON.parse(raw(s))],
    ["the fake's event object", (s) => re1Updated(s).event],
    ['null', () => null],
    ['undefined', () => undefined],
    ['0', () => 0],
    ['a number', () => 42],
    ['NaN', () => Number.NaN],
    ['true', () => true],
    ['false', () => false],
    ['an empty array', () => []],
    ['an array holding the raw body', (s) => [raw(s)]],
    ["the raw body's bytes as a plain array", (s) => [...Buffer.from(raw(s), 'utf8')]],
    ['a String object', (s) => new String(raw(s))],
    ['an object whose toString() is the raw body', (s) => ({ toString: () => raw(s) })],
    ['a bigint', () => 1n],
    ['a function returning the raw body', (s) => () => raw(s)],
    ['a Map', () => new Map([['body', 'x']])],
    ['a Date', () => new Date(0)],
    ['a Promise of the raw body', (s) => Promise.resolve(raw(s))],
    ['a symbol', () => Symbol('body')],
    ['a request-like wrapper { body, rawBody }', (s) => ({ body: JSON.parse(raw(s)), rawBody: raw(s) })],
    ['an empty object', () => ({})],
  ];
  const cases: Case[] = notRaw.map(([name, body]) => ({
    name: `refuses ${name} as the body (raw_body_required)`,
    delivery: (s) => ({ rawBody: body(s), signature: sig(s) }),
    expected: reject('raw_body_required'),
  }));

  // Accepted forms, on an event already known (its genuine answer writes nothing).
  const known = (s: Scene) => {
    const event = eventOf(s, re1Created);
    event.id = `evt_known_${event.id}`;
    return s.world.signed(event);
  };
  const accepted: Array<[string, (rawBody: string) => unknown]> = [
    ['a string', (body) => body],
    ['a Buffer', (body) => Buffer.from(body, 'utf8')],
    ['a Uint8Array', (body) => new Uint8Array(Buffer.from(body, 'utf8'))],
    [
      'a Uint8Array viewing the middle of a larger ArrayBuffer',
      (body) => {
        const bytes = Buffer.from(body, 'utf8');
        const backing = new Uint8Array(bytes.length + 64).fill(0x20);
        backing.set(bytes, 32);
        return new Uint8Array(backing.buffer, 32, bytes.length);
      },
    ],
    ['a Buffer sliced out of a larger one', (body) => Buffer.concat([Buffer.from('xx'), Buffer.from(body, 'utf8'), Buffer.from('yy')]).subarray(2, 2 + Buffer.byteLength(body))],
  ];
  cases.push(
    ...accepted.map(([name, as]): Case => ({
      name: `accepts the raw body as ${name}`,
      delivery: (s) => {
        const webhook = known(s);
        return { rawBody: as(webhook.rawBody), signature: webhook.signature };
      },
      expected: (s) => unchangedCn1(`evt_known_${re1Created(s).event.id}`),
    })),
  );

  it.each(named(cases))('%s', runTable(handle));
});

// ── 2. the Stripe-Signature header ────────────────────────────────────────────

describe('a missing Stripe-Signature header', () => {
  const handle = useScene();
  const sig = (s: Scene) => re1Updated(s).signature;
  const headers: Array<[string, (s: Scene) => unknown]> = [
    ['undefined', () => undefined],
    ['null', () => null],
    ['empty', () => ''],
    ['a space', () => ' '],
    ['a tab', () => '\t'],
    ['a newline', () => '\n'],
    ['mixed whitespace', () => ' \r\n\t '],
    ['0', () => 0],
    ['a number', () => 1_772_442_000],
    ['true', () => true],
    ['false', () => false],
    ['an empty object', () => ({})],
    ['an array holding the genuine header', (s) => [sig(s)]],
    ['an object of its parts', (s) => ({ t: /t=(\d+)/.exec(sig(s))![1], v1: /v1=([0-9a-f]+)/.exec(sig(s))![1] })],
    ['a Buffer of the genuine header', (s) => Buffer.from(sig(s))],
    ['a String object of the genuine header', (s) => new String(sig(s))],
    ['a function returning the genuine header', (s) => () => sig(s)],
  ];
  const cases: Case[] = headers.map(([name, header]) => ({
    name: `refuses a signature header that is ${name} (signature_missing)`,
    delivery: (s) => ({ rawBody: re1Updated(s).rawBody, signature: header(s) }),
    expected: reject('signature_missing'),
  }));
  it.each(named(cases))('%s', runTable(handle));
});

describe('a signature that does not match', () => {
  const handle = useScene();
  const raw = (s: Scene) => re1Updated(s).rawBody;
  const now = (s: Scene) => s.world.unixNow();
  const secret = (s: Scene) => s.world.fake.webhookSecret;
  const v1 = (s: Scene, body: string, t = now(s), key = secret(s)) => hmac(key, `${t}.${body}`);
  /** The genuine body under a forged header. */
  const header = (make: (s: Scene) => string) => (s: Scene) => ({ rawBody: raw(s), signature: make(s) });
  /** A forged body under the genuine header. */
  const body = (make: (raw: string, s: Scene) => string) => (s: Scene) => {
    const tampered = make(raw(s), s);
    expect(tampered).not.toBe(raw(s));
    return { rawBody: tampered, signature: re1Updated(s).signature };
  };
  // Always another hex digit than the one there, so the forgery never happens to be the genuine signature.
  const otherHexDigitAt = (hex: string, index: number) => hex.slice(0, index) + (hex[index] === 'a' ? 'b' : 'a') + hex.slice(index + 1);

  const forgeries: Array<[string, (s: Scene) => WebhookDelivery]> = [
    ['a header without t=', header((s) => `v1=${v1(s, raw(s))}`)],
    ['a header with a non-numeric t=', header((s) => `t=abc,v1=${v1(s, raw(s))}`)],
    ['a header with an empty t=', header((s) => `t=,v1=${v1(s, raw(s))}`)],
    ['a header with a negative t=', header((s) => `t=-${now(s)},v1=${v1(s, raw(s), -now(s))}`)],
    ['a signature made with another secret', header((s) => s.world.fake.sign(raw(s), now(s), 'whsec_other'))],
    ['a signature made with an empty secret', header((s) => s.world.fake.sign(raw(s), now(s), ''))],
    ['a signature made with the secret in upper case', header((s) => s.world.fake.sign(raw(s), now(s), secret(s).toUpperCase()))],
    ['a signature made with the secret without its whsec_ prefix', header((s) => s.world.fake.sign(raw(s), now(s), secret(s).replace(/^whsec_/, '')))],
    ['a signature made with the API key', header((s) => s.world.fake.sign(raw(s), now(s), 'sk_test_123'))],
    ['a header with t= only (no v1)', header((s) => `t=${now(s)}`)],
    ['a header with v0 only', header((s) => `t=${now(s)},v0=${v1(s, raw(s))}`)],
    ['a header with the HMAC under v2=', header((s) => `t=${now(s)},v2=${v1(s, raw(s))}`)],
    ['a header with the HMAC under V1= (upper case)', header((s) => `t=${now(s)},V1=${v1(s, raw(s))}`)],
    ['a header with an empty v1', header((s) => `t=${now(s)},v1=`)],
    ['a header with the hex truncated by one digit', header((s) => `t=${now(s)},v1=${v1(s, raw(s)).slice(0, -1)}`)],
    ['a header with half the hex', header((s) => `t=${now(s)},v1=${v1(s, raw(s)).slice(0, 32)}`)],
    ['a header with one hex digit changed', header((s) => `t=${now(s)},v1=${otherHexDigitAt(v1(s, raw(s)), 10)}`)],
    ['a header with the hex in upper case', header((s) => `t=${now(s)},v1=${v1(s, raw(s)).toUpperCase()}`)],
    ['a header with the HMAC in base64', header((s) => `t=${now(s)},v1=${hmac(secret(s), `${now(s)}.${raw(s)}`, 'sha256', 'base64')}`)],
    ['a header with an HMAC-SHA1', header((s) => `t=${now(s)},v1=${hmac(secret(s), `${now(s)}.${raw(s)}`, 'sha1')}`)],
    ['a header with an HMAC-SHA512', header((s) => `t=${now(s)},v1=${hmac(secret(s), `${now(s)}.${raw(s)}`, 'sha512')}`)],
    ['an HMAC of the body alone (no timestamp)', header((s) => `t=${now(s)},v1=${hmac(secret(s), raw(s))}`)],
    ['an HMAC over another timestamp than the header’s', header((s) => `t=${now(s)},v1=${v1(s, raw(s), now(s) - 1)}`)],
    ['the signature of another event’s body', header((s) => s.world.fake.sign(re2Failed(s).rawBody))],
    ['another event’s genuine header', header((s) => re2Failed(s).signature)],
    ['a SHA-256 of the payload without a key', header((s) => `t=${now(s)},v1=${createHmac('sha256', '').update(`${now(s)}.${raw(s)}`).digest('hex')}`)],
    ['the first byte of the body changed', body((text) => `[${text.slice(1)}`)],
    ['the last byte of the body changed', body((text) => `${text.slice(0, -1)}]`)],
    ['one byte of the amount changed', body((text) => text.replace('"amount": 3000', '"amount": 3001'))],
    ['one byte of the status changed', body((text) => text.replace('"status": "succeeded"', '"status": "succeedee"'))],
    ['one byte of the event id changed', body((text, s) => text.replace(re1Updated(s).event.id, `${re1Updated(s).event.id.slice(0, -1)}9`))],
    ['the account changed', body((text) => text.replace(`"account": "${merchant}"`, '"account": "acct_other00"'))],
    ['a leading space', body((text) => ` ${text}`)],
    ['a trailing newline', body((text) => `${text}\n`)],
    ['a trailing space', body((text) => `${text} `)],
    ['a byte-order mark', body((text) => `\uFEFF${text}`)],
    ['CRLF line endings', body((text) => text.replace(/\n/g, '\r\n'))],
    ['tabs for indentation', body((text) => text.replace(/ {2}/g, '\t'))],
    ['the body re-serialised compact', body((text) => JSON.stringify(JSON.parse(text)))],
    ['the body re-serialised with 4 spaces', body((text) => JSON.stringify(JSON.parse(text), null, 4))],
    ['the body re-serialised with its keys sorted', body((text) => JSON.stringify(JSON.parse(text), Object.keys(JSON.parse(text)).sort(), 2))],
    ['the body truncated by one byte', body((text) => text.slice(0, -1))],
    ['the body sent twice', body((text) => text + text)],
    ['the body as UTF-16', (s) => ({ rawBody: Buffer.from(raw(s), 'utf16le'), signature: re1Updated(s).signature })],
  ];
  const cases: Case[] = forgeries.map(([name, delivery]) => ({ name: `refuses ${name} (signature_invalid)`, delivery, expected: reject('signature_invalid') }));

  // Stripe's own header forms that must verify: several v1 (a secret being rolled), an extra v0 (test mode).
  const known = (s: Scene) => {
    const event = eventOf(s, re1Created);
    event.id = `evt_rolled_${event.id}`;
    return s.world.signed(event);
  };
  const genuineForms: Array<[string, (s: Scene, webhook: SignedWebhook) => string]> = [
    ['a wrong v1 before the right one (a secret being rolled)', (s, w) => `t=${now(s)},v1=${'0'.repeat(64)},v1=${v1(s, w.rawBody)}`],
    ['the right v1 before a wrong one', (s, w) => `t=${now(s)},v1=${v1(s, w.rawBody)},v1=${'f'.repeat(64)}`],
    ['an extra v0 signature', (s, w) => `t=${now(s)},v1=${v1(s, w.rawBody)},v0=${'a'.repeat(64)}`],
  ];
  cases.push(
    ...genuineForms.map(([name, make]): Case => ({
      name: `accepts ${name}`,
      delivery: (s) => {
        const webhook = known(s);
        return { rawBody: webhook.rawBody, signature: make(s, webhook) };
      },
      expected: unchangedCn1(),
    })),
  );
  it.each(named(cases))('%s', runTable(handle));
});

describe('the timestamp of the signature', () => {
  const handle = useScene();
  const outside: Array<[string, (now: number) => number]> = [
    ['301 s old', (now) => now - 301],
    ['302 s old', (now) => now - 302],
    ['10 minutes old', (now) => now - 600],
    ['an hour old', (now) => now - 3_600],
    ['a day old', (now) => now - 86_400],
    ['a year old', (now) => now - 31_536_000],
    ['301 s in the future', (now) => now + 301],
    ['10 minutes in the future', (now) => now + 600],
    ['a day in the future', (now) => now + 86_400],
    ['0 (1970)', () => 0],
    ['1', () => 1],
    ['in milliseconds instead of seconds', (now) => now * 1_000],
  ];
  const cases: Case[] = outside.map(([name, at]) => ({
    name: `refuses a signature ${name} (timestamp_outside_tolerance)`,
    delivery: (s) => ({ rawBody: re1Updated(s).rawBody, signature: s.world.fake.sign(re1Updated(s).rawBody, at(s.world.unixNow())) }),
    expected: reject('timestamp_outside_tolerance'),
  }));
  const inside: Array<[string, number]> = [
    ['300 s old', -300],
    ['1 s old', -1],
    ['made now', 0],
    ['1 s in the future', 1],
    ['300 s in the future', 300],
  ];
  cases.push(
    ...inside.map(([name, offset]): Case => ({
      name: `accepts a signature ${name}`,
      delivery: (s) => {
        const event = eventOf(s, re1Created);
        event.id = freshId('tolerance');
        const rawBody = JSON.stringify(event, null, 2);
        return { rawBody, signature: s.world.fake.sign(rawBody, s.world.unixNow() + offset) };
      },
      expected: unchangedCn1(),
    })),
  );
  it.each(named(cases))('%s', runTable(handle));
});

// ── 3. what the signed body holds ─────────────────────────────────────────────

describe('a validly signed body that is not JSON, or not a v1 event', () => {
  const handle = useScene();
  const notJson: Array<[string, string | ((s: Scene) => string)]> = [
    ['plain text', 'not json'],
    ['an empty body', ''],
    ['whitespace', '   \n'],
    ['an unclosed object', '{'],
    ['an object cut short', (s) => re1Updated(s).rawBody.slice(0, -2)],
    ['single-quoted keys', "{'id': 'evt_1', 'object': 'event'}"],
    ['the word undefined', 'undefined'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['trailing garbage after the event', (s) => `${re1Updated(s).rawBody}garbage`],
    ['two events back to back', (s) => re1Updated(s).rawBody + re2Failed(s).rawBody],
    ['XML', '<event><id>evt_1</id></event>'],
    ['a form-encoded event', 'id=evt_1&object=event&type=refund.updated'],
    ['JSON with a trailing comma', '{"id": "evt_1", "object": "event",}'],
    ['JSON with a comment', '{"id": "evt_1" /* forged */, "object": "event"}'],
    ['a NUL byte', '\u0000'],
    ['a byte-order mark before the event', (s) => `\uFEFF${re1Updated(s).rawBody}`],
    ['truncated keywords (nul)', 'nul'],
  ];
  const cases: Case[] = notJson.map(([name, text]) => ({
    name: `refuses ${name} (payload_not_json)`,
    delivery: (s) => signedRaw(s, typeof text === 'string' ? text : text(s)),
    expected: reject('payload_not_json'),
  }));

  const thin = (s: Scene, type: string, extra: Json = {}): Json => ({
    id: freshId('thin'),
    object: 'v2.core.event',
    type,
    created: '2026-03-02T09:00:00.000Z',
    livemode: false,
    reason: null,
    related_object: { id: s.re1.id, type: 'refund', url: `/v1/refunds/${s.re1.id}` },
    ...extra,
  });
  const thinEvents: Array<[string, (s: Scene) => Json]> = [
    ['a meter error thin event', (s) => thin(s, 'v1.billing.meter.error_report_triggered')],
    ['an event destination ping', (s) => thin(s, 'v2.core.event_destination.ping', { related_object: null })],
    ['a thin event typed refund.updated', (s) => thin(s, 'refund.updated')],
    ['a thin event typed payment_intent.succeeded', (s) => thin(s, 'payment_intent.succeeded', { related_object: { id: s.p2.id, type: 'payment_intent', url: `/v1/payment_intents/${s.p2.id}` } })],
    ['a thin event carrying a snapshot-like data.object', (s) => thin(s, 'refund.updated', { data: { object: { ...copyOf(re1Updated(s)).data.object } } })],
    ['a thin event from the connected account', (s) => thin(s, 'refund.updated', { context: merchant })],
  ];
  cases.push(
    ...thinEvents.map(([name, event]): Case => ({
      name: `refuses ${name} (thin_event)`,
      delivery: (s) => signedEvent(s, event(s)),
      expected: reject('thin_event'),
    })),
  );
  it.each(named(cases))('%s', runTable(handle));
});

describe('an event envelope Stripe never sends (payload_invalid)', () => {
  const handle = useScene();
  const literals: Array<[string, string]> = [
    ['the JSON null', 'null'],
    ['a JSON number', '42'],
    ['a huge JSON number', '1e400'],
    ['a JSON string', '"evt_1"'],
    ['a JSON boolean', 'true'],
    ['an empty JSON array', '[]'],
    ['an empty JSON object', '{}'],
  ];
  const cases: Case[] = literals.map(([name, text]) => ({
    name: `refuses ${name} as the body`,
    delivery: (s) => signedRaw(s, text),
    expected: invalid(),
  }));
  cases.push({
    name: 'refuses an array holding the genuine event',
    delivery: (s) => signedRaw(s, `[${re1Updated(s).rawBody}]`),
    expected: invalid(),
  });

  const remove = Symbol('remove');
  const envelope: Array<[string, string, unknown]> = [
    ['no id', 'id', remove],
    ['a null id', 'id', null],
    ['a numeric id', 'id', 123],
    ['an empty id', 'id', ''],
    ['an id without evt_', 'id', 'ev_1'],
    ['a refund id as the event id', 'id', 're_1'],
    ['an id in upper case', 'id', 'EVT_1'],
    ['an id in an array', 'id', ['evt_1']],
    ['an id as an object', 'id', { id: 'evt_1' }],
    ['no object', 'object', remove],
    ['object "Event"', 'object', 'Event'],
    ['object "refund"', 'object', 'refund'],
    ['object null', 'object', null],
    ['object as a number', 'object', 1],
    ['no type', 'type', remove],
    ['a null type', 'type', null],
    ['a numeric type', 'type', 42],
    ['a type in an array', 'type', ['refund.updated']],
    ['a type as an object', 'type', { name: 'refund.updated' }],
    ['a numeric api_version', 'api_version', 20_261_028],
    ['an api_version object', 'api_version', { version: '2026-10-28' }],
    ['a boolean api_version', 'api_version', true],
    ['an api_version array', 'api_version', ['2026-10-28.endive']],
    ['a created string', 'created', '1772442000'],
    ['a fractional created', 'created', 1_772_442_000.5],
    ['a null created', 'created', null],
    ['no created', 'created', remove],
    ['a created date string', 'created', '2026-03-02T09:00:00Z'],
    ['livemode "false"', 'livemode', 'false'],
    ['livemode 0', 'livemode', 0],
    ['livemode null', 'livemode', null],
    ['no livemode', 'livemode', remove],
    ['an empty account', 'account', ''],
    ['an account without acct_', 'account', 'merchant'],
    ['an account "acct"', 'account', 'acct'],
    ['an account in upper case', 'account', 'ACCT_MERCHANT'],
    ['a numeric account', 'account', 42],
    ['a null account', 'account', null],
    ['an account object', 'account', { id: merchant }],
    ['data null', 'data', null],
    ['no data', 'data', remove],
    ['data as a string', 'data', 'refund'],
    ['data as an array', 'data', []],
    ['data.object null', 'data.object', null],
    ['no data.object', 'data.object', remove],
    ['data.object as a string', 'data.object', 're_1'],
    ['data.object as a number', 'data.object', 42],
    ['data.object as an array', 'data.object', []],
    ['data.object as true', 'data.object', true],
  ];
  cases.push(
    ...envelope.map(([name, path, value]): Case => ({
      name: `refuses an event with ${name}`,
      delivery: mutated(re1Updated, (event) => setPath(event, path, value, value === remove)),
      expected: invalid(path === 'data.object' ? 'data' : path),
    })),
  );
  cases.push({
    name: 'refuses an event carrying only data.previous_attributes',
    delivery: mutated(re1Updated, (event) => {
      event.data = { previous_attributes: { status: 'pending' } };
    }),
    expected: invalid('data'),
  });
  cases.push({
    name: 'refuses a huge created (1e400 parses as Infinity)',
    delivery: (s) => signedRaw(s, rawWith(copyOf(re1Updated(s)), 'created', '1e400')),
    expected: invalid('created'),
  });
  it.each(named(cases))('%s', runTable(handle));
});

// ── 4. the objects of the handled events ──────────────────────────────────────

type ObjectMutation = [name: string, mutate: (object: Json, scene: Scene) => void, field: string];

const refundMutations: ObjectMutation[] = [
  ['a refund without object', (r) => delete r.object, 'object'],
  ['a refund with object "Refund"', (r) => (r.object = 'Refund'), 'object'],
  ['a refund with object "charge"', (r) => (r.object = 'charge'), 'object'],
  ['a refund with object null', (r) => (r.object = null), 'object'],
  ['a refund without id', (r) => delete r.id, 'id'],
  ['a refund with a charge id as its id', (r) => (r.id = 'ch_fake_1'), 'id'],
  ['a refund with an id without re_', (r) => (r.id = 'rf_1'), 'id'],
  ['a refund with an empty id', (r) => (r.id = ''), 'id'],
  ['a refund with a numeric id', (r) => (r.id = 42), 'id'],
  ['a refund with an upper-case id', (r) => (r.id = String(r.id).toUpperCase()), 'id'],
  ['a negative amount', (r) => (r.amount = -3_000), 'amount'],
  ['a fractional amount', (r) => (r.amount = 3_000.5), 'amount'],
  ['an amount as a string', (r) => (r.amount = '3000'), 'amount'],
  ['no amount', (r) => delete r.amount, 'amount'],
  ['a null amount', (r) => (r.amount = null), 'amount'],
  ['an amount as an object', (r) => (r.amount = { value: 3_000 }), 'amount'],
  ['a currency of 4 letters', (r) => (r.currency = 'euro'), 'currency'],
  ['a currency of 2 letters', (r) => (r.currency = 'eu'), 'currency'],
  ['a currency with a digit', (r) => (r.currency = 'e1r'), 'currency'],
  ['an empty currency', (r) => (r.currency = ''), 'currency'],
  ['a numeric currency', (r) => (r.currency = 978), 'currency'],
  ['a null currency', (r) => (r.currency = null), 'currency'],
  ['no currency', (r) => delete r.currency, 'currency'],
  ['a status in an array', (r) => (r.status = ['succeeded']), 'status'],
  ['a status in upper case', (r) => (r.status = 'SUCCEEDED'), 'status'],
  ['status "refunded"', (r) => (r.status = 'refunded'), 'status'],
  ['status "complete"', (r) => (r.status = 'complete'), 'status'],
  ['an empty status', (r) => (r.status = ''), 'status'],
  ['a numeric status', (r) => (r.status = 1), 'status'],
  ['metadata with a nested object', (r) => (r.metadata = { ...r.metadata, creditNoteId: { id: r.metadata?.creditNoteId ?? 'cn_1' } }), 'metadata'],
  ['metadata with a number value', (r) => (r.metadata = { ...r.metadata, attempt: 1 }), 'metadata'],
  ['metadata with a boolean value', (r) => (r.metadata = { ...r.metadata, origin: true }), 'metadata'],
  ['metadata with a null value', (r) => (r.metadata = { ...r.metadata, creditNoteId: null }), 'metadata'],
  ['metadata as an array', (r) => (r.metadata = ['cn_1', '1']), 'metadata'],
  ['metadata null', (r) => (r.metadata = null), 'metadata'],
  ['metadata as a string', (r) => (r.metadata = 'creditNoteId=cn_1'), 'metadata'],
  ['a charge id without ch_ or py_', (r) => (r.charge = 'pi_fake_1'), 'charge'],
  ['an empty charge id', (r) => (r.charge = ''), 'charge'],
  ['a numeric charge', (r) => (r.charge = 42), 'charge'],
  ['a charge object with a payment intent id', (r) => (r.charge = { id: 'pi_fake_1', object: 'charge' }), 'charge'],
  ['a charge object without id', (r) => (r.charge = { object: 'charge' }), 'charge'],
  ['a payment_intent without pi_', (r) => (r.payment_intent = 'ch_fake_1'), 'payment_intent'],
  ['an empty payment_intent', (r) => (r.payment_intent = ''), 'payment_intent'],
  ['a numeric payment_intent', (r) => (r.payment_intent = 7), 'payment_intent'],
  ['a payment_intent object with a charge id', (r) => (r.payment_intent = { id: 'ch_fake_1', object: 'payment_intent' }), 'payment_intent'],
];

/** The object of another kind in place of the one the event type carries. */
const wrongKinds = {
  charge: (s: Scene) => copyOf(p1ChargeRefunded(s)).data.object,
  paymentIntent: (s: Scene) => copyOf(p1Succeeded(s)).data.object,
  refund: (s: Scene) => copyOf(re1Updated(s)).data.object,
  customer: () => ({ id: 'cus_1', object: 'customer', email: 'client@example.com', metadata: {} }),
};

describe.each([
  { type: 'refund.updated', base: re1Updated, mutations: refundMutations },
  // The other refund events, on the checks each handler could skip.
  { type: 'refund.failed', base: re2Failed, mutations: refundMutations.filter((_, index) => index % 3 === 0) },
  { type: 'charge.refund.updated', base: re1ChargeRefundUpdated, mutations: refundMutations.filter((_, index) => index % 3 === 1) },
  { type: 'refund.created (a dashboard refund)', base: dashboardCreated, mutations: refundMutations.filter((_, index) => index % 3 === 2) },
])('a $type whose refund Stripe would never send (payload_invalid)', ({ base, mutations }) => {
  const handle = useScene();
  const cases: Case[] = mutations.map(([name, mutate, field]) => ({
    name: `refuses ${name}`,
    delivery: mutated(base, (event, s) => mutate(event.data.object, s)),
    expected: invalid(field),
  }));
  cases.push(
    ...(['charge', 'paymentIntent', 'customer'] as const).map((kind): Case => ({
      name: `refuses a ${kind} in place of the refund`,
      delivery: mutated(base, (event, s) => (event.data.object = wrongKinds[kind](s))),
      expected: invalid('object'),
    })),
  );
  it.each(named(cases))('%s', runTable(handle));
});

describe('a charge.refunded whose charge Stripe would never send (payload_invalid)', () => {
  const handle = useScene();
  const mutations: ObjectMutation[] = [
    ['a charge without id', (c) => delete c.id, 'id'],
    ['a charge with a payment intent id', (c) => (c.id = 'pi_fake_1'), 'id'],
    ['a charge with a refund id', (c) => (c.id = 're_fake_1'), 'id'],
    ['a charge with a numeric id', (c) => (c.id = 42), 'id'],
    ['a charge with object "Charge"', (c) => (c.object = 'Charge'), 'object'],
    ['a charge without object', (c) => delete c.object, 'object'],
    ['refunds as a string', (c) => (c.refunds = 're_fake_1'), 'refunds'],
    ['refunds as a bare array', (c) => (c.refunds = c.refunds.data), 'refunds'],
    ['refunds without data', (c) => delete c.refunds.data, 'refunds'],
    ['refunds.data as an object', (c) => (c.refunds.data = { 0: c.refunds.data[0] }), 'refunds'],
    ['refunds.data holding a string', (c) => (c.refunds.data = ['re_fake_1']), 'refunds'],
    ['a listed refund with a negative amount', (c) => (c.refunds.data[0].amount = -1), 'amount'],
    ['a listed refund with status "refunded"', (c) => (c.refunds.data[0].status = 'refunded'), 'status'],
    ['a listed refund with a numeric metadata value', (c) => (c.refunds.data[0].metadata = { creditNoteId: 'cn_1', attempt: 1 }), 'metadata'],
  ];
  const cases: Case[] = mutations.map(([name, mutate, field]) => ({
    name: `refuses ${name}`,
    delivery: mutated(chargeRefundedSettling, (event, s) => mutate(event.data.object, s)),
    expected: invalid(field),
  }));
  cases.push(
    ...(['refund', 'paymentIntent', 'customer'] as const).map((kind): Case => ({
      name: `refuses a ${kind} in place of the charge`,
      delivery: mutated(chargeRefundedSettling, (event, s) => (event.data.object = wrongKinds[kind](s))),
      expected: invalid('object'),
    })),
  );
  it.each(named(cases))('%s', runTable(handle));
});

describe('a payment_intent.succeeded whose intent Stripe would never send (payload_invalid)', () => {
  const handle = useScene();
  const mutations: ObjectMutation[] = [
    ['an intent with a charge id', (p) => (p.id = 'ch_fake_1'), 'id'],
    ['an intent without id', (p) => delete p.id, 'id'],
    ['an intent with a numeric id', (p) => (p.id = 42), 'id'],
    ['an intent with an id "pi"', (p) => (p.id = 'pi'), 'id'],
    ['an intent with object "PaymentIntent"', (p) => (p.object = 'PaymentIntent'), 'object'],
    ['an intent without object', (p) => delete p.object, 'object'],
    ['an intent with object "charge"', (p) => (p.object = 'charge'), 'object'],
    ['a latest_charge that is an intent id', (p) => (p.latest_charge = 'pi_fake_1'), 'latest_charge'],
    ['a numeric latest_charge', (p) => (p.latest_charge = 42), 'latest_charge'],
    ['an empty latest_charge', (p) => (p.latest_charge = ''), 'latest_charge'],
    ['a latest_charge object with a refund id', (p) => (p.latest_charge = { id: 're_fake_1', object: 'charge' }), 'latest_charge'],
    ['a latest_charge object without id', (p) => (p.latest_charge = { object: 'charge' }), 'latest_charge'],
  ];
  const cases: Case[] = mutations.map(([name, mutate, field]) => ({
    name: `refuses ${name}`,
    delivery: mutated(p2Succeeded, (event, s) => mutate(event.data.object, s)),
    expected: invalid(field),
  }));
  cases.push(
    ...(['refund', 'charge', 'customer'] as const).map((kind): Case => ({
      name: `refuses a ${kind} in place of the intent`,
      delivery: mutated(p2Succeeded, (event, s) => (event.data.object = wrongKinds[kind](s))),
      expected: invalid('object'),
    })),
  );
  it.each(named(cases))('%s', runTable(handle));
});

// ── 5. what Stripe may add: unknown fields pass ───────────────────────────────

describe('fields Stripe may add or leave null (valid events, their normal answer)', () => {
  const handle = useScene();
  type Extra = [name: string, base: Base, mutate: (event: Json, s: Scene) => void, expected: Expected | ((s: Scene) => Expected)];
  const pi1Unchanged: Expected = { ok: { outcome: 'unchanged', reason: null, eventType: 'payment_intent.succeeded' } };
  const strangerIgnored: Expected = { ok: { outcome: 'ignored', reason: 'unknown_payment', creditNoteIds: [] } };
  const extras: Extra[] = [
    ['an unknown top-level field', re1Created, (e) => (e.new_field = 'x'), unchangedCn1()],
    ['an unknown top-level object', re1Created, (e) => (e.context = { id: 'ctx_1', nested: { deep: [1, 2, 3] } }), unchangedCn1()],
    ['an unknown field in request', re1Created, (e) => (e.request.trace = 'abc'), unchangedCn1()],
    ['an unknown field in data', re1Created, (e) => (e.data.snapshot = true), unchangedCn1()],
    ['unknown fields in the refund', re1Created, (e) => Object.assign(e.data.object, { presentment_details: { amount: 3_000, currency: 'eur' }, next_action: null, instructions_email: null }), unchangedCn1()],
    ['an extra string in the metadata', re1Created, (e) => (e.data.object.metadata.note = 'from the ERP'), unchangedCn1()],
    ['previous_attributes with unknown keys', re1Created, (e) => (e.data.previous_attributes = { status: 'pending', whatever: { x: 1 } }), unchangedCn1()],
    ['a null api_version', re1Created, (e) => (e.api_version = null), unchangedCn1()],
    ['an old api_version', re1Created, (e) => (e.api_version = '2020-08-27'), unchangedCn1()],
    ['a null payment_intent (a charge without intent)', re1Created, (e) => (e.data.object.payment_intent = null), unchangedCn1()],
    ['an expanded charge object', re1Created, (e) => (e.data.object.charge = { id: e.data.object.charge, object: 'charge', amount: 10_000, captured: true }), unchangedCn1()],
    ['an expanded payment_intent object', re1Created, (e, s) => (e.data.object.payment_intent = { id: s.p1.id, object: 'payment_intent', extra: 1 }), unchangedCn1()],
    ['no pending_webhooks', re1Created, (e) => delete e.pending_webhooks, unchangedCn1()],
    ['an unknown field in the charge', p1ChargeRefunded, (e) => (e.data.object.outcome = { network_status: 'approved_by_network' }), unchangedCn1()],
    ['an unknown field in a listed refund', p1ChargeRefunded, (e) => (e.data.object.refunds.data[0].new_thing = [null]), unchangedCn1()],
    ['an unknown field in the payment intent', p1Succeeded, (e) => (e.data.object.amount_details = { tip: {} }), pi1Unchanged],
    ['a null latest_charge', p1Succeeded, (e) => (e.data.object.latest_charge = null), pi1Unchanged],
    ['an expanded latest_charge', p1Succeeded, (e, s) => (e.data.object.latest_charge = { id: s.p1.latest_charge, object: 'charge', amount: 10_000 }), pi1Unchanged],
    ['an unknown field in a stranger’s refund', (s) => s.webhooks.strangerRefundCreated, (e) => (e.data.object.destination_details.card = { reference: 'x' }), strangerIgnored],
    ['a pyr_ refund id of a stranger’s payment', (s) => s.webhooks.strangerRefundCreated, (e) => (e.data.object.id = 'pyr_1NgQ0b2eZvKYlo2C'), strangerIgnored],
    ['a py_ charge id of a stranger’s payment', (s) => s.webhooks.strangerRefundCreated, (e) => (e.data.object.charge = 'py_1NgQ0b2eZvKYlo2C'), strangerIgnored],
  ];
  const cases: Case[] = extras.map(([name, base, mutate, expected]) => ({
    name: `accepts ${name}`,
    delivery: mutated(base, (event, s) => {
      event.id = freshId('extra');
      mutate(event, s);
    }),
    expected,
  }));
  it.each(named(cases))('%s', runTable(handle));
});

// ── 6. valid events that are not ours ─────────────────────────────────────────

describe('valid events of types the endpoint does not handle (ignored, unhandled_event_type)', () => {
  const handle = useScene();
  const refundOfCn1 = (s: Scene) => {
    const refund = copyOf(re1Updated(s)).data.object;
    return refund; // status succeeded, metadata naming cn_1: would settle cn_1 under a handled type
  };
  const types: Array<[string, (s: Scene) => Json]> = [
    ['customer.created', () => wrongKinds.customer()],
    ['invoice.paid', () => ({ id: 'in_1', object: 'invoice', metadata: { creditNoteId: 'cn_1' } })],
    ['invoice.payment_succeeded', () => ({ id: 'in_2', object: 'invoice', metadata: {} })],
    ['charge.succeeded', (s) => wrongKinds.charge(s)],
    ['charge.captured', (s) => wrongKinds.charge(s)],
    ['charge.updated', (s) => wrongKinds.charge(s)],
    ['charge.failed', (s) => wrongKinds.charge(s)],
    ['charge.dispute.created', () => ({ id: 'dp_1', object: 'dispute', amount: 10_000, charge: 'ch_fake_1', status: 'needs_response' })],
    ['payment_intent.created', (s) => wrongKinds.paymentIntent(s)],
    ['payment_intent.processing', (s) => wrongKinds.paymentIntent(s)],
    ['payment_intent.payment_failed', (s) => wrongKinds.paymentIntent(s)],
    ['payment_intent.canceled', (s) => wrongKinds.paymentIntent(s)],
    ['checkout.session.completed', () => ({ id: 'cs_test_1', object: 'checkout.session', metadata: { creditNoteId: 'cn_1' } })],
    ['payout.paid', () => ({ id: 'po_1', object: 'payout', amount: 3_000 })],
    ['balance.available', () => ({ object: 'balance', available: [] })],
    ['account.updated', () => ({ id: merchant, object: 'account' })],
    ['transfer.created', () => ({ id: 'tr_1', object: 'transfer', amount: 3_000 })],
    ['application_fee.refunded', () => ({ id: 'fee_1', object: 'application_fee', refunded: true })],
    ['credit_note.created', () => ({ id: 'cn_1', object: 'credit_note', amount: 3_000, metadata: { creditNoteId: 'cn_1' } })],
    ['credit_note.voided', () => ({ id: 'cn_1', object: 'credit_note', status: 'void' })],
    ['setup_intent.succeeded', () => ({ id: 'seti_1', object: 'setup_intent' })],
    ['customer.subscription.deleted', () => ({ id: 'sub_1', object: 'subscription' })],
    ['refund.weird (a refund that would settle cn_1)', refundOfCn1],
    ['charge.refund.created (not a Stripe type)', refundOfCn1],
    ['Refund.Updated (another case)', refundOfCn1],
    ['REFUND.UPDATED', refundOfCn1],
    ['refund.updated  (trailing spaces)', refundOfCn1],
    ['refund.updated.v2', refundOfCn1],
    ['refund', refundOfCn1],
    ['payment_intent.succeeded.later (an intent that would release cn_2)', (s) => copyOf(p2Succeeded(s)).data.object],
    ['charge.refunded_partially', (s) => copyOf(chargeRefundedSettling(s)).data.object],
  ];
  const cases: Case[] = types.map(([label, object]) => {
    const type = label === 'refund.updated  (trailing spaces)' ? 'refund.updated ' : label.replace(/ \(.*\)$/, '');
    return {
      name: `ignores ${label}`,
      delivery: mutated(re1Updated, (event, s) => {
        event.id = `evt_other_${label.replace(/[^a-z]/gi, '_')}`;
        event.type = type;
        event.data = { object: object(s) };
      }),
      expected: { ok: { eventId: `evt_other_${label.replace(/[^a-z]/gi, '_')}`, eventType: type, outcome: 'ignored', reason: 'unhandled_event_type', creditNoteIds: [] } },
    };
  });
  it.each(named(cases))('%s', runTable(handle));
});

describe('valid refunds that are none of ours (ignored)', () => {
  const handle = useScene();
  const ours = (creditNoteId: string) => ({ creditNoteId, attempt: '1', origin: ourOrigin });
  /** A new refund of P1 (cn_1's payment) carrying our metadata for a credit note id. */
  const ghostRefund = (creditNoteId: string) =>
    mutated(re1Updated, (event) => {
      event.id = freshId('ghost');
      event.data.object.id = `re_ghost_${creditNoteId.length}_${freshIds}`;
      event.data.object.metadata = ours(creditNoteId);
    });
  const unknownCreditNotes = ['cn_elsewhere', 'CN_1', 'cn_10', 'cn_', 'cn_1.', 'cn_1-old', 'cn:1', 'x'.repeat(255), 'constructor', 'toString', 'hasOwnProperty', '__proto__', 'prototype', 'valueOf'];
  const cases: Case[] = unknownCreditNotes.map((creditNoteId) => ({
    name: `a refund whose metadata names the unknown credit note ${JSON.stringify(creditNoteId.length > 20 ? `${creditNoteId.slice(0, 8)}…(${creditNoteId.length})` : creditNoteId)} (unknown_credit_note)`,
    delivery: ghostRefund(creditNoteId),
    expected: { ok: { outcome: 'ignored', reason: 'unknown_credit_note', creditNoteIds: [] } },
  }));
  const stranger = (s: Scene) => s.webhooks.strangerRefundCreated;
  const strangerCases: Array<[string, Base, (event: Json, s: Scene) => void]> = [
    ['a dashboard refund of a stranger payment', stranger, () => {}],
    ['the same, settled', stranger, (e) => ((e.type = 'refund.updated'), (e.data.object.status = 'succeeded'))],
    ['the same, failed', stranger, (e) => ((e.type = 'refund.failed'), (e.data.object.status = 'failed'), (e.data.object.failure_reason = 'unknown'))],
    ['the same, as charge.refund.updated', stranger, (e) => (e.type = 'charge.refund.updated')],
    ['the charge.refunded of a stranger payment', (s) => s.webhooks.strangerChargeRefunded, () => {}],
    ['a stranger refund carrying our origin but no creditNoteId', stranger, (e) => (e.data.object.metadata = { origin: ourOrigin })],
    ['a stranger refund carrying another system’s metadata', stranger, (e) => (e.data.object.metadata = { creditNoteId: 'erp_77', attempt: '1', origin: 'erp' })],
    ['a refund of an unknown payment intent', stranger, (e) => ((e.data.object.payment_intent = 'pi_unknown'), (e.data.object.charge = 'ch_unknown'))],
    ['a refund of an unknown charge without intent', stranger, (e) => ((e.data.object.payment_intent = null), (e.data.object.charge = 'py_unknown'))],
  ];
  cases.push(
    ...strangerCases.map(([name, base, mutate]): Case => ({
      name: `${name} (unknown_payment)`,
      delivery: mutated(base, (event, s) => {
        event.id = freshId('stranger');
        mutate(event, s);
      }),
      expected: { ok: { outcome: 'ignored', reason: 'unknown_payment', creditNoteIds: [] } },
    })),
  );
  const unprocessable: Array<[string, Base, (event: Json, s: Scene) => void]> = [
    ['a refund of ours of amount 0', re1Updated, (e) => ((e.data.object.id = 're_zero_ours'), (e.data.object.amount = 0))],
    ['a dashboard refund of cn_1’s payment of amount 0', dashboardCreated, (e) => ((e.data.object.id = 're_zero_dashboard'), (e.data.object.amount = 0))],
  ];
  cases.push(
    ...unprocessable.map(([name, base, mutate]): Case => ({
      name: `${name} (unprocessable_event)`,
      delivery: mutated(base, (event, s) => {
        event.id = freshId('zero');
        mutate(event, s);
      }),
      expected: { ok: { outcome: 'ignored', reason: 'unprocessable_event', creditNoteIds: [] } },
    })),
  );
  it.each(named(cases))('ignores %s', runTable(handle));
});

// ── 7. misrouted events ───────────────────────────────────────────────────────

describe('events of the wrong mode or account', () => {
  const handle = useScene();
  const live = (base: Base): Case['delivery'] => mutated(base, (event) => (event.livemode = true));
  const account = (base: Base, value: string | null) =>
    mutated(base, (event) => {
      if (value === null) delete event.account;
      else event.account = value;
    });
  const cases: Case[] = [
    ...(
      [
        ['refund.updated', re1Updated],
        ['refund.failed', re2Failed],
        ['charge.refund.updated', re1ChargeRefundUpdated],
        ['refund.created of a dashboard refund', dashboardCreated],
        ['charge.refunded', chargeRefundedSettling],
        ['payment_intent.succeeded', p2Succeeded],
        ['customer.created', (s: Scene) => ({ ...copyOf(re1Updated(s)), id: 'evt_live_customer', type: 'customer.created', data: { object: wrongKinds.customer() } })],
      ] as Array<[string, Base]>
    ).map(([name, base]): Case => ({ name: `refuses a live ${name} on a test-mode endpoint (livemode_mismatch)`, delivery: live(base), expected: reject('livemode_mismatch') })),
    // The envelope is checked first: a malformed live event is payload_invalid.
    { name: 'refuses a live event without id as payload_invalid', delivery: mutated(re1Updated, (e) => ((e.livemode = true), delete e.id)), expected: invalid('id') },
    { name: 'refuses a live event with data null as payload_invalid', delivery: mutated(re1Updated, (e) => ((e.livemode = true), (e.data = null))), expected: invalid('data') },
    { name: 'refuses a live event with livemode "true" as payload_invalid', delivery: mutated(re1Updated, (e) => (e.livemode = 'true')), expected: invalid('livemode') },
    ...(
      [
        ['refund.updated from another account', account(re1Updated, 'acct_other')],
        ['refund.updated from the platform', account(re1Updated, null)],
        ['refund.updated from an account differing in case', account(re1Updated, 'acct_MERCHANT')],
        ['refund.updated from an account extending the merchant’s', account(re1Updated, `${merchant}2`)],
        ['refund.failed from another account', account(re2Failed, 'acct_other')],
        ['charge.refund.updated from another account', account(re1ChargeRefundUpdated, 'acct_other')],
        ['refund.created of a dashboard refund from another account', account(dashboardCreated, 'acct_other')],
        ['refund.created of a dashboard refund from the platform', account(dashboardCreated, null)],
        ['charge.refunded from another account', account(chargeRefundedSettling, 'acct_other')],
        ['payment_intent.succeeded from another account', account(p2Succeeded, 'acct_other')],
        ['payment_intent.succeeded from the platform', account(p3Succeeded, null)],
      ] as Array<[string, Case['delivery']]>
    ).map(([name, delivery]): Case => ({ name: `refuses a ${name} (account_mismatch)`, delivery, expected: reject('account_mismatch') })),
  ];
  it.each(named(cases))('%s', runTable(handle));
});

// ── 8. booby-trapped keys ─────────────────────────────────────────────────────

describe('metadata and payload keys that target Object.prototype', () => {
  const handle = useScene();
  /** cn_1's pending refund, as a new refund.created (its normal answer: unchanged, cn_1) with a raw metadata text. */
  const withMetadata = (fragment: string) => (s: Scene) => {
    const event = copyOf(re1Created(s));
    event.id = freshId('proto');
    return signedRaw(s, rawWith(event, 'data.object.metadata', fragment));
  };
  const ourKeysText = `"creditNoteId": "cn_1", "attempt": "1", "origin": "${ourOrigin}"`;
  const at = (path: string, fragment: string, base: Base = re1Created) => (s: Scene) => {
    const event = copyOf(base(s));
    event.id = freshId('proto');
    return signedRaw(s, rawWith(event, path, fragment));
  };
  const cases: Case[] = [
    { name: 'metadata {"__proto__": {"creditNoteId": "cn_1"}} (payload_invalid)', delivery: withMetadata('{"__proto__": {"creditNoteId": "cn_1"}}'), expected: invalid('metadata') },
    { name: 'our metadata plus "__proto__": {"polluted": "yes"} (payload_invalid)', delivery: withMetadata(`{${ourKeysText}, "__proto__": {"polluted": "yes"}}`), expected: invalid('metadata') },
    { name: 'metadata {"constructor": {"prototype": {"polluted": "yes"}}} (payload_invalid)', delivery: withMetadata(`{${ourKeysText}, "constructor": {"prototype": {"polluted": "yes"}}}`), expected: invalid('metadata') },
    { name: 'metadata "__proto__": null (payload_invalid)', delivery: withMetadata(`{${ourKeysText}, "__proto__": null}`), expected: invalid('metadata') },
    { name: 'metadata "__proto__": [] (payload_invalid)', delivery: withMetadata(`{${ourKeysText}, "__proto__": []}`), expected: invalid('metadata') },
    { name: 'metadata "__proto__": "x" before our keys', delivery: withMetadata(`{"__proto__": "x", ${ourKeysText}}`), expected: unchangedCn1() },
    { name: 'metadata "__proto__": "x" after our keys', delivery: withMetadata(`{${ourKeysText}, "__proto__": "x"}`), expected: unchangedCn1() },
    { name: 'metadata "constructor": "x"', delivery: withMetadata(`{${ourKeysText}, "constructor": "x"}`), expected: unchangedCn1() },
    { name: 'metadata "toString": "x"', delivery: withMetadata(`{${ourKeysText}, "toString": "x"}`), expected: unchangedCn1() },
    { name: 'metadata "hasOwnProperty": "x"', delivery: withMetadata(`{${ourKeysText}, "hasOwnProperty": "x"}`), expected: unchangedCn1() },
    { name: 'metadata "valueOf": "x"', delivery: withMetadata(`{${ourKeysText}, "valueOf": "x"}`), expected: unchangedCn1() },
    { name: 'metadata "prototype": "x"', delivery: withMetadata(`{${ourKeysText}, "prototype": "x"}`), expected: unchangedCn1() },
    { name: 'metadata "__defineGetter__": "x"', delivery: withMetadata(`{${ourKeysText}, "__defineGetter__": "x"}`), expected: unchangedCn1() },
    { name: 'metadata with every trap key at once', delivery: withMetadata(`{"__proto__": "a", "constructor": "b", "toString": "c", "hasOwnProperty": "d", ${ourKeysText}}`), expected: unchangedCn1() },
    {
      name: 'a stranger refund with "__proto__": {"metadata": {our keys}} on the refund (an unknown field: unknown_payment)',
      delivery: at('data.object.__hostile', `{"__proto__": {"metadata": {${ourKeysText}}}}`, (s) => s.webhooks.strangerRefundCreated),
      expected: { ok: { outcome: 'ignored', reason: 'unknown_payment', creditNoteIds: [] } },
    },
    {
      name: 'a stranger refund whose metadata is {"__proto__": "cn_1"} (unknown_payment)',
      delivery: at('data.object.metadata', '{"__proto__": "cn_1"}', (s) => s.webhooks.strangerRefundCreated),
      expected: { ok: { outcome: 'ignored', reason: 'unknown_payment', creditNoteIds: [] } },
    },
    { name: 'a top-level "__proto__": {"polluted": "yes"} (an unknown field)', delivery: at('__hostile', '{"__proto__": {"polluted": "yes"}}'), expected: unchangedCn1() },
    { name: 'a top-level "constructor": {"prototype": {"polluted": "yes"}} (an unknown field)', delivery: at('__hostile', '{"constructor": {"prototype": {"polluted": "yes"}}}'), expected: unchangedCn1() },
    { name: 'a "__proto__" key inside data (an unknown field)', delivery: at('data.__hostile', '{"__proto__": {"object": {"metadata": {"creditNoteId": "cn_2"}}}}'), expected: unchangedCn1() },
    { name: 'a "__proto__" key inside request (an unknown field)', delivery: at('request.__hostile', '{"__proto__": {"isAdmin": true}}'), expected: unchangedCn1() },
    {
      name: 'an unhandled event whose object is {"__proto__": {"polluted": "yes"}}',
      delivery: (s) => {
        const event = copyOf(re1Updated(s));
        event.id = freshId('proto');
        event.type = 'customer.updated';
        return signedRaw(s, rawWith(event, 'data.object', '{"id": "cus_1", "object": "customer", "__proto__": {"polluted": "yes"}}'));
      },
      expected: { ok: { outcome: 'ignored', reason: 'unhandled_event_type', creditNoteIds: [] } },
    },
    {
      name: 'a charge.refunded listing a refund with "__proto__" metadata (payload_invalid)',
      delivery: at('data.object.refunds.data.0.metadata', `{${ourKeysText}, "__proto__": {"polluted": "yes"}}`, p1ChargeRefunded),
      expected: invalid('metadata'),
    },
    {
      name: 'a payment_intent.succeeded whose metadata has "__proto__" and "constructor" string keys',
      delivery: at('data.object.metadata', '{"__proto__": "x", "constructor": "y"}', p1Succeeded),
      expected: { ok: { outcome: 'unchanged', reason: null } },
    },
  ];
  it.each(named(cases))('%s', runTable(handle));

  it('leaves Object.prototype as it found it after the whole table', () => {
    expectPrototypeUntouched();
    expect(({} as Json).creditNoteId).toBeUndefined();
    expect(({} as Json).polluted).toBeUndefined();
  });
});

// ── 9. duplicates and edited refunds, after the genuine events applied ────────

describe('an event id already applied, delivered again with any body (unchanged)', () => {
  const handle = useScene({ settle: true });
  type Duplicate = [name: string, base: Base, mutate: (event: Json, s: Scene) => void];
  const duplicates: Duplicate[] = [
    ['the same refund.updated redelivered', re1Updated, () => {}],
    ['the same refund.updated re-serialised compact', re1Updated, () => {}],
    ['refund.updated with status pending', re1Updated, (e) => (e.data.object.status = 'pending')],
    ['refund.updated with status failed', re1Updated, (e) => ((e.data.object.status = 'failed'), (e.data.object.failure_reason = 'expired_or_canceled_card'))],
    ['refund.updated with status canceled', re1Updated, (e) => (e.data.object.status = 'canceled')],
    ['refund.updated with status requires_action', re1Updated, (e) => (e.data.object.status = 'requires_action')],
    ['refund.updated with a smaller amount', re1Updated, (e) => (e.data.object.amount = 2_999)],
    ['refund.updated with a larger amount', re1Updated, (e) => (e.data.object.amount = 9_000)],
    ['refund.updated in another currency', re1Updated, (e) => (e.data.object.currency = 'usd')],
    ['refund.updated with its metadata cleared', re1Updated, (e) => (e.data.object.metadata = {})],
    ['refund.updated naming cn_2', re1Updated, (e) => (e.data.object.metadata = { creditNoteId: 'cn_2', attempt: '1', origin: ourOrigin })],
    ['refund.updated about another refund id', re1Updated, (e) => (e.data.object.id = 're_other_1')],
    ['refund.updated retyped refund.failed', re1Updated, (e) => ((e.type = 'refund.failed'), (e.data.object.status = 'failed'), (e.data.object.failure_reason = 'unknown'))],
    ['refund.updated retyped charge.refund.updated', re1Updated, (e) => (e.type = 'charge.refund.updated')],
    ['refund.updated with another created', re1Updated, (e) => (e.created += 60)],
    ['refund.updated with other previous_attributes', re1Updated, (e) => (e.data.previous_attributes = { status: 'failed' })],
    ['refund.updated with unknown fields', re1Updated, (e) => (e.surprise = { x: 1 })],
    ['refund.failed redelivered', re2Failed, () => {}],
    ['refund.failed with status succeeded', re2Failed, (e) => ((e.data.object.status = 'succeeded'), (e.data.object.failure_reason = null))],
    ['refund.failed with another failure reason', re2Failed, (e) => (e.data.object.failure_reason = 'insufficient_funds')],
    ['refund.failed with its metadata cleared', re2Failed, (e) => (e.data.object.metadata = {})],
    ['payment_intent.succeeded redelivered', p2Succeeded, () => {}],
    ['payment_intent.succeeded with another latest_charge', p2Succeeded, (e) => (e.data.object.latest_charge = 'ch_other_1')],
    ['payment_intent.succeeded with another amount', p2Succeeded, (e) => (e.data.object.amount = 1)],
    ['payment_intent.succeeded about P3 (cn_3 is waiting for it)', p2Succeeded, (e, s) => (e.data.object = copyOf(p3Succeeded(s)).data.object)],
  ];
  const cases: Case[] = duplicates.map(([name, base, mutate]) => ({
    name,
    delivery: (s) => {
      const event = eventOf(s, base);
      mutate(event, s);
      const compact = name.includes('compact');
      const rawBody = compact ? JSON.stringify(event) : JSON.stringify(event, null, 2);
      return { rawBody, signature: s.world.fake.sign(rawBody) };
    },
    expected: (s) => ({ ok: { eventId: base(s).event.id, outcome: 'unchanged' } }),
  }));
  it.each(named(cases))('%s', runTable(handle));
});

describe('a refund already recorded, whose metadata was edited at Stripe (still its credit note’s)', () => {
  const handle = useScene({ settle: true });
  const edits: Array<[string, Json]> = [
    ['cleared', {}],
    ['pointing to another credit note', { creditNoteId: 'other', attempt: '9' }],
    ['pointing to another credit note with our origin', { creditNoteId: 'other', attempt: '9', origin: ourOrigin }],
    ['pointing to cn_2 (exists) with our origin', { creditNoteId: 'cn_2', attempt: '1', origin: ourOrigin }],
    ['with another origin', { creditNoteId: 'cn_1', attempt: '1', origin: 'another-system' }],
    ['without origin', { creditNoteId: 'cn_1', attempt: '1' }],
    ['with only an unrelated key', { note: 'edited in the dashboard' }],
    ['with an empty creditNoteId', { creditNoteId: '', attempt: '1', origin: ourOrigin }],
  ];
  const types: Array<[string, Base]> = [
    ['refund.updated', re1Updated],
    ['charge.refund.updated', re1ChargeRefundUpdated],
  ];
  const cases: Case[] = types.flatMap(([type, base]) =>
    edits.map(([edit, metadata]): Case => ({
      name: `${type} of re_1 (succeeded) with metadata ${edit}`,
      delivery: mutated(base, (event) => {
        event.id = freshId('edited');
        event.data.object.metadata = metadata;
      }),
      expected: unchangedCn1(),
    })),
  );
  cases.push(
    ...edits.slice(0, 4).map(([edit, metadata]): Case => ({
      name: `refund.failed of re_2 (failed, cn_4) with metadata ${edit}`,
      delivery: mutated(re2Failed, (event) => {
        event.id = freshId('edited');
        event.data.object.metadata = metadata;
      }),
      expected: { ok: { outcome: 'unchanged', reason: null, creditNoteIds: ['cn_4'] } },
    })),
  );
  it.each(named(cases))('%s', async (_name, testCase) => {
    await runCase(handle, testCase.delivery, testCase.expected);
    const listed = (await handle.scene.world.lifecycle.listCreditNotes())._unsafeUnwrap().map((view) => view.creditNoteId);
    expect(listed.filter((id) => id.startsWith('stripe-'))).toEqual([]);
  });
});
