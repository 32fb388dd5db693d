import { err, ok, ResultAsync, type Result } from 'neverthrow';
import type Stripe from 'stripe';
import { z } from 'zod';
import {
  RefundLifecycleError,
  StoreError,
  UnexpectedError,
  ValidationError,
  type CommandError,
  type GatewayError,
} from '../../errors.js';
import { toValidationIssues } from '../../events/validationIssues.js';
import type { EventStore } from '../../ports/eventStore.js';
import { systemClock } from '../../ports/notifier.js';
import {
  reject,
  stripeEventApplier,
  WebhookRejectedError,
  type StripeEventAnswer,
  type StripeEventHandlingOptions,
  type WebhookRejection,
} from './stripeEventHandler.js';
import { handledEventObjects, type HandledEventType } from './stripeEventSchemas.js';
import { toGatewayError } from './stripeGateway.js';
import { LAST_RECONCILE_CHECKPOINT } from '../../operations/operations.js';

/*
 * Webhooks get lost: an endpoint down for longer than Stripe's three days of
 * retries, a deploy that answered 500 to everything, a misconfigured secret.
 * The reconciler asks Stripe's Events API for what the webhook handler takes
 * and applies it the same way (validation, livemode and account checks, the
 * Stripe event id as causation id), oldest first, so every credit note ends
 * where the webhooks would have taken it, once.
 */

/** How far back Stripe's Events API goes (list and retrieve). */
export const stripeEventRetentionDays = 30;

/** The event types the webhook handler acts on: what a reconciliation asks Stripe for by default. */
export const reconciledEventTypes = Object.keys(handledEventObjects) as HandledEventType[];

/** Where the next run resumes: the last event a run got through (applied, already known, ignored or rejected). */
export type ReconcileCheckpoint = { created: number; eventId: string };

export type ReconcileOptions = {
  /**
   * Fetch events created at or after this instant, instead of resuming from the
   * checkpoint (a deliberate look back, e.g. after restoring a backup). Without
   * it: from the checkpoint, or 30 days ago (Stripe's retention) on the first run.
   */
  since?: Date;
  /** A subset of the handled types; default all of them. A subset keeps its own checkpoint. */
  types?: readonly HandledEventType[];
  /** At most this many events are handled in this run (the oldest ones; applied, known, ignored or rejected); run again for the rest. */
  limit?: number;
  /**
   * `false`: only events Stripe has not delivered to every endpoint (`delivery_success=false`), which is
   * all a host that answered every delivery it got needs. Default: every event, delivered or not.
   */
  deliverySuccess?: boolean;
  /** A Connect account (`acct_…`): its events are listed with `Stripe-Account`. Default: the platform. One run per account. */
  account?: string | null;
};

export type ReconcileRejection = { eventId: string; eventType: string; reason: WebhookRejection; message: string };

/** What stopped a run: an event the lifecycle could not apply now, or Stripe or the store failing between events. */
export type ReconcileFailure = {
  /** The event being applied, or null when listing events or saving the checkpoint failed. */
  eventId: string | null;
  eventType: string | null;
  /** `store_unavailable`, `gateway_error`, `unexpected_error`, or any other code a webhook would have answered 500 for. */
  code: string;
  message: string;
};

export type ReconcileReport = {
  /** The Connect account reconciled; null: the platform. */
  account: string | null;
  livemode: boolean;
  /** The checkpoint's name in the store. */
  checkpointName: string;
  /** `created[gte]` asked of Stripe (unix seconds): the checkpoint's second, `since`, or 30 days ago. */
  from: number;
  /**
   * The checkpoint or `since` is older than the 30 days Stripe keeps events:
   * events in between may be gone for good. Refresh the credit notes still in
   * flight (`refreshStatus`) to close the gap.
   */
  retentionGap: boolean;
  /** Events read from Stripe and handed to the handler. */
  fetched: number;
  applied: number;
  unchanged: number;
  ignored: number;
  /** Events the handler refused, as it would have answered a webhook 400; they are passed over. */
  rejected: ReconcileRejection[];
  /** Null unless the run was interrupted (then the `Err` carries this report). */
  failed: ReconcileFailure | null;
  /** Saved after each page: where the next run resumes. */
  checkpoint: ReconcileCheckpoint | null;
  /** `limit` ended the run; Stripe may hold more events. */
  limitReached: boolean;
  /** The credit notes the applied and known events concern. */
  creditNoteIds: string[];
};

