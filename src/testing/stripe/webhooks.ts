import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { StripeEventJson } from './stripeJson.js';

/**
 * Webhooks as Stripe sends them: the event as pretty-printed JSON (a host that
 * re-serialises a parsed body breaks the signature, as with real Stripe) and
 * `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 */
export type SignedWebhook = { event: StripeEventJson; rawBody: string; signature: string };

export type WebhookDeliveryOptions = {
  /** How many times each event is sent (at-least-once delivery); default 1. Copies follow the whole batch, as Stripe's retries do. */
  copies?: number;
  /** Default `as_sent`; a function can shuffle (with a seeded random or fast-check). */
  order?: 'as_sent' | 'reversed' | ((webhooks: SignedWebhook[]) => SignedWebhook[]);
};

export type WebhookDeliveryResult = {
  eventId: string;
  type: StripeEventJson['type'];
  /** True when the endpoint answered 2xx, or the callback resolved (to anything but a non-2xx number). */
  ok: boolean;
  /** The endpoint's HTTP status, or the number a callback resolved to. */
  status?: number;
  /** Why the delivery failed: a network error, or what the callback threw. */
  error?: string;
};

export type WebhookTarget = string | URL | ((webhook: SignedWebhook) => Promise<unknown>);

export const signWebhookPayload = (rawBody: string, timestamp: number, secret: string): string =>
  `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex')}`;

export const signEvents = (
  events: readonly StripeEventJson[],
  sign: (rawBody: string) => string,
  options: WebhookDeliveryOptions = {},
): SignedWebhook[] => {
  const copies = options.copies ?? 1;
  if (!Number.isInteger(copies) || copies < 1) throw new Error('fake Stripe: copies must be a positive integer');
  const batch = Array.from({ length: copies }, () =>
    events.map((event) => {
      const rawBody = JSON.stringify(event, null, 2);
      return { event: structuredClone(event), rawBody, signature: sign(rawBody) };
    }),
  ).flat();
  const order = options.order ?? 'as_sent';
  if (order === 'as_sent') return batch;
  if (order === 'reversed') return batch.reverse();
  return order(batch);
};

const postWebhook = (url: URL, webhook: SignedWebhook): Promise<number> =>
  new Promise((resolve, reject) => {
    const body = Buffer.from(webhook.rawBody, 'utf8');
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: 'POST',
        // A fresh connection per delivery: nothing lingers to keep the host's server from closing.
        agent: false,
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': body.length,
          'Stripe-Signature': webhook.signature,
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Sends each webhook in turn (never two at once) and reports how each delivery went. */
export const deliverSignedWebhooks = async (
  target: WebhookTarget,
  webhooks: readonly SignedWebhook[],
): Promise<WebhookDeliveryResult[]> => {
  const results: WebhookDeliveryResult[] = [];
  for (const webhook of webhooks) {
    const base = { eventId: webhook.event.id, type: webhook.event.type };
    try {
      if (typeof target === 'function') {
        const outcome = await target(webhook);
        const status = typeof outcome === 'number' ? outcome : undefined;
        results.push({ ...base, ok: status === undefined || (status >= 200 && status < 300), ...(status === undefined ? {} : { status }) });
      } else {
        const status = await postWebhook(new URL(target), webhook);
        results.push({ ...base, ok: status >= 200 && status < 300, status });
      }
    } catch (error) {
      results.push({ ...base, ok: false, error: describe(error) });
    }
  }
  return results;
};
