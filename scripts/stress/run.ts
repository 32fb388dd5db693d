/*
 * `npm run stress`: the concurrency proof at a larger size, then again with a
 * worker SIGKILLed mid-dispatch. Needs a PostgreSQL server:
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run stress
 *   STRESS_CREDIT_NOTES=1000 STRESS_WORKERS=4 STRESS_SEED=42 STRESS_CRASH=only|skip|both npm run stress
 *   STRESS_REISSUE_RACE=1 npm run stress   # every worker issues every credit note (see below)
 *
 * STRESS_REISSUE_RACE=1 has every worker issue every credit note: identical re-issues racing each other must all
 * answer the same credit note (it once found an issue counting a credit note twice against its payment).
 */
import { formatFigures, runStress } from './scenario.js';

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const creditNotes = Number(process.env.STRESS_CREDIT_NOTES ?? 1000);
const workers = Number(process.env.STRESS_WORKERS ?? 4);
const seed = process.env.STRESS_SEED === undefined ? undefined : Number(process.env.STRESS_SEED);
const crashMode = process.env.STRESS_CRASH ?? 'both';
const reissueRace = process.env.STRESS_REISSUE_RACE === '1';

const variants = [
  ...(crashMode === 'only' ? [] : [{ name: 'no crash', crash: null }]),
  ...(crashMode === 'skip' ? [] : [{ name: 'crash', crash: { afterNotifications: 20 } }]),
];

let failed = false;
for (const variant of variants) {
  console.log(`\n== ${variant.name} ==`);
  const result = await runStress({
    databaseUrl,
    creditNotes,
    workers,
    crash: variant.crash,
    reissueRace,
    ...(seed === undefined ? {} : { seed }),
    log: (line) => console.log(`  ${line}`),
  });
  console.log(formatFigures(result.figures));
  if (result.violations.length > 0) {
    failed = true;
    console.error(`${result.violations.length} violation(s):\n${result.violations.map((v) => `  - ${v}`).join('\n')}`);
  } else console.log('all invariants hold');
}
process.exit(failed ? 1 : 0);
