import { randomUUID } from 'node:crypto';
import { ok, type Result } from 'neverthrow';
import { OutboxClaimLostError, type GatewayError } from '../errors.js';
import { fastParse } from '../events/compileSchema.js';
import type { CommandMeta } from './commandHandler.js';
import { applyObservation } from './commands/observeRefund.js';
import type { ProposedCreditNoteEvent } from './creditNoteChange.js';
import { toCreditNoteView, type CreditNoteView } from './creditNoteView.js';
import { backoffDelayMs, type LifecycleDeps } from './deps.js';
import { eventsForObservation } from './observation.js';
import { loadCreditNote, type KnownCreditNote } from './streams.js';
import type { CreditNoteState } from '../machine/creditNoteState.js';
import type { ClaimedOutboxEntry } from '../ports/eventStore.js';
import type { ProcessorRefund } from '../ports/refundGateway.js';
import { createRefundPayloadSchema, notifyPayloadSchema, runHookPayloadSchema } from './outboxDrafts.js';
import { requestHookPayloadSchema, requestNoticePayloadSchema } from '../requests/refundRequestOutbox.js';
import { loadRefundRequest } from '../requests/refundRequestStream.js';
import { viewOfRequest } from '../requests/refundRequestReads.js';
import type { RefundRequestView } from '../requests/refundRequestView.js';
import { errorMessage, silentObserver, type LogFields, type SideEffectNotes } from '../observability/observer.js';

export type DispatchReport = {
  /** Side effects performed and recorded. */
  performed: number;
  /** Entries whose decision no longer holds (e.g. refunded manually meanwhile): completed without a call. */
  obsolete: number;
  /** Failed this time; back in the outbox with a backoff. */
  retried: number;
  /** Set aside after the last allowed delivery. */
  dead: number;
  /** Another dispatcher took the entry over after our lease ran out. */
  lost: number;
};

// An outbox entry's payload is read back from the store: validated like any stored data, through compiled checks.
const readCreateRefundPayload = fastParse(createRefundPayloadSchema);
const readNotifyPayload = fastParse(notifyPayloadSchema);
const readRunHookPayload = fastParse(runHookPayloadSchema);
const readRequestNoticePayload = fastParse(requestNoticePayloadSchema);
const readRequestHookPayload = fastParse(requestHookPayloadSchema);

/** `notes`: what the side effect's log line says besides its result (the error, the processor's answer). */
type Outcome = { tally: keyof DispatchReport; followUps: string[]; notes?: SideEffectNotes };

/** Credit notes by stream id, as last decided or recorded. */
type Latest = Map<string, KnownCreditNote>;


/**
 * What a side effect's log line names: its credit note, and which refund attempt, notification or hook it is.
 * Read from the raw payload, leniently: a payload that does not parse is the perform step's to report.
 */
const describeEntry = (entry: ClaimedOutboxEntry) => {
  const { creditNoteId, attempt, kind, recipient, hook, requestId } = entry.payload;
  const labels: LogFields =
    entry.kind === 'create_refund'
      ? { refundAttempt: typeof attempt === 'number' ? attempt : undefined, idempotencyKey: entry.idempotencyKey }
      : entry.kind === 'notify' || entry.kind === 'request_notify'
        ? { notification: typeof kind === 'string' ? kind : undefined, recipient: typeof recipient === 'string' ? recipient : undefined }
        : { hook: typeof hook === 'string' ? hook : undefined };
  if (typeof requestId === 'string') labels.requestId = requestId;
  return {
    id: entry.id,
    kind: entry.kind,
    deliveries: entry.deliveries,
    availableAt: entry.availableAt,
    creditNoteId: typeof creditNoteId === 'string' ? creditNoteId : null,
    labels,
  };
};

/** A refund request's line: what the processor answered and, for an attempt left in doubt, when it is asked again. */
const refundNotes = (
  answer: Result<ProcessorRefund, GatewayError>,
  attempt: number,
  recorded: CreditNoteState,
): SideEffectNotes => {
  if (answer.isOk()) return { refundStatus: answer.value.status };
  const error = { errorCode: answer.error.processorCode, error: errorMessage(answer.error) };
  if (answer.error.kind === 'definitive') return { refundStatus: 'failed', ...error };
  const { refund, transientError } = recorded.context;
  // Null: the automatic retries are spent and the attempt waits for a person's Retry.
  return refund?.attempt === attempt && refund.status === 'in_doubt'
    ? { refundStatus: 'in_doubt', ...error, retryAt: transientError?.retryAt ?? null }
    : { ...(refund?.attempt === attempt ? { refundStatus: refund.status } : {}), ...error };
};

/** Follow-ups of a side effect (the notification a refund's success enqueues) run in the same call, this deep. */
const MAX_FOLLOW_UP_DEPTH = 6;

/**
 * Performs due outbox entries: claims them with a lease, performs each side
 * effect with its idempotency key, and records the result. A dispatcher that
 * dies mid-way leaves its claims to expire; whoever claims next repeats the
 * call under the same key, which the processor and the notifier deduplicate.
 */
