/*
 * One host process of the stress run: a lifecycle over the shared PostgreSQL
 * schema, the real `stripe` SDK pointed at the parent's fake Stripe server,
 * and a notifier and hooks that append what they do to a shared log file.
 * It replays whatever stream the parent sends, then dispatches until no
 * outbox entry is left to do. Started by scripts/stress/scenario.ts.
 */
import { appendFileSync } from 'node:fs';
import Stripe from 'stripe';
import { postgresStore } from '../../src/adapters/postgres/index.js';
import { stripeGateway } from '../../src/adapters/stripe/stripeGateway.js';
import { stripeWebhooks } from '../../src/adapters/stripe/stripeWebhooks.js';
import { createRefundLifecycle } from '../../src/lifecycle/createRefundLifecycle.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import type { HookCall, Notification } from '../../src/ports/notifier.js';
import {
  emptyStats,
  type EffectLine,
  type FromWorker,
  type IssueSpec,
  type StressOp,
  type ToWorker,
  type WorkerEnv,
} from './protocol.js';

const env = process.env as Partial<WorkerEnv>;
const need = (name: keyof WorkerEnv): string => {
  const value = env[name];
  if (value === undefined) throw new Error(`stress worker: ${name} is not set`);
  return value;
};

const index = Number(need('STRESS_WORKER_INDEX'));
const effectLog = need('STRESS_EFFECT_LOG');
const doomed = env.STRESS_DOOMED === '1';
const stats = emptyStats();
const actor = { kind: 'user', id: `stress_worker_${index}` } as const;

const send = (message: FromWorker) => process.send?.(message);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const noteError = (what: string, error: { code?: string; message: string }) => {
  if (stats.errors.length < 10) stats.errors.push(`${what}: ${error.code ?? 'thrown'} ${error.message}`);
};

const rawStore = postgresStore({ connectionString: need('STRESS_DATABASE_URL'), schema: need('STRESS_SCHEMA') });
const store: EventStore = {
  ...rawStore,
  async append(request) {
    const result = await rawStore.append(request);
    if (result.isErr() && result.error.code === 'version_conflict') stats.versionConflicts += 1;
    return result;
  },
};

/** Appends one line per side effect; the doomed worker then pauses, so the parent can kill it before it records the result. */
const performed = async (line: Omit<EffectLine, 'worker'>) => {
  appendFileSync(effectLog, `${JSON.stringify({ ...line, worker: index } satisfies EffectLine)}\n`);
  if (doomed) {
    send({ type: 'sent', key: line.key });
    await sleep(25);
  }
};

const notifier = {
  async send(notification: Notification) {
    // The stress run issues credit notes only; a refund request's notice would be a bug here.
    if (!('creditNote' in notification)) throw new Error(`unexpected notice ${notification.kind}`);
    stats.notifierCalls += 1;
    await performed({
      effect: 'notify',
      key: notification.idempotencyKey,
      kind: notification.kind,
      creditNoteId: notification.creditNote.creditNoteId,
      attempt: notification.decided.attempt ?? null,
    });
  },
};
const hook = async (call: HookCall) => {
  stats.hookCalls += 1;
  await performed({
    effect: 'hook',
    key: call.idempotencyKey,
    kind: call.hook,
    creditNoteId: call.creditNote.creditNoteId,
    attempt: call.decided.attempt ?? null,
  });
};

const stripe = new Stripe('sk_test_stress', {
  host: '127.0.0.1',
  port: Number(need('STRESS_STRIPE_PORT')),
  protocol: 'http',
  maxNetworkRetries: 2,
});
const lifecycle = createRefundLifecycle({
  store,
  gateway: stripeGateway({ stripe }),
  notifier,
  hooks: { refundSucceeded: hook, refundFailed: hook, refundedManually: hook },
  retryPolicy: { leaseMs: Number(need('STRESS_LEASE_MS')), backoffBaseMs: 200, backoffMaxMs: 2_000 },
});
const webhooks = stripeWebhooks({ lifecycle, stripe, webhookSecret: need('STRESS_WEBHOOK_SECRET') });

