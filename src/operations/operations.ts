import { ok, type Result } from 'neverthrow';
import { z } from 'zod';
import type { ValidationError } from '../errors.js';
import { creditNoteIdSchema, isoTimestampSchema } from '../events/primitives.js';
import { validateInput } from '../lifecycle/commandInputs.js';
import { toCreditNoteView, type CreditNoteView } from '../lifecycle/creditNoteView.js';
import { CREDIT_NOTE_STREAM_PREFIX } from '../lifecycle/streams.js';
import type { CreditNoteStatus } from '../machine/creditNoteState.js';
import type { Clock } from '../ports/notifier.js';
import type { GatewayCapabilities } from '../ports/refundGateway.js';
import type { CreditNoteSummary, EventStore, OutboxEntry, OutboxKind } from '../ports/eventStore.js';

/*
 * What an operator needs to see and do, read through the store's indexes:
 * side effects the dispatcher gave up on (and a way to give them back),
 * credit notes by status and age, refunds in doubt, failures by reason, and
 * a health summary a host can expose on its status endpoint.
 */

/** A side effect the dispatcher gave up on after its bounded retries. */
export type ParkedSideEffect = {
  entryId: string;
  creditNoteId: string;
  kind: OutboxKind;
  idempotencyKey: string;
  deliveries: number;
  lastError: string | null;
  createdAt: string;
  parkedAt: string;
};

export type AgedCreditNote = { creditNote: CreditNoteView; lastChangeAt: string; ageMs: number };

export type FailureReasonCount = {
  processorReason: string;
  count: number;
  /** What a retry can do and what a person should do next, as classified. */
  retry: string;
  recovery: string;
  /** Up to ten of the credit notes, oldest first. */
  creditNoteIds: string[];
};

export type Health = {
  checkedAt: string;
  /** How long the longest-waiting `requested` credit note has heard nothing; null when none. */
  oldestRequestedAgeMs: number | null;
  oldestPendingAgeMs: number | null;
  /** How long the oldest refund request awaiting review has waited (seed 004: answer within 24–48 hours); null when none. */
  oldestRequestAwaitingReviewAgeMs: number | null;
  outbox: { due: number; parked: number; oldestDueAgeMs: number | null };
  /** The last reconciliation run's checkpoint (`reconcile` in `refund-lifecycle/stripe`), if any ran. */
  lastReconcile: { at: string; name: string } | null;
};

const pageInput = {
  limit: z.number().int().min(1).max(500).default(50),
};

export const parkedSideEffectsInputSchema = z.strictObject({
  ...pageInput,
  /**
   * Cursor, exclusive: the `parkedAt` and `entryId` of the previous page's last side effect. A position in the
   * (parkedAt, entryId) order, so the next page is right even when that side effect was requeued meanwhile.
   */
  after: z.strictObject({ parkedAt: isoTimestampSchema, entryId: z.string().min(1) }).optional(),
});
export type ParkedSideEffectsInput = z.input<typeof parkedSideEffectsInputSchema>;

export const requeueInputSchema = z.union([
  z.strictObject({ entryIds: z.array(z.string().min(1)).min(1).max(500) }),
  z.strictObject({ all: z.literal(true) }),
]);
export type RequeueInput = z.input<typeof requeueInputSchema>;

const workingStatuses = ['issued', 'pending', 'requested', 'succeeded', 'failed', 'manual'] as const;
export const creditNotesByAgeInputSchema = z.strictObject({
  statuses: z.array(z.enum(workingStatuses)).min(1).default(['requested', 'pending']),
  /** Only those whose last change is older than this, in ms. */
  olderThanMs: z.number().int().min(0).default(0),
  ...pageInput,
  after: z.strictObject({ updatedAt: z.string().min(1), creditNoteId: creditNoteIdSchema }).optional(),
});
export type CreditNotesByAgeInput = z.input<typeof creditNotesByAgeInputSchema>;

/** The reconciliation checkpoint `health()` reports; `reconcile` writes it after every run. */
export const LAST_RECONCILE_CHECKPOINT = 'reconcile.last-run';

const PAGE = 500;

const parked = (entry: OutboxEntry): ParkedSideEffect => ({
  entryId: entry.id,
  creditNoteId: entry.streamId.startsWith(CREDIT_NOTE_STREAM_PREFIX) ? entry.streamId.slice(CREDIT_NOTE_STREAM_PREFIX.length) : entry.streamId,
  kind: entry.kind,
  idempotencyKey: entry.idempotencyKey,
  deliveries: entry.deliveries,
  lastError: entry.lastError,
  createdAt: entry.createdAt,
  parkedAt: entry.deadAt ?? entry.createdAt,
});

