import { err, ok, safeTry } from 'neverthrow';
import { CreditNoteAlreadyExistsError, RefundRequestConflictError, ValidationError } from '../../errors.js';
import type { SubscriptionOption } from '../../events/refundRequestEvents.js';
import { authorizeOrRefuse } from '../../lifecycle/authorization.js';
import { executeCommand, type Plan } from '../../lifecycle/commandHandler.js';
import { validateInput } from '../../lifecycle/commandInputs.js';
import { commandMeta } from '../../lifecycle/commands/commandSupport.js';
import { issuePlanner, type IssueTerms } from '../../lifecycle/commands/issueCreditNote.js';
import { loadPayment } from '../../lifecycle/streams.js';
import type { RefundRequestContext } from '../../machine/refundRequestState.js';
import { evaluatePolicy } from '../refundPolicy.js';
import { proposeRequestEvent, startRequestChange, type ProposedRefundRequestEvent } from '../refundRequestChange.js';
import { approveRequestInputSchema, rejectRequestInputSchema, withdrawRequestInputSchema } from '../refundRequestInputs.js';
import { loadRefundRequest, loadSubmittedRefundRequest, type LoadedRefundRequest } from '../refundRequestStream.js';
import { applyPolicy, closeOnPayment, decisionReads, overriddenRules, requestOutcomeFor, validateRequestId, type RequestDeps } from './requestSupport.js';

/** The credit note an approval issues unless the host names one. */
export const defaultCreditNoteIdFor = (requestId: string): string => `rr-${requestId}`;

/** What a permission check is told about a request. */
const subjectOf = (context: RefundRequestContext) => ({
  requestId: context.requestId,
  customerId: context.customerId,
  amount: context.amount,
  currency: context.currency,
  paymentId: context.payment?.paymentId ?? null,
});

type Approval = { option: SubscriptionOption; creditNoteId: string; amount: number; note: string | null };

const sameApproval = (context: RefundRequestContext, approval: Approval): boolean => {
  const decision = context.decision;
  if (decision?.kind !== 'approved' || decision.option !== approval.option || decision.note !== approval.note) return false;
  return approval.option === 'cancel_only' || (decision.creditNoteId === approval.creditNoteId && decision.amount === approval.amount);
};

/**
 * The merchant approves: the policy is asked again, and unless the option is
 * `cancel_only` the credit note is issued in the same atomic append (its
 * balance guard and charge gate apply as for any credit note). The customer is
 * told once, and the subscription's cancellation, when chosen, runs once
 * through the outbox. Approving again with the same terms is a no-op.
 */
export const approveRequest = (deps: RequestDeps, rawRequestId: unknown, rawInput: unknown) =>
  safeTry(async function* () {
    const requestId = yield* validateRequestId(rawRequestId);
    const input = yield* validateInput(approveRequestInputSchema, rawInput);
    const creditNoteId = input.creditNoteId ?? defaultCreditNoteIdFor(requestId);
    // Read before the permission check, so the host can judge the request's payment and amount; nothing is decided yet.
    const loaded = yield* await loadSubmittedRefundRequest(deps.store, requestId);
    const { context } = loaded.state;
    const canCancel = deps.hooks.cancelSubscription !== undefined;
    // Refund + cancel is seed 004's advice for a subscription, when the host can cancel one.
    const option = input.option ?? (context.subscriptionId !== null && canCancel ? 'refund_and_cancel' : 'refund_only');
    yield* await authorizeOrRefuse(deps, input.actor, 'approve_request', {
      ...subjectOf(context),
      ...(option === 'cancel_only' ? { amount: 0 } : { creditNoteId, amount: input.amount ?? context.amount }),
    });
    const refused = (path: string, message: string) => err(new ValidationError([{ path, message }]));
    if (option !== 'refund_only' && context.subscriptionId === null) {
      return refused('option', `is ${option}, but the request's payment renews no subscription`);
    }
    if (option !== 'refund_only' && !canCancel) {
      return refused('option', `is ${option}, but no cancelSubscription hook is configured to cancel subscription ${context.subscriptionId}`);
    }
    if (option === 'cancel_only') {
      const misplaced = (['amount', 'creditNoteId', 'chargeConfirmed'] as const).find((field) => input[field] !== undefined);
      if (misplaced !== undefined) return refused(misplaced, 'must be absent for cancel_only: nothing is refunded');
    }
    if (input.amount !== undefined && input.amount > context.amount) {
      // More than asked is a refund nobody requested: issue a credit note of its own for a goodwill gesture.
      return refused('amount', `is ${input.amount}, more than the ${context.amount} the customer asked for`);
    }
    const approval: Approval = { option, creditNoteId, amount: input.amount ?? context.amount, note: input.note ?? null };
    const planIssue =
      option === 'cancel_only' || context.payment === null
        ? null
        : issuePlanner(
            deps,
            {
              creditNoteId,
              amount: approval.amount,
              currency: context.currency,
              payment: context.payment,
              reason: `Refund request ${requestId} (${context.reason}) approved`,
              origin: 'host',
            } satisfies IssueTerms,
            input.chargeConfirmed ?? false,
          );

    /** A request no longer pending: approved with these terms is a repeat (nothing to do), anything else a conflict. */
    const alreadyDecided = (request: LoadedRefundRequest) =>
      sameApproval(request.state.context, approval)
        ? ok<Plan<null>>({ refundRequests: [startRequestChange(request)], result: null })
        : err(new RefundRequestConflictError(requestId, 'approve', request.state.status));

    const readRequest = decisionReads(deps.store, loaded);
    const executed = yield* await executeCommand(deps, commandMeta(deps, input), (now) =>
      safeTry(async function* () {
        const request = yield* await readRequest();
        if (request.state.status !== 'pending') return alreadyDecided(request);
        const facts = request.state.context;
        // The window measures when the customer asked, not how long the review took.
        const refusals = evaluatePolicy(deps.requestPolicy, {
          requestId,
          purchasedAt: facts.purchasedAt ?? '',
          askedAt: new Date(facts.submittedAt ?? now.toISOString()),
          product: facts.product,
          openRequests: [],
        });
        const override = yield* await applyPolicy(deps, requestId, refusals, overriddenRules(request.state), input.override, input.actor);
        const event: ProposedRefundRequestEvent =
          approval.option === 'cancel_only'
            ? { type: 'RefundRequestApproved', data: { option: 'cancel_only', note: approval.note, override } }
            : { type: 'RefundRequestApproved', data: { option: approval.option, creditNoteId, amount: approval.amount, note: approval.note, override } };
        const change = yield* proposeRequestEvent(startRequestChange(request), event, now, 'approve');
        if (planIssue === null) {
          const stream = yield* await loadPayment(deps.store, facts.payment!.paymentId);
          return ok<Plan<null>>({ refundRequests: [change], payments: [closeOnPayment(stream, requestId)], result: null });
        }
        const issue = await planIssue(now);
        const [paymentChange, ...others] = issue.isOk() ? (issue.value.payments ?? []) : [];
        const exists = issue.isErr() ? issue.error instanceof CreditNoteAlreadyExistsError : paymentChange === undefined || others.length > 0;
        if (exists) {
          // The credit note exists. The streams are read one after the other, so another approval of this request
          // may have committed in between (it issued the credit note in the same append): read the request again.
          const reread = yield* await loadRefundRequest(deps.store, requestId);
          if (reread.state.status !== 'pending') return alreadyDecided(reread);
          return err(new CreditNoteAlreadyExistsError(creditNoteId));
        }
        if (issue.isErr()) return err(issue.error);
        if (paymentChange === undefined) throw new Error('unreachable: an issue on a payment plans its payment stream');
        const closed = closeOnPayment(paymentChange.loaded, requestId);
        return ok<Plan<null>>({
          ...issue.value,
          payments: [{ loaded: paymentChange.loaded, events: [...paymentChange.events, ...closed.events] }],
          refundRequests: [change],
        });
      }),
    );
    return ok(requestOutcomeFor(requestId, executed));
  });