const issue = async (spec: IssueSpec) => {
  const result = await lifecycle.issueCreditNote({
    creditNoteId: spec.creditNoteId,
    amount: spec.amount,
    currency: 'EUR',
    payment: { paymentId: spec.paymentId, account: null },
    reason: 'stress: booking cancelled',
    chargeConfirmed: true,
    actor,
  });
  stats.issues += 1;
  if (result.isErr()) noteError(`issue ${spec.creditNoteId}`, result.error);
};

const perform = async (op: StressOp) => {
  switch (op.kind) {
    case 'webhook': {
      // Stripe redelivers what was not acknowledged: a 5xx is tried again, a few times.
      for (let attempt = 1; ; attempt += 1) {
        const result = await webhooks.handleWebhook({ rawBody: op.rawBody, signature: op.signature });
        stats.webhooks += 1;
        if (result.isOk()) {
          stats[result.value.outcome] += 1;
          return;
        }
        stats.webhookErrors += 1;
        if (attempt === 3 || result.error.code === 'webhook_rejected') {
          noteError('webhook', result.error);
          return;
        }
      }
    }
    case 'refresh': {
      const result = await lifecycle.refreshStatus(op.creditNoteId, { actor });
      stats.refreshes += 1;
      if (result.isOk()) stats.refreshesChanged += result.value.changed ? 1 : 0;
      else noteError(`refresh ${op.creditNoteId}`, result.error);
      return;
    }
    case 'retry': {
      const result = await lifecycle.retryRefund(op.creditNoteId, { actor });
      stats.retries += 1;
      if (result.isOk()) stats.retriesAccepted += 1;
      else if (result.error.code === 'transition_not_allowed') stats.retriesRefused += 1;
      else noteError(`retry ${op.creditNoteId}`, result.error);
      return;
    }
  }
};

/** Dispatches until every outbox entry is completed or set aside (waiting out others' leases and backoffs). */
const drain = async () => {
  const deadline = Date.now() + 40_000;
  while (Date.now() < deadline) {
    const report = await lifecycle.dispatch({ limit: 50 });
    if (report.isErr()) {
      noteError('dispatch', report.error);
      await sleep(100);
      continue;
    }
    const r = report.value;
    stats.dispatchPerformed += r.performed;
    stats.dispatchObsolete += r.obsolete;
    stats.dispatchRetried += r.retried;
    stats.dispatchDead += r.dead;
    stats.dispatchLost += r.lost;
    if (r.performed + r.obsolete + r.retried + r.dead + r.lost > 0) continue;
    const unfinished = (await rawStore.listOutbox()).filter((entry) => entry.completedAt === null && entry.deadAt === null);
    if (unfinished.length === 0) return;
    await sleep(100 + Math.floor(Math.random() * 100));
  }
  stats.stuck = (await rawStore.listOutbox()).filter((entry) => entry.completedAt === null && entry.deadAt === null).length;
};

/** Runs the items in order, `lanes` at a time. */
const inLanes = async <T>(items: readonly T[], lanes: number, run: (item: T) => Promise<void>) => {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: lanes }, lane));
};

process.on('message', (message: ToWorker) => {
  void (async () => {
    if (message.type === 'exit') {
      await rawStore.close();
      process.exit(0);
    }
    if (message.type === 'issue') {
      await inLanes(message.specs, message.lanes, issue);
      await drain();
      send({ type: 'done', phase: 'issue', stats });
    }
    if (message.type === 'round') {
      await inLanes(message.ops, message.lanes, perform);
      await drain();
      send({ type: 'done', phase: 'round', stats });
    }
  })().catch((error: unknown) => {
    console.error(`stress worker ${index}:`, error);
    process.exit(1);
  });
});

send({ type: 'ready' });