/**
 * A run stopped before it got through Stripe's events: the store or Stripe
 * failed, or an event met an error a webhook would have answered 500 for.
 * What was done is kept (the checkpoint was saved up to the last event got
 * through) and `report` tells it; run again later to carry on from there.
 */
export class ReconcileInterruptedError extends RefundLifecycleError {
  readonly code = 'reconcile_interrupted' as const;
  constructor(
    readonly report: ReconcileReport,
    cause: CommandError | GatewayError | StoreError | UnexpectedError,
  ) {
    super(
      `Reconciliation of ${report.account ?? 'the platform'} stopped${report.failed?.eventId ? ` at event ${report.failed.eventId}` : ''}: ${cause.message}`,
      { cause },
    );
  }
}

export type ReconcileError = ValidationError | ReconcileInterruptedError;

export type StripeReconcilerOptions = StripeEventHandlingOptions & {
  /** The lifecycle's store: it keeps each run's checkpoint (`readCheckpoint`, `writeCheckpoint`). */
  store: Pick<EventStore, 'readCheckpoint' | 'writeCheckpoint'>;
  /** Events asked of Stripe per request, 1 to 100 (Stripe's maximum, the default). */
  pageSize?: number;
};

/**
 * `stripe.reconcile:<account or platform>:<live or test>`, plus `:<types>` for a run of a subset of the types and
 * `:delivery_success=<bool>` for a run filtered on delivery: a filtered run must never move the checkpoint of the
 * full one past events it did not look at.
 */
export const reconcileCheckpointName = (
  account: string | null,
  livemode: boolean,
  types: readonly string[] = reconciledEventTypes,
  deliverySuccess?: boolean,
): string => {
  const base = `stripe.reconcile:${account ?? 'platform'}:${livemode ? 'live' : 'test'}`;
  const subset = [...new Set(types)].sort();
  const typed = subset.length === reconciledEventTypes.length ? base : `${base}:${subset.join(',')}`;
  return deliverySuccess === undefined ? typed : `${typed}:delivery_success=${deliverySuccess}`;
};

const optionsSchema = z.strictObject({
  since: z.date().optional(),
  types: z
    .array(z.enum(reconciledEventTypes as [HandledEventType, ...HandledEventType[]]))
    .min(1)
    .optional(),
  limit: z.number().int().min(1).optional(),
  deliverySuccess: z.boolean().optional(),
  account: z
    .string()
    .max(255)
    .regex(/^acct_\S+$/, 'must be a Connect account id (acct_…)')
    .nullable()
    .optional(),
});

const checkpointSchema = z.object({ created: z.number().int(), eventId: z.string().regex(/^evt_/) });

const isMissingCursor = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'resource_missing';

type EventPage = { data: Stripe.Event[]; has_more: boolean };

/** A run's report before it fetched anything. */
const emptyReport = (account: string | null, livemode: boolean, checkpointName: string, from: number): ReconcileReport => ({
  account,
  livemode,
  checkpointName,
  from,
  retentionGap: false,
  fetched: 0,
  applied: 0,
  unchanged: 0,
  ignored: 0,
  rejected: [],
  failed: null,
  checkpoint: null,
  limitReached: false,
  creditNoteIds: [],
});

/** A failure before the run had a report of its own (never expected: the options are parsed without throwing). */
const interruptedBeforeStart = (livemode: boolean, cause: unknown) => {
  const failure = new UnexpectedError(cause);
  return new ReconcileInterruptedError(
    { ...emptyReport(null, livemode, '', 0), failed: { eventId: null, eventType: null, code: failure.code, message: failure.message } },
    failure,
  );
};

/**
 * Fetches Stripe's events that the webhook handler takes and applies them
 * through the same code, with `source: 'reconcile'`, oldest first. Safe to run
 * any time, and alongside the webhooks: an event already applied by either
 * changes nothing. Run it from a timer (hourly, say) or after an outage.
 */
