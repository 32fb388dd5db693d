/** Property runs per test: 200 in `npm test`, ten times more in `npm run test:deep` (FC_NUM_RUNS=2000). */
export const numRuns = (base = 200): number => {
  const configured = Number(process.env.FC_NUM_RUNS);
  return Number.isFinite(configured) && configured > 0 ? Math.round((configured / 200) * base) : base;
};

/** A property's time limit, grown with its runs: test:deep runs ten times as many on the same two cores. */
export const timeoutFor = (base = 200): number => Math.max(60_000, numRuns(base) * 400);
