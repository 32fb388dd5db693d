import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { WebhookRejectedError, type WebhookDelivery } from '../../src/adapters/stripe/stripeWebhooks.js';
import type { SignedWebhook, StripeEventJson } from '../../src/testing/stripe/fakeStripeServer.js';
import type { HookCall, HookName } from '../../src/ports/notifier.js';
import { onlyOfType, openStripeWorld, storeSnapshot } from './support.js';

/*
 * Helpers of the hostile-webhook suite (test/stripe/hostileWebhooks.test.ts):
 * a Stripe world like support.ts's `startStripeWorld`, but with recording
 * hooks and an explicit `close()` so one world can serve a whole `describe`;
 * a scene of credit notes in every state a webhook can move; and the case
 * runner proving a hostile delivery got its typed answer and changed nothing.
 */

export const merchant = 'acct_merchant';
export const ourOrigin = 'refund-lifecycle';

/** Any JSON Stripe (or an attacker) could send: mutated freely by the cases. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const startHostileWorld = async () => {
  const hookCalls: Array<{ hook: HookName; call: HookCall }> = [];
  const record = (hook: HookName) => (call: HookCall) => {
    hookCalls.push({ hook, call: structuredClone(call) });
  };
  const hooks = { refundSucceeded: record('refundSucceeded'), refundFailed: record('refundFailed'), refundedManually: record('refundedManually') };
  // As support.ts's world, card refunds settle by webhook (setRefundStatus); and charges list their refunds in
  // charge.* events (API versions before 2022-11-15), so charge.refunded carries refunds to tamper with.
  const world = await openStripeWorld({ fake: { cardRefundsSettle: 'later', chargeRefunds: 'always' }, lifecycle: { hooks } });
  return {
    ...world,
    hookCalls,
    /** A raw body (e.g. with a real `__proto__` key) signed with the endpoint's secret. */
    signedRaw(rawBody: string): WebhookDelivery {
      return { rawBody, signature: world.fake.sign(rawBody) };
    },
  };
};

export type HostileWorld = Awaited<ReturnType<typeof startHostileWorld>>;

const deliverOne = async (world: HostileWorld, webhook: SignedWebhook) => {
  const result = await world.webhooks.handleWebhook({ rawBody: webhook.rawBody, signature: webhook.signature });
  if (result.isErr()) throw new Error(`scene set-up: ${webhook.event.type} ${webhook.event.id} refused: ${result.error.message}`);
  return result.value;
};

/**
 * The scene every group starts from, all on the merchant's connected account:
 * - P1 (100.00, card, its payment_intent.succeeded delivered): cn_1 refunds 30.00 as re_1 (pending; its
 *   refund.created and charge.refunded delivered), cn_4 refunds 10.00 as re_2 (pending); Stripe then settled
 *   re_1 (succeeded) and failed re_2 — those webhooks are NOT delivered: each would write (and mail) if accepted.
 *   A dashboard refund of 5.00 on P1 whose webhooks are not delivered either (accepted, it would be adopted).
 * - P2 and P3 (processing debits): cn_2 and cn_3 wait for their charge; each intent then succeeded at Stripe and its
 *   payment_intent.succeeded is NOT delivered (accepted, it would write and create a refund at Stripe).
 * - A stranger payment no credit note refunds, with a dashboard refund of it.
 * With `settle`, the genuine re_1 succeeded, re_2 failed and P2 succeeded webhooks are delivered once (the
 * duplicates' scene): cn_1 succeeded (client mailed), cn_4 failed (merchant mailed), cn_2 requested (refund created).
 */
