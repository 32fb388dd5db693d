/*
 * The PostgreSQL and PGlite part of `npm run bench` (issue 10). Every figure
 * runs in fresh schemas with random names, dropped at the end whatever
 * happens, next to a baseline timed in the same run where one exists.
 *
 *   DATABASE_URL=postgres://… node --import tsx bench/postgres.ts            # full: 10,000 vs 1,000,000 credit notes
 *   DATABASE_URL=postgres://… node --import tsx bench/postgres.ts --smoke    # tiny sizes, every code path, well under 15 s
 *   DATABASE_URL=postgres://… node --import tsx bench/postgres.ts --big 300000
 *
 * 1. Signed webhooks per second on PostgreSQL with 1, 4 and 8 concurrent
 *    workers, against a raw-SQL baseline: for each webhook, the very append
 *    request our store received (captured at the store's door) is written with
 *    `pg` directly, as plain statements in one transaction (stream head, event,
 *    outbox entries and their pg_notify, summary upsert, refund link), into a
 *    copy of our schema holding the same rows, on as many connections in
 *    parallel. The baseline does the append's writes and nothing else: not the
 *    three reads a webhook makes before it decides (the refund's link, the
 *    stream, the redelivery check), nor the inline dispatch that claims and
 *    completes the outbox entries the append enqueued, nor the signature check
 *    and parsing. Ours and the baseline take turns in rounds, so that whatever
 *    else the machine does weighs on both alike. Round trips (statements sent,
 *    BEGIN and COMMIT included) are counted on every pooled connection.
 *
 *    Workers are concurrent async lanes in this one process, each with its own
 *    lifecycle and webhook handler over one shared pool of N connections. The
 *    bench machine has two cores, shared with the PostgreSQL server: measured,
 *    this process used about a third of one core at 8 lanes (the note of each
 *    row gives it), the server and its commits being the limit, so worker
 *    processes would only compete with the server for the same two cores.
 *
 * 2. Flat with size: the per-operation cost of an issue (with its inline
 *    dispatch), a signed webhook, getCreditNote, listCreditNotes and an idle
 *    dispatch() with 10,000 credit notes stored and with 1,000,000, in two
 *    schemas of one database, measured in alternating rounds. The bulk is
 *    seeded by SQL (`INSERT … SELECT … FROM generate_series`) from the rows one
 *    real credit note, issued and settled through the lifecycle, left in every
 *    table, ids varied; then VACUUM ANALYZE (autovacuum may be off) and a
 *    CHECKPOINT. Operations are measured on fresh credit notes, not seeded ones.
 *    Ratio = ops/s at the big size ÷ ops/s at the small one, as for every row:
 *    the note gives the cost ratio (its inverse; target ≤ 1.5).
 *
 * 3. PGlite: opening a new database in a temporary directory (with migrate),
 *    reopening it, and appends per second (store.append directly, replaying the
 *    appends the lifecycle made for real issues, captured from an in-memory run).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import Stripe from 'stripe';
import { inMemoryEventStore } from '../src/adapters/inMemoryEventStore.js';
import { openPglite, pgliteStore, type PGliteLike } from '../src/adapters/pglite/index.js';
import { postgresStore } from '../src/adapters/postgres/index.js';
import { outboxChannel, quoteIdentifier } from '../src/adapters/sql/sqlClient.js';
import { stripeGateway } from '../src/adapters/stripe/stripeGateway.js';
import { stripeWebhooks } from '../src/adapters/stripe/stripeWebhooks.js';
import { createRefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import { paymentStreamId } from '../src/lifecycle/streams.js';
import type { AppendRequest, EventStore } from '../src/ports/eventStore.js';
import { fakeGateway } from '../src/testing/fakeGateway.js';
import { manualClock } from '../src/testing/manualClock.js';
import { recordingNotifier } from '../src/testing/recordingNotifier.js';
import { startFakeStripeServer, type FakeStripeServer, type SignedWebhook } from '../src/testing/stripe/index.js';
import { formatTable, machineLine, type BenchRow } from './run.js';
import { recordingAppends } from './support.js';

export type PostgresBenchOptions = {
  databaseUrl: string;
  smoke?: boolean;
  log?: (line: string) => void;
  /** Credit notes seeded for the "flat with size" figure; default 10,000 and 1,000,000 (smoke: 100 and 1,000). */
  sizes?: { small: number; big: number };
};

/** A row of the table, with latencies and round trips in a note. */
export type PgBenchRow = BenchRow & { note?: string };

const merchant = 'acct_bench';
const actor = { kind: 'user', id: 'bench' } as const;
const CREDIT_NOTES_PER_PAYMENT = 10;

const row = (name: string, unit: string, ops: number, baseline?: { name: string; ops: number } | null, note?: string): PgBenchRow => ({
  name,
  unit,
  opsPerSecond: ops,
  baseline: baseline?.name ?? null,
  baselineOpsPerSecond: baseline?.ops ?? null,
  ratio: baseline == null ? null : ops / baseline.ops,
  ...(note === undefined ? {} : { note }),
});

const count = (n: number) => n.toLocaleString('en-US');
const ms = (value: number) => (value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));

// ── timing ─────────────────────────────────────────────────────────────────────

type Timing = { ops: number; n: number; p50: number; p99: number; wallMs: number; latencies: number[] };

/** Nearest-rank percentile of sorted latencies. */
const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;

const timingOf = (latencies: number[], wallMs: number): Timing => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { ops: (latencies.length * 1000) / wallMs, n: latencies.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), wallMs, latencies };
};

/** Runs `items` through `lanes` concurrent loops sharing one queue; each call timed. */
const runLanes = async <T>(items: readonly T[], lanes: number, fn: (item: T, lane: number) => Promise<void>): Promise<Timing> => {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = next++; i < items.length; i = next++) {
        const t0 = performance.now();
        await fn(items[i]!, lane);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return timingOf(latencies, performance.now() - started);
};

/** Calls `fn` again and again for `timeMs` (at least `min` times), one at a time. */
const runFor = async (fn: (i: number) => Promise<void>, timeMs: number, min: number): Promise<Timing> => {
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; performance.now() - started < timeMs || i < min; i += 1) {
    const t0 = performance.now();
    await fn(i);
    latencies.push(performance.now() - t0);
  }
  return timingOf(latencies, performance.now() - started);
};

/** Timings of several passes as one: their calls and their wall times added up. */
const merged = (timings: readonly Timing[]): Timing =>
  timingOf(
    timings.flatMap((t) => t.latencies),
    timings.reduce((sum, t) => sum + t.wallMs, 0),
  );

