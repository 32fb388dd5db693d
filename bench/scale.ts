/*
 * Flat with size (issue 10): the cost of each operation at a small and a big
 * store, in the same process. The store is grown by copying the appends one
 * real credit note's life made (issued, refund asked for and accepted,
 * succeeded, every side effect done), with its ids changed, so a million
 * credit notes take seconds instead of a million command runs; what is
 * measured then runs through the public API on credit notes of its own.
 *
 *   node --expose-gc --max-old-space-size=16384 --import tsx bench/scale.ts [--small N] [--big N] [--ops N] [--json]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import Stripe from 'stripe';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { stripeWebhooks } from '../src/adapters/stripe/stripeWebhooks.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import type { AppendRequest, EventStore } from '../src/ports/eventStore.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import { manualClock } from '../src/testing/manualClock.js';
import { signWebhookPayload } from '../src/testing/stripe/webhooks.js';
import { countingNotifier, recordingAppends } from './support.js';

export type ScaleRow = {
  operation: string;
  /** Microseconds per operation with `small` credit notes stored. */
  smallMicros: number;
  bigMicros: number;
  /** bigMicros / smallMicros: 1 is flat; the target is ≤ 1.5. */
  ratio: number;
};
export type ScaleResult = {
  small: number;
  big: number;
  seedPerSecond: number;
  heapMb: number;
  /** Share of each measured phase spent in garbage collection, by `round:operation` (a: small, b: big). */
  gcShares: Record<string, number>;
  rows: ScaleRow[];
};
export type ScaleOptions = { small?: number; big?: number; ops?: number; log?: (line: string) => void };

const START = '2026-03-02T09:00:00.000Z';
const merchant = 'acct_scale';
const webhookSecret = 'whsec_scale';
const actor = { kind: 'user', id: 'bench' } as const;
const TEMPLATE = 'tpl0';

/**
 * The appends of one real credit note's whole life, as text with its ids
 * marked, to be stamped out for any number of credit notes.
 */
const recordTemplate = async (): Promise<string[]> => {
  const store = inMemoryEventStore();
  const appends: string[] = [];
  // Claims are this run's; a copy's side effects are completed in bulk after it is appended.
  const recording = recordingAppends(store, (request) => appends.push(JSON.stringify({ ...request, completeOutbox: [] } satisfies AppendRequest)));
  let ids = 0;
  const gateway = fakeGateway({ processor: 'stripe' });
  const lifecycle = createRefundLifecycle({
    store: recording,
    gateway,
    notifier: countingNotifier().notifier,
    clock: manualClock(START),
    generateId: () => `id_${TEMPLATE}_${(ids += 1)}`,
  });
  const creditNoteId = `cn_${TEMPLATE}`;
  (
    await lifecycle.issueCreditNote({
      creditNoteId,
      amount: 100,
      currency: 'EUR',
      reason: 'scale',
      chargeConfirmed: true,
      actor,
      payment: { paymentId: `pi_${TEMPLATE}`, account: merchant },
    })
  )._unsafeUnwrap();
  const refund = gateway.refunds()[0]!;
  gateway.setRefundStatus(refund.processorRefundId, 'succeeded');
  (
    await lifecycle.observeRefund({
      refund: { ...gateway.refunds()[0]!, processorRefundId: refund.processorRefundId },
      source: 'webhook',
      causationId: `evt_${TEMPLATE}`,
      account: merchant,
    })
  )._unsafeUnwrap();
  const view = (await lifecycle.getCreditNote(creditNoteId))._unsafeUnwrap();
  if (view.status !== 'succeeded') throw new Error(`template credit note is ${view.status}`);
  // Every id of the template carries TEMPLATE; the refund id is the fake's own.
  return appends.map((text) => text.replaceAll(refund.processorRefundId, `re_${TEMPLATE}`));
};