export const buildScene = async (options: { settle?: boolean } = {}) => {
  const world = await startHostileWorld();
  const f = world.fake;

  const p1 = f.createPaymentIntent({ amount: 10_000, currency: 'eur', account: merchant });
  const p1Succeeded = onlyOfType(f.takeWebhooks(), 'payment_intent.succeeded');
  await deliverOne(world, p1Succeeded);

  expect((await world.issue({ creditNoteId: 'cn_1', paymentId: p1.id, account: merchant, amount: 3_000 }))._unsafeUnwrap().status).toBe('requested');
  const re1 = f.refunds()[0]!;
  const created1 = f.takeWebhooks();
  const re1Created = onlyOfType(created1, 'refund.created');
  const p1ChargeRefunded = onlyOfType(created1, 'charge.refunded');
  for (const webhook of created1) await deliverOne(world, webhook);

  expect((await world.issue({ creditNoteId: 'cn_4', paymentId: p1.id, account: merchant, amount: 1_000 }))._unsafeUnwrap().status).toBe('requested');
  const re2 = f.refunds()[1]!;
  const created2 = f.takeWebhooks();
  const re2Created = onlyOfType(created2, 'refund.created');
  for (const webhook of created2) await deliverOne(world, webhook);

  f.setRefundStatus(re1.id, 'succeeded');
  const settled1 = f.takeWebhooks();
  const re1Updated = onlyOfType(settled1, 'refund.updated');
  const re1ChargeRefundUpdated = onlyOfType(settled1, 'charge.refund.updated');

  f.setRefundStatus(re2.id, 'failed', 'lost_or_stolen_card');
  const failed2 = f.takeWebhooks();
  const re2Failed = onlyOfType(failed2, 'refund.failed');

  const p2 = f.createPaymentIntent({ amount: 5_000, currency: 'eur', account: merchant, method: 'sepa_debit', status: 'processing' });
  f.takeWebhooks();
  expect((await world.issue({ creditNoteId: 'cn_2', paymentId: p2.id, account: merchant, amount: 2_000, chargeConfirmed: false }))._unsafeUnwrap().status).toBe('pending');
  f.succeedPaymentIntent(p2.id);
  const p2Succeeded = onlyOfType(f.takeWebhooks(), 'payment_intent.succeeded');

  const p3 = f.createPaymentIntent({ amount: 6_000, currency: 'eur', account: merchant, method: 'sepa_debit', status: 'processing' });
  f.takeWebhooks();
  expect((await world.issue({ creditNoteId: 'cn_3', paymentId: p3.id, account: merchant, amount: 2_500, chargeConfirmed: false }))._unsafeUnwrap().status).toBe('pending');
  f.succeedPaymentIntent(p3.id);
  const p3Succeeded = onlyOfType(f.takeWebhooks(), 'payment_intent.succeeded');

  const stranger = f.createPaymentIntent({ amount: 4_000, currency: 'eur', account: merchant });
  f.takeWebhooks();
  const strangerRefund = f.createDashboardRefund({ paymentIntent: stranger.id, amount: 1_500 });
  const strangerWebhooks = f.takeWebhooks();
  const strangerRefundCreated = onlyOfType(strangerWebhooks, 'refund.created');
  const strangerChargeRefunded = onlyOfType(strangerWebhooks, 'charge.refunded');

  const dashboard = f.createDashboardRefund({ paymentIntent: p1.id, amount: 500 });
  const dashboardWebhooks = f.takeWebhooks();
  const dashboardCreated = onlyOfType(dashboardWebhooks, 'refund.created');

  // charge.refunded as Stripe would send it had re_1 already succeeded when the charge was refunded: it settles cn_1.
  const p1ChargeRefundedSettling: Json = structuredClone(p1ChargeRefunded.event);
  p1ChargeRefundedSettling.id = 'evt_hostile_charge_refunded_settling';
  for (const listed of p1ChargeRefundedSettling.data.object.refunds.data) if (listed.id === re1.id) listed.status = 'succeeded';

  if (options.settle) {
    expect((await deliverOne(world, re1Updated)).outcome).toBe('applied');
    expect((await deliverOne(world, re2Failed)).outcome).toBe('applied');
    expect((await deliverOne(world, p2Succeeded)).outcome).toBe('applied');
    expect(world.notifier.calls.map((call) => [call.creditNote.creditNoteId, call.kind])).toEqual([
      ['cn_1', 'refund_completed'],
      ['cn_4', 'refund_failed'],
    ]);
    expect(world.hookCalls.map(({ hook, call }) => [call.creditNote.creditNoteId, hook])).toEqual([
      ['cn_1', 'refundSucceeded'],
      ['cn_4', 'refundFailed'],
    ]);
    expect(f.refunds({ paymentIntent: p2.id })).toHaveLength(1);
  }

  return {
    world,
    p1,
    p2,
    p3,
    stranger,
    re1,
    re2,
    strangerRefund,
    dashboard,
    /** Genuine webhooks, each signed with the endpoint's secret; see above which were delivered. */
    webhooks: {
      p1Succeeded,
      re1Created,
      p1ChargeRefunded,
      re2Created,
      re1Updated,
      re1ChargeRefundUpdated,
      re2Failed,
      p2Succeeded,
      p3Succeeded,
      strangerRefundCreated,
      strangerChargeRefunded,
      dashboardCreated,
    },
    /** Fabricated from genuine ones: would settle cn_1 if accepted. */
    events: { p1ChargeRefundedSettling: p1ChargeRefundedSettling as StripeEventJson },
  };
};

