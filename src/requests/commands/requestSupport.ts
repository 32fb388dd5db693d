import { err, ok, safeTry, type Result, type ResultAsync } from 'neverthrow';
import { z } from 'zod';
import {
  ForbiddenError,
  PolicyRefusedError,
  type EventValidationError,
  type RefundRequestNotFoundError,
  type ValidationError,
  type PolicyRefusal,
} from '../../errors.js';
import type { EventStore } from '../../ports/eventStore.js';
import type { Actor } from '../../events/primitives.js';
import type { PolicyOverride, PolicyRule } from '../../events/refundRequestEvents.js';
import { authorizeOrRefuse } from '../../lifecycle/authorization.js';
import { validateInput } from '../../lifecycle/commandInputs.js';
import type { Executed, PaymentChange } from '../../lifecycle/commandHandler.js';
import type { LifecycleDeps } from '../../lifecycle/deps.js';
import type { KnownCreditNote, LoadedPayment } from '../../lifecycle/streams.js';
import type { RefundRequestState } from '../../machine/refundRequestState.js';
import { rulesToOverride, type RefundRequestPolicy } from '../refundPolicy.js';
import { requestIdSchema } from '../refundRequestInputs.js';
import { loadSubmittedRefundRequest, refundRequestStreamId, type KnownRefundRequest, type LoadedRefundRequest } from '../refundRequestStream.js';

/** What the request commands need besides the lifecycle's dependencies. */
export type RequestDeps = LifecycleDeps & { requestPolicy: RefundRequestPolicy };

/** What a request command decided: the request as the append left it, and the credit notes it decided on. */
export type RequestOutcome = {
  request: KnownRefundRequest;
  decided: KnownCreditNote[];
  dueOutboxIds: string[];
};

export const requestOutcomeFor = (requestId: string, executed: Executed<unknown>): RequestOutcome => {
  const streamId = refundRequestStreamId(requestId);
  const request = executed.decidedRequests.find((known) => known.streamId === streamId);
  if (request === undefined) throw new Error(`The decision about refund request ${requestId} did not carry it`);
  return { request, decided: executed.decided, dueOutboxIds: executed.dueOutboxIds };
};

const requestIdArgumentSchema = z.object({ requestId: requestIdSchema });
export const validateRequestId = (raw: unknown): Result<string, ValidationError> =>
  validateInput(requestIdArgumentSchema, { requestId: raw }).map((value) => value.requestId);

/**
 * The request as each decision reads it: the read made before the permission check serves the first decision, and
 * one taken again after a lost race reads it afresh (the append checks the version read either way).
 */
export const decisionReads = (store: EventStore, first: LoadedRefundRequest) => {
  let unused: LoadedRefundRequest | null = first;
  return async (): Promise<Result<LoadedRefundRequest, EventValidationError | RefundRequestNotFoundError>> => {
    const read = unused;
    unused = null;
    return read === null ? loadSubmittedRefundRequest(store, first.state.context.requestId) : ok(read);
  };
};

/** Closes the request's place on its payment's stream: the payment may take another request. */
export const closeOnPayment = (stream: LoadedPayment, requestId: string): PaymentChange => ({
  loaded: stream,
  events: stream.state.openRequests.includes(requestId) ? [{ type: 'RefundRequestClosed', data: { requestId } }] : [],
});

/** The rules an earlier override of this request already set aside. */
export const overriddenRules = (state: RefundRequestState): PolicyRule[] => state.context.submissionOverride?.rules ?? [];

/**
 * The policy's verdict as a decision: nothing refused, or refusals the actor
 * overrides with a reason (and the permission to), or a refusal naming the rules.
 */
export const applyPolicy = (
  deps: RequestDeps,
  requestId: string,
  refusals: readonly PolicyRefusal[],
  alreadyOverridden: readonly PolicyRule[],
  override: { reason: string } | undefined,
  actor: Actor,
): ResultAsync<PolicyOverride | null, PolicyRefusedError | ForbiddenError> =>
  safeTry(async function* () {
    const rules = rulesToOverride(refusals, alreadyOverridden);
    if (rules.length === 0) return ok(null);
    const standing = refusals.filter((refusal) => rules.includes(refusal.rule));
    if (override === undefined || standing.some((refusal) => !refusal.overridable)) return err(new PolicyRefusedError(requestId, standing));
    yield* await authorizeOrRefuse(deps, actor, 'override_policy', { requestId, rules });
    return ok({ reason: override.reason, rules });
  });
