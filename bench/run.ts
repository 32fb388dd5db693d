/*
 * `npm run bench` (issue 10): throughput figures, each against a baseline timed
 * in the same process and run, so the ratio means something across machines.
 *
 *   npm run bench                  # everything (about 15 minutes): in-process ratios at 2,000 credit notes,
 *                                  # flat with size 10,000 vs 1,000,000, replay of 1M and 5M events,
 *                                  # PostgreSQL (when DATABASE_URL is set) and PGlite
 *   npm run bench -- --quick       # smaller sizes (10k vs 100k, 1M events, PostgreSQL 10k vs 100k)
 *   npm run bench -- --size 500    # another number of credit notes for the in-process ratios
 *   npm run bench -- --write       # also writes bench/results.md and bench/results.json
 * test/bench.smoke.test.ts runs every part at a tiny size, so the scripts never rot.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Stripe from 'stripe';
import { Bench, type Fn } from 'tinybench';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { stripeGateway } from '../src/adapters/stripe/stripeGateway.js';
import { stripeWebhooks } from '../src/adapters/stripe/stripeWebhooks.js';
import { isCreditNoteEvent, type StoredEvent } from '../src/events/envelope.js';
import type { CreditNoteEvent } from '../src/events/creditNoteEvents.js';
import { parseStoredEvent } from '../src/events/parseEvent.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { decideWithXState } from '../src/machine/creditNoteMachine.js';
import { initialCreditNoteState, type CreditNoteState } from '../src/machine/creditNoteState.js';
import { evolveCreditNote, foldCreditNote } from '../src/machine/fold.js';
import { manualClock } from '../src/testing/manualClock.js';
import { startFakeStripeServer, type SignedWebhook } from '../src/testing/stripe/index.js';
import { formatPgTable, runPgliteBench, runPostgresBench, type PgBenchRow } from './postgres.js';
import { formatReplayMemoryTable, runReplayMemoryBench, type ReplayMemoryRow } from './replayMemory.js';
import { formatScale, type ScaleResult } from './scale.js';
import { countingNotifier } from './support.js';

export type BenchRow = {
  name: string;
  /** What one operation is, e.g. `webhook`, `event`. */
  unit: string;
  opsPerSecond: number;
  baseline: string | null;
  baselineOpsPerSecond: number | null;
  /** opsPerSecond / baselineOpsPerSecond; null when the row has no baseline. */
  ratio: number | null;
};

export type BenchOptions = { size?: number; smoke?: boolean; log?: (line: string) => void };

const merchant = 'acct_bench';
const actor = { kind: 'user', id: 'bench' } as const;

/** Times `fn` with tinybench; `unitsPerCall` converts calls per second into units per second. */
const measure = async (
  name: string,
  fn: Fn,
  options: { time: number; iterations: number; warmup: boolean; unitsPerCall?: number },
): Promise<number> => {
  const bench = new Bench({ time: options.time, iterations: options.iterations, warmup: options.warmup, warmupTime: Math.min(options.time, 200), throws: true });
  bench.add(name, fn);
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') throw new Error(`bench ${name}: ${result.state}`);
  return (1000 / result.period) * (options.unitsPerCall ?? 1);
};

const row = (name: string, unit: string, ops: number, baseline?: { name: string; ops: number }): BenchRow => ({
  name,
  unit,
  opsPerSecond: ops,
  baseline: baseline?.name ?? null,
  baselineOpsPerSecond: baseline?.ops ?? null,
  ratio: baseline === undefined ? null : ops / baseline.ops,
});

