import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { NotificationRequestItemJson, NotificationRequestJson } from './adyenJson.js';

/**
 * Standard webhooks as Adyen sends them: a JSON body
 * `{ live, notificationItems: [{ NotificationRequestItem }] }`, each item
 * signed in `additionalData.hmacSignature`.
 *
 * The signature is the one `@adyen/api-library`'s `HmacValidator.validateHMAC`
 * checks (lib/src/utils/hmacValidator.js, `getDataToSign` and
 * `calculateHmacSignature`): HMAC-SHA256, keyed with the HMAC key decoded from
 * hex, over
 * `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`
 * (a missing field is an empty string, as `Array.join` renders `undefined`),
 * encoded in base64. The library's own test vector (hmacValidator.spec.ts) is
 * reproduced in test/adyen/fakeAdyenNotifications.test.ts.
 */

export type NotificationBatch = {
  /** The JSON Adyen posts (a copy: editing it does not change `rawBody`). */
  body: NotificationRequestJson;
  /** The exact text posted. */
  rawBody: string;
};

export type NotificationOptions = {
  /**
   * Items per POST (default 1). Adyen's format allows several items per
   * request; in practice it sends one, so a handler must cope with both.
   */
  batchSize?: number;
  /** How many times each item is sent (at-least-once delivery); copies follow the whole run, as retries do. Default 1. */
  copies?: number;
  /** Default `as_sent`; a function can shuffle (with a seeded random or fast-check). Applied to items before batching. */
  order?: 'as_sent' | 'reversed' | ((items: NotificationRequestItemJson[]) => NotificationRequestItemJson[]);
};

/** What a callback target answers, like an HTTP endpoint would. A bare number is taken as the status with an empty body. */
export type NotificationTargetAnswer = { status: number; body: string } | number;
export type NotificationTarget = string | URL | ((batch: NotificationBatch) => Promise<NotificationTargetAnswer>);

export type NotificationDeliveryOptions = NotificationOptions & {
  /** Sent as `Authorization: Basic …`, as configured on an Adyen webhook. */
  basicAuth?: { username: string; password: string };
  /** Batches whose delivery failed go back in the queue, as Adyen retries them. */
  requeueFailures?: boolean;
};

export type NotificationDeliveryResult = {
  batch: NotificationBatch;
  eventCodes: string[];
  pspReferences: string[];
  /** True when the endpoint answered 2xx: Adyen accepts "on the basis of the HTTP status code". */
  ok: boolean;
  status?: number;
  /** The endpoint's answer body. */
  body?: string;
  /** The body contained `[accepted]` (what older Adyen setups expected). */
  accepted: boolean;
  /** A network error, or what the callback threw. */
  error?: string;
};

export const notificationDataToSign = (item: NotificationRequestItemJson): string =>
  [
    item.pspReference,
    item.originalReference ?? '',
    item.merchantAccountCode,
    item.merchantReference ?? '',
    item.amount.value,
    item.amount.currency,
    item.eventCode,
    item.success,
  ].join(':');

export const notificationSignature = (item: NotificationRequestItemJson, hmacKeyHex: string): string =>
  createHmac('sha256', Buffer.from(hmacKeyHex, 'hex')).update(notificationDataToSign(item), 'utf8').digest('base64');

/** A copy of the item with `additionalData.hmacSignature` set (other additional data kept). */
export const signNotificationItem = (item: NotificationRequestItemJson, hmacKeyHex: string): NotificationRequestItemJson => {
  const copy = structuredClone(item);
  const { hmacSignature: _old, ...rest } = copy.additionalData ?? {};
  copy.additionalData = { ...rest, hmacSignature: notificationSignature(copy, hmacKeyHex) };
  return copy;
};

/** The item without its signature (what the fake keeps, to sign again on a retry). */
export const unsignedItem = (item: NotificationRequestItemJson): NotificationRequestItemJson => {
  const copy = structuredClone(item);
  if (copy.additionalData) {
    const { hmacSignature: _signature, ...rest } = copy.additionalData;
    if (Object.keys(rest).length === 0) delete copy.additionalData;
    else copy.additionalData = rest;
  }
  return copy;
};

