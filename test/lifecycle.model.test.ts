import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CreditNoteStatus } from '../src/machine/creditNoteState.js';
import type { FakeCreateBehaviour } from '../src/testing/fakeGateway.js';
import type { NotifierMisbehaviour } from '../src/testing/recordingNotifier.js';
import type { Authorize } from '../src/lifecycle/authorization.js';
import type { RefundLifecycle } from '../src/lifecycle/createRefundLifecycle.js';
import type { PolicyRule, SubscriptionOption } from '../src/events/refundRequestEvents.js';
import { refundRequestStatusOf, type RefundRequestMachineStatus } from '../src/machine/refundRequestState.js';
import type { RefundRequestPolicy } from '../src/requests/refundPolicy.js';
import type { ApproveRequestInput, RejectRequestInput, RequestRefundInput, WithdrawRequestInput } from '../src/requests/refundRequestInputs.js';
import { buildSystem, checkInvariants, drain, requestsOf, type System } from './support/harness.js';
import { numRuns, timeoutFor } from './support/numRuns.js';

/*
 * Model-based runs: random sequences of everything a host, Stripe and the
 * infrastructure can do to a handful of credit notes and the customer refund
 * requests that issue some of them, with the promise checked after every step
 * against the real side effects.
 */

/** A refund request as the model expects it: where its machine is, what was accepted, what was decided. */
type RequestModel = {
  status: RefundRequestMachineStatus;
  /** The submission accepted, and when (the policy's window measures from here at approval too). */
  submission: RequestRefundInput | null;
  submittedAt: number;
  /** Rules set aside by an override at submission, and at approval. */
  overriddenAtSubmission: PolicyRule[];
  overriddenAtApproval: PolicyRule[];
  decision:
    | null
    | { kind: 'approved'; option: SubscriptionOption; creditNoteId: string | null; amount: number | null; note: string | null }
    | { kind: 'rejected'; note: string | null }
    | { kind: 'withdrawn' };
};

type Model = {
  terminal: Map<string, CreditNoteStatus>;
  requests: Map<string, RequestModel>;
  /** The last input each request command sent to each request, for the duplicate (double click, retried HTTP) steps. */
  last: Map<string, SentRequestCommand>;
  /** A second host process that approves under a stricter policy (the policy changed since the submission). */
  strict: RefundLifecycle | null;
};
type Real = System;

const creditNoteIds = ['cn_a', 'cn_b', 'cn_c'] as const;
const paymentIds = ['pi_1', 'pi_2'] as const;
const actor = { kind: 'user', id: 'freelancer' } as const;

/** Refund requests: a few ids over the same two payments, so one-open-request and the balance bite. */
const requestIds = ['rr_a', 'rr_b', 'rr_c'] as const;
/** Credit notes the credit-note steps act on: the ones they issue and the ones approvals issue (`rr-<requestId>`). */
const allCreditNoteIds = [...creditNoteIds, ...requestIds.map((requestId) => `rr-${requestId}`)] as const;

/** The people around a request: only the owner may override the policy; the viewer may do nothing at all. */
const people = {
  customer: { kind: 'customer', id: 'cus_1' },
  support: { kind: 'user', id: 'support' },
  owner: { kind: 'user', id: 'owner' },
  viewer: { kind: 'user', id: 'viewer' },
  freelancer: actor,
} as const;
type Person = keyof typeof people;
const authorize: Authorize = (who, action) => who.id !== 'viewer' && (action !== 'override_policy' || who.id === 'owner');
const allowed = (person: Person, action: 'act' | 'override_policy') => person !== 'viewer' && (action !== 'override_policy' || person === 'owner');

const policy: RefundRequestPolicy = { windowDays: 7, excludedKinds: ['consumed_service'] };
/** The stricter policy a second process approves under: a shorter window, one more excluded kind. */
const strictPolicy: RefundRequestPolicy = { windowDays: 3, excludedKinds: ['consumed_service', 'customised'] };
const DAY = 24 * 60 * 60 * 1000;

/** What each payment charged: the refundable balance is guarded, and checked after every step. */
const charged = { pi_1: 3_000, pi_2: 3_000 };

/** Errors a command may legitimately answer with; anything else (a StoreError, a throw) fails the run. */
const expectedErrorCodes = new Set([
  'transition_not_allowed',
  'credit_note_not_found',
  'credit_note_exists',
  'gateway_error',
  'refundable_balance_exceeded',
  // Refund requests: each request step also predicts which one, exactly (see RequestCommand).
  'policy_refused',
  'forbidden',
  'refund_request_conflict',
  'refund_request_not_found',
  'validation_failed',
]);

abstract class Step implements fc.AsyncCommand<Model, Real> {
  check(_model: Readonly<Model>) {
    return true;
  }
  abstract act(real: Real, model: Model): Promise<void>;
  /** The store crashed (as armed) during this step: the command may answer that the store failed, and nothing else. */
  private crashed = () => false;
  protected expectTypedOutcome(result: { isErr(): boolean; error?: unknown }) {
    if (!result.isErr()) return;
    const code = (result.error as { code: string }).code;
    if (code === 'store_unavailable' && this.crashed()) return;
    expect(expectedErrorCodes).toContain(code);
  }
  async run(model: Model, real: Real) {
    const firedBefore = real.faults.fired;
    this.crashed = () => real.faults.fired > firedBefore;
    await this.act(real, model);
    await checkInvariants(real, model.terminal);
    await checkRequestsAgainstModel(model, real);
  }
}

class Issue extends Step {
  constructor(
    readonly creditNote: number,
    readonly payment: number | null,
    readonly chargeConfirmed: boolean,
  ) {
    super();
  }
  async act(real: Real) {
    const creditNoteId = creditNoteIds[this.creditNote]!;
    if (this.payment !== null && this.chargeConfirmed) real.hostVouched.add(paymentIds[this.payment]!);
    this.expectTypedOutcome(
      await real.lifecycle.issueCreditNote({
        creditNoteId,
        amount: 1_000 * (this.creditNote + 1),
        currency: 'EUR',
        payment: this.payment === null ? null : { paymentId: paymentIds[this.payment]! },
        reason: 'proposal amended',
        chargeConfirmed: this.chargeConfirmed,
        actor,
      }),
    );
  }
  override toString = () => `issue(${creditNoteIds[this.creditNote]}, ${this.payment === null ? 'no payment' : paymentIds[this.payment]}, confirmed=${this.chargeConfirmed})`;
}