const seconds = (milliseconds: number | null) => (milliseconds === null ? 'refused' : `${(milliseconds / 1000).toFixed(1)} s`);
const latencyNote = (t: Timing) => `p50 ${ms(t.p50)} ms, p99 ${ms(t.p99)} ms`;

/** CPU used while some passes ran: by this process (share of one core) and by the whole machine (Linux /proc/stat). */
const cpuMeter = () => {
  const machine = () => {
    try {
      const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
      return { idle: fields[3]! + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
    } catch {
      return null;
    }
  };
  let nodeUs = 0;
  let wallUs = 0;
  let idle = 0;
  let total = 0;
  let readable = true;
  return {
    async during<T>(work: () => Promise<T>): Promise<T> {
      const before = machine();
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      try {
        return await work();
      } finally {
        const used = process.cpuUsage(cpu);
        nodeUs += used.user + used.system;
        wallUs += (performance.now() - t0) * 1000;
        const after = machine();
        if (before === null || after === null) readable = false;
        else (idle += after.idle - before.idle), (total += after.total - before.total);
      }
    },
    note: () =>
      `node ${Math.round((nodeUs / Math.max(1, wallUs)) * 100)}% of a core` +
      (readable && total > 0 ? `, machine ${Math.round((1 - idle / total) * 100)}% busy` : ''),
  };
};

// ── a pool that counts what it sends ───────────────────────────────────────────

type CountingPool = { pool: pg.Pool; queries: () => number };

/** Every statement sent on any of the pool's connections is counted (BEGIN and COMMIT too): one round trip each. */
const countingPool = (databaseUrl: string, max: number): CountingPool => {
  let queries = 0;
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    const query = client.query;
    client.query = function (this: pg.PoolClient, ...args: unknown[]) {
      queries += 1;
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof client.query;
  });
  return { pool, queries: () => queries };
};

/** A fresh schema name, as the stress scenario makes them. */
const freshSchema = (what: string) => `refund_lifecycle_bench_${what}_${randomBytes(4).toString('hex')}`;

const dropSchemas = async (databaseUrl: string, schemas: readonly string[]) => {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
  } finally {
    await admin.end();
  }
};

// ── the world: fake Stripe, and lanes each with its own lifecycle ──────────────

type Lane = {
  store: EventStore;
  lifecycle: ReturnType<typeof createRefundLifecycle>;
  handle: (webhook: SignedWebhook) => Promise<string>;
};

type World = {
  fake: FakeStripeServer;
  lane: (store: EventStore) => Lane;
  /** Payments for `ids` (10 credit notes each), confirmed by their webhooks, then every credit note issued; lanes take whole payments. */
  issue: (lanes: readonly Lane[], ids: readonly string[]) => Promise<Timing>;
  /** Settles every pending refund at the fake Stripe and returns the signed refund.updated webhooks, in issue order. */
  settle: (expected: number) => SignedWebhook[];
};

const startWorld = async (): Promise<World> => {
  const fake = await startFakeStripeServer({ cardRefundsSettle: 'later' });
  const stripe = new Stripe('sk_test_123', { ...fake.sdkOptions, maxNetworkRetries: 0 });
  const clock = manualClock('2026-03-02T09:00:00.000Z');
  fake.setClock(Math.floor(clock.now().getTime() / 1000));
  const gateway = stripeGateway({ stripe });
  const lane = (store: EventStore): Lane => {
    const lifecycle = createRefundLifecycle({ store, gateway, notifier: recordingNotifier(), clock });
    const webhooks = stripeWebhooks({ lifecycle, stripe, webhookSecret: fake.webhookSecret, clock });
    return {
      store,
      lifecycle,
      handle: async (webhook) =>
        (await webhooks.handleWebhook({ rawBody: webhook.rawBody, signature: webhook.signature }))._unsafeUnwrap().outcome,
    };
  };
  const issue = async (lanes: readonly Lane[], ids: readonly string[]) => {
    const groups: { paymentId: string; ids: string[] }[] = [];
    for (let i = 0; i < ids.length; i += CREDIT_NOTES_PER_PAYMENT) {
      const payment = fake.createPaymentIntent({ amount: 1_000, currency: 'eur', account: merchant });
      groups.push({ paymentId: payment.id, ids: ids.slice(i, i + CREDIT_NOTES_PER_PAYMENT) });
    }
    await runLanes(fake.takeWebhooks(), lanes.length, async (webhook, at) => {
      await lanes[at]!.handle(webhook);
    });
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      lanes.map(async ({ lifecycle }) => {
        for (let g = next++; g < groups.length; g = next++) {
          const group = groups[g]!;
          for (const creditNoteId of group.ids) {
            const t0 = performance.now();
            const issued = await lifecycle.issueCreditNote({
              creditNoteId,
              amount: 100,
              currency: 'EUR',
              reason: 'bench',
              chargeConfirmed: true,
              actor,
              payment: { paymentId: group.paymentId, account: merchant },
            });
            latencies.push(performance.now() - t0);
            const view = issued._unsafeUnwrap();
            if (view.status !== 'requested') throw new Error(`${creditNoteId} issued as ${view.status}, not requested`);
          }
        }
      }),
    );
    return timingOf(latencies, performance.now() - started);
  };
  const settle = (expected: number) => {
    fake.takeWebhooks(); // refund.created and the like: not what is measured
    for (const refund of fake.refunds()) if (refund.status === 'pending') fake.setRefundStatus(refund.id, 'succeeded');
    const signed = fake.takeWebhooks().filter((webhook) => webhook.event.type === 'refund.updated');
    if (signed.length !== expected) throw new Error(`expected ${expected} refund.updated webhooks, got ${signed.length}`);
    return signed;
  };
  return { fake, lane, issue, settle };
};

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);

const applyAll = async (lane: Lane, webhooks: readonly SignedWebhook[]) => {
  for (const webhook of webhooks) {
    const outcome = await lane.handle(webhook);
    if (outcome !== 'applied') throw new Error(`webhook ${webhook.event.id} answered ${outcome}, not applied`);
  }
};

// ── 1. the raw-SQL baseline: an append request written with pg, plain statements, one transaction ──

type Statement = { text: string; values: unknown[]; expect?: (rows: number) => boolean };

