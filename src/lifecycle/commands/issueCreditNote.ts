import { err, ok, safeTry } from 'neverthrow';
import {
  CreditNoteAlreadyExistsError,
  RefundableBalanceExceededError,
  RefundWindowClosedError,
  ValidationError,
} from '../../errors.js';
import { committedAmount, type PaymentFacts } from '../../machine/paymentState.js';
import type { PaymentRef } from '../../events/primitives.js';
import type { ProcessorRefund } from '../../ports/refundGateway.js';
import type { CreditNoteContext } from '../../machine/creditNoteState.js';
import { executeCommand, type PaymentChange } from '../commandHandler.js';
import { issueCreditNoteInputSchema, validateInput } from '../commandInputs.js';
import { startChange } from '../creditNoteChange.js';
import type { LifecycleDeps } from '../deps.js';
import { nextRefundStep } from '../nextRefundStep.js';
import { loadCreditNotesOfPayment, releaseWaitingCreditNotes } from '../chargeGate.js';
import type { CreditNoteChange } from '../creditNoteChange.js';
import { adoptionOf, externalCreditNoteId } from './adoptExternalRefund.js';
import { loadCreditNote, loadPayment, type LoadedCreditNote } from '../streams.js';
import { commandMeta, outcomeFor, proposeOrConflict } from './commandSupport.js';

/** The first call's promise, shared by every later call. */
const once = <T>(call: () => Promise<T>): (() => Promise<T>) => {
  let answer: Promise<T> | undefined;
  return () => (answer ??= call());
};

type IssueTerms = {
  creditNoteId: string;
  amount: number;
  currency: string;
  payment: PaymentRef | null;
  reason: string;
  origin: 'host';
};

const sameTerms = (context: CreditNoteContext, terms: IssueTerms): boolean =>
  context.amount === terms.amount &&
  context.currency === terms.currency &&
  context.reason === terms.reason &&
  JSON.stringify(context.payment) === JSON.stringify(terms.payment);

/**
 * Whether the processor can still refund this much of the payment: within its
 * refund window, in its currency, and within what was charged less every
 * credit note already issued against it (the payment stream serialises
 * concurrent issues, so two of them can never both take the last euro).
 */
const refundability = (
  paymentId: string,
  requested: { amount: number; currency: string },
  facts: PaymentFacts,
  committed: number,
  now: Date,
): RefundWindowClosedError | ValidationError | RefundableBalanceExceededError | null => {
  if (facts.refundableUntil !== null && now.getTime() > Date.parse(facts.refundableUntil)) {
    return new RefundWindowClosedError(paymentId, facts.method, facts.refundableUntil);
  }
  if (facts.currency !== null && facts.currency !== requested.currency) {
    return new ValidationError([
      { path: 'currency', message: `is ${requested.currency}, but payment ${paymentId} was charged in ${facts.currency}` },
    ]);
  }
  if (facts.amount !== null && committed + requested.amount > facts.amount) {
    return new RefundableBalanceExceededError(paymentId, facts.amount, committed, requested.amount);
  }
  return null;
};

/**
 * A dashboard refund that failed or was canceled at the processor gave
 * nothing back and will not be retried (only the library's own refunds are):
 * its amount is free again, unless the merchant records it as refunded by hand.
 */
const amountOfFailedDashboardRefunds = (siblings: readonly LoadedCreditNote[]): number =>
  siblings
    .filter(({ state }) => state.context.origin === 'processor' && state.status === 'failed')
    .reduce((sum, { state }) => sum + state.context.amount, 0);

/**
 * Refunds of the payment made outside the library before it first heard of
 * the payment (Stripe's dashboard), not yet followed: adopted now, in the same
 * append, so the balance counts them once and their later events find them.
 */
const adoptEarlierRefunds = (deps: LifecycleDeps, payment: PaymentRef, atProcessor: ProcessorRefund[], now: Date) =>
  safeTry(async function* () {
    const adoptions: CreditNoteChange[] = [];
    for (const refund of atProcessor) {
      const external = refund.metadata.creditNoteId === null;
      if (!external || refund.status === 'failed' || refund.status === 'canceled') continue;
      const loaded = yield* await loadCreditNote(deps.store, externalCreditNoteId(payment.processor, refund.processorRefundId));
      if (loaded.state.status !== 'unissued') continue;
      adoptions.push(yield* adoptionOf(loaded, { ...refund, paymentId: payment.paymentId }, payment, now));
    }
    return ok(adoptions);
  });

/**
 * Issues a credit note and, when it refunds a processor payment, attaches it
 * to the payment's stream and asks for attempt 1 — or defers it while the
 * charge is unconfirmed (docs/glossary.md#charge-confirmation-gate). Issuing
 * the same terms again is a no-op.
 */
