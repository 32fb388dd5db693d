import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest';
import { openPglite, pgliteStore } from '../src/adapters/pglite/index.js';
import { queriesFor } from '../src/adapters/sql/queries.js';
import { describeEventStoreContract } from './contract/eventStoreContract.js';
import { expectIndexedPlans } from './support/sqlPlans.js';

// One PGlite per file (opening one takes about two seconds); every test starts from empty tables.
const db = await openPglite('memory://');
const store = pgliteStore({ db });

beforeAll(async () => {
  await store.migrate();
  // Idempotent: a second run applies nothing.
  if ((await store.migrate()).length !== 0) throw new Error('migrate() applied a migration twice');
});

beforeEach(async () => {
  await db.query(queriesFor(store.schema).truncateAll);
});

afterAll(async () => {
  await db.close();
});

describeEventStoreContract('PGlite', () => store);

describe('PGlite store plans', () => {
  it('claims outbox entries, lists credit notes and finds refunds through their indexes', async () => {
    await expectIndexedPlans(store.schema, (sql, params) =>
      db.transaction(async (tx) => {
        await tx.exec('SET LOCAL enable_seqscan = off');
        const { rows } = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      }),
    );
  });
});