class ConfirmCharge extends Step {
  constructor(readonly payment: number) {
    super();
  }
  async act(real: Real) {
    // The processor confirmed the charge; its webhook arrives now. From here on it says so when asked, too.
    real.confirmAtProcessor(paymentIds[this.payment]!);
    this.expectTypedOutcome(await real.lifecycle.confirmCharge({ paymentId: paymentIds[this.payment]!, source: 'webhook' }));
  }
  override toString = () => `confirmCharge(${paymentIds[this.payment]})`;
}

class QueueProcessorBehaviour extends Step {
  constructor(readonly behaviour: FakeCreateBehaviour) {
    super();
  }
  async act(real: Real) {
    real.gateway.queue(this.behaviour);
  }
  override toString = () => `processorWill(${JSON.stringify(this.behaviour)})`;
}

class ProcessorSettles extends Step {
  constructor(
    readonly creditNote: number,
    readonly outcome: 'succeeded' | 'failed',
  ) {
    super();
  }
  async act(real: Real) {
    const pending = real.gateway
      .refunds()
      .filter((r) => r.metadata.creditNoteId === allCreditNoteIds[this.creditNote] && r.status === 'pending');
    const refund = pending.at(-1);
    if (refund) {
      real.gateway.setRefundStatus(refund.processorRefundId, this.outcome, this.outcome === 'failed' ? 'unknown' : undefined);
    }
  }
  override toString = () => `processorSettles(${allCreditNoteIds[this.creditNote]}, ${this.outcome})`;
}

/** Stripe can fail a refund it had reported succeeded (a card account closed meanwhile). */
class ProcessorReverses extends Step {
  constructor(readonly creditNote: number) {
    super();
  }
  async act(real: Real) {
    const succeeded = real.gateway
      .refunds()
      .filter((r) => r.metadata.creditNoteId === allCreditNoteIds[this.creditNote] && r.status === 'succeeded');
    const refund = succeeded.at(-1);
    if (refund) real.gateway.setRefundStatus(refund.processorRefundId, 'failed', 'expired_or_canceled_card');
  }
  override toString = () => `processorReverses(${allCreditNoteIds[this.creditNote]})`;
}

type Delivery = 'in_order' | 'reversed' | 'duplicated' | 'dropped';

class DeliverWebhooks extends Step {
  constructor(readonly delivery: Delivery) {
    super();
  }
  async act(real: Real) {
    const notices = real.gateway.takeNotices();
    const sent =
      this.delivery === 'dropped'
        ? []
        : this.delivery === 'reversed'
          ? notices.reverse()
          : this.delivery === 'duplicated'
            ? [...notices, ...notices.slice().reverse()]
            : notices;
    for (const notice of sent) {
      this.expectTypedOutcome(
        await real.lifecycle.observeRefund({ refund: notice.refund, source: 'webhook', causationId: notice.noticeId }),
      );
    }
  }
  override toString = () => `deliverWebhooks(${this.delivery})`;
}

class Refresh extends Step {
  constructor(readonly creditNote: number) {
    super();
  }
  async act(real: Real) {
    this.expectTypedOutcome(await real.lifecycle.refreshStatus(allCreditNoteIds[this.creditNote]!, { actor }));
  }
  override toString = () => `refresh(${allCreditNoteIds[this.creditNote]})`;
}

/** The background sweep, as if every credit note had waited long enough: it asks the processor about each. */
class Sweep extends Step {
  async act(real: Real) {
    const swept = await real.lifecycle.sweep({ olderThanMs: 0, limit: 50, ratePerSecond: 1_000 });
    this.expectTypedOutcome(swept);
    for (const note of swept.isOk() ? swept.value.creditNotes : []) {
      if (note.outcome === 'failed') this.expectTypedOutcome({ isErr: () => true, error: { code: note.note } });
    }
  }
  override toString = () => 'sweep()';
}

class Retry extends Step {
  constructor(readonly creditNote: number) {
    super();
  }
  async act(real: Real) {
    const before = await real.lifecycle.getCreditNote(allCreditNoteIds[this.creditNote]!);
    const result = await real.lifecycle.retryRefund(allCreditNoteIds[this.creditNote]!, { actor });
    this.expectTypedOutcome(result);
    // Retry (docs/glossary.md#retry): allowed exactly from pending and failed (unless the store crashed under it).
    if (before.isOk() && !(result.isErr() && result.error.code === 'store_unavailable')) {
      expect(result.isOk()).toBe(before.value.status === 'pending' || before.value.status === 'failed');
    }
  }
  override toString = () => `retry(${allCreditNoteIds[this.creditNote]})`;
}

class MarkRefunded extends Step {
  constructor(readonly creditNote: number) {
    super();
  }
  async act(real: Real) {
    this.expectTypedOutcome(
      await real.lifecycle.markRefunded(allCreditNoteIds[this.creditNote]!, {
        reason: 'SEPA transfer',
        reference: 'SEPA-REF-1',
        method: 'bank_transfer',
        actor,
      }),
    );
  }
  override toString = () => `markRefunded(${allCreditNoteIds[this.creditNote]})`;
}

class Dispatch extends Step {
  async act(real: Real) {
    this.expectTypedOutcome(await real.lifecycle.dispatch());
  }
  override toString = () => 'dispatch()';
}

/** The host process dies around its n-th store write from now: before the write, or after it but before it hears back. */
class CrashAtWrite extends Step {
  constructor(
    readonly write: number,
    readonly when: 'before' | 'after',
  ) {
    super();
  }
  async act(real: Real) {
    real.faults.crashAt(this.write, this.when);
  }
  override toString = () => `crashAtWrite(${this.write}, ${this.when})`;
}