export type Scene = Awaited<ReturnType<typeof buildScene>>;

/**
 * One scene for a whole `describe`: built before its first case, rebuilt
 * before a case only when an earlier case changed something (so a failing
 * case cannot make the following ones fail for its sake).
 */
export const useScene = (options: { settle?: boolean } = {}) => {
  const holder = { current: undefined as Scene | undefined, dirty: false };
  beforeAll(async () => {
    holder.current = await buildScene(options);
  }, 30_000);
  beforeEach(async () => {
    if (!holder.dirty) return;
    await holder.current?.world.close();
    holder.current = await buildScene(options);
    holder.dirty = false;
  }, 30_000);
  afterAll(async () => {
    await holder.current?.world.close();
  });
  return {
    get scene(): Scene {
      if (!holder.current) throw new Error('scene not built');
      return holder.current;
    },
    markDirty() {
      holder.dirty = true;
    },
  };
};

export type SceneHandle = ReturnType<typeof useScene>;

// ── building hostile events ───────────────────────────────────────────────────

/** A deep copy of a genuine webhook's event. */
export const copyOf = (webhook: SignedWebhook | StripeEventJson): Json =>
  structuredClone('rawBody' in webhook ? webhook.event : webhook);

/** Sets (or, with `undefined` and `{ remove: true }`, removes) a value at a dotted path. */
export const setPath = (target: Json, path: string, value: unknown, remove = false): Json => {
  const keys = path.split('.');
  let cursor = target;
  for (const key of keys.slice(0, -1)) cursor = cursor[key];
  const last = keys.at(-1)!;
  if (remove) delete cursor[last];
  else cursor[last] = value;
  return target;
};

/** Stringifies with a placeholder, then writes `fragment` (raw JSON text, e.g. with a real `__proto__` key) in its place. */
export const rawWith = (event: Json, path: string, fragment: string): string => {
  const marker = '__HOSTILE_FRAGMENT__';
  const body = JSON.stringify(setPath(structuredClone(event), path, marker), null, 2);
  expect(body).toContain(`"${marker}"`);
  return body.replace(`"${marker}"`, fragment);
};

// ── running a case ────────────────────────────────────────────────────────────

export type Expected =
  | { reject: string; field?: string }
  | { ok: { outcome: 'applied' | 'unchanged' | 'ignored'; reason?: string | null; creditNoteIds?: string[]; eventId?: string; eventType?: string } };

const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
const originalToString = Object.prototype.toString;
const originalHasOwnProperty = Object.prototype.hasOwnProperty;