/**
 * Reject or withdraw: the request read, the actor's permission asked, then the request's one event and its place on
 * the payment closed in the same append. The same decision again is a no-op.
 */
const closeRequest = (
  deps: RequestDeps,
  requestId: string,
  input: Parameters<typeof commandMeta>[1],
  action: 'reject_request' | 'withdraw_request',
  event: ProposedRefundRequestEvent,
  isSame: (context: RefundRequestContext) => boolean,
) =>
  safeTry(async function* () {
    const command = action === 'reject_request' ? 'reject' : 'withdraw';
    const loaded = yield* await loadSubmittedRefundRequest(deps.store, requestId);
    yield* await authorizeOrRefuse(deps, input.actor, action, subjectOf(loaded.state.context));
    const readRequest = decisionReads(deps.store, loaded);
    const executed = yield* await executeCommand(deps, commandMeta(deps, input), (now) =>
      safeTry(async function* () {
        const request = yield* await readRequest();
        if (request.state.status !== 'pending') {
          if (isSame(request.state.context)) return ok<Plan<null>>({ refundRequests: [startRequestChange(request)], result: null });
          return err(new RefundRequestConflictError(requestId, command, request.state.status));
        }
        const change = yield* proposeRequestEvent(startRequestChange(request), event, now, command);
        const stream = yield* await loadPayment(deps.store, request.state.context.payment!.paymentId);
        return ok<Plan<null>>({ refundRequests: [change], payments: [closeOnPayment(stream, requestId)], result: null });
      }),
    );
    return ok(requestOutcomeFor(requestId, executed));
  });

/** The merchant declines; the note, when given, is sent to the customer once. Rejecting again with the same note is a no-op. */
export const rejectRequest = (deps: RequestDeps, rawRequestId: unknown, rawInput: unknown) =>
  safeTry(async function* () {
    const requestId = yield* validateRequestId(rawRequestId);
    const input = yield* validateInput(rejectRequestInputSchema, rawInput);
    const note = input.note ?? null;
    return await closeRequest(deps, requestId, input, 'reject_request', { type: 'RefundRequestRejected', data: { note } }, (context) =>
      context.decision?.kind === 'rejected' && context.decision.note === note,
    );
  });

/** The customer takes the request back before it is decided. Withdrawing again is a no-op. */
export const withdrawRequest = (deps: RequestDeps, rawRequestId: unknown, rawInput: unknown) =>
  safeTry(async function* () {
    const requestId = yield* validateRequestId(rawRequestId);
    const input = yield* validateInput(withdrawRequestInputSchema, rawInput);
    const event: ProposedRefundRequestEvent = { type: 'RefundRequestWithdrawn', data: { details: input.details ?? null } };
    return await closeRequest(deps, requestId, input, 'withdraw_request', event, (context) => context.decision?.kind === 'withdrawn');
  });