class NotifierMisbehaves extends Step {
  constructor(
    readonly count: number,
    readonly how: NotifierMisbehaviour,
  ) {
    super();
  }
  async act(real: Real) {
    real.notifier.misbehaveNext(this.count, this.how);
  }
  override toString = () => `notifierMisbehaves(${this.count}, ${this.how})`;
}

class CrashingDispatch extends Step {
  async act(real: Real) {
    const result = await real.doomed.dispatch();
    // It dies on its first write after a side effect, or finds nothing to do.
    if (result.isErr()) {
      expect(result.error.code).toBe('store_unavailable');
      real.crashes += 1;
    }
  }
  override toString = () => 'crashingDispatch()';
}

class AdvanceClock extends Step {
  constructor(readonly ms: number) {
    super();
  }
  async act(real: Real) {
    real.clock.advance(this.ms);
  }
  override toString = () => `advanceClock(${this.ms}ms)`;
}

/*
 * Refund requests (issue 14): customers submit, the merchant approves (issuing
 * a credit note in the same append) or rejects, customers withdraw; each
 * sometimes twice, sometimes by someone not allowed to, sometimes against the
 * policy. The model predicts every answer exactly, and a refused or repeated
 * command must leave the store as it was.
 */

type SubmitSpec = {
  payment: number;
  amount: number;
  reason: 'not_as_described' | 'no_longer_needed' | 'duplicate_charge';
  details: string | null;
  subscription: boolean;
  product: 'course' | 'customised' | 'consumed_service' | null;
  /** Purchased this many days before the submission: inside the 7-day window (1, 5) or outside it (10). */
  daysAgo: number;
  person: Person;
  override: boolean;
  bad: null | 'reason' | 'future';
};
type ApproveSpec = {
  person: Person;
  option: SubscriptionOption | undefined;
  amount: number | undefined;
  creditNote: 'default' | 'cn_c' | 'custom';
  note: string | undefined;
  override: boolean;
  chargeConfirmed: boolean;
  /** Approved by the process with the stricter policy. */
  strict: boolean;
  bad: boolean;
};
/** A blank note is no note (a form's empty box); `bad`: longer than a note may be. */
type RejectSpec = { person: Person; note: string | undefined; bad: boolean };
type WithdrawSpec = { person: Person; details: string | undefined; bad: boolean };
const TOO_LONG = 'x'.repeat(2_001);
/** Text as the library keeps it: trimmed, and a blank one is none. */
const textOf = (text: string | null | undefined): string | null => (text == null || text.trim() === '' ? null : text.trim());

type SentRequestCommand =
  | { kind: 'submit'; input: RequestRefundInput }
  | { kind: 'approve'; input: ApproveRequestInput; strict: boolean }
  | { kind: 'reject'; input: RejectRequestInput }
  | { kind: 'withdraw'; input: WithdrawRequestInput };
type RequestCommandKind = SentRequestCommand['kind'];

/** The model's word on one request command: its answer, whether it writes, and how the request then stands. */
type Prediction = { code: 'ok' | string; writes: boolean; apply?: (request: RequestModel) => void };

const requestOf = (model: Model, requestId: string): RequestModel => {
  let request = model.requests.get(requestId);
  if (request === undefined) {
    request = { status: 'unsubmitted', submission: null, submittedAt: 0, overriddenAtSubmission: [], overriddenAtApproval: [], decision: null };
    model.requests.set(requestId, request);
  }
  return request;
};

/** What makes two submissions the same (the library's `sameTerms`): not who sent it, nor an override. */
const submissionTerms = (input: RequestRefundInput) =>
  JSON.stringify([
    input.payment.paymentId,
    input.amount,
    input.currency.toLowerCase(),
    input.reason,
    textOf(input.details),
    input.customerId,
    Date.parse(input.purchasedAt),
    input.product ?? null,
    input.subscriptionId ?? null,
  ]);

/** The policy's refusals, as the model reads the policy. */
const refusalsOf = (rules: RefundRequestPolicy, facts: { purchasedAt: string; askedAt: number; kind: string | null; othersOpen: boolean }) => {
  const refused: PolicyRule[] = [];
  if (rules.windowDays != null && facts.askedAt > Date.parse(facts.purchasedAt) + rules.windowDays * DAY) refused.push('purchase_window');
  if (facts.kind !== null && (rules.excludedKinds ?? []).includes(facts.kind)) refused.push('excluded_kind');
  if (facts.othersOpen) refused.push('one_open_request');
  return refused;
};

const predictSubmit = (model: Model, requestId: string, input: RequestRefundInput, now: number): Prediction => {
  const person = (Object.keys(people) as Person[]).find((key) => people[key].id === input.actor.id)!;
  if (!['not_as_described', 'no_longer_needed', 'duplicate_charge'].includes(input.reason)) return { code: 'validation_failed', writes: false };
  if (!allowed(person, 'act')) return { code: 'forbidden', writes: false };
  if (Date.parse(input.purchasedAt) > now) return { code: 'validation_failed', writes: false };
  const request = requestOf(model, requestId);
  if (request.status !== 'unsubmitted') {
    return submissionTerms(request.submission!) === submissionTerms(input) ? { code: 'ok', writes: false } : { code: 'refund_request_conflict', writes: false };
  }
  const othersOpen = [...model.requests.entries()].some(
    ([other, candidate]) => other !== requestId && candidate.status === 'pending' && candidate.submission!.payment.paymentId === input.payment.paymentId,
  );
  const refused = refusalsOf(policy, { purchasedAt: input.purchasedAt, askedAt: now, kind: input.product?.kind ?? null, othersOpen });
  if (refused.length > 0) {
    if (input.override === undefined || refused.includes('one_open_request')) return { code: 'policy_refused', writes: false };
    if (!allowed(person, 'override_policy')) return { code: 'forbidden', writes: false };
  }
  return {
    code: 'ok',
    writes: true,
    apply: (target) => {
      Object.assign(target, { status: 'pending', submission: input, submittedAt: now, overriddenAtSubmission: refused, overriddenAtApproval: [], decision: null });
    },
  };
};