export const issueCreditNote = (deps: LifecycleDeps, rawInput: unknown) =>
  safeTry(async function* () {
    const input = yield* validateInput(issueCreditNoteInputSchema, rawInput);
    const { creditNoteId, amount, currency, reason, chargeConfirmed = false } = input;
    const processor = input.payment?.processor;
    if (processor !== undefined && processor !== deps.gateway.processor) {
      // Asking this gateway to refund another processor's payment id would fail at best, or hit the wrong payment.
      return err(
        new ValidationError([
          { path: 'payment.processor', message: `is ${processor}, but this lifecycle refunds through ${deps.gateway.processor}` },
        ]),
      );
    }
    const payment: PaymentRef | null =
      input.payment === null
        ? null
        : {
            processor: input.payment.processor ?? deps.gateway.processor,
            paymentId: input.payment.paymentId,
            account: input.payment.account ?? null,
          };
    const terms: IssueTerms = { creditNoteId, amount, currency, payment, reason, origin: 'host' };
    // What the processor says of the payment is asked at most once per command: a version conflict decides again
    // with the same answers instead of asking again.
    const describePayment = payment === null ? null : once(() => deps.gateway.describePayment(payment));
    const refundsAtProcessor = payment === null ? null : once(() => deps.gateway.findRefunds(payment));

    const executed = yield* await executeCommand(deps, commandMeta(deps, input), (now) =>
      safeTry(async function* () {
        const loaded = yield* await loadCreditNote(deps.store, creditNoteId);
        if (loaded.state.status !== 'unissued') {
          return sameTerms(loaded.state.context, terms)
            ? ok({ creditNotes: [startChange(loaded)], result: null })
            : err(new CreditNoteAlreadyExistsError(creditNoteId));
        }
        const issued = yield* proposeOrConflict(startChange(loaded), { type: 'CreditNoteIssued', data: terms }, now, 'issue');
        if (payment === null || describePayment === null || refundsAtProcessor === null) {
          return ok({ creditNotes: [issued], result: null });
        }

        const paymentStream = yield* await loadPayment(deps.store, payment.paymentId);
        const stored = paymentStream.state.facts;
        // A description without an amount (not charged yet) is asked again until the processor can say.
        const known = stored !== null && stored.amount !== null ? stored : null;
        // Asked once per payment, then read from its stream: the processor's word on what can be refunded.
        const described: PaymentFacts =
          known ?? (({ paymentId: _described, ...facts }) => facts)(yield* await describePayment());
        const siblings = yield* await loadCreditNotesOfPayment(deps, paymentStream.state);
        // The first time the library looks at a payment, refunds already made in the dashboard join the ledger.
        const earlier = known === null ? yield* await adoptEarlierRefunds(deps, payment, yield* await refundsAtProcessor(), now) : [];
        const committed =
          committedAmount(paymentStream.state) -
          amountOfFailedDashboardRefunds(siblings) +
          earlier.reduce((sum, adoption) => sum + adoption.state.context.amount, 0);
        const refusal = refundability(payment.paymentId, { amount, currency }, described, committed, now);
        if (refusal !== null) return err(refusal);
        const confirmed = paymentStream.state.chargeConfirmed || chargeConfirmed;
        const change = yield* proposeOrConflict(issued, nextRefundStep(issued.state, confirmed), now, 'issue');
        // The host vouches for a charge we had not seen confirmed: that opens the gate for its siblings too.
        const confirmsNow = confirmed && !paymentStream.state.chargeConfirmed;
        const released = confirmsNow ? yield* releaseWaitingCreditNotes(siblings, now) : [];
        const paymentChange: PaymentChange = {
          loaded: paymentStream,
          events: [
            ...(known === null && JSON.stringify(described) !== JSON.stringify(stored) ? [{ type: 'PaymentDescribed' as const, data: described }] : []),
            ...(confirmsNow
              ? [{ type: 'ChargeConfirmed' as const, data: { paymentId: payment.paymentId, processor: payment.processor } }]
              : []),
            ...earlier.map(({ state: { context } }) => ({
              type: 'CreditNoteAttached' as const,
              data: { creditNoteId: context.creditNoteId, amount: context.amount, currency: context.currency },
            })),
            { type: 'CreditNoteAttached', data: { creditNoteId, amount, currency } },
          ],
        };
        return ok({ creditNotes: [change, ...released, ...earlier], payments: [paymentChange], result: null });
      }),
    );
    return ok(outcomeFor(creditNoteId, executed));
  });