/** Runs every measurement in this process and returns the rows of the table. */
export const runBench = async (options: BenchOptions = {}): Promise<BenchRow[]> => {
  const smoke = options.smoke ?? false;
  const size = options.size ?? (smoke ? 10 : 2_000);
  const log = options.log ?? (() => {});
  const timed = smoke ? { time: 5, iterations: 3, warmup: false } : { time: 1_500, iterations: 64, warmup: true };
  const warmupNotes = smoke ? 2 : Math.min(200, Math.ceil(size / 10));

  // ── the world: as test/stripe/support.ts wires it ──────────────────────────
  const fake = await startFakeStripeServer({ cardRefundsSettle: 'later' });
  try {
    const stripe = new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });
    const clock = manualClock('2026-03-02T09:00:00.000Z');
    fake.setClock(Math.floor(clock.now().getTime() / 1000));
    const store = inMemoryEventStore();
    const { notifier, sent: notified } = countingNotifier();
    const lifecycle = createRefundLifecycle({ store, gateway: stripeGateway({ stripe }), notifier, clock });
    const webhooks = stripeWebhooks({ lifecycle, stripe, webhookSecret: fake.webhookSecret, clock });
    const handle = async (webhook: SignedWebhook) => {
      const outcome = (await webhooks.handleWebhook({ rawBody: webhook.rawBody, signature: webhook.signature }))._unsafeUnwrap();
      return outcome.outcome;
    };

    const total = size + warmupNotes;
    log(`issuing ${total} credit notes through the fake Stripe…`);
    // A payment per 10 credit notes: issuing all of them against one payment slowed down with their number (not measured here; see issue 10).
    const payments = Array.from({ length: Math.ceil(total / 10) }, () =>
      fake.createPaymentIntent({ amount: 1_000, currency: 'eur', account: merchant }),
    );
    for (const webhook of fake.takeWebhooks()) await handle(webhook);
    const creditNoteIds: string[] = [];
    for (let i = 0; i < total; i += 1) {
      const payment = payments[Math.floor(i / 10)]!;
      const creditNoteId = `cn_${String(i).padStart(6, '0')}`;
      creditNoteIds.push(creditNoteId);
      (
        await lifecycle.issueCreditNote({
          creditNoteId,
          amount: 100,
          currency: 'EUR',
          reason: 'bench',
          chargeConfirmed: true,
          actor,
          payment: { paymentId: payment.id, account: merchant },
        })
      )._unsafeUnwrap();
    }
    fake.takeWebhooks(); // refund.created and the like: not what is measured
    for (const refund of fake.refunds()) fake.setRefundStatus(refund.id, 'succeeded');
    const signed = fake.takeWebhooks().filter((webhook) => webhook.event.type === 'refund.updated');
    if (signed.length !== total) throw new Error(`expected ${total} refund.updated webhooks, got ${signed.length}`);
    const warm = signed.slice(0, warmupNotes);
    const measured = signed.slice(warmupNotes);

    // ── 1. signed webhooks, fresh and redelivered, vs constructEvent alone ────
    const constructEvent = () => {
      let i = 0;
      return () => {
        const webhook = measured[i++ % measured.length]!;
        // As the endpoint verifies: default tolerance, received at the (fixed) clock's instant.
        stripe.webhooks.constructEvent(webhook.rawBody, webhook.signature, fake.webhookSecret, 300, undefined, clock.now().getTime());
      };
    };
    log('webhooks: constructEvent baseline…');
    const baselineOps = await measure('constructEvent', constructEvent(), timed);
    for (const webhook of warm) if ((await handle(webhook)) !== 'applied') throw new Error('warm-up webhook not applied');
    log(`webhooks: ${measured.length} fresh…`);
    let next = 0;
    const freshOps = await measure(
      'handleWebhook fresh',
      async () => {
        const webhook = measured[next++];
        if (webhook === undefined) throw new Error('ran out of fresh webhooks');
        if ((await handle(webhook)) !== 'applied') throw new Error('fresh webhook not applied');
      },
      // Each fresh webhook can be applied once: exactly one pass, no warm-up (the warm-up set served).
      { time: 0, iterations: measured.length, warmup: false },
    );
    if (next !== measured.length) throw new Error(`fresh pass handled ${next} of ${measured.length} webhooks`);
    if (notified() < total) throw new Error(`${notified()} notifications for ${total} refunds that succeeded`);
    log('webhooks: duplicates…');
    let dup = 0;
    const duplicateOps = await measure(
      'handleWebhook duplicate',
      async () => {
        if ((await handle(measured[dup++ % measured.length]!)) !== 'unchanged') throw new Error('duplicate webhook changed something');
      },
      timed,
    );
    const baseline = { name: 'constructEvent only', ops: baselineOps };

    // ── 2. getCreditNote ──────────────────────────────────────────────────────
    log('getCreditNote…');
    let read = 0;
    const getOps = await measure(
      'getCreditNote',
      async () => {
        (await lifecycle.getCreditNote(creditNoteIds[read++ % creditNoteIds.length]!))._unsafeUnwrap();
      },
      timed,
    );

    // ── 3. replay of the global log as JSONL ──────────────────────────────────
    const all = await store.readAll();
    const jsonl = all.map((event) => JSON.stringify(event)).join('\n');
    const lineCount = all.length;
    log(`replay: ${lineCount} events, ${(jsonl.length / 1e6).toFixed(1)} MB of JSONL…`);
    const jsonParseOnly = () => {
      for (const line of jsonl.split('\n')) JSON.parse(line);
    };
    // The log read as a stream: each credit note's state is carried forward event by event, so memory holds one
    // small state per credit note, never the events (and parsed lines die young, as in the baseline).
    const replay = () => {
      const states = new Map<string, CreditNoteState>();
      for (const line of jsonl.split('\n')) {
        const event = parseStoredEvent(JSON.parse(line))._unsafeUnwrap();
        if (!isCreditNoteEvent(event)) continue;
        const decision = evolveCreditNote(states.get(event.streamId) ?? initialCreditNoteState, event);
        if (!decision.accepted) throw new Error('replay rejected an event');
        states.set(event.streamId, decision.state);
      }
    };
    const jsonOps = await measure('JSON.parse only', jsonParseOnly, { ...timed, unitsPerCall: lineCount });
    const replayOps = await measure('replay', replay, { ...timed, unitsPerCall: lineCount });

    // ── 4. fold vs xstate on the same events ─────────────────────────────────
    const streams = new Map<string, CreditNoteEvent[]>();
    for (const event of all as StoredEvent[]) {
      if (!isCreditNoteEvent(event)) continue;
      streams.set(event.streamId, [...(streams.get(event.streamId) ?? []), event]);
    }
    const creditNoteEvents = [...streams.values()];
    const eventCount = creditNoteEvents.reduce((sum, events) => sum + events.length, 0);
    log(`fold vs xstate: ${eventCount} credit-note events…`);
    const fold = () => {
      for (const events of creditNoteEvents) if (foldCreditNote(events).rejected !== null) throw new Error('fold rejected an event');
    };
    const xstate = () => {
      for (const events of creditNoteEvents) {
        let state = initialCreditNoteState;
        for (const event of events) {
          const decision = decideWithXState(state, event);
          if (!decision.accepted) throw new Error('xstate rejected an event');
          state = decision.state;
        }
      }
    };
    const xstateOps = await measure('decideWithXState', xstate, { ...timed, unitsPerCall: eventCount });
    const foldOps = await measure('foldCreditNote', fold, { ...timed, unitsPerCall: eventCount });

    return [
      row(`handleWebhook, fresh (${measured.length} credit notes)`, 'webhook', freshOps, baseline),
      row('handleWebhook, duplicate', 'webhook', duplicateOps, baseline),
      row('getCreditNote', 'read', getOps),
      row(`replay JSONL in commit order: parse + parseStoredEvent + evolve (${lineCount} lines)`, 'event', replayOps, { name: 'JSON.parse only', ops: jsonOps }),
      row(`foldCreditNote (${eventCount} events)`, 'event', foldOps, { name: 'decideWithXState', ops: xstateOps }),
    ];
  } finally {
    await fake.close();
  }
};