const predictApprove = async (model: Model, real: Real, requestId: string, input: ApproveRequestInput, strict: boolean): Promise<Prediction> => {
  const person = (Object.keys(people) as Person[]).find((key) => people[key].id === input.actor.id)!;
  if (input.amount !== undefined && input.amount <= 0) return { code: 'validation_failed', writes: false };
  // The request is read before the permission check (the host judges its payment and amount).
  const request = requestOf(model, requestId);
  if (request.status === 'unsubmitted') return { code: 'refund_request_not_found', writes: false };
  if (!allowed(person, 'act')) return { code: 'forbidden', writes: false };
  const submission = request.submission!;
  const subscribed = submission.subscriptionId != null;
  // Refund + cancel by default for a subscription (the system has a cancelSubscription hook).
  const option = input.option ?? (subscribed ? 'refund_and_cancel' : 'refund_only');
  if (option !== 'refund_only' && !subscribed) return { code: 'validation_failed', writes: false };
  // Cancel only refunds nothing: an amount, a credit note or a charge confirmation with it is a mistake.
  if (option === 'cancel_only' && (input.amount !== undefined || input.creditNoteId !== undefined || input.chargeConfirmed !== undefined)) {
    return { code: 'validation_failed', writes: false };
  }
  // More than the customer asked for is a refund nobody requested.
  if (input.amount !== undefined && input.amount > submission.amount) return { code: 'validation_failed', writes: false };
  const creditNoteId = option === 'cancel_only' ? null : (input.creditNoteId ?? `rr-${requestId}`);
  const amount = option === 'cancel_only' ? null : (input.amount ?? submission.amount);
  const note = textOf(input.note);
  if (request.status !== 'pending') {
    const decision = request.decision;
    const same =
      decision?.kind === 'approved' &&
      decision.option === option &&
      decision.note === note &&
      (option === 'cancel_only' || (decision.creditNoteId === (input.creditNoteId ?? `rr-${requestId}`) && decision.amount === (input.amount ?? submission.amount)));
    return same ? { code: 'ok', writes: false } : { code: 'refund_request_conflict', writes: false };
  }
  // Asked again at approval, as the customer asked (not how long the review took), less what the submission set aside.
  const refused = refusalsOf(strict ? strictPolicy : policy, {
    purchasedAt: submission.purchasedAt,
    askedAt: request.submittedAt,
    kind: submission.product?.kind ?? null,
    othersOpen: false,
  }).filter((rule) => !request.overriddenAtSubmission.includes(rule));
  if (refused.length > 0) {
    if (input.override === undefined) return { code: 'policy_refused', writes: false };
    if (!allowed(person, 'override_policy')) return { code: 'forbidden', writes: false };
  }
  if (creditNoteId !== null) {
    // The same balance guard as issueCreditNote: what the payment's credit notes commit, read from its stream.
    if ((await real.rawStore.readStream(`credit-note-${creditNoteId}`)).version > 0) return { code: 'credit_note_exists', writes: false };
    const paymentId = submission.payment.paymentId;
    const committed = (await real.rawStore.readStream(`payment-${paymentId}`)).events
      .filter((event) => event.type === 'CreditNoteAttached')
      .reduce((sum, event) => sum + (event.data as { amount: number }).amount, 0);
    if (committed + amount! > charged[paymentId as keyof typeof charged]) return { code: 'refundable_balance_exceeded', writes: false };
  }
  return {
    code: 'ok',
    writes: true,
    apply: (target) => {
      target.status = 'approved';
      target.decision = { kind: 'approved', option, creditNoteId, amount, note };
      target.overriddenAtApproval = refused;
    },
  };
};

const predictClose = (model: Model, requestId: string, sent: Extract<SentRequestCommand, { kind: 'reject' | 'withdraw' }>): Prediction => {
  const person = (Object.keys(people) as Person[]).find((key) => people[key].id === sent.input.actor.id)!;
  const text = sent.kind === 'reject' ? (sent.input as RejectRequestInput).note : (sent.input as WithdrawRequestInput).details;
  if (typeof text === 'string' && text.trim().length > 2_000) return { code: 'validation_failed', writes: false };
  const request = requestOf(model, requestId);
  if (request.status === 'unsubmitted') return { code: 'refund_request_not_found', writes: false };
  if (!allowed(person, 'act')) return { code: 'forbidden', writes: false };
  const note = sent.kind === 'reject' ? textOf((sent.input as RejectRequestInput).note) : null;
  if (request.status !== 'pending') {
    const same = sent.kind === 'reject' ? request.decision?.kind === 'rejected' && request.decision.note === note : request.decision?.kind === 'withdrawn';
    return same ? { code: 'ok', writes: false } : { code: 'refund_request_conflict', writes: false };
  }
  return {
    code: 'ok',
    writes: true,
    apply: (target) => {
      target.status = sent.kind === 'reject' ? 'rejected' : 'withdrawn';
      target.decision = sent.kind === 'reject' ? { kind: 'rejected', note } : { kind: 'withdrawn' };
    },
  };
};

/** Every request command is exactly as the model predicts: its answer, and whether anything was written. */
abstract class RequestCommand extends Step {
  /** The request this run aimed at (see `aim`). */
  private resolved: string | null = null;
  /**
   * `fixed`: request `request` whatever its state. `pending`: one of the requests pending now (the `request`-th,
   * round), else the fixed one, so approvals, rejections and withdrawals mostly meet a request they can decide.
   */
  constructor(
    readonly request: number,
    readonly aim: 'fixed' | 'pending' = 'fixed',
  ) {
    super();
  }
  get requestId(): string {
    return this.resolved ?? requestIds[this.request]!;
  }
  protected resolve(model: Readonly<Model>): string {
    const pending = requestIds.filter((requestId) => model.requests.get(requestId)?.status === 'pending');
    return this.aim === 'pending' && pending.length > 0 ? pending[this.request % pending.length]! : requestIds[this.request]!;
  }
  protected get label() {
    return this.aim === 'pending' ? `${this.requestId} (a pending one)` : this.requestId;
  }
  /** The command to send now, or null when there is nothing to send. */
  abstract build(model: Model, real: Real): SentRequestCommand | null;