/** Multi-row VALUES placeholders: `($1, $2::jsonb), ($3, $4::jsonb)`. */
const valuesOf = (rows: unknown[][], casts: readonly string[]) => {
  const values: unknown[] = [];
  const tuples = rows.map((fields) => `(${fields.map((field, i) => (values.push(field), `$${values.length}${casts[i] ?? ''}`)).join(', ')})`);
  return { sql: tuples.join(', '), values };
};

/**
 * The statements that write what `request` asks, as sqlEventStore's append does
 * (stream heads in stream id order, events, outbox entries and their NOTIFY,
 * completed claims, summaries, refund links), but each as plain VALUES.
 */
const rawAppendStatements = (schema: string, request: AppendRequest): Statement[] => {
  const s = quoteIdentifier(schema);
  const statements: Statement[] = [];
  const byStreamId = [...request.streams].sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
  for (const { streamId, expectedVersion, events } of byStreamId) {
    const next = expectedVersion + events.length;
    if (events.length === 0) continue;
    statements.push(
      expectedVersion === 0
        ? { text: `INSERT INTO ${s}.streams (stream_id, version) VALUES ($1, $2) ON CONFLICT (stream_id) DO NOTHING RETURNING version`, values: [streamId, next], expect: (n) => n === 1 }
        : { text: `UPDATE ${s}.streams SET version = $3, updated_at = now() WHERE stream_id = $1 AND version = $2 RETURNING version`, values: [streamId, expectedVersion, next], expect: (n) => n === 1 },
    );
  }
  const events = request.streams.flatMap(({ expectedVersion, events }) =>
    events.map((event, index) => [
      event.streamId,
      expectedVersion + index + 1,
      event.eventId,
      event.type,
      event.schemaVersion,
      JSON.stringify(event.data),
      event.occurredAt,
      JSON.stringify(event.actor),
      event.causationId,
      event.correlationId,
      event.source,
    ]),
  );
  if (events.length > 0) {
    const v = valuesOf(events, ['', '', '', '', '', '::jsonb', '', '::jsonb']);
    statements.push({
      text: `INSERT INTO ${s}.events (stream_id, version, event_id, type, schema_version, data, occurred_at, actor, causation_id, correlation_id, source) VALUES ${v.sql} RETURNING global_position`,
      values: v.values,
    });
  }
  const outbox = (request.outbox ?? []).map((d) => [d.id, d.streamId, d.kind, d.idempotencyKey, JSON.stringify(d.payload), d.availableAt]);
  if (outbox.length > 0) {
    const v = valuesOf(outbox, ['', '', '', '', '::jsonb', '::timestamptz']);
    statements.push({
      text: `INSERT INTO ${s}.outbox (id, stream_id, kind, idempotency_key, payload, available_at) VALUES ${v.sql} ON CONFLICT (id) DO NOTHING RETURNING id`,
      values: v.values,
      expect: (n) => n === outbox.length,
    });
    statements.push({ text: 'SELECT pg_notify($1, $2)', values: [outboxChannel(schema), ''] });
  }
  for (const claim of request.completeOutbox ?? []) {
    statements.push({
      text: `UPDATE ${s}.outbox SET completed_at = now(), claim_owner = NULL, claim_token = NULL, claim_lease_until = NULL WHERE id = $1 AND claim_token = $2 AND completed_at IS NULL RETURNING id`,
      values: [claim.entryId, claim.token],
    });
  }
  const summaries = (request.creditNotes ?? []).map((r) => [r.creditNoteId, r.streamId, r.status, r.paymentId, r.version, r.updatedAt, JSON.stringify(r.state)]);
  if (summaries.length > 0) {
    const v = valuesOf(summaries, ['', '', '', '', '', '', '::jsonb']);
    statements.push({
      text: `INSERT INTO ${s}.credit_note_summaries (credit_note_id, stream_id, status, payment_id, version, updated_at, state) VALUES ${v.sql}
        ON CONFLICT (credit_note_id) DO UPDATE SET stream_id = excluded.stream_id, status = excluded.status, payment_id = excluded.payment_id,
          version = excluded.version, updated_at = excluded.updated_at, state = excluded.state`,
      values: v.values,
    });
  }
  const links = (request.processorRefunds ?? []).map((l) => [l.processor, l.processorRefundId, l.creditNoteId, l.attempt]);
  if (links.length > 0) {
    const v = valuesOf(links, []);
    statements.push({
      text: `INSERT INTO ${s}.processor_refunds (processor, processor_refund_id, credit_note_id, attempt) VALUES ${v.sql} ON CONFLICT (processor, processor_refund_id) DO NOTHING`,
      values: v.values,
    });
  }
  return statements;
};

const runRawTransaction = async (pool: pg.Pool, statements: readonly Statement[]) => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      for (const { text, values, expect } of statements) {
        const result = await client.query(text, values);
        if (expect !== undefined && !expect(result.rowCount ?? 0)) throw new Error(`baseline: unexpected row count for ${text.slice(0, 60)}`);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  } finally {
    client.release();
  }
};

/** Copies every table of `from` into `to` (migrated alike), identity and serial counters included. */
const copySchema = async (pool: pg.Pool, from: string, to: string) => {
  const { rows: tables } = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'`,
    [from],
  );
  for (const { table_name: table } of tables) {
    const t = quoteIdentifier(table);
    await pool.query(`INSERT INTO ${quoteIdentifier(to)}.${t} OVERRIDING SYSTEM VALUE SELECT * FROM ${quoteIdentifier(from)}.${t}`);
    const { rows: counters } = await pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')`,
      [to, table],
    );
    for (const { column_name: column } of counters) {
      await pool.query(
        `SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max(${quoteIdentifier(column)}) FROM ${quoteIdentifier(to)}.${t}), 0) + 1, false)`,
        [`${quoteIdentifier(to)}.${t}`, column],
      );
    }
  }
};