export const createOperations = (deps: { store: EventStore; clock: Clock; capabilities?: GatewayCapabilities }) => {
  const { store, clock } = deps;
  const ageOf = (iso: string) => clock.now().getTime() - Date.parse(iso);
  const aged = (row: CreditNoteSummary): AgedCreditNote => ({
    creditNote: toCreditNoteView(row.state, row.version, deps.capabilities),
    lastChangeAt: row.updatedAt,
    ageMs: ageOf(row.updatedAt),
  });

  /** Every row of these statuses, oldest first, a page at a time. */
  async function* rowsOf(statuses: CreditNoteStatus[]): AsyncGenerator<CreditNoteSummary> {
    let after: { updatedAt: string; creditNoteId: string } | undefined;
    for (;;) {
      const page = await store.listCreditNotesByAge({ statuses, ...(after === undefined ? {} : { after }), limit: PAGE });
      yield* page;
      if (page.length < PAGE) return;
      const last = page[page.length - 1]!;
      after = { updatedAt: last.updatedAt, creditNoteId: last.creditNoteId };
    }
  }

  return {
    parkedSideEffects: async (input: unknown): Promise<Result<ParkedSideEffect[], ValidationError>> => {
      const parsed = validateInput(parkedSideEffectsInputSchema, input);
      if (parsed.isErr()) return parsed.map(() => []);
      const { limit, after } = parsed.value;
      const cursor = after === undefined ? {} : { after: { deadAt: after.parkedAt, id: after.entryId } };
      return ok((await store.listOutbox({ dead: true, limit, ...cursor })).map(parked));
    },

    /** Gives parked side effects back to the dispatchers (deliveries counted afresh); resolves to how many. */
    requeueSideEffects: async (input: unknown): Promise<Result<{ requeued: number }, ValidationError>> => {
      const parsed = validateInput(requeueInputSchema, input);
      if (parsed.isErr()) return parsed.map(() => ({ requeued: 0 }));
      if ('entryIds' in parsed.value) return ok({ requeued: await store.requeueOutbox(parsed.value.entryIds, clock.now()) });
      let requeued = 0;
      // One walk of the parked list. The cursor is a position, not an entry, so it stays valid once the page's
      // entries are requeued; an entry a concurrent requeue took first is simply not counted here.
      let after: { deadAt: string; id: string } | undefined;
      for (;;) {
        const page = await store.listOutbox({ dead: true, limit: PAGE, ...(after === undefined ? {} : { after }) });
        if (page.length > 0) requeued += await store.requeueOutbox(page.map((entry) => entry.id), clock.now());
        if (page.length < PAGE) return ok({ requeued });
        const last = page[page.length - 1]!;
        after = { deadAt: last.deadAt!, id: last.id };
      }
    },

    creditNotesByAge: async (input: unknown): Promise<Result<AgedCreditNote[], ValidationError>> => {
      const parsed = validateInput(creditNotesByAgeInputSchema, input);
      if (parsed.isErr()) return parsed.map(() => []);
      const { statuses, olderThanMs, limit, after } = parsed.value;
      const rows = await store.listCreditNotesByAge({
        statuses,
        updatedBefore: new Date(clock.now().getTime() - olderThanMs).toISOString(),
        ...(after === undefined ? {} : { after }),
        limit,
      });
      return ok(rows.map(aged));
    },

    /**
     * Credit notes whose attempt is in doubt (a transient error: the processor may or may not hold the refund),
     * oldest first. Read from the pending rows, the only status an attempt in doubt can be in.
     */
    refundsInDoubt: async (input: unknown = {}): Promise<Result<AgedCreditNote[], ValidationError>> => {
      const parsed = validateInput(z.strictObject(pageInput), input);
      if (parsed.isErr()) return parsed.map(() => []);
      const found: AgedCreditNote[] = [];
      for await (const row of rowsOf(['pending'])) {
        if (row.state.context.refund?.status !== 'in_doubt') continue;
        found.push(aged(row));
        if (found.length >= parsed.value.limit) break;
      }
      return ok(found);
    },

    /** Failed credit notes grouped by the processor's reason, most frequent first: where refunds go wrong. */
    failuresByReason: async (): Promise<Result<FailureReasonCount[], never>> => {
      const byReason = new Map<string, FailureReasonCount>();
      for await (const row of rowsOf(['failed'])) {
        const failure = row.state.context.failure;
        const reason = failure?.processorReason ?? 'unknown';
        const entry = byReason.get(reason) ?? {
          processorReason: reason,
          count: 0,
          retry: failure?.classification.retry ?? 'may_help',
          recovery: failure?.classification.recovery ?? 'none',
          creditNoteIds: [],
        };
        entry.count += 1;
        if (entry.creditNoteIds.length < 10) entry.creditNoteIds.push(row.creditNoteId);
        byReason.set(reason, entry);
      }
      return ok([...byReason.values()].sort((a, b) => b.count - a.count || a.processorReason.localeCompare(b.processorReason)));
    },

    health: async (): Promise<Result<Health, never>> => {
      const now = clock.now();
      const oldest = async (status: CreditNoteStatus) => {
        const [row] = await store.listCreditNotesByAge({ statuses: [status], limit: 1 });
        return row === undefined ? null : ageOf(row.updatedAt);
      };
      const [requested, pending, [awaitingReview], counts, reconcile] = await Promise.all([
        oldest('requested'),
        oldest('pending'),
        store.listRefundRequests({ status: 'pending', limit: 1 }),
        store.outboxCounts(now),
        store.readCheckpoint(LAST_RECONCILE_CHECKPOINT),
      ]);
      const reconciled = reconcile?.value as { name?: unknown } | undefined;
      return ok({
        checkedAt: now.toISOString(),
        oldestRequestedAgeMs: requested,
        oldestPendingAgeMs: pending,
        oldestRequestAwaitingReviewAgeMs: awaitingReview === undefined ? null : ageOf(awaitingReview.submittedAt),
        outbox: { due: counts.due, parked: counts.parked, oldestDueAgeMs: counts.oldestDueAt === null ? null : ageOf(counts.oldestDueAt) },
        lastReconcile: reconcile === null ? null : { at: reconcile.updatedAt, name: typeof reconciled?.name === 'string' ? reconciled.name : LAST_RECONCILE_CHECKPOINT },
      });
    },
  };
};

export type Operations = ReturnType<typeof createOperations>;