  async act(real: Real, model: Model) {
    this.resolved = this.resolve(model);
    const sent = this.build(model, real);
    if (sent === null) return;
    model.last.set(`${sent.kind}:${this.requestId}`, sent);
    const now = real.clock.now().getTime();
    const prediction =
      sent.kind === 'submit'
        ? predictSubmit(model, this.requestId, sent.input, now)
        : sent.kind === 'approve'
          ? await predictApprove(model, real, this.requestId, sent.input, sent.strict)
          : predictClose(model, this.requestId, sent);
    const before = { events: (await real.rawStore.readAll()).length, outbox: (await real.rawStore.listOutbox()).length };
    const firedBefore = real.faults.fired;
    if (sent.kind === 'approve' && sent.input.chargeConfirmed) {
      real.hostVouched.add(requestOf(model, this.requestId).submission?.payment.paymentId ?? 'none');
    }
    const lifecycle = sent.kind === 'approve' && sent.strict ? (model.strict ??= real.lifecycleWith({ refundRequests: { policy: strictPolicy } })) : real.lifecycle;
    const result =
      sent.kind === 'submit'
        ? await lifecycle.requestRefund(sent.input)
        : sent.kind === 'approve'
          ? await lifecycle.approveRequest(this.requestId, sent.input)
          : sent.kind === 'reject'
            ? await lifecycle.rejectRequest(this.requestId, sent.input)
            : await lifecycle.withdrawRequest(this.requestId, sent.input);
    const code = result.isOk() ? 'ok' : result.error.code;
    const after = { events: (await real.rawStore.readAll()).length, outbox: (await real.rawStore.listOutbox()).length };
    recordReached(`${sent.kind}:${code}`);
    if (real.faults.fired > firedBefore) {
      // Only a write can crash, and a command the model says writes nothing makes none.
      expect(code, `${this} crashed`).toBe('store_unavailable');
      expect(prediction.writes, `${this} crashed on a write it should not make`).toBe(true);
      if (real.faults.lastCrash?.when === 'after') prediction.apply?.(requestOf(model, this.requestId));
      else expect(after, 'a crash before the append wrote nothing').toEqual(before);
      return;
    }
    expect(code, `${this}: ${result.isErr() ? result.error.message : 'ok'}`).toBe(prediction.code);
    if (prediction.writes) {
      expect(after.events, `${this} wrote its decision`).toBeGreaterThan(before.events);
      prediction.apply?.(requestOf(model, this.requestId));
    } else {
      // A refusal (policy, permission, bad input, conflict, balance) or a repeat writes nothing at all.
      expect(after, `${this} (${code}) wrote nothing`).toEqual(before);
    }
    if (result.isOk()) {
      // The answer is the request as the model has it now (an approved one: as far as its credit note).
      const request = requestOf(model, this.requestId);
      const answer = result.value;
      expect(answer.decision?.kind ?? null).toBe(request.decision?.kind ?? null);
      expect(answer.creditNoteId).toBe(request.decision?.kind === 'approved' ? request.decision.creditNoteId : null);
      expect(answer.status).toBe(refundRequestStatusOf(request.status as Exclude<RefundRequestMachineStatus, 'unsubmitted'>, answer.creditNoteStatus));
    }
  }
}

class Submit extends RequestCommand {
  constructor(
    request: number,
    readonly spec: SubmitSpec,
  ) {
    super(request);
  }
  build(_model: Model, real: Real): SentRequestCommand {
    const { spec } = this;
    const now = real.clock.now().getTime();
    return {
      kind: 'submit',
      input: {
        requestId: this.requestId,
        payment: { paymentId: paymentIds[spec.payment]! },
        amount: spec.amount,
        currency: 'EUR',
        reason: spec.bad === 'reason' ? ('because' as never) : spec.reason,
        details: spec.details,
        customerId: 'cus_1',
        purchasedAt: new Date(spec.bad === 'future' ? now + DAY : now - spec.daysAgo * DAY).toISOString(),
        ...(spec.product === null ? {} : { product: { productId: `prod_${spec.product}`, kind: spec.product } }),
        ...(spec.subscription ? { subscriptionId: `sub_${this.requestId}` } : {}),
        ...(spec.override ? { override: { reason: 'A goodwill gesture.' } } : {}),
        actor: people[spec.person],
      },
    };
  }
  override toString = () => `submit(${this.label}, ${JSON.stringify(this.spec)})`;
}

class Approve extends RequestCommand {
  constructor(
    request: number,
    readonly spec: ApproveSpec,
    aim: 'fixed' | 'pending',
  ) {
    super(request, aim);
  }
  build(): SentRequestCommand {
    const { spec } = this;
    return {
      kind: 'approve',
      strict: spec.strict,
      input: {
        ...(spec.bad ? { amount: -5 } : spec.amount === undefined ? {} : { amount: spec.amount }),
        ...(spec.option === undefined ? {} : { option: spec.option }),
        ...(spec.creditNote === 'default' ? {} : { creditNoteId: spec.creditNote === 'cn_c' ? 'cn_c' : `rq-${this.requestId}` }),
        ...(spec.note === undefined ? {} : { note: spec.note }),
        ...(spec.override ? { override: { reason: 'Our mistake.' } } : {}),
        ...(spec.chargeConfirmed ? { chargeConfirmed: true } : {}),
        actor: people[spec.person],
      },
    };
  }
  override toString = () => `approve(${this.label}, ${JSON.stringify(this.spec)})`;
}