/** Grows `store` to `target` credit notes from the template, then completes every side effect the copies owe. */
const seed = async (store: EventStore, template: string[], from: number, target: number) => {
  const now = new Date(new Date(START).getTime() + 86_400_000);
  for (let i = from; i < target; i += 1) {
    const tag = `s${i}`;
    for (const text of template) {
      const appended = await store.append(JSON.parse(text.replaceAll(TEMPLATE, tag)) as AppendRequest);
      if (appended.isErr()) throw appended.error;
    }
    if ((i + 1) % 5_000 === 0 || i + 1 === target) {
      for (;;) {
        const claimed = await store.claimOutbox({ owner: 'seed', now, leaseMs: 60_000, limit: 10_000 });
        if (claimed.length === 0) break;
        for (const entry of claimed) (await store.completeOutbox({ entryId: entry.id, token: entry.claim.token }, now))._unsafeUnwrap();
      }
    }
  }
};

// Garbage collection pauses, summed: with a big live heap a full collection takes long, and that is part of the cost.
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });
export const gcShares: Record<string, number> = {};
/** GC entries reach the observer a turn later: wait for them. */
const settleGc = () => new Promise((resolve) => setTimeout(resolve, 0));
/** A full collection between seeding and measuring (with --expose-gc), so no phase pays for the seeding's garbage. */
const collect = () => (globalThis as { gc?: () => void }).gc?.();

const micros = async (name: string, count: number, run: (index: number) => Promise<void>): Promise<number> => {
  await settleGc();
  const gcBefore = gcMs;
  const started = performance.now();
  for (let index = 0; index < count; index += 1) await run(index);
  const elapsed = performance.now() - started;
  await settleGc();
  gcShares[name] = (gcMs - gcBefore) / elapsed;
  return (elapsed * 1000) / count;
};

/** Per-operation cost of each command and read against the store as it is now, on credit notes of their own. */
const measure = async (store: EventStore, gateway: ReturnType<typeof fakeGateway>, stored: number, round: string, ops: number) => {
  const clock = manualClock(START);
  const lifecycle = createRefundLifecycle({ store, gateway, notifier: countingNotifier().notifier, clock });
  const stripe = new Stripe('sk_test_scale');
  const webhooks = stripeWebhooks({ lifecycle, stripe, webhookSecret, clock });
  const ids = Array.from({ length: ops }, (_, i) => `cn_m${round}_${i}`);
  const unwrap = <T>(result: { isErr(): boolean; _unsafeUnwrap(): T }) => result._unsafeUnwrap();

  const issue = await micros(`${round}:issue`, ops, async (i) => {
    unwrap(
      await lifecycle.issueCreditNote({
        creditNoteId: ids[i]!,
        amount: 100,
        currency: 'EUR',
        reason: 'scale',
        chargeConfirmed: true,
        actor,
        payment: { paymentId: `pi_m${round}_${i}`, account: merchant },
      }),
    );
  });

  const created = Math.floor(clock.now().getTime() / 1000);
  const refunds = gateway.refunds().filter((refund) => refund.metadata.creditNoteId?.startsWith(`cn_m${round}_`));
  const signed = refunds.map((refund, i) => {
    const rawBody = JSON.stringify({
      id: `evt_m${round}_${i}`,
      object: 'event',
      type: 'refund.updated',
      api_version: '2025-03-31.basil',
      created,
      livemode: false,
      account: merchant,
      data: {
        object: {
          id: refund.processorRefundId,
          object: 'refund',
          amount: refund.amount,
          currency: refund.currency,
          status: 'succeeded',
          metadata: { creditNoteId: refund.metadata.creditNoteId, attempt: String(refund.metadata.attempt) },
          payment_intent: refund.paymentId,
          charge: null,
          failure_reason: null,
        },
      },
    });
    return { rawBody, signature: signWebhookPayload(rawBody, created, webhookSecret) };
  });
  const webhook = await micros(`${round}:webhook`, ops, async (i) => {
    const outcome = unwrap(await webhooks.handleWebhook(signed[i]!));
    if (outcome.outcome !== 'applied') throw new Error(`webhook ${i}: ${outcome.outcome} ${outcome.reason ?? ''}`);
  });
  const duplicate = await micros(`${round}:duplicate`, ops, async (i) => {
    const outcome = unwrap(await webhooks.handleWebhook(signed[i]!));
    if (outcome.outcome !== 'unchanged') throw new Error(`duplicate ${i}: ${outcome.outcome}`);
  });

  // Reads spread over everything stored, seeded and measured alike.
  const everyId = (i: number) => (i % 2 === 0 ? ids[i % ops]! : `cn_s${(i * 7_919) % stored}`);
  const reads = ops * 5;
  const get = await micros(`${round}:get`, reads, async (i) => {
    unwrap(await lifecycle.getCreditNote(everyId(i)));
  });
  const list = await micros(`${round}:list`, reads, async (i) => {
    unwrap(await lifecycle.listCreditNotes({ status: 'succeeded', limit: 50, after: everyId(i) }));
  });
  const dispatch = await micros(`${round}:dispatch`, reads, async () => {
    const report = unwrap(await lifecycle.dispatch());
    if (report.performed !== 0) throw new Error('an idle dispatch performed something');
  });
  return { issue, webhook, duplicate, get, list, dispatch };
};

