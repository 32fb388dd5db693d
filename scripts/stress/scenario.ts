/*
 * Proof under concurrency (issue 9): several host processes, one fake Stripe
 * server, one PostgreSQL schema. Every worker replays the same shuffled
 * stream of duplicated webhooks, refreshes and retries; one may be killed
 * mid-dispatch. Afterwards the fake Stripe, the shared side-effect log and
 * the store are checked against the library's promise. Used by
 * test/stress.postgres.test.ts and `npm run stress` (scripts/stress/run.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { postgresStore } from '../../src/adapters/postgres/index.js';
import { isCreditNoteEvent } from '../../src/events/envelope.js';
import { foldCreditNote } from '../../src/machine/fold.js';
import type { CreditNoteSummary, OutboxEntry } from '../../src/ports/eventStore.js';
import { startFakeStripeServer } from '../../src/testing/stripe/fakeStripeServer.js';
import {
  emptyStats,
  seededRandom,
  shuffle,
  type EffectLine,
  type FromWorker,
  type IssueSpec,
  type StressOp,
  type ToWorker,
  type WorkerEnv,
  type WorkerStats,
} from './protocol.js';
import { countBy, toMachineEvent } from '../../test/support/replayAndCount.js';

export type StressOptions = {
  databaseUrl: string;
  creditNotes: number;
  workers: number;
  /** Kill one worker (SIGKILL) right after it sent its n-th notification, before it records it. */
  crash?: { afterNotifications: number } | null;
  /** Share of first refund attempts that fail at Stripe (then retried by the stream). */
  failureRate?: number;
  leaseMs?: number;
  seed?: number;
  /** Concurrent requests within each worker; default 4. */
  lanes?: number;
  /**
   * Every worker issues every credit note (a double-clicked Issue in four processes), instead of each credit
   * note by one worker. Exposed a read skew in issueCreditNote (see run.ts).
   */
  reissueRace?: boolean;
  log?: (line: string) => void;
};

export type StressFigures = {
  creditNotes: number;
  workers: number;
  crashed: boolean;
  seed: number;
  webhooksSent: number;
  webhooksHandled: number;
  applied: number;
  duplicatesAbsorbed: number;
  ignored: number;
  refreshes: number;
  retriesAccepted: number;
  retriesRefused: number;
  versionConflicts: number;
  refundsAtStripe: number;
  notificationsSent: number;
  hooksRun: number;
  /** Repeats of a notification or hook under its idempotency key (only after a crash). */
  redelivered: number;
  sideEffects: number;
  elapsedMs: number;
  sideEffectsPerSecond: number;
  statuses: Record<string, number>;
};

export type StressResult = { figures: StressFigures; violations: string[]; workerStats: WorkerStats[] };