const pathText = (path: unknown): string => (Array.isArray(path) ? path.map(String).join('.') : String(path));

/** Object.prototype as it was when this file loaded. */
export const expectPrototypeUntouched = () => {
  const probe = {} as Record<string, unknown>;
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames);
  for (const key of ['creditNoteId', 'attempt', 'origin', 'polluted', 'metadata', 'isAdmin', 'status']) expect(probe[key]).toBeUndefined();
  expect(Object.prototype.toString).toBe(originalToString);
  expect(Object.prototype.hasOwnProperty).toBe(originalHasOwnProperty);
  expect(Object.getPrototypeOf(probe)).toBe(Object.prototype);
};

/**
 * Delivers one hostile delivery and proves its typed answer, and that nothing was
 * written, no request reached Stripe, nobody was mailed, no hook ran and
 * Object.prototype is untouched.
 */
export const runCase = async (handle: SceneHandle, delivery: (scene: Scene) => WebhookDelivery, expected: Expected | ((scene: Scene) => Expected)) => {
  const scene = handle.scene;
  const { world } = scene;
  const input = delivery(scene);
  const want = typeof expected === 'function' ? expected(scene) : expected;
  const before = await storeSnapshot(world.store);
  const requestsBefore = world.fake.requests.length;
  const notificationsBefore = world.notifier.calls.length;
  const hooksBefore = world.hookCalls.length;

  let result;
  try {
    result = await world.webhooks.handleWebhook(input);
  } finally {
    const after = await storeSnapshot(world.store);
    const changed =
      JSON.stringify(after) !== JSON.stringify(before) ||
      world.fake.requests.length !== requestsBefore ||
      world.notifier.calls.length !== notificationsBefore ||
      world.hookCalls.length !== hooksBefore;
    if (changed) handle.markDirty();
  }

  const answer = result.isOk() ? { ok: result.value } : { err: { ...result.error, name: result.error.constructor.name, message: result.error.message } };
  /** The actual answer in one line, so a failing case says what the endpoint did. */
  const actual = result.isOk()
    ? `Ok ${result.value.outcome} reason=${String(result.value.reason)} creditNoteIds=${JSON.stringify(result.value.creditNoteIds)}`
    : `Err ${result.error.constructor.name} ${(result.error as { code?: string }).code ?? ''} reason=${String((result.error as { reason?: unknown }).reason)}: ${result.error.message.slice(0, 160)}`;
  if ('reject' in want) {
    expect(answer, `expected rejection ${want.reject}, got ${actual}`).toMatchObject({ err: { code: 'webhook_rejected', reason: want.reject } });
    const error = result._unsafeUnwrapErr();
    expect(error).toBeInstanceOf(WebhookRejectedError);
    if (want.reject === 'payload_invalid') {
      const issues = (error as unknown as { issues?: Array<{ path: unknown; message: unknown }> }).issues;
      expect(Array.isArray(issues) && issues.length > 0, 'payload_invalid carries issues').toBe(true);
      for (const issue of issues!) expect(typeof issue.message).toBe('string');
      if (want.field !== undefined) {
        const paths = issues!.map((issue) => pathText(issue.path));
        expect(paths.some((path) => path.includes(want.field!)), `an issue names ${want.field}: ${JSON.stringify(paths)}`).toBe(true);
      }
    }
  } else {
    expect(answer, `expected Ok ${JSON.stringify(want.ok)}, got ${actual}`).toMatchObject({ ok: want.ok });
  }

  expect(await storeSnapshot(world.store)).toEqual(before);
  expect(world.fake.requests.length, 'no request to Stripe').toBe(requestsBefore);
  expect(world.notifier.calls.length, 'nobody mailed').toBe(notificationsBefore);
  expect(world.hookCalls.length, 'no hook run').toBe(hooksBefore);
  expectPrototypeUntouched();
  return result;
};