export const stripeReconciler = (options: StripeReconcilerOptions) => {
  const { stripe, store } = options;
  const clock = options.clock ?? systemClock;
  const pageSize = options.pageSize ?? 100;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
    throw new RangeError(`pageSize must be an integer from 1 to 100, got ${String(options.pageSize)}`);
  }
  const applier = stripeEventApplier(options);
  const { livemode } = applier;

  const run = async (input: ReconcileOptions): Promise<Result<ReconcileReport, ReconcileError>> => {
    const parsed = optionsSchema.safeParse(input);
    if (!parsed.success) return err(new ValidationError(toValidationIssues(parsed.error)));
    const { since, limit, deliverySuccess } = parsed.data;
    const types = parsed.data.types ?? reconciledEventTypes;
    const account = parsed.data.account ?? null;
    const name = reconcileCheckpointName(account, livemode, types, deliverySuccess);
    const nowSeconds = Math.floor(clock.now().getTime() / 1000);
    const retainedFrom = nowSeconds - stripeEventRetentionDays * 86_400;
    const report = emptyReport(account, livemode, name, retainedFrom);
    const touched = new Set<string>();
    const interrupted = (
      at: { eventId: string; eventType: string } | null,
      error: CommandError | GatewayError | StoreError | UnexpectedError,
    ) => {
      report.failed = { eventId: at?.eventId ?? null, eventType: at?.eventType ?? null, code: error.code, message: error.message };
      report.creditNoteIds = [...touched];
      return err(new ReconcileInterruptedError(report, error));
    };

    const reconcileFrom = async (): Promise<Result<ReconcileReport, ReconcileError>> => {
      let stored: ReconcileCheckpoint | null;
      try {
        const parsedCheckpoint = checkpointSchema.safeParse((await store.readCheckpoint(name))?.value);
        // A checkpoint that is not ours to read is ignored: starting further back only re-applies known events.
        stored = parsedCheckpoint.success ? parsedCheckpoint.data : null;
      } catch (error) {
        return interrupted(null, new StoreError(error));
      }
      report.checkpoint = stored;
      // `since` only ever reaches further back: one later than the checkpoint would skip the events in between.
      const sinceSeconds = since === undefined ? null : Math.floor(since.getTime() / 1000);
      const resumeFrom = stored !== null && (sinceSeconds === null || sinceSeconds >= stored.created) ? stored : null;
      report.from = resumeFrom?.created ?? sinceSeconds ?? retainedFrom;
      report.retentionGap = report.from < retainedFrom;

      const filters: Stripe.EventListParams = {
        types: [...types],
        created: { gte: report.from },
        ...(deliverySuccess === undefined ? {} : { delivery_success: deliverySuccess }),
      };
      // The events of a connected account are listed on that account; the platform's list holds only its own.
      const requestOptions: Stripe.RequestOptions = account === null ? {} : { stripeAccount: account };
      const list = async (params: Stripe.EventListParams): Promise<Result<EventPage, unknown>> => {
        try {
          const page = await stripe.events.list({ ...filters, ...params }, requestOptions);
          return ok({ data: page.data, has_more: page.has_more });
        } catch (error) {
          return err(error);
        }
      };
      let remaining = limit ?? Number.POSITIVE_INFINITY;
      const nextPageSize = () => Math.min(pageSize, remaining);

      /** The API call is authenticated and made on `account`: an event that does not name an account is that account's. */
      const applyListed = async (event: Stripe.Event): Promise<StripeEventAnswer> => {
        const named = event.account ?? null;
        if (account !== null && named !== null && named !== account) {
          return reject('account_mismatch', `Event ${event.id} names account ${named}, but was listed on ${account}`);
        }
        return applier.apply(account !== null && named === null ? { ...event, account } : event, 'reconcile');
      };

      const save = async (checkpoint: ReconcileCheckpoint): Promise<Result<void, StoreError>> => {
        try {
          await store.writeCheckpoint({ name, value: checkpoint }, clock.now());
          report.checkpoint = checkpoint;
          return ok(undefined);
        } catch (error) {
          return err(new StoreError(error));
        }
      };

      /** Applies events oldest first, then saves the checkpoint of the last one got through, also when one fails. */
      const applyInOrder = async (events: readonly Stripe.Event[]): Promise<Result<void, ReconcileInterruptedError>> => {
        let last: ReconcileCheckpoint | null = null;
        for (const event of events) {
          if (remaining <= 0) break;
          report.fetched += 1;
          const answer = await applyListed(event);
          if (answer.isErr() && !(answer.error instanceof WebhookRejectedError)) {
            // What a webhook would answer 500 for: stop here, keep what was done, and come back to this very event.
            if (last !== null) await save(last);
            return interrupted({ eventId: event.id, eventType: event.type }, answer.error);
          }
          if (answer.isOk()) {
            report[answer.value.outcome] += 1;
            for (const creditNoteId of answer.value.creditNoteIds) touched.add(creditNoteId);
          } else if (answer.error instanceof WebhookRejectedError) {
            report.rejected.push({ eventId: event.id, eventType: event.type, reason: answer.error.reason, message: answer.error.message });
          }
          last = { created: event.created, eventId: event.id };
          remaining -= 1;
        }
        if (last !== null) {
          const saved = await save(last);
          if (saved.isErr()) return interrupted(null, saved.error);
        }
        return ok(undefined);
      };

      // Stripe lists newest first. From a known event, `ending_before` walks towards newer ones a page at a time
      // (each page still newest first, so it is applied reversed): oldest first, with nothing to hold in memory.
      let cursor: string | null = resumeFrom?.eventId ?? null;
      let first: EventPage | null = null;
      if (cursor !== null) {
        const answered = await list({ ending_before: cursor, limit: nextPageSize() });
        if (answered.isOk()) first = answered.value;
        // The checkpoint's event is gone (past Stripe's 30 days): start again from its second.
        else if (isMissingCursor(answered.error)) cursor = null;
        else return interrupted(null, toGatewayError(answered.error));
      }
      if (cursor === null) {
        // No event to start from: walk to the oldest page of the window, apply it, and go on from its newest event.
        let page = await list({ limit: pageSize });
        while (page.isOk() && page.value.has_more && page.value.data.length > 0) {
          page = await list({ limit: pageSize, starting_after: page.value.data.at(-1)!.id });
        }
        if (page.isErr()) return interrupted(null, toGatewayError(page.error));
        const oldest = [...page.value.data].reverse().slice(0, remaining);
        const applied = await applyInOrder(oldest);
        if (applied.isErr()) return err(applied.error);
        cursor = oldest.at(-1)?.id ?? null;
      }
      while (cursor !== null && remaining > 0) {
        let page = first;
        first = null;
        if (page === null) {
          const answered = await list({ ending_before: cursor, limit: nextPageSize() });
          if (answered.isErr()) return interrupted(null, toGatewayError(answered.error));
          page = answered.value;
        }
        if (page.data.length === 0) break;
        const applied = await applyInOrder([...page.data].reverse());
        if (applied.isErr()) return err(applied.error);
        cursor = page.data[0]!.id;
        // No `has_more` stop: applying events makes new ones (a released credit note's refund), asked for next.
      }
      report.limitReached = remaining <= 0;
      report.creditNoteIds = [...touched];
      return ok(report);
    };

    try {
      return await reconcileFrom();
    } catch (cause) {
      // A bug, in the library or a host callback: what was done is in the report, and the checkpoint up to it.
      return interrupted(null, new UnexpectedError(cause));
    }
  };

  /**
   * After each run, whether it got through or not: the `reconcile.last-run` checkpoint `health()` reports, and one
   * log line with the counts. Neither may turn the run's answer into another.
   */
  const recordRun = async (result: Result<ReconcileReport, ReconcileError>) => {
    const report = result.isOk() ? result.value : result.error instanceof ReconcileInterruptedError ? result.error.report : null;
    if (report === null) return;
    const { checkpointName: name, account, fetched, applied, unchanged, ignored } = report;
    const interrupted = result.isErr();
    try {
      await store.writeCheckpoint(
        { name: LAST_RECONCILE_CHECKPOINT, value: { name, account, fetched, applied, unchanged, ignored, rejected: report.rejected.length, interrupted } },
        clock.now(),
      );
    } catch {
      // The run's own checkpoint is saved; this summary is for the status page only.
    }
    try {
      const line = { checkpoint: name, account, fetched, applied, unchanged, ignored, rejected: report.rejected.length };
      if (interrupted) options.logger?.warn({ ...line, errorCode: report.failed?.code ?? null }, 'stripe reconciliation interrupted');
      else options.logger?.info(line, 'stripe reconciliation run');
    } catch {
      // A logger that throws must not fail the run.
    }
  };

  return {
    /**
     * One reconciliation of one account: lists the handled events from the
     * checkpoint (or `since`, or 30 days back), applies them oldest first, and
     * saves the checkpoint after each page. `Ok(report)` when it got through;
     * `Err(ReconcileInterruptedError)` when Stripe, the store or an event
     * stopped it (the checkpoint holds what was done; run again);
     * `Err(ValidationError)` for options it cannot take.
     */
    reconcile: (input: ReconcileOptions = {}): ResultAsync<ReconcileReport, ReconcileError> =>
      new ResultAsync(
        run(input)
          .catch((cause: unknown) => err<ReconcileReport, ReconcileError>(interruptedBeforeStart(livemode, cause)))
          .then(async (result) => {
            await recordRun(result);
            return result;
          }),
      ),
  };
};

export type StripeReconciler = ReturnType<typeof stripeReconciler>;
