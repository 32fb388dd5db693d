import { err, ok, type Result } from 'neverthrow';
import { ForbiddenError } from '../errors.js';
import type { Actor } from '../events/primitives.js';
import type { LifecycleDeps } from './deps.js';

/**
 * The decisions a person makes, each of which the host may forbid. A customer
 * submits (`request_refund`) and withdraws requests; staff approve and reject
 * them, and `override` lets a request through policy rules that refused it.
 */
export type LifecycleAction =
  | 'issue'
  | 'retry'
  | 'mark_refunded'
  | 'refresh'
  | 'request_refund'
  | 'withdraw_request'
  | 'approve_request'
  | 'reject_request'
  | 'override_policy';

/**
 * What the decision is about: the credit note (credit-note actions), or the
 * refund request (request actions; an approval also names the credit note it
 * would issue), with the money and payment at stake when known.
 */
export type AuthorizationSubject = {
  creditNoteId?: string;
  requestId?: string;
  amount?: number;
  currency?: string;
  paymentId?: string | null;
  /** For request actions: the customer the request is for (a portal checks it is the signed-in one). */
  customerId?: string;
  /** For `override_policy`: the policy rules the override would set aside. */
  rules?: readonly string[];
};

/**
 * The host's permission check, consulted after the input is validated and
 * before anything is read or decided: false (or a promise of false) refuses
 * with `ForbiddenError` and nothing is written. Absent: everything is allowed.
 */
export type Authorize = (actor: Actor, action: LifecycleAction, subject: AuthorizationSubject) => boolean | Promise<boolean>;

export const allowEverything: Authorize = () => true;

/** What a customer may ever do, whatever the host's hook says: ask, and take the question back. */
const customerActions: ReadonlySet<LifecycleAction> = new Set(['request_refund', 'withdraw_request']);

export const authorizeOrRefuse = async (
  deps: Pick<LifecycleDeps, 'authorize'>,
  actor: Actor,
  action: LifecycleAction,
  subject: AuthorizationSubject,
): Promise<Result<void, ForbiddenError>> =>
  // Strictly true: a hook that returns something else by mistake refuses rather than lets through.
  // A customer deciding their own refund (approving it, overriding the policy) is never a host's intent, even one that
  // passes the portal's body through unchecked: refused before the hook is asked.
  (actor.kind !== 'customer' || customerActions.has(action)) && (await (deps.authorize ?? allowEverything)(actor, action, subject)) === true
    ? ok(undefined)
    : err(new ForbiddenError(actor, action, subject.requestId !== undefined ? { requestId: subject.requestId } : { creditNoteId: subject.creditNoteId ?? '' }));
