import { describe, expect, it } from 'vitest';
import { runBench } from '../bench/run.js';

// The bench's smoke mode, in-process: every figure is measured and sane. No timing thresholds, ever.
describe('npm run bench, smoke mode', () => {
  it('measures every row with a positive ops/s and a finite ratio', async () => {
    const rows = await runBench({ size: 5, smoke: true });
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) {
      expect(row.opsPerSecond, row.name).toBeGreaterThan(0);
      expect(Number.isFinite(row.opsPerSecond), row.name).toBe(true);
      if (row.baseline === null) expect(row.ratio, row.name).toBeNull();
      else expect(Number.isFinite(row.ratio), row.name).toBe(true);
    }
  });
});
