import { describe, expect, it } from 'vitest';
import { runPgliteBench, runPostgresBench } from '../bench/postgres.js';
import { runReplayMemoryBench } from '../bench/replayMemory.js';
import { runBench, type BenchRow } from '../bench/run.js';
import { runScaleBench } from '../bench/scale.js';

/*
 * Every part of `npm run bench` at a tiny size, so the scripts never rot: each
 * figure is measured and sane. No timing thresholds, ever (these machines are
 * noisy); the figures themselves live in bench/results.md.
 */
const expectSaneRows = (rows: readonly BenchRow[]) => {
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) {
    expect(row.opsPerSecond, row.name).toBeGreaterThan(0);
    expect(Number.isFinite(row.opsPerSecond), row.name).toBe(true);
    if (row.baseline === null) expect(row.ratio, row.name).toBeNull();
    else expect(Number.isFinite(row.ratio), row.name).toBe(true);
  }
};

describe('npm run bench, smoke sizes', () => {
  it('measures the in-process ratios', { timeout: 60_000 }, async () => {
    const rows = await runBench({ size: 5, smoke: true });
    expect(rows.length).toBeGreaterThanOrEqual(5);
    expectSaneRows(rows);
  });

  it('measures every operation at two store sizes', { timeout: 60_000 }, async () => {
    const result = await runScaleBench({ small: 20, big: 200, ops: 10 });
    expect(result.rows.map((row) => row.operation)).toHaveLength(6);
    for (const row of result.rows) {
      expect(row.smallMicros, row.operation).toBeGreaterThan(0);
      expect(Number.isFinite(row.ratio), row.operation).toBe(true);
    }
  });

  it('replays generated logs in child processes, grouped and in commit order', { timeout: 120_000 }, async () => {
    const rows = await runReplayMemoryBench({ smoke: true });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.eventsPerSecond).toBeGreaterThan(0);
      expect(row.peakRssMb).toBeGreaterThan(0);
    }
  });

  it('opens PGlite and appends to it', { timeout: 120_000 }, async () => {
    expectSaneRows(await runPgliteBench({ smoke: true }));
  });

  const databaseUrl = process.env.DATABASE_URL;
  it.skipIf(databaseUrl === undefined)('runs the PostgreSQL figures against the real server', { timeout: 120_000 }, async () => {
    expectSaneRows(await runPostgresBench({ databaseUrl: databaseUrl!, smoke: true }));
  });
});