class Reject extends RequestCommand {
  constructor(
    request: number,
    readonly spec: RejectSpec,
    aim: 'fixed' | 'pending',
  ) {
    super(request, aim);
  }
  build(): SentRequestCommand {
    const note = this.spec.bad ? TOO_LONG : this.spec.note;
    return { kind: 'reject', input: { ...(note === undefined ? {} : { note }), actor: people[this.spec.person] } };
  }
  override toString = () => `reject(${this.label}, ${JSON.stringify(this.spec)})`;
}

class Withdraw extends RequestCommand {
  constructor(
    request: number,
    readonly spec: WithdrawSpec,
    aim: 'fixed' | 'pending',
  ) {
    super(request, aim);
  }
  build(): SentRequestCommand {
    const details = this.spec.bad ? TOO_LONG : this.spec.details;
    return { kind: 'withdraw', input: { ...(details === undefined ? {} : { details }), actor: people[this.spec.person] } };
  }
  override toString = () => `withdraw(${this.label}, ${JSON.stringify(this.spec)})`;
}

/** The same command again, exactly as last sent to this request: a double click, a retried HTTP request. */
class Again extends RequestCommand {
  constructor(
    request: number,
    readonly kind: RequestCommandKind,
  ) {
    super(request);
  }
  /** A request this kind of command was sent to before (the `request`-th, round). */
  protected override resolve(model: Readonly<Model>): string {
    const sentTo = requestIds.filter((requestId) => model.last.has(`${this.kind}:${requestId}`));
    return sentTo.length > 0 ? sentTo[this.request % sentTo.length]! : requestIds[this.request]!;
  }
  build(model: Model): SentRequestCommand | null {
    return model.last.get(`${this.kind}:${this.requestId}`) ?? null;
  }
  override toString = () => `again(${this.kind}, ${this.requestId})`;
}

/** The billing system fails the next cancellations: the hook is tried again later, and runs once. */
class CancelHookFails extends Step {
  constructor(readonly count: number) {
    super();
  }
  async act(real: Real) {
    real.failCancelNext(this.count);
  }
  override toString = () => `cancelHookFails(${this.count})`;
}

/** What the runs reached, across runs: a generator that stopped exploring fails the test instead of passing vacuously. */
const reachedByRequests = new Set<string>();
const recordReached = (what: string) => void reachedByRequests.add(what);

/**
 * After every step: each request stands where the model says, its status read
 * through the lifecycle follows its credit note's once approved, and what it
 * records (decision, overrides) is what the model expects.
 */
const checkRequestsAgainstModel = async (model: Model, real: Real) => {
  const replayed = await requestsOf(real);
  for (const requestId of requestIds) {
    const expected = model.requests.get(requestId) ?? null;
    if (expected === null || expected.status === 'unsubmitted') {
      expect(replayed.has(requestId), `${requestId} was never accepted`).toBe(false);
      const read = await real.lifecycle.getRefundRequest(requestId);
      expect(read.isErr() && read.error.code).toBe('refund_request_not_found');
      continue;
    }
    const stored = replayed.get(requestId);
    expect(stored?.state.status, `${requestId} is ${expected.status}`).toBe(expected.status);
    expect(stored!.version).toBe(expected.status === 'pending' ? 1 : 2);
    const creditNoteId = expected.decision?.kind === 'approved' ? expected.decision.creditNoteId : null;
    const creditNoteStatus = creditNoteId === null ? null : ((await real.rawStore.listCreditNotes({ limit: 500 })).find((row) => row.creditNoteId === creditNoteId)?.status ?? null);
    if (creditNoteId !== null) expect(creditNoteStatus, `${creditNoteId} of ${requestId}`).not.toBeNull();
    const read = await real.lifecycle.getRefundRequest(requestId);
    expect(read.isOk()).toBe(true);
    const view = read._unsafeUnwrap();
    expect(view.status, `status of ${requestId}`).toBe(refundRequestStatusOf(expected.status as Exclude<RefundRequestMachineStatus, 'unsubmitted'>, creditNoteStatus));
    recordReached(`status:${view.status}`);
    const submission = expected.submission!;
    expect(view).toMatchObject({
      amount: submission.amount,
      payment: { paymentId: submission.payment.paymentId },
      subscriptionId: submission.subscriptionId ?? null,
      creditNoteId,
    });
    expect(view.overrides.map((override) => override.rules)).toEqual(
      [expected.overriddenAtSubmission, expected.overriddenAtApproval].filter((rules) => rules.length > 0),
    );
    if (expected.overriddenAtSubmission.length > 0) recordReached('override:submission');
    if (expected.overriddenAtApproval.length > 0) recordReached('override:approval');
    const decision = expected.decision;
    if (decision === null) expect(view.decision).toBeNull();
    else if (decision.kind === 'approved') expect(view.decision).toMatchObject(decision);
    else if (decision.kind === 'rejected') expect(view.decision).toMatchObject(decision);
    else expect(view.decision?.kind).toBe('withdrawn');
  }
};