/** A store that hands every append request it receives to `record` before writing it. */
const webhookFigures = async (options: { databaseUrl: string; smoke: boolean; log: (line: string) => void }): Promise<PgBenchRow[]> => {
  const { databaseUrl, smoke, log } = options;
  const workerCounts = [1, 4, 8];
  const warmup = smoke ? 3 : 200;
  const perRun = smoke ? 6 : 1_000;
  const rounds = smoke ? 2 : 5;
  const ours = freshSchema('wh');
  const copy = `${ours}_raw`;
  const world = await startWorld();
  const counting = countingPool(databaseUrl, Math.max(...workerCounts));
  try {
    const setupStore = postgresStore({ pool: counting.pool, schema: ours });
    await setupStore.migrate();
    await postgresStore({ pool: counting.pool, schema: copy }).migrate();
    const setupLanes = Array.from({ length: 4 }, () => world.lane(postgresStore({ pool: counting.pool, schema: ours })));
    const total = warmup + perRun * workerCounts.length;
    log(`webhooks: issuing ${count(total)} credit notes on PostgreSQL through the fake Stripe (schema ${ours})…`);
    const issued = await world.issue(setupLanes, ids('cn_wh_', total));
    log(`webhooks: issued at ${Math.round(issued.ops)}/s with 4 lanes`);
    const signed = world.settle(total);
    // The baseline's copy holds the same rows as ours before any refund.updated is applied.
    await copySchema(counting.pool, ours, copy);

    // Warm-up: both paths, one connection.
    const warm = signed.slice(0, warmup);
    const warmRequests: AppendRequest[] = [];
    await applyAll(world.lane(recordingAppends(postgresStore({ pool: counting.pool, schema: ours }), (r) => warmRequests.push(r))), warm);
    for (const request of warmRequests) await runRawTransaction(counting.pool, rawAppendStatements(copy, request));

    const rows: PgBenchRow[] = [];
    for (const [index, workers] of workerCounts.entries()) {
      const batch = signed.slice(warmup + index * perRun, warmup + (index + 1) * perRun);
      let requests: AppendRequest[] = [];
      const lanes = Array.from({ length: workers }, () =>
        world.lane(recordingAppends(postgresStore({ pool: counting.pool, schema: ours }), (r) => requests.push(r))),
      );
      log(`webhooks: ${batch.length} with ${workers} worker(s), then as many baseline transactions on ${workers} connection(s), in ${rounds} alternating rounds…`);
      // Ours and the baseline take turns, so that whatever else the machine does weighs on both alike.
      const oursPasses: Timing[] = [];
      const baselinePasses: Timing[] = [];
      const oursCpu = cpuMeter();
      const baselineCpu = cpuMeter();
      let oursQueries = 0;
      let baselineQueries = 0;
      for (let round = 0; round < rounds; round += 1) {
        const part = batch.slice(Math.floor((round * batch.length) / rounds), Math.floor(((round + 1) * batch.length) / rounds));
        requests = [];
        let before = counting.queries();
        oursPasses.push(
          await oursCpu.during(() =>
            runLanes(part, workers, async (webhook, lane) => {
              const outcome = await lanes[lane]!.handle(webhook);
              if (outcome !== 'applied') throw new Error(`webhook ${webhook.event.id} answered ${outcome}, not applied`);
            }),
          ),
        );
        oursQueries += counting.queries() - before;
        if (requests.length !== part.length) throw new Error(`expected one append per webhook, got ${requests.length} for ${part.length}`);
        const prepared = requests.map((request) => rawAppendStatements(copy, request));
        before = counting.queries();
        baselinePasses.push(await baselineCpu.during(() => runLanes(prepared, workers, (statements) => runRawTransaction(counting.pool, statements))));
        baselineQueries += counting.queries() - before;
      }
      const timing = merged(oursPasses);
      const baseline = merged(baselinePasses);
      const oursTrips = oursQueries / batch.length;
      const baselineTrips = baselineQueries / batch.length;
      log(
        `  ours ${Math.round(timing.ops)}/s (${latencyNote(timing)}, ${oursTrips.toFixed(1)} round trips, ${oursCpu.note()}); ` +
          `baseline ${Math.round(baseline.ops)}/s (${latencyNote(baseline)}, ${baselineTrips.toFixed(1)} round trips, ${baselineCpu.note()})`,
      );
      rows.push(
        row(
          `PG signed webhook, ${workers} worker${workers === 1 ? '' : 's'} (${count(batch.length)} webhooks)`,
          'webhook',
          timing.ops,
          { name: `raw-SQL append txn, ${workers} conn`, ops: baseline.ops },
          `ours ${latencyNote(timing)}, ${oursTrips.toFixed(1)} round trips/webhook, ${oursCpu.note()}; ` +
            `baseline ${latencyNote(baseline)}, ${baselineTrips.toFixed(1)} round trips, ${baselineCpu.note()}`,
        ),
      );
    }
    return rows;
  } finally {
    await world.fake.close();
    await counting.pool.end();
    await dropSchemas(databaseUrl, [ours, copy]);
  }
};

// ── 2. flat with size: bulk seeding from one real credit note ──────────────────

/** A SQL string literal. */
const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

type Template = {
  creditNoteId: string;
  creditNoteStream: string;
  paymentId: string;
  paymentStream: string;
  refundId: string;
  /** The webhook event that settled the refund, and the one that confirmed the charge. */
  refundEventId: string;
  chargeEventId: string | null;
};

type Column = { name: string; type: string; skip: boolean };

/**
 * Seeds credit notes [from, to) (multiples of 10, ten per payment), each a
 * copy of the template's rows in every table with its ids replaced: the credit
 * note's stream, the payment's events and head, the outbox entries, the
 * summary and the refund link. New event and correlation ids for each event.
 */
