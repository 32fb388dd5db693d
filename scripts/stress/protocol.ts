/*
 * The messages between the stress parent (scripts/stress/scenario.ts) and its
 * worker processes (scripts/stress/worker.ts), over the fork IPC channel.
 */

/** A credit note to issue, each against a payment of the fake Stripe. */
export type IssueSpec = { creditNoteId: string; paymentId: string; amount: number };

/** One step of the stream every worker replays. */
export type StressOp =
  | { kind: 'webhook'; rawBody: string; signature: string }
  | { kind: 'refresh'; creditNoteId: string }
  | { kind: 'retry'; creditNoteId: string };

export type ToWorker =
  | { type: 'issue'; specs: IssueSpec[]; lanes: number }
  /** Ops run `lanes` at a time, as a host serves concurrent requests. */
  | { type: 'round'; round: number; ops: StressOp[]; lanes: number }
  | { type: 'exit' };

export type WorkerStats = {
  issues: number;
  webhooks: number;
  applied: number;
  /** Redeliveries and stale news: the outcome did not change. */
  unchanged: number;
  ignored: number;
  webhookErrors: number;
  refreshes: number;
  refreshesChanged: number;
  retries: number;
  retriesAccepted: number;
  retriesRefused: number;
  /** Appends refused for a stale stream version (each one decided again by the command). */
  versionConflicts: number;
  notifierCalls: number;
  hookCalls: number;
  dispatchPerformed: number;
  dispatchObsolete: number;
  dispatchRetried: number;
  dispatchDead: number;
  dispatchLost: number;
  /** Unexpected command errors (codes and messages), at most a few. */
  errors: string[];
  /** The outbox still held unfinished entries when the worker gave up waiting. */
  stuck: number;
};

export const emptyStats = (): WorkerStats => ({
  issues: 0,
  webhooks: 0,
  applied: 0,
  unchanged: 0,
  ignored: 0,
  webhookErrors: 0,
  refreshes: 0,
  refreshesChanged: 0,
  retries: 0,
  retriesAccepted: 0,
  retriesRefused: 0,
  versionConflicts: 0,
  notifierCalls: 0,
  hookCalls: 0,
  dispatchPerformed: 0,
  dispatchObsolete: 0,
  dispatchRetried: 0,
  dispatchDead: 0,
  dispatchLost: 0,
  errors: [],
  stuck: 0,
});

export type FromWorker =
  | { type: 'ready' }
  | { type: 'done'; phase: 'issue' | 'round'; stats: WorkerStats }
  /** Only from the doomed worker: a side effect just went out and is not recorded yet. */
  | { type: 'sent'; key: string };

/** One line of the shared side-effect log, appended by the worker that performed it. */
export type EffectLine = {
  effect: 'notify' | 'hook';
  key: string;
  kind: string;
  creditNoteId: string;
  attempt: number | null;
  worker: number;
};

/** The environment a worker is started with. */
export type WorkerEnv = {
  STRESS_WORKER_INDEX: string;
  STRESS_DATABASE_URL: string;
  STRESS_SCHEMA: string;
  STRESS_STRIPE_PORT: string;
  STRESS_WEBHOOK_SECRET: string;
  STRESS_EFFECT_LOG: string;
  STRESS_LEASE_MS: string;
  /** '1': report every notification sent and pause briefly, so the parent can kill it mid-dispatch. */
  STRESS_DOOMED: string;
};

/** A seeded random source (mulberry32), so a failing run can be replayed with its seed. */
export const seededRandom = (seed: number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

export const shuffle = <T>(items: readonly T[], random: () => number): T[] => {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
};
