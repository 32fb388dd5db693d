import { err, ok, type Result } from 'neverthrow';
import { z } from 'zod';
import type { CommandError, ValidationError } from '../errors.js';
import { confirmCharge } from '../lifecycle/commands/confirmCharge.js';
import { refreshStatus } from '../lifecycle/commands/refreshStatus.js';
import { validateInput } from '../lifecycle/commandInputs.js';
import type { LifecycleDeps } from '../lifecycle/deps.js';
import { createDispatcher } from '../lifecycle/dispatcher.js';
import type { CreditNoteSummary } from '../ports/eventStore.js';
import { pacedGateway, pacer } from './pacer.js';

/*
 * Nothing silently stuck: a credit note `requested` (or with an attempt in
 * doubt) that heard nothing for a while is refreshed from the processor, and
 * one `pending` on a charge confirmation asks the processor whether the charge
 * is confirmed now. Oldest first, through the read model's (status, last
 * change) index, bounded per run and rate-limited: every processor call the
 * run makes — its refreshes and the side effects they make due — waits its
 * turn. What a webhook would have said, the sweep finds by asking.
 */

export const sweepInputSchema = z.strictObject({
  /** Only credit notes whose last change is older than this, in ms (e.g. 15 minutes). */
  olderThanMs: z.number().int().min(0),
  /** At most this many credit notes asked about per run (skipped ones do not count). Default 100. */
  limit: z.number().int().min(1).max(10_000).default(100),
  /** Processor calls per second at most. Default 20: under Stripe's 25 read requests a second in test mode (100 live). */
  ratePerSecond: z.number().positive().max(1_000).default(20),
});
export type SweepInput = z.input<typeof sweepInputSchema>;

export type SweptCreditNote = {
  creditNoteId: string;
  /** Status before the sweep looked. */
  status: 'requested' | 'pending';
  /** `refreshed`: the processor was asked about the refund; `charge_checked`: about the charge. */
  action: 'refreshed' | 'charge_checked' | 'skipped';
  /** `changed`: it moved on (new events); `failed`: asking failed (`note` is the error code). */
  outcome: 'changed' | 'unchanged' | 'skipped' | 'failed';
  /**
   * Why it was skipped (`retry_queued`: the dispatcher will send a retry; `automatic_retry_scheduled`; `no_payment`;
   * `processor_cannot_be_asked`: its outcome comes only by notification, e.g. Adyen),
   * `charge_not_confirmed` when the processor still says so, or the error code.
   */
  note: string | null;
};

export type SweepReport = {
  checked: number;
  changed: number;
  failed: number;
  /** Processor calls the run made (refreshes, charge checks and the side effects they made due). */
  processorCalls: number;
  creditNotes: SweptCreditNote[];
};

const sweepActor = { kind: 'system', id: 'sweep' } as const;

/** Where the last run stopped: (last change, credit note id) of the last row it looked at. */
type SweepCursor = { updatedAt: string; creditNoteId: string };
export const SWEEP_CURSOR = 'sweep.cursor';
/** Rows a run may look at per row it asks about: skipped rows cost no processor call, but still a read. */
const EXAMINED_PER_ASKED = 10;

const isCursor = (value: unknown): value is SweepCursor =>
  typeof value === 'object' && value !== null && typeof (value as SweepCursor).updatedAt === 'string' && typeof (value as SweepCursor).creditNoteId === 'string';

/** The read model's order: last change, then credit note id. */
const isBefore = (row: SweepCursor, cursor: SweepCursor) =>
  row.updatedAt < cursor.updatedAt || (row.updatedAt === cursor.updatedAt && row.creditNoteId < cursor.creditNoteId);
const PAGE = 100;