const fmt = (ops: number | null) => (ops === null ? '—' : Math.round(ops).toLocaleString('en-US'));

/** The rows as a Markdown table. */
export const formatTable = (rows: readonly BenchRow[]): string =>
  [
    '| measured | ops/s | baseline | baseline ops/s | ratio |',
    '| --- | ---: | --- | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.opsPerSecond)} /${r.unit} | ${r.baseline ?? '—'} | ${fmt(r.baselineOpsPerSecond)} | ${r.ratio === null ? '—' : r.ratio < 0.1 ? r.ratio.toFixed(4) : r.ratio.toFixed(2)} |`,
    ),
  ].join('\n');

/** The machine the figures come from. */
export const machineLine = (): string =>
  `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}, ${os.platform()} ${os.release()}`;

/** Flat with size runs in a process of its own: a million credit notes need a big heap and a clean collector. */
const runScaleInChild = (args: string[]): Promise<ScaleResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--max-old-space-size=16384', '--import', 'tsx', fileURLToPath(new URL('./scale.ts', import.meta.url)), '--json', ...args],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as ScaleResult) : reject(new Error(`bench/scale.ts exited with ${code}`))));
  });

export type BenchResults = {
  machine: string;
  date: string;
  seconds: number;
  throughput: BenchRow[];
  scale: ScaleResult;
  replay: ReplayMemoryRow[];
  postgres: PgBenchRow[] | null;
  pglite: PgBenchRow[];
};

