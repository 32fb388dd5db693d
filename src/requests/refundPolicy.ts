import type { PolicyRefusal } from '../errors.js';
import type { PolicyRule } from '../events/refundRequestEvents.js';

/**
 * The host's refund policy for customer requests (seed 004: "establish clear
 * refund policies"), evaluated when a customer submits and again when the
 * merchant approves.
 */
export type RefundRequestPolicy = {
  /** Days after purchase a customer may ask (seed 004 advises 7–30). Default 30; null for no window. */
  windowDays?: number | null;
  /** Products never refunded on request, e.g. a customised one. */
  excludedProductIds?: readonly string[];
  /** Kinds of product never refunded on request, e.g. `consumed_service`, `customised`. */
  excludedKinds?: readonly string[];
};

export const DEFAULT_REFUND_WINDOW_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What the policy looks at. `askedAt`: when the customer asked, which is what the window measures. */
export type PolicyFacts = {
  requestId: string;
  purchasedAt: string;
  askedAt: Date;
  product: { productId: string; kind: string } | null;
  /** Requests on the payment still awaiting review (the payment stream's word). */
  openRequests: readonly string[];
};

/**
 * Every rule that refuses, in the order a person reads them. Only
 * `one_open_request` cannot be overridden: two requests awaiting review on one
 * payment would each be approved against the same balance.
 */
export const evaluatePolicy = (policy: RefundRequestPolicy, facts: PolicyFacts): PolicyRefusal[] => {
  const refusals: PolicyRefusal[] = [];
  const windowDays = policy.windowDays === undefined ? DEFAULT_REFUND_WINDOW_DAYS : policy.windowDays;
  if (windowDays !== null) {
    const closesAt = Date.parse(facts.purchasedAt) + windowDays * DAY_MS;
    if (facts.askedAt.getTime() > closesAt) {
      refusals.push({
        rule: 'purchase_window',
        message: `asked ${Math.floor((facts.askedAt.getTime() - Date.parse(facts.purchasedAt)) / DAY_MS)} days after purchase; requests are accepted for ${windowDays} days`,
        overridable: true,
      });
    }
  }
  const product = facts.product;
  if (product !== null && (policy.excludedProductIds ?? []).includes(product.productId)) {
    refusals.push({ rule: 'excluded_product', message: `product ${product.productId} is not refunded on request`, overridable: true });
  }
  if (product !== null && (policy.excludedKinds ?? []).includes(product.kind)) {
    refusals.push({ rule: 'excluded_kind', message: `products of kind ${product.kind} are not refunded on request`, overridable: true });
  }
  const others = facts.openRequests.filter((requestId) => requestId !== facts.requestId);
  if (others.length > 0) {
    refusals.push({ rule: 'one_open_request', message: `request ${others[0]} on this payment awaits review`, overridable: false });
  }
  return refusals;
};

/** The rules a decision set aside: those that refused, less any an earlier override already set aside. */
export const rulesToOverride = (refusals: readonly PolicyRefusal[], alreadyOverridden: readonly PolicyRule[]): PolicyRule[] =>
  refusals.map((refusal) => refusal.rule).filter((rule) => !alreadyOverridden.includes(rule));