/** Ask the processor about one credit note, as its state calls for. */
const sweepOne = async (
  deps: LifecycleDeps,
  row: CreditNoteSummary,
  settle: (dueOutboxIds: readonly string[]) => Promise<void>,
): Promise<SweptCreditNote> => {
  const { creditNoteId } = row;
  const { context } = row.state;
  const status = row.status as 'requested' | 'pending';
  const skipped = (note: string): SweptCreditNote => ({ creditNoteId, status, action: 'skipped', outcome: 'skipped', note });
  const failed = (action: SweptCreditNote['action'], error: CommandError): SweptCreditNote => ({ creditNoteId, status, action, outcome: 'failed', note: error.code });
  const done = (action: SweptCreditNote['action'], changed: boolean, note: string | null = null): SweptCreditNote =>
    ({ creditNoteId, status, action, outcome: changed ? 'changed' : 'unchanged', note });

  // A processor that cannot be asked (Adyen) tells refunds and charges only by notification: nothing to pull.
  const cannotBeAsked = deps.gateway.capabilities?.pullsRefundStatus === false;
  if (status === 'pending' && context.pendingReason === 'charge_not_confirmed') {
    if (context.payment === null) return skipped('no_payment');
    if (cannotBeAsked) return skipped('processor_cannot_be_asked');
    const described = await deps.gateway.describePayment(context.payment);
    if (described.isErr()) return failed('charge_checked', described.error);
    if (described.value.chargeConfirmed !== true) return done('charge_checked', false, 'charge_not_confirmed');
    const confirmed = await confirmCharge(deps, {
      paymentId: context.payment.paymentId,
      processor: context.payment.processor,
      actor: sweepActor,
      source: 'refresh',
    });
    if (confirmed.isErr()) return failed('charge_checked', confirmed.error);
    await settle(confirmed.value.dueOutboxIds);
    return done('charge_checked', confirmed.value.changed);
  }
  if (status === 'pending' && context.pendingReason === 'retry_requested') return skipped('retry_queued');
  const retryAt = context.transientError?.retryAt;
  if (status === 'pending' && retryAt != null && Date.parse(retryAt) > deps.clock.now().getTime()) return skipped('automatic_retry_scheduled');

  if (cannotBeAsked) return skipped('processor_cannot_be_asked');
  const refreshed = await refreshStatus(deps, creditNoteId, { actor: sweepActor });
  if (refreshed.isErr()) return failed('refreshed', refreshed.error);
  await settle(refreshed.value.dueOutboxIds);
  return done('refreshed', refreshed.value.changed);
};

/**
 * One sweep run. The processor calls of the run go through one pacer; the
 * side effects a refresh makes due are performed by a dispatcher on the same
 * paced gateway when the lifecycle dispatches inline, else left to `dispatch()`.
 */
export const sweep = async (
  deps: LifecycleDeps,
  rawInput: unknown,
  options: { sleep: (ms: number) => Promise<void>; dispatchInline: boolean },
): Promise<Result<SweepReport, ValidationError>> => {
  const parsed = validateInput(sweepInputSchema, rawInput);
  if (parsed.isErr()) return err(parsed.error);
  const input = parsed.value;
  const paced = pacedGateway(deps.gateway, pacer(deps.clock, input.ratePerSecond, options.sleep));
  const sweepDeps: LifecycleDeps = { ...deps, gateway: paced.gateway };
  const dispatcher = createDispatcher(sweepDeps);
  const settle = async (dueOutboxIds: readonly string[]) => {
    if (!options.dispatchInline || dueOutboxIds.length === 0) return;
    await dispatcher.dispatch({ entryIds: [...dueOutboxIds] });
  };

  const updatedBefore = new Date(deps.clock.now().getTime() - input.olderThanMs).toISOString();
  const report: SweepReport = { checked: 0, changed: 0, failed: 0, processorCalls: 0, creditNotes: [] };
  // Runs take turns through the waiting credit notes: each resumes after the row the last one stopped at and wraps
  // around, so a few that stay unchanged for days (a slow refund, a charge never confirmed) cannot fill every run.
  const saved = (await deps.store.readCheckpoint(SWEEP_CURSOR))?.value as SweepCursor | null | undefined;
  const start = isCursor(saved) ? saved : null;
  let asked = 0;
  let cursor: SweepCursor | null = start;
  const maxExamined = input.limit * EXAMINED_PER_ASKED;
  const sweepFrom = async (after: SweepCursor | null, until: SweepCursor | null): Promise<boolean> => {
    let from = after;
    for (;;) {
      const page = await deps.store.listCreditNotesByAge({
        statuses: ['requested', 'pending'],
        updatedBefore,
        ...(from === null ? {} : { after: from }),
        limit: PAGE,
      });
      for (const row of page) {
        if (until !== null && !isBefore(row, until)) return true;
        if (asked >= input.limit || report.checked >= maxExamined) return false;
        const swept = await sweepOne(sweepDeps, row, settle);
        report.checked += 1;
        if (swept.action !== 'skipped') asked += 1;
        if (swept.outcome === 'changed') report.changed += 1;
        if (swept.outcome === 'failed') report.failed += 1;
        report.creditNotes.push(swept);
        cursor = { updatedAt: row.updatedAt, creditNoteId: row.creditNoteId };
      }
      if (page.length < PAGE) return true;
      const last = page[page.length - 1]!;
      from = { updatedAt: last.updatedAt, creditNoteId: last.creditNoteId };
    }
  };
  const reachedEnd = await sweepFrom(start, null);
  // The end of the list: start again from the oldest, up to where this run began.
  if (reachedEnd && start !== null) {
    const wrapped = await sweepFrom(null, start);
    if (wrapped) cursor = null;
  } else if (reachedEnd) cursor = null;
  await deps.store.writeCheckpoint({ name: SWEEP_CURSOR, value: cursor }, deps.clock.now());
  report.processorCalls = paced.calls();
  return ok(report);
};