const labels: Record<string, string> = {
  issue: 'issueCreditNote + inline refund request',
  webhook: 'signed refund.updated webhook, fresh',
  duplicate: 'the same webhook redelivered',
  get: 'getCreditNote',
  list: "listCreditNotes({ status, limit: 50, after })",
  dispatch: 'dispatch() with nothing due',
};

export const runScaleBench = async (options: ScaleOptions = {}): Promise<ScaleResult> => {
  const small = options.small ?? 10_000;
  const big = options.big ?? 1_000_000;
  const ops = options.ops ?? 2_000;
  const log = options.log ?? (() => {});
  const template = await recordTemplate();
  const store = inMemoryEventStore();
  // One processor for both rounds: its refund ids never repeat.
  const gateway = fakeGateway({ processor: 'stripe' });

  log(`seeding ${small.toLocaleString('en-US')} credit notes…`);
  let started = performance.now();
  await seed(store, template, 0, small);
  collect();
  const atSmall = await measure(store, gateway, small, 'a', ops);
  log(`seeding up to ${big.toLocaleString('en-US')}…`);
  started = performance.now();
  await seed(store, template, small, big);
  const seedPerSecond = ((big - small) / (performance.now() - started)) * 1000;
  collect();
  const atBig = await measure(store, gateway, big, 'b', ops);
  const heapMb = process.memoryUsage().heapUsed / 1e6;

  return {
    small,
    big,
    seedPerSecond,
    heapMb,
    gcShares: { ...gcShares },
    rows: Object.keys(labels).map((key) => {
      const smallMicros = atSmall[key as keyof typeof atSmall];
      const bigMicros = atBig[key as keyof typeof atBig];
      return { operation: labels[key]!, smallMicros, bigMicros, ratio: bigMicros / smallMicros };
    }),
  };
};

export const formatScale = (result: ScaleResult): string =>
  [
    `| operation (in memory) | µs/op at ${result.small.toLocaleString('en-US')} | µs/op at ${result.big.toLocaleString('en-US')} | ratio |`,
    '| --- | ---: | ---: | ---: |',
    ...result.rows.map((row) => `| ${row.operation} | ${row.smallMicros.toFixed(1)} | ${row.bigMicros.toFixed(1)} | ${row.ratio.toFixed(2)} |`),
  ].join('\n');

const main = async () => {
  const args = process.argv.slice(2);
  const number = (flag: string) => {
    const at = args.indexOf(flag);
    return at === -1 ? undefined : Number(args[at + 1]);
  };
  const result = await runScaleBench({
    ...(number('--small') === undefined ? {} : { small: number('--small')! }),
    ...(number('--big') === undefined ? {} : { big: number('--big')! }),
    ...(number('--ops') === undefined ? {} : { ops: number('--ops')! }),
    log: (line) => console.error(line),
  });
  console.log(args.includes('--json') ? JSON.stringify(result) : `${formatScale(result)}\n\nGC share: ${JSON.stringify(result.gcShares)}`);
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