export const toBatch = (items: readonly NotificationRequestItemJson[], live: boolean): NotificationBatch => {
  const body: NotificationRequestJson = {
    live: live ? 'true' : 'false',
    notificationItems: items.map((item) => ({ NotificationRequestItem: structuredClone(item) })),
  };
  return { body, rawBody: JSON.stringify(body) };
};

/** Signs, copies, orders and cuts the items into batches. */
export const buildBatches = (
  items: readonly NotificationRequestItemJson[],
  sign: (item: NotificationRequestItemJson) => NotificationRequestItemJson,
  live: boolean,
  options: NotificationOptions = {},
): NotificationBatch[] => {
  const copies = options.copies ?? 1;
  if (!Number.isInteger(copies) || copies < 1) throw new Error('fake Adyen: copies must be a positive integer');
  const batchSize = options.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('fake Adyen: batchSize must be a positive integer');
  const signed = items.map(sign);
  let run = Array.from({ length: copies }, () => signed.map((item) => structuredClone(item))).flat();
  const order = options.order ?? 'as_sent';
  if (order === 'reversed') run = run.reverse();
  else if (typeof order === 'function') run = order(run);
  const batches: NotificationBatch[] = [];
  for (let start = 0; start < run.length; start += batchSize) batches.push(toBatch(run.slice(start, start + batchSize), live));
  return batches;
};

export type TamperHow =
  /** Default: `amount.value` + 1 after signing, as an attacker editing the amount would (the signature no longer matches). */
  | 'payload'
  /** `success` flipped after signing. */
  | 'success'
  /** Signed with another (random) key. */
  | 'wrong_key'
  /** No `hmacSignature` at all (the library's `validateHMAC` then throws `Missing hmacSignature`). */
  | 'remove_signature';

/** A copy of the batch whose item number `item` (default every item) no longer carries a valid signature. */
export const tamperBatch = (batch: NotificationBatch, options: { how?: TamperHow; item?: number } = {}): NotificationBatch => {
  const how = options.how ?? 'payload';
  const body = structuredClone(batch.body);
  const targets = options.item === undefined ? body.notificationItems.map((_, index) => index) : [options.item];
  for (const index of targets) {
    const container = body.notificationItems[index];
    if (!container) throw new Error(`fake Adyen: the batch has no item ${index}`);
    const item = container.NotificationRequestItem;
    if (how === 'payload') item.amount.value += 1;
    else if (how === 'success') item.success = item.success === 'true' ? 'false' : 'true';
    else if (how === 'wrong_key') container.NotificationRequestItem = signNotificationItem(item, randomBytes(32).toString('hex'));
    else container.NotificationRequestItem = unsignedItem(item);
  }
  return { body, rawBody: JSON.stringify(body) };
};

const post = (url: URL, batch: NotificationBatch, basicAuth?: { username: string; password: string }): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const payload = Buffer.from(batch.rawBody, 'utf8');
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: 'POST',
        // A fresh connection per delivery: nothing lingers to keep the host's server from closing.
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': payload.length,
          ...(basicAuth ? { Authorization: `Basic ${Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64')}` } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Posts each batch in turn (never two at once) and reports how each went. */
export const deliverBatches = async (
  target: NotificationTarget,
  batches: readonly NotificationBatch[],
  options: { basicAuth?: { username: string; password: string } } = {},
): Promise<NotificationDeliveryResult[]> => {
  const results: NotificationDeliveryResult[] = [];
  for (const batch of batches) {
    const items = batch.body.notificationItems.map((container) => container.NotificationRequestItem);
    const base = { batch, eventCodes: items.map((item) => item.eventCode), pspReferences: items.map((item) => item.pspReference) };
    try {
      const answer =
        typeof target === 'function'
          ? await target({ body: structuredClone(batch.body), rawBody: batch.rawBody })
          : await post(new URL(target), batch, options.basicAuth);
      const { status, body } = typeof answer === 'number' ? { status: answer, body: '' } : answer;
      results.push({ ...base, ok: status >= 200 && status < 300, status, body, accepted: body.includes('[accepted]') });
    } catch (error) {
      results.push({ ...base, ok: false, accepted: false, error: describe(error) });
    }
  }
  return results;
};
