import type { Authorize } from './authorization.js';
import type { AdoptedRefundEffects } from './commandHandler.js';
import type { EventStore } from '../ports/eventStore.js';
import type { Clock, Notifier, RefundHooks } from '../ports/notifier.js';
import type { RefundGateway } from '../ports/refundGateway.js';
import type { Observer } from '../observability/observer.js';

/** How patient the library is with processors and notifiers. Defaults suit a web backend. */
export type RetryPolicy = {
  /** Automatic tries of an in-doubt refund attempt after transient errors, before waiting for a person. */
  maxAutomaticRefundRetries: number;
  /** Deliveries of a notification or hook before the entry is set aside as dead. */
  maxSideEffectDeliveries: number;
  /** First backoff; doubles each time. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long a dispatcher owns a claimed entry; a crashed dispatcher's claims expire after it. */
  leaseMs: number;
};

export const defaultRetryPolicy: RetryPolicy = {
  maxAutomaticRefundRetries: 5,
  maxSideEffectDeliveries: 8,
  backoffBaseMs: 2_000,
  backoffMaxMs: 10 * 60_000,
  leaseMs: 60_000,
};

/** Exponential and capped; no jitter, so schedules are reproducible in tests and replays. */
export const backoffDelayMs = (policy: RetryPolicy, failures: number): number =>
  Math.min(policy.backoffBaseMs * 2 ** Math.max(0, failures - 1), policy.backoffMaxMs);

export type LifecycleDeps = {
  store: EventStore;
  gateway: RefundGateway;
  notifier: Notifier;
  hooks: RefundHooks;
  clock: Clock;
  generateId: () => string;
  policy: RetryPolicy;
  adoptedRefunds: AdoptedRefundEffects;
  /** False when this process performs what its commands enqueue right after appending (inline dispatch). */
  wakeDispatchers: boolean;
  /** Logs, spans and metrics of side effects and decisions; off (`silentObserver`) when absent. */
  observer?: Observer;
  /** The host's permission check before a person's decision; everything allowed when absent. */
  authorize?: Authorize;
};