export const formatResults = (results: BenchResults): string =>
  [
    `${results.machine}; ${results.date}; ${results.seconds.toFixed(0)} s`,
    '',
    '### Throughput in memory, against baselines timed in the same run',
    '',
    formatTable(results.throughput),
    '',
    '### Flat with size, in memory',
    '',
    formatScale(results.scale),
    '',
    `Seeded at ${Math.round(results.scale.seedPerSecond).toLocaleString('en-US')} credit notes/s; heap ${Math.round(results.scale.heapMb).toLocaleString('en-US')} MB at ${results.scale.big.toLocaleString('en-US')}.`,
    '',
    '### Replay of a JSONL log in a process of its own',
    '',
    formatReplayMemoryTable(results.replay),
    '',
    '### PostgreSQL',
    '',
    results.postgres === null ? 'Not measured: DATABASE_URL was not set.' : formatPgTable(results.postgres),
    '',
    '### PGlite',
    '',
    formatPgTable(results.pglite),
  ].join('\n');

const main = async () => {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const sizeAt = args.indexOf('--size');
  const size = sizeAt === -1 ? undefined : Number(args[sizeAt + 1]);
  if (size !== undefined && !(Number.isSafeInteger(size) && size > 0)) throw new Error('--size needs a positive integer');
  const log = (line: string) => console.error(line);
  const databaseUrl = process.env.DATABASE_URL;
  const started = performance.now();

  log('── throughput in memory');
  const throughput = await runBench({ ...(size === undefined ? {} : { size }), log });
  log('── flat with size, in memory');
  const scale = await runScaleInChild(quick ? ['--small', '10000', '--big', '100000', '--ops', '1000'] : []);
  log('── replay');
  const replay = await runReplayMemoryBench({ ...(quick ? { events: [1_000_000] } : {}), log });
  log('── PostgreSQL');
  const postgres =
    databaseUrl === undefined || databaseUrl === ''
      ? null
      : await runPostgresBench({ databaseUrl, log, ...(quick ? { sizes: { small: 10_000, big: 100_000 } } : {}) });
  log('── PGlite');
  const pglite = await runPgliteBench({ log });

  const results: BenchResults = {
    machine: machineLine(),
    date: new Date().toISOString(),
    seconds: (performance.now() - started) / 1000,
    throughput,
    scale,
    replay,
    postgres,
    pglite,
  };
  const table = formatResults(results);
  console.log(`\n${table}`);
  if (args.includes('--write')) {
    const here = path.dirname(fileURLToPath(import.meta.url));
    writeFileSync(path.join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(
      path.join(here, 'results.md'),
      `# npm run bench — results\n\nWritten by \`npm run bench -- --write\`${quick ? ' --quick' : ''}. Every ratio compares two figures timed in the same run.\n\n${table}\n`,
    );
    log('wrote bench/results.md and bench/results.json');
  }
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
