import { describe, expect, it } from 'vitest';
import { formatFigures, runStress } from '../scripts/stress/scenario.js';

/*
 * Proof under concurrency (issue 9): four worker processes (`node --import tsx
 * scripts/stress/worker.ts`) replay the same shuffled stream of duplicated
 * webhooks, refreshes and retries against one fake Stripe server and one
 * PostgreSQL schema; in the second run one of them is SIGKILLed mid-dispatch.
 * Runs only against a real server:
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx vitest run test/stress.postgres.test.ts
 * `npm run stress` runs the same at a larger size.
 */
const databaseUrl = process.env.DATABASE_URL;

describe.skipIf(databaseUrl === undefined)('under concurrency: 4 processes, one fake Stripe, one PostgreSQL schema', () => {
  it('refunds, notifies and records each credit note once, whatever the duplicates and races', { timeout: 120_000 }, async () => {
    const result = await runStress({ databaseUrl: databaseUrl!, creditNotes: 200, workers: 4, reissueRace: true });
    console.log(formatFigures(result.figures));
    expect(result.violations).toEqual([]);
    expect(result.figures.statuses).toEqual({ succeeded: 200 });
    expect(result.figures.duplicatesAbsorbed).toBeGreaterThan(0);
    expect(result.figures.redelivered).toBe(0);
  });

  it('keeps the promise when a worker is killed mid-dispatch: the others take its leases over', { timeout: 120_000 }, async () => {
    // Killed at its first notification: which worker claims how many entries depends on the machine's load, and a
    // doomed worker that happens to send fewer than a higher threshold would never be killed.
    const result = await runStress({ databaseUrl: databaseUrl!, creditNotes: 100, workers: 4, crash: { afterNotifications: 1 }, leaseMs: 2_000 });
    console.log(formatFigures(result.figures));
    expect(result.figures.crashed).toBe(true);
    expect(result.violations).toEqual([]);
    expect(result.figures.statuses).toEqual({ succeeded: 100 });
  });
});
