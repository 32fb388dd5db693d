import { err, ok, safeTry } from 'neverthrow';
import { RefreshUnavailableError } from '../../errors.js';
import { actorSchema } from '../../events/primitives.js';
import { z } from 'zod';
import { isRefundInFlight } from '../../machine/creditNoteState.js';
import type { ProcessorRefund } from '../../ports/refundGateway.js';
import { validateCreditNoteCommand } from '../commandInputs.js';
import { authorizeOrRefuse } from '../authorization.js';
import type { LifecycleDeps } from '../deps.js';
import { eventsForObservation } from '../observation.js';
import { applyObservation, type ObservationOutcome } from './observeRefund.js';
import { commandMeta, loadIssuedCreditNote } from './commandSupport.js';

export const refreshStatusInputSchema = z.strictObject({
  actor: actorSchema.optional(),
  correlationId: z.string().min(1).max(255).optional(),
});
export type RefreshStatusInput = z.input<typeof refreshStatusInputSchema>;

export type RefreshOutcome = ObservationOutcome & { processorRefund: ProcessorRefund | null };

/**
 * The "Refresh status" button (docs/glossary.md#refresh-status): pulls the attempt's refund from the
 * processor and feeds it through the very path a webhook takes. An attempt
 * whose answer was lost is found by its metadata among the payment's refunds.
 */
export const refreshStatus = (deps: LifecycleDeps, rawCreditNoteId: unknown, rawInput: unknown = {}) =>
  safeTry(async function* () {
    const { creditNoteId: id, input } = yield* validateCreditNoteCommand(rawCreditNoteId, refreshStatusInputSchema, rawInput);
    // A refresh without a person (the sweep, a job) is the system's; the host decides whether that is allowed too.
    yield* await authorizeOrRefuse(deps, input.actor ?? { kind: 'system', id: 'refresh' }, 'refresh', { creditNoteId: id });
    const loaded = yield* await loadIssuedCreditNote(deps, id);
    const capabilities = deps.gateway.capabilities;
    if (capabilities?.pullsRefundStatus === false) {
      return err(
        new RefreshUnavailableError(
          id,
          deps.gateway.processor,
          capabilities.refreshAdvice ?? 'its outcome arrives by webhook; if one is missing, have the processor send it again, or mark the credit note refunded once the money is confirmed',
        ),
      );
    }
    const { payment, refund } = loaded.state.context;
    const unchanged = (processorRefund: ProcessorRefund | null): RefreshOutcome => ({
      creditNote: loaded,
      decided: [],
      changed: false,
      dueOutboxIds: [],
      processorRefund,
    });
    if (payment === null || !isRefundInFlight(refund)) return ok(unchanged(null));

    const processorRefund =
      refund.processorRefundId !== null
        ? yield* await deps.gateway.retrieveRefund({ payment, processorRefundId: refund.processorRefundId })
        : ((yield* await deps.gateway.findRefunds(payment)).find(
            (candidate) => candidate.metadata.creditNoteId === id && candidate.metadata.attempt === refund.attempt,
          ) ?? null);
    // The processor holds no refund for an attempt that stayed in doubt after its automatic retries:
    // the attempt never reached it. Closing it as failed opens Retry (a new key) and Mark refunded.
    const neverArrived = processorRefund === null && refund.status === 'in_doubt' && loaded.state.context.transientError?.retryAt === null;
    if (processorRefund === null && !neverArrived) return ok(unchanged(null));

    const meta = commandMeta(deps, {
      actor: input.actor ?? { kind: 'system', id: 'refresh' },
      source: 'refresh',
      ...(input.correlationId === undefined ? {} : { correlationId: input.correlationId }),
    });
    const observed = yield* await applyObservation(
      deps,
      meta,
      id,
      (state) =>
        processorRefund === null
          ? [
              {
                type: 'RefundFailed',
                data: {
                  attempt: refund.attempt,
                  processorRefundId: null,
                  processorReason: 'not_found_at_processor',
                  classification: { retry: 'may_help', recovery: 'retry' },
                  message: 'The processor has no refund for this attempt: the request never reached it',
                },
              },
            ]
          : eventsForObservation(state, processorRefund),
      { loaded },
    );
    return ok({ ...observed, processorRefund } satisfies RefreshOutcome);
  });