const requestIndex = fc.integer({ min: 0, max: requestIds.length - 1 });
const submitSpec: fc.Arbitrary<SubmitSpec> = fc.record({
  payment: fc.integer({ min: 0, max: 1 }),
  amount: fc.constantFrom(500, 1_000, 2_500),
  reason: fc.constantFrom('not_as_described', 'no_longer_needed', 'duplicate_charge'),
  details: fc.constantFrom(null, 'It did not work.'),
  subscription: fc.boolean(),
  product: fc.constantFrom(null, null, 'course', 'customised', 'consumed_service'),
  daysAgo: fc.constantFrom(1, 1, 5, 10),
  person: fc.constantFrom<Person>('customer', 'customer', 'customer', 'customer', 'support', 'owner', 'owner', 'viewer'),
  override: fc.boolean(),
  bad: fc.constantFrom<SubmitSpec['bad']>(null, null, null, null, null, null, null, null, null, 'reason', 'future'),
});
const approveSpec: fc.Arbitrary<ApproveSpec> = fc.record({
  person: fc.constantFrom<Person>('freelancer', 'freelancer', 'freelancer', 'owner', 'owner', 'viewer'),
  option: fc.constantFrom<SubscriptionOption | undefined>(undefined, undefined, undefined, 'refund_only', 'refund_and_cancel', 'cancel_only'),
  // Less than asked (a partial refund), or more than some requests asked for (refused as bad input).
  amount: fc.constantFrom<number | undefined>(undefined, undefined, 300, 1_500),
  // cn_c: a credit note the credit-note steps issue too; whoever comes second is refused, writing nothing.
  creditNote: fc.constantFrom<ApproveSpec['creditNote']>('default', 'default', 'default', 'cn_c', 'cn_c', 'custom'),
  note: fc.constantFrom<string | undefined>(undefined, 'Sorry about that.'),
  override: fc.boolean(),
  chargeConfirmed: fc.boolean(),
  strict: fc.boolean(),
  bad: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
});
const rejectSpec: fc.Arbitrary<RejectSpec> = fc.record({
  person: fc.constantFrom<Person>('freelancer', 'freelancer', 'owner', 'viewer'),
  note: fc.constantFrom<string | undefined>(undefined, '   ', 'The course was completed in full.'),
  bad: fc.constantFrom(false, false, false, false, false, true),
});
const withdrawSpec: fc.Arbitrary<WithdrawSpec> = fc.record({
  person: fc.constantFrom<Person>('customer', 'customer', 'customer', 'viewer'),
  details: fc.constantFrom<string | undefined>(undefined, '', 'Found it in the end.'),
  bad: fc.constantFrom(false, false, false, false, false, true),
});

/** Decisions mostly meet a pending request; sometimes any request, so unknown and decided ones are asked too. */
const aim = fc.constantFrom<'fixed' | 'pending'>('fixed', 'pending', 'pending', 'pending');
const submit = fc.tuple(requestIndex, submitSpec).map(([request, spec]) => new Submit(request, spec));
const approve = fc.tuple(requestIndex, approveSpec, aim).map(([request, spec, target]) => new Approve(request, spec, target));
/** The owner approves under the stricter policy, overriding what it refuses. */
const ownerOverrides = fc
  .tuple(requestIndex, approveSpec)
  .map(([request, spec]) => new Approve(request, { ...spec, person: 'owner', override: true, strict: true, bad: false }, 'pending'));
/** The processor settles the refund of a request's credit note. */
const requestRefundSettles = fc
  .tuple(fc.integer({ min: creditNoteIds.length, max: allCreditNoteIds.length - 1 }), fc.constantFrom('succeeded', 'failed') as fc.Arbitrary<'succeeded' | 'failed'>)
  .map(([note, outcome]) => new ProcessorSettles(note, outcome));
const requestSteps = [
  // Submissions and approvals come four times as often: they are where the policy, permissions and the balance bite.
  submit,
  submit,
  submit,
  submit,
  approve,
  approve,
  approve,
  approve,
  ownerOverrides,
  requestRefundSettles,
  fc.tuple(requestIndex, rejectSpec, aim).map(([request, spec, target]) => new Reject(request, spec, target)),
  fc.tuple(requestIndex, withdrawSpec, aim).map(([request, spec, target]) => new Withdraw(request, spec, target)),
  fc.tuple(requestIndex, fc.constantFrom<RequestCommandKind>('submit', 'approve', 'approve', 'reject', 'withdraw')).map(
    ([request, kind]) => new Again(request, kind),
  ),
  fc.tuple(requestIndex, fc.constantFrom<RequestCommandKind>('submit', 'approve', 'approve', 'reject', 'withdraw')).map(
    ([request, kind]) => new Again(request, kind),
  ),
  fc.integer({ min: 1, max: 2 }).map((count) => new CancelHookFails(count)),
];

const creditNote = fc.integer({ min: 0, max: creditNoteIds.length - 1 });
/** Any credit note, a request's included: settle, reverse, refresh, retry and mark refunded act on them all. */
const anyCreditNote = fc.integer({ min: 0, max: allCreditNoteIds.length - 1 });
const behaviour: fc.Arbitrary<FakeCreateBehaviour> = fc.oneof(
  fc.constant({ kind: 'accept' } as const),
  fc.constant({ kind: 'accept', status: 'succeeded' } as const),
  fc.constant({ kind: 'fail', reason: 'insufficient_funds' } as const),
  fc.constant({ kind: 'reject', code: 'charge_disputed' } as const),
  fc.constant({ kind: 'transient' } as const),
  fc.constant({ kind: 'acceptThenTimeout' } as const),
);

const issue = fc.tuple(creditNote, fc.option(fc.integer({ min: 0, max: 1 }), { freq: 4 }), fc.boolean()).map(
  ([note, payment, confirmed]) => new Issue(note, payment, confirmed),
);
const processorWill = behaviour.map((b) => new QueueProcessorBehaviour(b));

const steps = [
  // Issues and the processor's answers come twice as often: the balance and the gate are tested where they bite.
  issue,
  issue,
  fc.integer({ min: 0, max: 1 }).map((payment) => new ConfirmCharge(payment)),
  processorWill,
  processorWill,
  fc.tuple(anyCreditNote, fc.constantFrom('succeeded', 'failed') as fc.Arbitrary<'succeeded' | 'failed'>).map(
    ([note, outcome]) => new ProcessorSettles(note, outcome),
  ),
  anyCreditNote.map((note) => new ProcessorReverses(note)),
  (fc.constantFrom('in_order', 'reversed', 'duplicated', 'dropped') as fc.Arbitrary<Delivery>).map(
    (delivery) => new DeliverWebhooks(delivery),
  ),
  anyCreditNote.map((note) => new Refresh(note)),
  fc.constant(new Sweep()),
  anyCreditNote.map((note) => new Retry(note)),
  anyCreditNote.map((note) => new MarkRefunded(note)),
  fc.constant(new Dispatch()),
  fc.constant(new CrashingDispatch()),
  fc.constantFrom(1_000, 5_000, 61_000).map((ms) => new AdvanceClock(ms)),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.constantFrom('before', 'after') as fc.Arbitrary<'before' | 'after'>).map(
    ([write, when]) => new CrashAtWrite(write, when),
  ),
  fc.tuple(
    fc.integer({ min: 1, max: 3 }),
    fc.constantFrom('throw', 'time_out', 'deliver_then_throw') as fc.Arbitrary<NotifierMisbehaviour>,
  ).map(([count, how]) => new NotifierMisbehaves(count, how)),
  // Both kinds interleave: requests and their credit notes with everything above.
  ...requestSteps,
];

