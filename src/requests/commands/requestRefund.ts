import { err, ok, safeTry } from 'neverthrow';
import { RefundRequestConflictError, ValidationError } from '../../errors.js';
import type { PaymentRef } from '../../events/primitives.js';
import type { RefundRequestReason } from '../../events/refundRequestEvents.js';
import { authorizeOrRefuse } from '../../lifecycle/authorization.js';
import { executeCommand, type Plan } from '../../lifecycle/commandHandler.js';
import { validateInput } from '../../lifecycle/commandInputs.js';
import { commandMeta } from '../../lifecycle/commands/commandSupport.js';
import { loadPayment } from '../../lifecycle/streams.js';
import type { RefundRequestContext } from '../../machine/refundRequestState.js';
import { evaluatePolicy } from '../refundPolicy.js';
import { proposeRequestEvent, startRequestChange } from '../refundRequestChange.js';
import { requestRefundInputSchema } from '../refundRequestInputs.js';
import { loadRefundRequest } from '../refundRequestStream.js';
import { applyPolicy, requestOutcomeFor, type RequestDeps } from './requestSupport.js';

type Terms = Pick<RefundRequestContext, 'amount' | 'currency' | 'details' | 'customerId' | 'product' | 'subscriptionId'> & {
  payment: PaymentRef;
  reason: RefundRequestReason;
  purchasedAt: string;
};

/** The submission's facts in one order, instants as instants: what makes two submissions the same. */
const canonical = (terms: Terms) =>
  JSON.stringify([
    terms.payment,
    terms.amount,
    terms.currency,
    terms.reason,
    terms.details,
    terms.customerId,
    Date.parse(terms.purchasedAt),
    terms.product,
    terms.subscriptionId,
  ]);

const sameTerms = (context: RefundRequestContext, terms: Terms): boolean =>
  context.payment !== null &&
  context.reason !== null &&
  canonical({ ...context, payment: context.payment, reason: context.reason, purchasedAt: context.purchasedAt ?? '' }) === canonical(terms);

/**
 * A customer asks for a refund of a payment. The host's policy is consulted
 * (window, exclusions, one open request per payment); a refusal names its
 * rules and writes nothing, unless a person allowed to override gives a
 * reason. The merchant is told once. The same submission again is a no-op.
 */
export const requestRefund = (deps: RequestDeps, rawInput: unknown) =>
  safeTry(async function* () {
    const input = yield* validateInput(requestRefundInputSchema, rawInput);
    const { requestId, amount, currency } = input;
    yield* await authorizeOrRefuse(deps, input.actor, 'request_refund', {
      requestId,
      amount,
      currency,
      paymentId: input.payment.paymentId,
      customerId: input.customerId,
    });
    const processor = input.payment.processor ?? deps.gateway.processor;
    if (processor !== deps.gateway.processor) {
      return err(new ValidationError([{ path: 'payment.processor', message: `is ${processor}, but this lifecycle refunds through ${deps.gateway.processor}` }]));
    }
    if (Date.parse(input.purchasedAt) > deps.clock.now().getTime()) {
      return err(new ValidationError([{ path: 'purchasedAt', message: 'is in the future' }]));
    }
    const payment: PaymentRef = { processor, paymentId: input.payment.paymentId, account: input.payment.account ?? null };
    const terms: Terms = {
      payment,
      amount,
      currency,
      reason: input.reason,
      details: input.details ?? null,
      customerId: input.customerId,
      purchasedAt: input.purchasedAt,
      product: input.product ?? null,
      subscriptionId: input.subscriptionId ?? null,
    };
    const executed = yield* await executeCommand(deps, commandMeta(deps, input), (now) =>
      safeTry(async function* () {
        const loaded = yield* await loadRefundRequest(deps.store, requestId);
        if (loaded.state.status !== 'unsubmitted') {
          if (!sameTerms(loaded.state.context, terms)) {
            return err(new RefundRequestConflictError(requestId, 'submit', loaded.state.status, 'it was submitted with other terms'));
          }
          return ok<Plan<null>>({ refundRequests: [startRequestChange(loaded)], result: null });
        }
        const stream = yield* await loadPayment(deps.store, payment.paymentId);
        const refusals = evaluatePolicy(deps.requestPolicy, {
          requestId,
          purchasedAt: terms.purchasedAt,
          askedAt: now,
          product: terms.product,
          openRequests: stream.state.openRequests,
        });
        const override = yield* await applyPolicy(deps, requestId, refusals, [], input.override, input.actor);
        const change = yield* proposeRequestEvent(
          startRequestChange(loaded),
          { type: 'RefundRequestSubmitted', data: { requestId, ...terms, override } },
          now,
          'submit',
        );
        return ok<Plan<null>>({
          refundRequests: [change],
          payments: [{ loaded: stream, events: [{ type: 'RefundRequestOpened', data: { requestId } }] }],
          result: null,
        });
      }),
    );
    return ok(requestOutcomeFor(requestId, executed));
  });