export const createDispatcher = (deps: LifecycleDeps) => {
  const owner = `dispatcher-${randomUUID()}`;
  const observer = deps.observer ?? silentObserver;
  const meta = (entry: ClaimedOutboxEntry): CommandMeta => ({
    actor: { kind: 'system', id: owner },
    source: 'dispatcher',
    causationId: entry.id,
    correlationId: entry.id,
  });

  const complete = async (entry: ClaimedOutboxEntry, tally: keyof DispatchReport): Promise<Outcome> => {
    const done = await deps.store.completeOutbox({ entryId: entry.id, token: entry.claim.token }, deps.clock.now());
    return { tally: done.isOk() ? tally : 'lost', followUps: [] };
  };

  const release = async (entry: ClaimedOutboxEntry, error: unknown): Promise<Outcome> => {
    // A refund attempt is never buried: its credit note would wait forever. It keeps its capped backoff instead.
    const dead = entry.kind !== 'create_refund' && entry.deliveries >= deps.policy.maxSideEffectDeliveries;
    const now = deps.clock.now();
    const availableAt = dead ? now : new Date(now.getTime() + backoffDelayMs(deps.policy, entry.deliveries));
    const released = await deps.store.releaseOutbox(
      { entryId: entry.id, token: entry.claim.token },
      { availableAt, error: error instanceof Error ? error.message : String(error), dead },
    );
    return { tally: released.isErr() ? 'lost' : dead ? 'dead' : 'retried', followUps: [], notes: { error: errorMessage(error) } };
  };

  /** The credit note as it is now: as this run last decided or recorded it, else as stored. */
  const currentView = async (entry: ClaimedOutboxEntry, creditNoteId: string, latest: Latest): Promise<CreditNoteView> => {
    const known = latest.get(entry.streamId);
    if (known !== undefined) return toCreditNoteView(known.state, known.version, deps.gateway.capabilities);
    const loaded = await loadCreditNote(deps.store, creditNoteId);
    if (loaded.isErr()) throw loaded.error;
    return toCreditNoteView(loaded.value.state, loaded.value.version, deps.gateway.capabilities);
  };

  const createRefund = async (entry: ClaimedOutboxEntry, latest: Latest): Promise<Outcome> => {
    const { creditNoteId, attempt } = readCreateRefundPayload(entry.payload);
    // Right after a command's append, its decision is the stream's state: nothing can settle, retry or refund by hand
    // an attempt before its refund is asked for, and the call is idempotent under the attempt's key anyway. A later
    // writer makes our append conflict and the result is decided again on a fresh read.
    const loaded = latest.has(entry.streamId) ? ok(latest.get(entry.streamId)!) : await loadCreditNote(deps.store, creditNoteId);
    if (loaded.isErr()) return release(entry, loaded.error);
    const { status, context } = loaded.value.state;
    const { payment, refund } = context;
    // The decision may have been overtaken (a manual refund, a webhook that settled the attempt): then no call.
    const stillWanted =
      refund?.attempt === attempt &&
      (refund.status === 'requested' || refund.status === 'in_doubt') &&
      (status === 'requested' || status === 'pending');
    if (!stillWanted || payment === null || refund.idempotencyKey === null) return complete(entry, 'obsolete');

    const answer = await deps.gateway.createRefund({
      idempotencyKey: refund.idempotencyKey,
      payment,
      amount: refund.amount,
      currency: refund.currency,
      metadata: { creditNoteId, attempt },
    });
    const propose = (state: CreditNoteState): ProposedCreditNoteEvent[] => {
      if (answer.isOk()) {
        return eventsForObservation(state, { ...answer.value, metadata: { creditNoteId, attempt } });
      }
      const error = answer.error;
      if (error.kind === 'definitive') {
        return [
          {
            type: 'RefundFailed',
            data: {
              attempt,
              processorRefundId: null,
              processorReason: error.processorCode,
              classification: error.classification,
              message: error.message,
            },
          },
        ];
      }
      const failures = (state.context.refund?.consecutiveFailures ?? 0) + 1;
      const retryAt =
        failures <= deps.policy.maxAutomaticRefundRetries
          ? new Date(deps.clock.now().getTime() + backoffDelayMs(deps.policy, failures)).toISOString()
          : null;
      return [
        {
          type: 'RefundDeferred',
          data: {
            reason: 'transient_error',
            attempt,
            error: { code: error.processorCode, message: error.message },
            consecutiveFailures: failures,
            retryAt,
          },
        },
      ];
    };
    const recorded = await applyObservation(
      deps,
      meta(entry),
      creditNoteId,
      propose,
      { loaded: loaded.value },
      { entryId: entry.id, token: entry.claim.token },
    );
    if (recorded.isOk()) {
      latest.set(entry.streamId, recorded.value.creditNote);
      return { tally: 'performed', followUps: recorded.value.dueOutboxIds, notes: refundNotes(answer, attempt, recorded.value.creditNote.state) };
    }
    if (recorded.error instanceof OutboxClaimLostError) return { tally: 'lost', followUps: [] };
    return release(entry, recorded.error);
  };

  const notify = async (entry: ClaimedOutboxEntry, latest: Latest): Promise<Outcome> => {
    const { creditNoteId, kind, recipient, decided } = readNotifyPayload(entry.payload);
    try {
      const creditNote = await currentView(entry, creditNoteId, latest);
      await deps.notifier.send({ idempotencyKey: entry.idempotencyKey, kind, recipient, decided, creditNote });
    } catch (error) {
      return release(entry, error);
    }
    return complete(entry, 'performed');
  };

  const runHook = async (entry: ClaimedOutboxEntry, latest: Latest): Promise<Outcome> => {
    const { creditNoteId, hook, decided } = readRunHookPayload(entry.payload);
    const handler = deps.hooks[hook];
    if (handler === undefined) return complete(entry, 'performed');
    try {
      const creditNote = await currentView(entry, creditNoteId, latest);
      await handler({ idempotencyKey: entry.idempotencyKey, hook, decided, creditNote });
    } catch (error) {
      return release(entry, error);
    }
    return complete(entry, 'performed');
  };

  /** The refund request as it is now, with its credit note as this run last knew it. */
  const currentRequest = async (requestId: string, latest: Latest): Promise<RefundRequestView> => {
    const loaded = await loadRefundRequest(deps.store, requestId);
    if (loaded.isErr()) throw loaded.error;
    const view = await viewOfRequest(deps.store, loaded.value, latest);
    if (view.isErr()) throw view.error;
    return view.value;
  };

  const notifyOfRequest = async (entry: ClaimedOutboxEntry, latest: Latest): Promise<Outcome> => {
    const { requestId, kind, recipient, decided } = readRequestNoticePayload(entry.payload);
    try {
      const request = await currentRequest(requestId, latest);
      await deps.notifier.send({ idempotencyKey: entry.idempotencyKey, kind, recipient, decided, request });
    } catch (error) {
      return release(entry, error);
    }
    return complete(entry, 'performed');
  };

  const runRequestHook = async (entry: ClaimedOutboxEntry, latest: Latest): Promise<Outcome> => {
    const { requestId, hook, subscriptionId, decided } = readRequestHookPayload(entry.payload);
    const handler = deps.hooks[hook];
    // Unlike a credit note's optional reactions, the customer was told their subscription ends: without the hook it
    // would not. Retried, then parked for an operator, never marked done.
    if (handler === undefined) return release(entry, new Error(`no ${hook} hook is configured: subscription ${subscriptionId} was not cancelled`));
    try {
      const request = await currentRequest(requestId, latest);
      await handler({ idempotencyKey: entry.idempotencyKey, hook, subscriptionId, requestId, decided, request });
    } catch (error) {
      return release(entry, error);
    }
    return complete(entry, 'performed');
  };

  const perform = (entry: ClaimedOutboxEntry, latest: Latest): Promise<Outcome> => {
    switch (entry.kind) {
      case 'create_refund':
        return createRefund(entry, latest);
      case 'notify':
        return notify(entry, latest);
      case 'run_hook':
        return runHook(entry, latest);
      case 'request_notify':
        return notifyOfRequest(entry, latest);
      case 'request_hook':
        return runRequestHook(entry, latest);
    }
  };

  /**
   * One entry's failure is that entry's: it goes back with a backoff and the
   * batch goes on. Only a store that cannot even take it back ends the run,
   * as a crash would, and the leases make that safe.
   */
  const performOne = (entry: ClaimedOutboxEntry, latest: Latest): Promise<Outcome> =>
    observer.sideEffect(describeEntry(entry), async () => {
      // Late in a long batch our lease may have run out and another dispatcher may own the entry now.
      if (Date.parse(entry.claim.leaseUntil) <= deps.clock.now().getTime()) return { tally: 'lost', followUps: [] };
      try {
        return await perform(entry, latest);
      } catch (error) {
        return release(entry, error);
      }
    });

  /**
   * Runs the due entries (or just `entryIds`), then what they enqueued for
   * right away. `latest` holds the credit notes as last decided or recorded
   * (a command passes what it just appended); the run keeps it current.
   */
  const dispatch = async (
    options: { entryIds?: readonly string[]; limit?: number; latest?: Latest } = {},
  ): Promise<DispatchReport> => {
    const latest = options.latest ?? new Map<string, KnownCreditNote>();
    const report: DispatchReport = { performed: 0, obsolete: 0, retried: 0, dead: 0, lost: 0 };
    let entryIds = options.entryIds;
    for (let depth = 0; depth < MAX_FOLLOW_UP_DEPTH; depth += 1) {
      if (entryIds !== undefined && entryIds.length === 0) break;
      const claimed = await deps.store.claimOutbox({
        owner,
        now: deps.clock.now(),
        leaseMs: deps.policy.leaseMs,
        limit: options.limit ?? 50,
        ...(entryIds === undefined ? {} : { entryIds }),
      });
      const followUps: string[] = [];
      for (const entry of claimed) {
        const outcome = await performOne(entry, latest);
        report[outcome.tally] += 1;
        followUps.push(...outcome.followUps);
      }
      if (claimed.length === 0 && entryIds === undefined) break;
      entryIds = followUps;
    }
    return report;
  };

  return { dispatch };
};

