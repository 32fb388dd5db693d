import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toMermaid } from '../src/machine/mermaid.js';
import { buildFixture, okValue, submitRefundRequest } from './support/fixtures.js';

/*
 * `refund-lifecycle` run as a user runs it: a child process on the fixture
 * logs (test/fixtures/logs/, written by scripts/fixtures/writeLogFixtures.ts
 * from a recorded Stripe story), asserting exit codes, stdout and stderr.
 *
 * The story's credit notes: cn_card, cn_expired, cn_gate and the adopted
 * stripe-re_fake_5 succeeded; cn_sepa refunded by hand; cn_slow still pending
 * at Stripe ten days after it was asked for.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string) => join(root, 'test/fixtures/logs', name);
const AS_OF = ['--as-of', '2026-03-20T00:00:00Z'];

type Run = { code: number | null; stdout: string; stderr: string };

const cli = (args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });

const json = async (args: readonly string[]) => {
  const run = await cli([...args, '--format', 'json']);
  return { ...run, report: JSON.parse(run.stdout) as Record<string, any> };
};

const STATUSES = { issued: 0, pending: 0, requested: 1, succeeded: 4, failed: 0, manual: 1 };

describe('refund-lifecycle replay', () => {
  it('reports a clean log in commit order: statuses, the one stuck credit note, no violations, exit 0', async () => {
    const { code, report, stderr } = await json(['replay', fixture('clean.jsonl'), ...AS_OF]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(report).toMatchObject({ order: 'commit', events: 39, creditNotes: 6, payments: 4, statuses: STATUSES, violationCount: 0, badLineCount: 0, exitCode: 0 });
    expect(report.stuck).toEqual([
      expect.objectContaining({ creditNoteId: 'cn_slow', status: 'requested', why: 'refund re_fake_3 pending at Stripe (processing)' }),
    ]);
  });

  it('prints the same report as a table, with no colour when NO_COLOR is set', async () => {
    const { code, stdout } = await cli(['replay', fixture('clean.jsonl'), ...AS_OF]);
    expect(code).toBe(0);
    expect(stdout).toContain('39 lines, 39 events, 6 credit notes, 4 payments; positions in order.');
    expect(stdout).toMatch(/succeeded\s+4/);
    expect(stdout).toMatch(/cn_slow\s+requested\s+2026-03-03 10:15:00 UTC\s+16\.6 d\s+refund re_fake_3 pending at Stripe/);
    expect(stdout).toContain('Clean: every event valid, every invariant holds.');
    expect(stdout).not.toContain('\u001b[');
  });

  it('reads the same events grouped by stream, from stdin, and one credit note\'s own history', async () => {
    const grouped = await json(['replay', fixture('grouped.jsonl'), ...AS_OF]);
    expect(grouped.code).toBe(0);
    expect(grouped.report).toMatchObject({ order: 'unordered', statuses: STATUSES, violationCount: 0 });

    const piped = await cli(['replay', '-', '--format', 'json', ...AS_OF], { input: readFileSync(fixture('clean.jsonl'), 'utf8') });
    expect(piped.code).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ source: 'stdin', statuses: STATUSES });

    const single = await json(['replay', fixture('cn_expired.jsonl'), ...AS_OF]);
    expect(single.code).toBe(0);
    expect(single.report).toMatchObject({ creditNotes: 1, events: 8, statuses: { succeeded: 1 } });
  });

  it('narrows to one credit note', async () => {
    const { code, report } = await json(['replay', fixture('clean.jsonl'), '--credit-note', 'cn_gate', ...AS_OF]);
    expect(code).toBe(0);
    expect(report).toMatchObject({ creditNotes: 1, events: expect.any(Number), statuses: { succeeded: 1, requested: 0 }, stuck: [] });
  });

  it('lists what waits and why in a log cut short: refunds pending at Stripe, a charge not yet confirmed', async () => {
    const { code, report } = await json(['replay', fixture('unfinished.jsonl'), ...AS_OF]);
    expect(code).toBe(0);
    expect(report.stuck.map((s: { creditNoteId: string; why: string }) => [s.creditNoteId, s.why])).toEqual([
      ['cn_card', 'refund re_fake_1 pending at Stripe (processing)'],
      ['cn_expired', 'refund re_fake_2 pending at Stripe (processing)'],
      ['cn_gate', 'waiting for Stripe to confirm the charge'],
      ['cn_slow', 'refund re_fake_3 pending at Stripe (processing)'],
    ]);
    const later = await json(['replay', fixture('unfinished.jsonl'), '--stuck-after', '30', ...AS_OF]);
    expect(later.report.stuck).toEqual([]);
  });

  it('reports bad lines with their line numbers, skips them and exits 1; --strict stops at the first with exit 2', async () => {
    const { code, report } = await json(['replay', fixture('bad-lines.jsonl'), ...AS_OF]);
    expect(code).toBe(1);
    expect(report.badLines).toEqual([
      { at: { line: 4 }, message: expect.stringMatching(/^not JSON: /) },
      { at: { line: 7 }, message: 'type: unknown event type "RefundTeleported"' },
      { at: { line: 19 }, message: 'data.amount: must be an integer number of minor units' },
    ]);
    // cn_sepa's issue was the bad line: its credit note is not judged on what remains.
    expect(report.incomplete).toEqual(['cn_sepa']);
    expect(report.violationCount).toBe(0);

    const strict = await cli(['replay', fixture('bad-lines.jsonl'), '--strict', ...AS_OF]);
    expect(strict.code).toBe(2);
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toMatch(/^refund-lifecycle replay: line 4: not JSON: .*--strict/);
  });

  it.each([
    ['violation-version-gap.jsonl', 'version_out_of_order', 24, 'credit-note-cn_card: version 4 follows version 2; version 3 is missing'],
    ['violation-transition.jsonl', 'transition_rejected', 40, 'credit-note-cn_slow: RetryRequested is not allowed from requested'],
    ['violation-after-terminal.jsonl', 'event_after_terminal', 40, 'credit-note-cn_sepa: RetryRequested arrived after the credit note was settled (manual)'],
    ['violation-two-refunds.jsonl', 'two_refunds_for_one_attempt', 39, 'credit-note-cn_gate: attempt 1 names refund re_fixtureSecondRefund, but it already named re_fake_6'],
    ['violation-refund-on-two-credit-notes.jsonl', 'refund_on_two_credit_notes', 24, 'refund re_fake_1 is on credit-note-cn_card and on credit-note-cn_slow'],
    ['violation-beyond-charge.jsonl', 'refunded_beyond_charge', null, 'payment-pi_fake_1: 2 credit notes refunded 60.00 EUR of a 10.00 EUR charge'],
  ])('finds %s: %s, exit 1', async (file, kind, line, message) => {
    const { code, report } = await json(['replay', fixture(file), ...AS_OF]);
    expect(code).toBe(1);
    expect(report.violations).toEqual([{ kind, streamId: expect.any(String), at: line === null ? null : { line }, message }]);
  });

  it('replays a log written in schema version 1 (upcast when read)', async () => {
    const { code, report } = await json(['replay', fixture('schema-v1.jsonl'), ...AS_OF]);
    expect(code).toBe(0);
    expect(report.badLineCount).toBe(0);
    expect(report.violationCount).toBe(0);
    const expected = JSON.parse(readFileSync(fixture('schema-v1.final-states.json'), 'utf8')) as Record<string, { status: string }>;
    const counts: Record<string, number> = {};
    for (const { status } of Object.values(expected)) counts[status] = (counts[status] ?? 0) + 1;
    expect(report.statuses).toMatchObject(counts);
  });

  it('exits 2 with the reason on stderr when the input is unusable', async () => {
    const missing = await cli(['replay', fixture('no-such-log.jsonl')]);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toMatch(/cannot read .*no-such-log\.jsonl: ENOENT/);

    const nothing = await cli(['replay']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('give a JSONL file');

    const noStore = await cli(['replay', '--pglite', join(tmpdir(), `no-such-store-${process.pid}`)]);
    expect(noStore.code).toBe(2);
    expect(noStore.stderr).toContain('no PGlite store at');

    const directory = await cli(['replay', join(root, 'test/fixtures')]);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain('is not a file');

    const nobody = await cli(['replay', fixture('clean.jsonl'), '--credit-note', 'cn_nobody']);
    expect(nobody).toMatchObject({ code: 2, stdout: '' });
    expect(nobody.stderr).toContain('no events of credit note cn_nobody');

    const wrongFormat = await cli(['replay', fixture('clean.jsonl'), '--format', 'xml']);
    expect(wrongFormat.code).toBe(2);
    expect(wrongFormat.stderr).toContain("argument 'xml' is invalid");
  });
});

describe('refund-lifecycle explain', () => {
  it('tells a credit note\'s life in plain words, status by status, with what each step owed', async () => {
    const { code, stdout, stderr } = await cli(['explain', 'cn_gate', '--from', fixture('clean.jsonl')]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const text = stdout.split('\n');
    expect(text.slice(0, 2)).toEqual(['Credit note cn_gate: succeeded', 'Refunded since 2026-03-10 14:00:00 UTC: refund re_fake_6 succeeded.']);
    expect(stdout).toContain('2026-03-02 14:30:00 UTC  issued → pending\n  Refund held back: Stripe has not confirmed the charge of pi_fake_3 yet (charge-confirmation gate).');
    expect(stdout).toContain('Stripe confirmed the charge of pi_fake_3: refunds may go out.\n  Stripe webhook evt_fake_23');
    expect(stdout).toContain('owes: create refund attempt 1 at Stripe — ✓ answered 2026-03-06 08:00:00 UTC (RefundAccepted)');
    expect(stdout).toContain('owes: send "refund completed" to the client — ? deliveries are not in the log');
  });

  it('explains a credit note still waiting, and one from a schema-version-1 log', async () => {
    const slow = await cli(['explain', 'cn_slow', '--from', fixture('clean.jsonl')]);
    expect(slow.code).toBe(0);
    expect(slow.stdout).toMatch(/^Credit note cn_slow: requested\nRequested since 2026-03-03 10:15:00 UTC: refund re_fake_3 pending at Stripe \(processing\)\./);

    const v1 = JSON.parse(readFileSync(fixture('schema-v1.final-states.json'), 'utf8')) as Record<string, { status: string }>;
    const [creditNoteId, expected] = Object.entries(v1)[0]!;
    const old = await json(['explain', creditNoteId, '--from', fixture('schema-v1.jsonl')]);
    expect(old.code).toBe(0);
    expect(old.report.state).toEqual(expected);
    expect(old.report.steps.every((step: { event: { schemaVersion: number } }) => step.event.schemaVersion === 2)).toBe(true);
  });

  it('marks an event the lifecycle rejects and exits 1; exits 2 for an unknown credit note', async () => {
    const rejected = await cli(['explain', 'cn_slow', '--from', fixture('violation-transition.jsonl')]);
    expect(rejected.code).toBe(1);
    expect(rejected.stdout).toContain('REJECTED: not allowed from this status');

    const unknown = await cli(['explain', 'cn_nobody', '--from', fixture('clean.jsonl')]);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toContain('no events of credit note cn_nobody');
  });
});

describe('refund-lifecycle with a PGlite store: import, export, replay and explain', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'refund-lifecycle-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('imports a log, writes nothing the second time, and gives back the same credit notes', { timeout: 60_000 }, async () => {
    const store = join(dir, 'store');
    const first = await cli(['import', fixture('clean.jsonl'), '--pglite', store]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Imported 39 events into PGlite .* \(0 already there\), in 1 appends; 6 credit-note read-model rows written\./);

    const again = await cli(['import', fixture('clean.jsonl'), '--pglite', store]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^Imported 0 events into PGlite .* \(39 already there\), in 0 appends; 0 credit-note/);

    const replayed = await json(['replay', '--pglite', store, ...AS_OF]);
    expect(replayed.code).toBe(0);
    expect(replayed.report).toMatchObject({ order: 'commit', events: 39, statuses: STATUSES, violationCount: 0 });

    const exported = await cli(['export', '--pglite', store]);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/^refund-lifecycle export: 39 events from PGlite/);
    const lines = exported.stdout.trim().split('\n').map((line) => JSON.parse(line) as { eventId: string; globalPosition: number });
    const original = readFileSync(fixture('clean.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { eventId: string });
    expect(new Set(lines.map((event) => event.eventId))).toEqual(new Set(original.map((event) => event.eventId)));

    const since = await cli(['export', '--pglite', store, '--since', String(lines[29]!.globalPosition)]);
    expect(since.stdout.trim().split('\n')).toHaveLength(9);

    const explained = await cli(['explain', 'cn_expired', '--pglite', store]);
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain('Credit note cn_expired: succeeded');
    // Imported history brings no outbox with it: a refund call still shows by its answer, a delivery cannot be told.
    expect(explained.stdout).toContain('owes: create refund attempt 2 at Stripe — ✓ answered 2026-03-04 09:30:00 UTC (RefundAccepted)');
    expect(explained.stdout).toContain('? no outbox record in this store (imported history');
  });

  it('refuses a log with a bad line on import, keeping what came before it', { timeout: 30_000 }, async () => {
    const store = join(dir, 'refused');
    const refused = await cli(['import', fixture('bad-lines.jsonl'), '--pglite', store]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^refund-lifecycle import: line 4: not JSON/);
    const exported = await cli(['export', '--pglite', store]);
    expect(exported.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('exports a log that imports into a second store as the same credit notes', { timeout: 60_000 }, async () => {
    const source = join(dir, 'store');
    const copy = join(dir, 'copy');
    const exported = await cli(['export', '--pglite', source]);
    const file = join(dir, 'exported.jsonl');
    writeFileSync(file, exported.stdout);
    expect((await cli(['import', file, '--pglite', copy])).code).toBe(0);
    const replayed = await json(['replay', '--pglite', copy, ...AS_OF]);
    expect(replayed.report).toMatchObject({ statuses: STATUSES, violationCount: 0 });
  });
});

describe('refund-lifecycle with refund requests: replay, import and explain', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'refund-lifecycle-cli-requests-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A lifecycle's log: rr_7 approved by the merchant as credit note cn_from_rr (not the default id), rr_8 rejected. */
  const requestLog = async () => {
    const fx = buildFixture();
    const merchant = { kind: 'user', id: 'merchant_1' } as const;
    for (const [requestId, paymentId] of [['rr_7', 'pi_7'], ['rr_8', 'pi_8']] as const) {
      await submitRefundRequest(fx, { requestId, paymentId, customerId: 'cus_7', purchasedAt: '2025-12-30T09:00:00.000Z' });
      fx.clock.advance(3_600_000);
    }
    okValue(await fx.lifecycle.approveRequest('rr_7', { actor: merchant, creditNoteId: 'cn_from_rr' }));
    okValue(await fx.lifecycle.rejectRequest('rr_8', { actor: merchant, note: 'Outside the terms.' }));
    const file = join(dir, 'requests.jsonl');
    writeFileSync(file, `${(await fx.store.readAll()).map((event) => JSON.stringify(event)).join('\n')}\n`);
    return file;
  };

  it('counts requests apart from credit notes, imports their rows, and explains who asked and who approved', { timeout: 60_000 }, async () => {
    const file = await requestLog();
    const replayed = await json(['replay', file, ...AS_OF]);
    expect(replayed.code).toBe(0);
    expect(replayed.report).toMatchObject({ creditNotes: 1, refundRequests: { count: 2, statuses: { pending: 0, approved: 1, rejected: 1, withdrawn: 0 }, incomplete: [] }, violationCount: 0 });
    const table = await cli(['replay', file, ...AS_OF]);
    expect(table.stdout).toContain('1 credit notes, 2 payments, 2 refund requests; positions in order.');
    expect(table.stdout).toMatch(/Status\s+Refund requests\n[─ ]+\npending\s+0\napproved\s+1\nrejected\s+1\nwithdrawn\s+0\n/);

    const head = [
      'Credit note cn_from_rr: requested',
      'Requested since 2026-01-01 11:00:00 UTC: refund re_fake_1 pending at Fake.',
      'Issued on the approval of refund request rr_7.',
      '',
    ].join('\n');
    const request = [
      '2026-01-01 09:00:00 UTC  refund request',
      '  Refund request rr_7 submitted by customer cus_7 for 40.00 EUR on payment pi_7 (technical issue).',
      '  by cus_7 · RefundRequestSubmitted v1',
      '2026-01-01 11:00:00 UTC  refund request',
      '  Approved by user merchant_1 (refund only): credit note cn_from_rr issued for 40.00 EUR.',
      '  by user merchant_1 · RefundRequestApproved v2',
      '2026-01-01 11:00:00 UTC  unissued → issued',
    ].join('\n');
    const fromFile = await cli(['explain', 'cn_from_rr', '--from', file]);
    expect(fromFile).toMatchObject({ code: 0, stderr: '' });
    expect(fromFile.stdout).toContain(`${head}\n${request}`);

    const store = join(dir, 'store');
    const imported = await cli(['import', file, '--pglite', store]);
    expect(imported).toMatchObject({ code: 0, stderr: '' });
    const fromStore = await cli(['explain', 'cn_from_rr', '--pglite', store]);
    expect(fromStore).toMatchObject({ code: 0, stderr: '' });
    // Found through the requests read model (the credit note id is not the default rr-rr_7). An import appends a
    // batch stream by stream, so the store's positions place the payment's facts first: only their order may differ.
    expect(fromStore.stdout.startsWith(head)).toBe(true);
    expect(fromStore.stdout).toContain(request);
    const explained = await json(['explain', 'cn_from_rr', '--pglite', store]);
    expect(explained.report.requestId).toBe('rr_7');
  });
});