const workerFile = fileURLToPath(new URL('./worker.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

type Worker = {
  index: number;
  child: ChildProcess;
  alive: boolean;
  /** Exit code or signal, when it ended before it was told to. */
  exit: string | null;
  stats: WorkerStats;
  sent: number;
  waiting: ((stats: WorkerStats | null) => void) | null;
};

const startWorker = (index: number, env: WorkerEnv): Promise<Worker> =>
  new Promise((resolve, reject) => {
    const child = fork(workerFile, [], {
      cwd: repoRoot,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker: Worker = { index, child, alive: true, exit: null, stats: emptyStats(), sent: 0, waiting: null };
    child.on('message', (message: FromWorker) => {
      if (message.type === 'ready') resolve(worker);
      if (message.type === 'sent') worker.sent += 1;
      if (message.type === 'done') {
        worker.stats = message.stats;
        const waiting = worker.waiting;
        worker.waiting = null;
        waiting?.(message.stats);
      }
    });
    child.on('exit', (code, signal) => {
      worker.alive = false;
      worker.exit = signal ?? String(code);
      const waiting = worker.waiting;
      worker.waiting = null;
      waiting?.(null);
    });
    child.on('error', reject);
  });

/** Sends a phase to every live worker and waits until each is done or dead. */
const runPhase = (workers: readonly Worker[], messageFor: (worker: Worker) => ToWorker) =>
  Promise.all(
    workers
      .filter((worker) => worker.alive)
      .map(
        (worker) =>
          new Promise<WorkerStats | null>((resolve) => {
            worker.waiting = resolve;
            worker.child.send(messageFor(worker));
          }),
      ),
  );


export const runStress = async (options: StressOptions): Promise<StressResult> => {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seededRandom(seed);
  const log = options.log ?? (() => {});
  const leaseMs = options.leaseMs ?? (options.crash ? 2_000 : 10_000);
  const failureRate = options.failureRate ?? 0.2;
  const schema = `refund_lifecycle_stress_${randomBytes(5).toString('hex')}`;
  const scratch = mkdtempSync(path.join(tmpdir(), 'refund-stress-'));
  const effectLog = path.join(scratch, 'effects.jsonl');
  writeFileSync(effectLog, '');

  const fake = await startFakeStripeServer({ cardRefundsSettle: 'later' });
  const store = postgresStore({ connectionString: options.databaseUrl, schema });
  const workers: Worker[] = [];
  try {
    await store.migrate();

    // One credit note per half payment: two credit notes share each payment's stream and refundable balance.
    const specs: IssueSpec[] = [];
    for (let i = 0; i < options.creditNotes; i += 2) {
      const payment = fake.createPaymentIntent({ amount: 2_000, currency: 'eur' });
      for (const j of [i, i + 1].filter((n) => n < options.creditNotes)) {
        specs.push({ creditNoteId: `cn_stress_${String(j).padStart(5, '0')}`, paymentId: payment.id, amount: 1_000 });
      }
    }

    for (let index = 0; index < options.workers; index += 1) {
      workers.push(
        await startWorker(index, {
          STRESS_WORKER_INDEX: String(index),
          STRESS_DATABASE_URL: options.databaseUrl,
          STRESS_SCHEMA: schema,
          STRESS_STRIPE_PORT: String(fake.port),
          STRESS_WEBHOOK_SECRET: fake.webhookSecret,
          STRESS_EFFECT_LOG: effectLog,
          STRESS_LEASE_MS: String(leaseMs),
          STRESS_DOOMED: options.crash && index === 0 ? '1' : '0',
        }),
      );
    }
    log(`schema ${schema}, ${options.workers} workers, ${options.creditNotes} credit notes, seed ${seed}, lease ${leaseMs} ms`);

    // The doomed worker dies the moment a notification has gone out and before it is recorded.
    let crashed = false;
    let killTimer: NodeJS.Timeout | undefined;
    if (options.crash) {
      const doomed = workers[0]!;
      const threshold = options.crash.afterNotifications;
      killTimer = setInterval(() => {
        if (!crashed && doomed.sent >= threshold) {
          crashed = true;
          doomed.child.kill('SIGKILL');
          log(`SIGKILL worker 0 after ${doomed.sent} notifications sent`);
        }
      }, 1);
    }

    const started = Date.now();
    // Each credit note issued by one worker (siblings of a payment by different workers, racing on its stream),
    // or, with reissueRace, every credit note by every worker in its own order.
    await runPhase(workers, (worker) => ({
      type: 'issue',
      specs: options.reissueRace
        ? shuffle(specs, seededRandom(seed + worker.index))
        : specs.filter((_, position) => position % options.workers === worker.index),
      lanes: options.lanes ?? 4,
    }));
    log(`issued in ${Date.now() - started} ms`);

    // Rounds: Stripe settles every pending refund (some first attempts fail), and each worker gets the same
    // shuffled stream of every webhook twice, a refresh of each credit note and a retry of each failed one.
    let webhooksSent = 0;
    for (let round = 1; round <= 3; round += 1) {
      const pending = fake.refunds().filter((refund) => refund.status === 'pending');
      if (pending.length === 0) break;
      const touched = new Set<string>();
      const failed: string[] = [];
      for (const refund of pending) {
        const creditNoteId = String(refund.metadata.creditNoteId);
        touched.add(creditNoteId);
        if (round === 1 && random() < failureRate) {
          fake.setRefundStatus(refund.id, 'failed', 'unknown');
          failed.push(creditNoteId);
        } else fake.setRefundStatus(refund.id, 'succeeded');
      }
      const signed = fake.takeWebhooks({ copies: 2, order: (batch) => shuffle(batch, random) });
      webhooksSent += signed.length;
      const ops: StressOp[] = shuffle(
        [
          ...signed.map((webhook): StressOp => ({ kind: 'webhook', rawBody: webhook.rawBody, signature: webhook.signature })),
          ...[...touched].map((creditNoteId): StressOp => ({ kind: 'refresh', creditNoteId })),
          ...failed.map((creditNoteId): StressOp => ({ kind: 'retry', creditNoteId })),
        ],
        random,
      );
      // A person clicks Retry once more at the end, so every failure is retried whatever the shuffle did.
      ops.push(...failed.map((creditNoteId): StressOp => ({ kind: 'retry', creditNoteId })));
      const roundStart = Date.now();
      const message: ToWorker = { type: 'round', round, ops, lanes: options.lanes ?? 4 };
      // The doomed worker takes the round alone until it dies: left to race the others on a loaded machine it
      // could find every entry already claimed, send nothing and never be killed.
      if (options.crash && !crashed) await runPhase([workers[0]!], () => message);
      await runPhase(workers, () => message);
      log(`round ${round}: ${pending.length} refunds settled (${failed.length} failed), ${ops.length} ops per worker, ${Date.now() - roundStart} ms`);
    }
    const elapsedMs = Date.now() - started;
    if (killTimer) clearInterval(killTimer);

    const violations = await checkOutcome({ store, fake, effectLog, specs, crashed });
    const stats = workers.map((worker) => worker.stats);
    const sum = (key: keyof Omit<WorkerStats, 'errors'>) => stats.reduce((total, s) => total + s[key], 0);
    for (const worker of workers) {
      for (const error of worker.stats.errors) violations.push(`worker ${worker.index}: ${error}`);
      if (worker.exit !== null && !(crashed && worker.index === 0)) violations.push(`worker ${worker.index} died (${worker.exit})`);
      if (worker.stats.stuck > 0) violations.push(`worker ${worker.index} gave up with ${worker.stats.stuck} unfinished outbox entries`);
    }
    if (options.crash && !crashed) violations.push('the crash variant never killed its worker');

    const lines = readEffects(effectLog);
    const refundsAtStripe = fake.refunds().length;
    const notificationsSent = new Set(lines.filter((l) => l.effect === 'notify').map((l) => l.key)).size;
    const hooksRun = new Set(lines.filter((l) => l.effect === 'hook').map((l) => l.key)).size;
    const sideEffects = refundsAtStripe + notificationsSent + hooksRun;
    const summaries = await allSummaries(store);
    const figures: StressFigures = {
      creditNotes: options.creditNotes,
      workers: options.workers,
      crashed,
      seed,
      webhooksSent,
      webhooksHandled: sum('webhooks'),
      applied: sum('applied'),
      duplicatesAbsorbed: sum('unchanged'),
      ignored: sum('ignored'),
      refreshes: sum('refreshes'),
      retriesAccepted: sum('retriesAccepted'),
      retriesRefused: sum('retriesRefused'),
      versionConflicts: sum('versionConflicts'),
      refundsAtStripe,
      notificationsSent,
      hooksRun,
      redelivered: lines.length - notificationsSent - hooksRun,
      sideEffects,
      elapsedMs,
      sideEffectsPerSecond: Math.round((sideEffects / elapsedMs) * 1000 * 10) / 10,
      statuses: Object.fromEntries(countBy(summaries, (s) => s.status)),
    };
    return { figures, violations, workerStats: stats };
  } finally {
    for (const worker of workers) {
      if (worker.alive) worker.child.send({ type: 'exit' } satisfies ToWorker);
    }
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (!worker.alive) return resolve();
            const timer = setTimeout(() => worker.child.kill('SIGKILL'), 5_000);
            worker.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    await fake.close();
    await store.close();
    const admin = new pg.Client({ connectionString: options.databaseUrl });
    await admin.connect();
    try {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await admin.end();
    }
    rmSync(scratch, { recursive: true, force: true });
  }
};

const readEffects = (file: string): EffectLine[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as EffectLine);

const allSummaries = async (store: ReturnType<typeof postgresStore>) => {
  const summaries: CreditNoteSummary[] = [];
  for (;;) {
    const after = summaries.at(-1)?.creditNoteId;
    const page = await store.listCreditNotes({ limit: 500, ...(after === undefined ? {} : { after }) });
    summaries.push(...page);
    if (page.length < 500) return summaries;
  }
};

/** The promise, checked against what really happened: Stripe's refunds, the side-effect log, the store. */
const checkOutcome = async (input: {
  store: ReturnType<typeof postgresStore>;
  fake: Awaited<ReturnType<typeof startFakeStripeServer>>;
  effectLog: string;
  specs: readonly IssueSpec[];
  crashed: boolean;
}): Promise<string[]> => {
  const { store, fake, specs, crashed } = input;
  const violations: string[] = [];
  const fail = (message: string) => {
    if (violations.length < 50) violations.push(message);
  };
  const refunds = fake.refunds();
  const lines = readEffects(input.effectLog);
  const outbox = await store.listOutbox();
  const summaries = await allSummaries(store);

  // At most one refund at Stripe per (credit note, attempt); every credit note got its first one.
  for (const [key, count] of countBy(refunds, (r) => `${r.metadata.creditNoteId}#${r.metadata.attempt}`)) {
    if (count > 1) fail(`${count} refunds at Stripe for ${key}`);
  }
  const refundOf = (creditNoteId: string, attempt: number) =>
    refunds.find((r) => r.metadata.creditNoteId === creditNoteId && Number(r.metadata.attempt) === attempt);
  for (const spec of specs) if (!refundOf(spec.creditNoteId, 1)) fail(`${spec.creditNoteId}: no refund at Stripe`);

  // Every stream's stored summary is the serial replay of its events.
  if (summaries.length !== specs.length) fail(`${summaries.length} credit notes stored, ${specs.length} issued`);
  const expectedNotices = new Set<string>();
  for (const summary of summaries) {
    const { events } = await store.readStream(summary.streamId);
    const folded = foldCreditNote(events.filter(isCreditNoteEvent).map(toMachineEvent));
    const id = summary.creditNoteId;
    if (folded.rejected !== null) fail(`${id}: event ${folded.rejected.index} rejected on replay`);
    if (!isDeepStrictEqual(summary.state, folded.state)) fail(`${id}: stored summary differs from the replay of its events`);
    if (summary.version !== events.length) fail(`${id}: summary at version ${summary.version}, stream at ${events.length}`);
    for (const event of events) {
      const attempt = (event.data as { attempt?: number }).attempt;
      if (event.type === 'RefundSucceeded') expectedNotices.add(`${id}:notify:refund_completed:${attempt}`);
      if (event.type === 'RefundFailed') expectedNotices.add(`${id}:notify:refund_failed:${attempt}`);
    }
    // Settled as Stripe settled it: nothing left in flight.
    const { status, context } = folded.state;
    const atStripe = context.refund ? refundOf(id, context.refund.attempt) : undefined;
    if (status === 'succeeded' && atStripe?.status !== 'succeeded') fail(`${id}: succeeded, Stripe says ${atStripe?.status}`);
    else if (status === 'failed' && atStripe?.status !== 'failed') fail(`${id}: failed, Stripe says ${atStripe?.status}`);
    else if (status !== 'succeeded' && status !== 'failed') fail(`${id}: left ${status}`);
  }

  // No outbox entry lost or buried: each completed, create_refund ones with their refund at Stripe.
  for (const entry of outbox) {
    if (entry.deadAt !== null) fail(`${entry.id} dead: ${entry.lastError}`);
    else if (entry.completedAt === null) fail(`${entry.id} never completed (${entry.deliveries} deliveries)`);
    if (entry.kind === 'create_refund') {
      const attempt = (entry.payload as { attempt: number }).attempt;
      const creditNoteId = entry.idempotencyKey.split(':refund:')[0]!;
      if (!refundOf(creditNoteId, attempt)) fail(`${entry.id} completed, no refund at Stripe`);
    }
  }

  // One notification per (credit note, kind, attempt), each a delivery of its outbox entry: sent once, or
  // repeated under the same key only by the worker that took over a killed worker's claim.
  const entries = new Map<string, OutboxEntry>(
    outbox.filter((entry) => entry.kind !== 'create_refund').map((entry) => [`${entry.kind}:${entry.idempotencyKey}`, entry]),
  );
  const calls = countBy(lines, (line) => `${line.effect === 'notify' ? 'notify' : 'run_hook'}:${line.key}`);
  for (const [key, count] of calls) {
    const entry = entries.get(key);
    if (!entry) fail(`${key} performed without an outbox entry`);
    else if (count > entry.deliveries) fail(`${key} performed ${count} times in ${entry.deliveries} deliveries`);
    else if (count > 1 && !crashed) fail(`${key} performed ${count} times without a crash`);
  }
  for (const [key, entry] of entries) if (!calls.has(key) && entry.completedAt !== null) fail(`${key} completed, never performed`);
  const sentNotices = new Set(lines.filter((line) => line.effect === 'notify').map((line) => line.key));
  for (const key of expectedNotices) if (!sentNotices.has(key)) fail(`${key} owed, never sent`);
  for (const key of sentNotices) if (!expectedNotices.has(key)) fail(`${key} sent, not owed`);
  return violations;
};

export const formatFigures = (f: StressFigures): string =>
  [
    `credit notes ${f.creditNotes}, workers ${f.workers}${f.crashed ? ' (one SIGKILLed mid-dispatch)' : ''}, seed ${f.seed}`,
    `webhooks: ${f.webhooksSent} signed (2 copies each), ${f.webhooksHandled} handled across workers: ${f.applied} applied, ${f.duplicatesAbsorbed} duplicates absorbed (unchanged), ${f.ignored} ignored`,
    `refreshes ${f.refreshes}, retries accepted ${f.retriesAccepted} / refused ${f.retriesRefused}, version conflicts retried ${f.versionConflicts}`,
    `side effects: ${f.refundsAtStripe} refunds at Stripe, ${f.notificationsSent} notifications, ${f.hooksRun} hook runs (${f.redelivered} redelivered under the same key)`,
    `final statuses ${JSON.stringify(f.statuses)}`,
    `elapsed ${(f.elapsedMs / 1000).toFixed(1)} s, ${f.sideEffectsPerSecond} side effects/s with ${f.workers} workers`,
  ].join('\n');