const seeder = async (pool: pg.Pool, schema: string, template: Template) => {
  const s = quoteIdentifier(schema);
  const columnsOf = async (table: string): Promise<Column[]> => {
    const { rows } = await pool.query<{ column_name: string; data_type: string; column_default: string | null; is_identity: string; is_generated: string }>(
      `SELECT column_name, data_type, column_default, is_identity, is_generated FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [schema, table],
    );
    return rows.map((c) => ({
      name: c.column_name,
      type: c.data_type,
      // Positions, sequence numbers and the writer's transaction id come from the database, as for any append.
      skip: c.is_identity === 'YES' || c.is_generated === 'ALWAYS' || /^nextval\(|pg_current_xact_id/.test(c.column_default ?? ''),
    }));
  };
  // The seeded copies write the first five; checkpoints (reconciliation, sweep) and refund requests stay empty, as in a
  // store nobody reconciled and no customer asked through.
  const known = ['events', 'streams', 'outbox', 'credit_note_summaries', 'processor_refunds', 'schema_migrations', 'checkpoints', 'refund_requests'];
  const { rows: tables } = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`,
    [schema],
  );
  const unknown = tables.map((t) => t.table_name).filter((t) => !known.includes(t));
  if (unknown.length > 0) throw new Error(`seeding does not know the tables ${unknown.join(', ')}: teach bench/postgres.ts`);
  const columns = Object.fromEntries(await Promise.all(known.slice(0, 5).map(async (t) => [t, await columnsOf(t)] as const)));

  // Ids of the copy numbered `i` (credit note) and `p` (payment), SQL expressions.
  const cn = (i: string) => `('cn_s' || lpad((${i})::text, 7, '0'))`;
  const substitute = (expr: string, i: string, p: string) => {
    let out = expr;
    const swaps: [string, string][] = [
      [template.creditNoteId, cn(i)],
      [template.paymentId, `('pi_s' || lpad((${p})::text, 6, '0'))`],
      [template.refundId, `('re_s' || lpad((${i})::text, 7, '0'))`],
      [template.refundEventId, `('evt_s' || lpad((${i})::text, 7, '0'))`],
      ...(template.chargeEventId === null ? [] : [[template.chargeEventId, `('evt_sp' || lpad((${p})::text, 6, '0'))`] as [string, string]]),
    ];
    for (const [from, to] of swaps) out = `replace(${out}, ${literal(from)}, ${to})`;
    return out;
  };
  /** The select list copying template row `t` for copy (i, p); `override` replaces some columns. */
  const selectList = (table: string, i: string, p: string, override: Record<string, string> = {}) => {
    const cols = columns[table]!.filter((c) => !c.skip);
    const exprs = cols.map((c) => {
      if (override[c.name] !== undefined) return override[c.name]!;
      const col = `t.${quoteIdentifier(c.name)}`;
      if (table === 'events' && (c.name === 'event_id' || c.name === 'correlation_id')) return 'gen_random_uuid()::text';
      if (c.type === 'text') return substitute(col, i, p);
      if (c.type === 'jsonb') return `${substitute(`${col}::text`, i, p)}::jsonb`;
      return col;
    });
    return { names: cols.map((c) => quoteIdentifier(c.name)).join(', '), exprs: exprs.join(', ') };
  };

  // The payment stream: events of the payment itself, then per credit note the ones naming it (CreditNoteAttached).
  const namesTemplate = `t.data::text LIKE ${literal(`%"${template.creditNoteId}"%`)}`;
  const { rows: counts } = await pool.query<{ own: string; per: string }>(
    `SELECT count(*) FILTER (WHERE NOT (${namesTemplate})) AS own, count(*) FILTER (WHERE ${namesTemplate}) AS per FROM ${s}.events t WHERE stream_id = $1`,
    [template.paymentStream],
  );
  const own = Number(counts[0]!.own);
  const per = Number(counts[0]!.per);
  /** The template's rows of a table numbered 1, 2, … in `order` (`rk`). */
  const templateRows = (table: string, where: string, order: string) => `(SELECT *, row_number() OVER (ORDER BY ${order}) AS rk FROM ${s}.${table} t WHERE ${where})`;
  const eventRows = (where: string) => templateRows('events', where, 'version');

  /** The statements seeding credit notes [from, to), each with the connection (A–D) to run it on and its table. */
  return (from: number, to: number): [string, string, string][] => {
    const byCreditNote = `generate_series(${from}, ${to - 1}) AS g(i)`;
    const byPayment = `generate_series(${from / CREDIT_NOTES_PER_PAYMENT}, ${to / CREDIT_NOTES_PER_PAYMENT - 1}) AS g(p)`;
    const i = 'g.i';
    const pOfI = `(g.i / ${CREDIT_NOTES_PER_PAYMENT})`;
    const iOfP = `(g.p * ${CREDIT_NOTES_PER_PAYMENT})`;
    const insert = (table: string, list: { names: string; exprs: string }, source: string, order: string) =>
      `INSERT INTO ${s}.${table} (${list.names}) SELECT ${list.exprs} FROM ${source} ORDER BY ${order}`;
    const cnStream = `t.stream_id = ${literal(template.creditNoteStream)}`;
    const payStream = `t.stream_id = ${literal(template.paymentStream)}`;
    // [connection, table, statement]: four connections, the work split about evenly between them.
    const statements: [string, string, string][] = [
      // Each credit note's stream, its head, its outbox entries, summary and refund link.
      ['A', 'events', insert('events', selectList('events', i, pOfI), `${byCreditNote} CROSS JOIN ${eventRows(cnStream)} t`, 'g.i, t.version')],
      ['B', 'streams', insert('streams', selectList('streams', i, pOfI), `${byCreditNote} CROSS JOIN ${templateRows('streams', cnStream, 'stream_id')} t`, 'g.i')],
      ['C', 'outbox', insert('outbox', selectList('outbox', i, pOfI), `${byCreditNote} CROSS JOIN ${templateRows('outbox', cnStream, 'seq')} t`, 'g.i, t.rk')],
      [
        'D',
        'credit_note_summaries',
        insert('credit_note_summaries', selectList('credit_note_summaries', i, pOfI), `${byCreditNote} CROSS JOIN ${templateRows('credit_note_summaries', `t.credit_note_id = ${literal(template.creditNoteId)}`, 'credit_note_id')} t`, 'g.i'),
      ],
      [
        'D',
        'processor_refunds',
        insert('processor_refunds', selectList('processor_refunds', i, pOfI), `${byCreditNote} CROSS JOIN ${templateRows('processor_refunds', `t.credit_note_id = ${literal(template.creditNoteId)}`, 'processor_refund_id')} t`, 'g.i'),
      ],
      // The payment's own events, the ones each of its ten credit notes adds, and its head.
      [
        'B',
        'events',
        insert('events', selectList('events', iOfP, 'g.p', { version: 't.rk' }), `${byPayment} CROSS JOIN ${eventRows(`${payStream} AND NOT (${namesTemplate})`)} t`, 'g.p, t.rk'),
      ],
      [
        'B',
        'events',
        insert(
          'events',
          selectList('events', i, pOfI, { version: `${own} + (g.i % ${CREDIT_NOTES_PER_PAYMENT}) * ${per} + t.rk` }),
          `${byCreditNote} CROSS JOIN ${eventRows(`${payStream} AND ${namesTemplate}`)} t`,
          'g.i, t.rk',
        ),
      ],
      [
        'B',
        'streams',
        insert('streams', selectList('streams', iOfP, 'g.p', { version: String(own + CREDIT_NOTES_PER_PAYMENT * per) }), `${byPayment} CROSS JOIN ${templateRows('streams', payStream, 'stream_id')} t`, 'g.p'),
      ],
    ];
    return statements;
  };
};

const seedTo = async (
  pool: pg.Pool,
  schema: string,
  statementsFor: (from: number, to: number) => [string, string, string][],
  from: number,
  to: number,
  log: (line: string) => void,
  check: (index: number) => Promise<void>,
) => {
  const chunk = 100_000;
  const rows: Record<string, number> = {};
  const tableMs: Record<string, number> = {};
  const started = performance.now();
  // Each connection runs its share of every chunk in turn, without waiting for the others to finish theirs.
  const byConnection = new Map<string, { table: string; sql: string; end: number }[]>();
  for (let at = from; at < to; at += chunk) {
    const end = Math.min(to, at + chunk);
    for (const [connection, table, sql] of statementsFor(at, end)) {
      byConnection.set(connection, [...(byConnection.get(connection) ?? []), { table, sql, end }]);
    }
  }
  await Promise.all(
    [...byConnection].map(async ([connection, work]) => {
      for (const [index, { table, sql, end }] of work.entries()) {
        const t0 = performance.now();
        const written = (await pool.query(sql)).rowCount ?? 0;
        rows[table] = (rows[table] ?? 0) + written;
        tableMs[table] = (tableMs[table] ?? 0) + performance.now() - t0;
        const lastOfChunk = work[index + 1]?.end !== end;
        if (connection === 'A' && lastOfChunk && to - from > chunk) {
          log(`  seeded ${count(end)} of ${count(to)} on connection A (${((performance.now() - started) / 1000).toFixed(0)} s)`);
        }
      }
    }),
  );
  const totals = rows;
  log(`  time per table, summed over chunks: ${Object.entries(tableMs).map(([t, m]) => `${t} ${(m / 1000).toFixed(1)} s`).join(', ')}`);
  const seedMs = performance.now() - started;
  await check(to - 1);
  const vacuumStarted = performance.now();
  // Bulk-loaded rows are not yet all-visible nor hinted, and the planner knows nothing of them: as a live table would be.
  const s = quoteIdentifier(schema);
  await pool.query(`VACUUM (ANALYZE) ${['events', 'streams', 'outbox', 'credit_note_summaries', 'processor_refunds'].map((t) => `${s}.${t}`).join(', ')}`);
  const vacuumMs = performance.now() - vacuumStarted;
  // The bulk load leaves gigabytes of dirty pages that the checkpointer and the kernel would write out while the
  // operations are measured, slowing every commit's WAL flush: written out now. Needs superuser or pg_checkpoint.
  const checkpointStarted = performance.now();
  let checkpointMs: number | null = null;
  try {
    await pool.query('CHECKPOINT');
    checkpointMs = performance.now() - checkpointStarted;
  } catch (error) {
    log(`  CHECKPOINT refused (${error instanceof Error ? error.message : String(error)}): measuring with the load's writes pending`);
  }
  return { seedMs, vacuumMs, checkpointMs, totals };
};

type SizeFigures = { issue: Timing; webhook: Timing; get: Timing; list: Timing; dispatch: Timing };

/** A schema holding `size` credit notes: one real one (the template) and the rest seeded from it. */
const seededSchema = async (world: World, pool: pg.Pool, schema: string, size: number, log: (line: string) => void) => {
  // Credit note ids are unique across the schemas: they key the refunds at the one fake Stripe.
  const templateId = `cn_template_${schema.slice(-8)}`;
  const store = postgresStore({ pool, schema });
  await store.migrate();
  const lane = world.lane(store);

  // One real credit note, issued and settled through the lifecycle: the shape every seeded one copies.
  await world.issue([lane], [templateId]);
  await applyAll(lane, world.settle(1));
  if ((await lane.lifecycle.dispatch())._unsafeUnwrap().performed !== 0) throw new Error('template: something was left to dispatch');
  const s = quoteIdentifier(schema);
  const { rows: [link] } = await pool.query<{ processor_refund_id: string }>(
    `SELECT processor_refund_id FROM ${s}.processor_refunds WHERE credit_note_id = $1`,
    [templateId],
  );
  const { rows: [summary] } = await pool.query<{ stream_id: string; payment_id: string }>(
    `SELECT stream_id, payment_id FROM ${s}.credit_note_summaries WHERE credit_note_id = $1`,
    [templateId],
  );
  const paymentStream = paymentStreamId(summary!.payment_id);
  const { rows: causes } = await pool.query<{ stream_id: string; causation_id: string }>(
    `SELECT stream_id, causation_id FROM ${s}.events WHERE source = 'webhook' AND stream_id IN ($1, $2)`,
    [summary!.stream_id, paymentStream],
  );
  const { rows: paymentStreams } = await pool.query(`SELECT 1 FROM ${s}.streams WHERE stream_id = $1`, [paymentStream]);
  if (paymentStreams.length !== 1) throw new Error(`template: no payment stream ${paymentStream}`);
  const template: Template = {
    creditNoteId: templateId,
    creditNoteStream: summary!.stream_id,
    paymentId: summary!.payment_id,
    paymentStream,
    refundId: link!.processor_refund_id,
    refundEventId: causes.find((c) => c.stream_id === summary!.stream_id)!.causation_id,
    chargeEventId: causes.find((c) => c.stream_id === paymentStream)?.causation_id ?? null,
  };
  const seed = await seeder(pool, schema, template);
  const templateNote = (await lane.lifecycle.getCreditNote(templateId))._unsafeUnwrap();
  const templatePayment = await store.readStream(paymentStream);
  /** A seeded credit note reads back as the template does, and its payment's stream is whole. */
  const check = async (index: number) => {
    const creditNoteId = `cn_s${String(index).padStart(7, '0')}`;
    const view = (await lane.lifecycle.getCreditNote(creditNoteId))._unsafeUnwrap();
    if (view.status !== templateNote.status || view.version !== templateNote.version) {
      throw new Error(`seeded ${creditNoteId} reads as ${view.status} v${view.version}, the template as ${templateNote.status} v${templateNote.version}`);
    }
    const paymentId = `pi_s${String(Math.floor(index / CREDIT_NOTES_PER_PAYMENT)).padStart(6, '0')}`;
    const payment = await store.readStream(paymentStreamId(paymentId));
    const perCreditNote = templatePayment.events.filter((event) => JSON.stringify(event.data).includes(`"${templateId}"`)).length;
    const expected = templatePayment.version + (CREDIT_NOTES_PER_PAYMENT - 1) * perCreditNote;
    if (payment.version !== expected || payment.events.some((event, at) => event.streamVersion !== at + 1)) {
      throw new Error(`seeded payment ${paymentId} has version ${payment.version}, expected ${expected}`);
    }
    const siblings = (await lane.lifecycle.listCreditNotes({ paymentId }))._unsafeUnwrap();
    if (siblings.length !== CREDIT_NOTES_PER_PAYMENT) throw new Error(`seeded payment ${paymentId} lists ${siblings.length} credit notes`);
  };
  log(`size: seeding ${count(size)} credit notes by SQL (schema ${schema})…`);
  const seeded = await seedTo(pool, schema, seed, 0, size, log, check);
  log(
    `size: seeded ${count(size)} in ${seconds(seeded.seedMs)} + VACUUM ANALYZE ${seconds(seeded.vacuumMs)} + CHECKPOINT ${seconds(seeded.checkpointMs)}: ` +
      Object.entries(seeded.totals).map(([t, n]) => `${count(n)} ${t}`).join(', '),
  );
  const { rows: [bytes] } = await pool.query<{ size: string }>(
    `SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS size FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
    [schema],
  );
  return { schema, templateId, lane, size, seeded, bytes: bytes?.size ?? '?' };
};

type SeededSize = Awaited<ReturnType<typeof seededSchema>> & { fresh: string[]; passes: Record<keyof SizeFigures, Timing[]> };

/**
 * The same operations with a small and a big number of credit notes stored, in
 * two schemas of one database, measured in alternating rounds: whatever else
 * the machine does meanwhile weighs on both sizes alike.
 */
const sizeFigures = async (options: {
  databaseUrl: string;
  smoke: boolean;
  log: (line: string) => void;
  sizes: { small: number; big: number };
}): Promise<PgBenchRow[]> => {
  const { databaseUrl, smoke, log } = options;
  const round10 = (n: number) => Math.max(CREDIT_NOTES_PER_PAYMENT, Math.round(n / CREDIT_NOTES_PER_PAYMENT) * CREDIT_NOTES_PER_PAYMENT);
  const small = round10(options.sizes.small);
  const big = round10(options.sizes.big);
  if (big <= small) throw new Error('sizes: big must exceed small');
  const rounds = smoke ? 2 : 5;
  const freshPerRound = smoke ? 5 : 100;
  const readMs = smoke ? 20 : 300;
  const world = await startWorld();
  const counting = countingPool(databaseUrl, 4);
  const schemas: string[] = [];
  try {
    const sizes: SeededSize[] = [];
    for (const size of [small, big]) {
      const schema = freshSchema('size');
      schemas.push(schema);
      const prepared = await seededSchema(world, counting.pool, schema, size, log);
      sizes.push({ ...prepared, fresh: [], passes: { issue: [], webhook: [], get: [], list: [], dispatch: [] } });
    }

    /** One round on one schema: fresh issues, their webhooks, then reads and idle dispatches for `readMs` each. */
    const measureOn = async (at: SeededSize, round: number, record: boolean) => {
      const creditNotes = ids(`cn_${at.schema.slice(-8)}_r${round}_`, freshPerRound);
      const issue = await world.issue([at.lane], creditNotes);
      at.fresh.push(...creditNotes);
      const webhook = await runLanes(world.settle(freshPerRound), 1, async (w) => {
        const outcome = await at.lane.handle(w);
        if (outcome !== 'applied') throw new Error(`webhook answered ${outcome}`);
      });
      const get = await runFor(async (n) => {
        const view = (await at.lane.lifecycle.getCreditNote(at.fresh[n % at.fresh.length]!))._unsafeUnwrap();
        if (view.status !== 'succeeded') throw new Error(`getCreditNote: ${view.status}`);
      }, readMs, 5);
      const list = await runFor(async () => {
        const page = (await at.lane.lifecycle.listCreditNotes({ status: 'succeeded', limit: 50 }))._unsafeUnwrap();
        if (page.length !== Math.min(50, at.size + at.fresh.length)) throw new Error(`listCreditNotes: ${page.length} rows`);
      }, readMs, 5);
      const dispatch = await runFor(async () => {
        const report = (await at.lane.lifecycle.dispatch())._unsafeUnwrap();
        if (report.performed + report.retried + report.dead + report.lost + report.obsolete !== 0) throw new Error('dispatch found work');
      }, readMs, 5);
      if (record) {
        at.passes.issue.push(issue);
        at.passes.webhook.push(webhook);
        at.passes.get.push(get);
        at.passes.list.push(list);
        at.passes.dispatch.push(dispatch);
      }
    };

    log('size: warm-up round on both schemas…');
    for (const at of sizes) await measureOn(at, 0, false);
    for (let round = 1; round <= rounds; round += 1) {
      log(`size: round ${round} of ${rounds}, ${freshPerRound} fresh credit notes on each schema…`);
      for (const at of round % 2 === 1 ? sizes : [...sizes].reverse()) await measureOn(at, round, true);
    }

    const [atSmall, atBig] = sizes as [SeededSize, SeededSize];
    const label = (n: number) => (n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : count(n));
    const figure = (name: string, unit: string, key: keyof SizeFigures): PgBenchRow => {
      const b = merged(atBig.passes[key]);
      const a = merged(atSmall.passes[key]);
      return row(
        `PG ${name} at ${label(big)} credit notes`,
        unit,
        b.ops,
        { name: `same at ${label(small)}`, ops: a.ops },
        `cost ×${(a.ops / b.ops).toFixed(2)} at ${label(big)} vs ${label(small)} (target ≤ 1.5); ${latencyNote(b)} vs ${latencyNote(a)}; n=${b.n}/${a.n}`,
      );
    };
    const seeded = atBig.seeded;
    return [
      row(
        `PG seeding ${count(big)} credit notes by bulk SQL`,
        'credit note',
        (big * 1000) / (seeded.seedMs + seeded.vacuumMs),
        null,
        `${seconds(seeded.seedMs)} INSERT … SELECT + ${seconds(seeded.vacuumMs)} VACUUM ANALYZE ` +
          `(+ ${seconds(seeded.checkpointMs)} CHECKPOINT before measuring, not counted); ` +
          `${Object.entries(seeded.totals).map(([t, n]) => `${count(n)} ${t}`).join(', ')}; schema ${atBig.bytes} in all`,
      ),
      figure('issueCreditNote (+inline dispatch)', 'issue', 'issue'),
      figure('signed webhook', 'webhook', 'webhook'),
      figure('getCreditNote', 'read', 'get'),
      figure("listCreditNotes({ status: 'succeeded', limit: 50 })", 'page', 'list'),
      figure('dispatch() with nothing due', 'call', 'dispatch'),
    ];
  } finally {
    await world.fake.close();
    await counting.pool.end();
    await dropSchemas(databaseUrl, schemas);
  }
};

/** Figures 1 and 2 on a PostgreSQL server. */
export const runPostgresBench = async (options: PostgresBenchOptions): Promise<PgBenchRow[]> => {
  const smoke = options.smoke ?? false;
  const log = options.log ?? (() => {});
  const sizes = options.sizes ?? (smoke ? { small: 100, big: 1_000 } : { small: 10_000, big: 1_000_000 });
  return [
    ...(await webhookFigures({ databaseUrl: options.databaseUrl, smoke, log })),
    ...(await sizeFigures({ databaseUrl: options.databaseUrl, smoke, log, sizes })),
  ];
};

// ── 3. PGlite ────────────────────────────────────────────────────────────────

/**
 * The appends the lifecycle makes for `n` issues (ten per payment, no inline
 * dispatch, so one append each: the new credit note's stream, its payment's,
 * the create_refund outbox entry and the summary), from an in-memory run.
 */
const capturedIssueAppends = async (n: number): Promise<AppendRequest[]> => {
  const requests: AppendRequest[] = [];
  const store = recordingAppends(inMemoryEventStore(), (request) => requests.push(request));
  const lifecycle = createRefundLifecycle({ store, gateway: fakeGateway(), clock: manualClock('2026-03-02T09:00:00.000Z'), dispatchInline: false });
  for (let i = 0; i < n; i += 1) {
    (
      await lifecycle.issueCreditNote({
        creditNoteId: `cn_pgl_${String(i).padStart(6, '0')}`,
        amount: 100,
        currency: 'EUR',
        reason: 'bench',
        chargeConfirmed: true,
        actor,
        payment: { paymentId: `pi_pgl_${Math.floor(i / CREDIT_NOTES_PER_PAYMENT)}`, account: merchant },
      })
    )._unsafeUnwrap();
  }
  return requests;
};

export const runPgliteBench = async (options: { smoke?: boolean; log?: (line: string) => void } = {}): Promise<PgBenchRow[]> => {
  const smoke = options.smoke ?? false;
  const log = options.log ?? (() => {});
  const reopenings = smoke ? 1 : 5;
  const newOpenings = smoke ? 0 : 3;
  const appends = smoke ? 20 : 2_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'refund-bench-pglite-'));
  const schema = freshSchema('pglite');
  let open: PGliteLike | undefined;
  try {
    // The first open in a process also loads and compiles PGlite's WebAssembly: reported apart from the later ones.
    const openNew = async (name: string) => {
      const t0 = performance.now();
      open = await openPglite(path.join(dir, name));
      if ((await pgliteStore({ db: open, schema }).migrate()).length === 0) throw new Error('PGlite: a new database had nothing to migrate');
      return { ms: performance.now() - t0 };
    };
    log('PGlite: new databases in a temporary directory…');
    const first = await openNew('db0');
    const newOpens: number[] = [];
    for (let i = 1; i <= newOpenings; i += 1) {
      await open?.close();
      open = undefined;
      newOpens.push((await openNew(`db${i}`)).ms);
    }
    const newSorted = [...newOpens].sort((a, b) => a - b);
    const openNewMs = newOpens.length === 0 ? first.ms : percentile(newSorted, 0.5);

    const reopen: number[] = [];
    for (let i = 0; i < reopenings; i += 1) {
      await open?.close();
      open = undefined;
      const t0 = performance.now();
      open = await openPglite(path.join(dir, 'db0'));
      if ((await pgliteStore({ db: open, schema }).migrate()).length !== 0) throw new Error('PGlite: reopened database migrated again');
      reopen.push(performance.now() - t0);
    }
    const store = pgliteStore({ db: open!, schema });
    const reopenSorted = [...reopen].sort((a, b) => a - b);
    const reopenMs = percentile(reopenSorted, 0.5);

    log(`PGlite: ${appends} issue appends…`);
    const requests = await capturedIssueAppends(appends);
    const timing = await runLanes(requests, 1, async (request) => {
      (await store.append(request))._unsafeUnwrap();
    });
    const stored = await store.listCreditNotes({ limit: appends + 1 });
    if (stored.length !== appends) throw new Error(`PGlite: ${stored.length} credit notes stored, expected ${appends}`);
    const per = (pick: (r: AppendRequest) => number) => (requests.reduce((sum, r) => sum + pick(r), 0) / requests.length).toFixed(1);
    return [
      row(
        `PGlite open a new database in a temp dir + migrate: ${ms(openNewMs)} ms (${newOpens.length === 0 ? 'first in the process' : `median of ${newOpens.length}`})`,
        'open',
        1000 / openNewMs,
        null,
        newOpens.length === 0
          ? 'the WebAssembly module loaded and compiled included'
          : `the process's first open, which also loads and compiles the WebAssembly module: ${ms(first.ms)} ms`,
      ),
      row(`PGlite reopen that database + migrate: ${ms(reopenMs)} ms (median of ${reopenings})`, 'open', 1000 / reopenMs, null, `min ${ms(reopenSorted[0]!)} ms`),
      row(
        `PGlite store.append, issue-shaped (${count(appends)} appends replayed)`,
        'append',
        timing.ops,
        null,
        `${latencyNote(timing)}; the lifecycle's own issue appends (no inline dispatch), per append: ${per((r) => r.streams.length)} streams, ` +
          `${per((r) => r.streams.reduce((n, st) => n + st.events.length, 0))} events, ${per((r) => r.outbox?.length ?? 0)} outbox entries, ` +
          `${per((r) => r.creditNotes?.length ?? 0)} summaries`,
      ),
    ];
  } finally {
    await open?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
};

// ── main ─────────────────────────────────────────────────────────────────────

/** The table with the notes below it. */
export const formatPgTable = (rows: readonly PgBenchRow[]): string =>
  [formatTable(rows), '', ...rows.filter((r) => r.note !== undefined).map((r) => `- ${r.name}: ${r.note}`)].join('\n');

const main = async () => {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const bigAt = args.indexOf('--big');
  const big = bigAt === -1 ? undefined : Number(args[bigAt + 1]);
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === '') throw new Error('Set DATABASE_URL to a PostgreSQL server (a schema is created and dropped)');
  const log = (line: string) => console.error(line);
  const started = performance.now();
  const rows = [
    ...(await runPostgresBench({ databaseUrl, smoke, log, ...(big === undefined ? {} : { sizes: { small: smoke ? 100 : 10_000, big } }) })),
    ...(await runPgliteBench({ smoke, log })),
  ];
  console.log(`\n${machineLine()}; ${new Date().toISOString()}; ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  console.log(formatPgTable(rows));
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