describe('refund-lifecycle, the rest', () => {
  it('prints the machine as Mermaid, the README\'s diagram', async () => {
    const { code, stdout } = await cli(['diagram']);
    expect(code).toBe(0);
    expect(stdout).toBe(`${toMermaid()}\n`);
  });

  it.each(['replay', 'explain', 'export', 'import', 'diagram', 'demo'])('has --help for %s, on stdout, exit 0', async (command) => {
    const { code, stdout } = await cli([command, '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: refund-lifecycle ${command}`));
  });

  it('answers no command at all with exit 2 and the usage on stderr', async () => {
    const { code, stdout, stderr } = await cli([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('Usage: refund-lifecycle');
  });

  it('answers an unknown command with exit 2 and usage help on stderr', async () => {
    const { code, stdout, stderr } = await cli(['replya']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("unknown command 'replya'");
  });
});

describe.skipIf(process.env.DATABASE_URL === undefined)('refund-lifecycle with a PostgreSQL store (DATABASE_URL)', () => {
  const url = process.env.DATABASE_URL!;
  const schema = `cli_test_${process.pid}_${Date.now()}`;
  afterAll(async () => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('imports, replays, explains and exports over a real connection', { timeout: 60_000 }, async () => {
    const target = ['--db', url, '--schema', schema];
    const imported = await cli(['import', fixture('clean.jsonl'), ...target]);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toMatch(/^Imported 39 events into postgres/);
    expect((await cli(['import', fixture('clean.jsonl'), ...target])).stdout).toMatch(/^Imported 0 events .* \(39 already there\)/);

    const replayed = await json(['replay', ...target, ...AS_OF]);
    expect(replayed.report).toMatchObject({ order: 'commit', events: 39, statuses: STATUSES, violationCount: 0 });

    const explained = await cli(['explain', 'cn_slow', ...target]);
    expect(explained.stdout).toMatch(/^Credit note cn_slow: requested\n/);

    const exported = await cli(['export', ...target]);
    expect(exported.stdout.trim().split('\n')).toHaveLength(39);
  });

  it('exits 2 when the schema holds no store, and when the server cannot be reached', async () => {
    const empty = await cli(['replay', '--db', url, '--schema', `${schema}_missing`]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/cannot read events from postgres.*is it a refund-lifecycle store\?/);
    const unreachable = await cli(['export', '--db', 'postgres://nobody:secret@127.0.0.1:1/none']);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).not.toContain('secret');
  });
});

describe('the README\'s CLI examples', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const examples = [...readme.matchAll(/<!-- cli-example -->\n```console\n\$ refund-lifecycle (.+)\n([\s\S]*?)\n```/g)].map((match) => ({
    args: match[1]!.split(' '),
    output: match[2]!,
  }));

  it('has examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
  });

  it.each(examples.map((example) => [example.args.join(' '), example] as const))('prints what the README shows: refund-lifecycle %s', async (_, { args, output }) => {
    const { stdout } = await cli(args);
    expect(stdout.trimEnd()).toBe(output);
  });
});