/**
 * One model-based run. `pullsRefundStatus: false` makes the processor Adyen-shaped: it cannot be asked about a
 * refund, so Refresh answers `refresh_unavailable`, the sweep skips, and outcomes arrive only as notifications.
 */
const keepsItsPromise = async (processor: { pullsRefundStatus: boolean }) => {
  // What the runs reached, so a generator that stopped exploring would fail the test instead of passing vacuously.
  const reached = new Set<string>();
  let crashes = 0;
  reachedByRequests.clear();
  if (!processor.pullsRefundStatus) expectedErrorCodes.add('refresh_unavailable');
  try {
    await fc.assert(
      // A run opens with a few customers asking (each predicted and checked like any step), so the decisions that
      // follow mostly find a request to decide.
      fc.asyncProperty(fc.array(submit, { maxLength: 3 }), fc.commands(steps, { maxCommands: 60, size: 'large' }), async (opening, commands) => {
        const real = buildSystem({ charged, pullsRefundStatus: processor.pullsRefundStatus, authorize, refundRequests: { policy } });
        const model: Model = { terminal: new Map(), requests: new Map(), last: new Map(), strict: null };
        await fc.asyncModelRun(() => ({ model, real }), [...opening, ...commands]);
        crashes += real.crashes;

        // Liveness: once the process stops crashing, leases and backoffs expire and the notifications arrive, no side
        // effect is left undone.
        real.faults.disarm();
        crashes += real.faults.fired;
        await drain(real);
        await checkInvariants(real, model.terminal);
        await checkRequestsAgainstModel(model, real);
        const outbox = await real.rawStore.listOutbox();
        expect(outbox.filter((entry) => entry.completedAt === null && entry.kind !== 'create_refund')).toEqual([]);
        // Every email owed went out, exactly once per key, whatever the notifier did on the way.
        const delivered = new Set(real.notifier.delivered().map((notification) => notification.idempotencyKey));
        for (const entry of outbox.filter((candidate) => candidate.kind === 'notify')) {
          expect(delivered.has(entry.idempotencyKey), `${entry.idempotencyKey} never delivered`).toBe(true);
        }
        for (const summary of await real.rawStore.listCreditNotes({ limit: 500 })) {
          const { status, context } = summary.state;
          reached.add(status);
          // An attempt asked of the processor is answered, or waits for a person after its automatic retries.
          if (status === 'requested') expect(context.refund?.status).toBe('accepted');
          if (status === 'pending' && context.pendingReason === 'transient_error') {
            expect(context.transientError?.retryAt).toBeNull();
          }
        }
        // Requests: once the outbox is drained, each got exactly the notices its fate owes, and the subscription was
        // cancelled exactly once for an approval that asked for it, never otherwise.
        const owedNotices: Record<RefundRequestMachineStatus, string[]> = {
          unsubmitted: [],
          pending: ['refund_request_received'],
          withdrawn: ['refund_request_received'],
          approved: ['refund_request_approved', 'refund_request_received'],
          rejected: ['refund_request_received', 'refund_request_rejected'],
        };
        for (const requestId of requestIds) {
          const expected = model.requests.get(requestId);
          const status = expected?.status ?? 'unsubmitted';
          expect(
            real.notifier.deliveredRequestNotices().filter((notice) => notice.decided.requestId === requestId).map((notice) => notice.kind).sort(),
            `notices of ${status} ${requestId}`,
          ).toEqual(owedNotices[status]);
          const cancels = expected?.decision?.kind === 'approved' && expected.submission!.subscriptionId != null && expected.decision.option !== 'refund_only';
          const cancelled = new Set(real.cancelCalls.filter((call) => call.requestId === requestId).map((call) => call.idempotencyKey));
          expect(cancelled.size, `cancellations of ${requestId}`).toBe(cancels ? 1 : 0);
          if (cancels) recordReached('cancelled');
        }
      }),
      { numRuns: numRuns(200) },
    );
  } finally {
    expectedErrorCodes.delete('refresh_unavailable');
  }
  expect([...reached].sort()).toEqual(['failed', 'issued', 'manual', 'pending', 'requested', 'succeeded']);
  expect(crashes).toBeGreaterThan(0);
  // Requests reached every status, every answer and every path worth testing.
  for (const what of [
    'status:pending',
    'status:processing',
    'status:succeeded',
    'status:failed',
    'status:rejected',
    'status:withdrawn',
    'submit:ok',
    'submit:policy_refused',
    'submit:forbidden',
    'submit:validation_failed',
    'submit:refund_request_conflict',
    'approve:ok',
    'approve:forbidden',
    'approve:policy_refused',
    'approve:refundable_balance_exceeded',
    'approve:credit_note_exists',
    'approve:refund_request_conflict',
    'approve:refund_request_not_found',
    'approve:validation_failed',
    'reject:ok',
    'reject:refund_request_conflict',
    'withdraw:ok',
    'withdraw:forbidden',
    'override:submission',
    'override:approval',
    'cancelled',
  ]) {
    expect(reachedByRequests, what).toContain(what);
  }
};

describe('the lifecycle under random sequences of commands, webhooks, failures and crashes', () => {
  it('keeps its promise after every step, and settles everything once time passes', () => keepsItsPromise({ pullsRefundStatus: true }), timeoutFor(200));

  it(
    'keeps it with an Adyen-shaped processor too: outcomes only by notification, Refresh refused with advice, nothing stuck once they arrive',
    () => keepsItsPromise({ pullsRefundStatus: false }),
    timeoutFor(200),
  );
});
