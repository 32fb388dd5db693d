import { createHash } from 'node:crypto';

/*
 * What the gateway writes on an Adyen refund so that the attempt can be
 * recognised again: the Idempotency-Key header (64 characters at most) and
 * the refund's `reference` (80 at most), which every notification about the
 * refund carries back as `merchantReference`.
 */

/** Adyen's longest `Idempotency-Key`. */
export const adyenIdempotencyKeyMaxLength = 64;
/** Adyen's longest modification `reference`. */
export const adyenReferenceMaxLength = 80;

/** Marks the digest forms below; a digest has no `:`, so it is never taken for a plain `<creditNoteId>:<attempt>`. */
const digestPrefix = 'rl-';
const digestLength = 64;

const digest = (value: string): string =>
  `${digestPrefix}${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, digestLength - digestPrefix.length)}`;

/** What an `idempotencyKeyPrefix` may hold: printable ASCII without spaces, as a header value takes it. */
export const adyenIdempotencyKeyPrefixPattern = /^[\x21-\x7e]{1,64}$/;

/**
 * The `Idempotency-Key` Adyen gets for an attempt: the lifecycle's own key
 * (`<creditNoteId>:refund:<attempt>`), preceded by `<prefix>:` when a prefix
 * is given, when that fits in 64 characters, else `rl-` and the first 61 hex
 * digits of its SHA-256 (prefix included). Deterministic: the same attempt
 * always sends the same key, however often and by whichever worker.
 *
 * Adyen keeps keys per company account, shared by all its merchant accounts
 * and by every application using its API credentials: the prefix (an app
 * name, a merchant account) keeps two of them that number credit notes alike
 * from being answered each other's refund.
 */
export const adyenIdempotencyKey = (idempotencyKey: string, prefix?: string): string => {
  const full = prefix === undefined ? idempotencyKey : `${prefix}:${idempotencyKey}`;
  return full.length <= adyenIdempotencyKeyMaxLength ? full : digest(full);
};

/**
 * The refund's `reference`: `<creditNoteId>:<attempt>` when it fits in 80
 * characters. A longer one (credit note ids go up to 200 characters) is
 * written as `rl-` and 61 hex digits of the SHA-256 of that same text: a
 * notification about it is routed by the refund id recorded from the create
 * answer, or, when that answer was lost, by recomputing the digest for the
 * credit notes of the notified payment (`matchesReference`).
 */
export const adyenRefundReference = (creditNoteId: string, attempt: number): string => {
  const plain = `${creditNoteId}:${attempt}`;
  return plain.length <= adyenReferenceMaxLength ? plain : digest(plain);
};

/** What a notification's `merchantReference` says of the attempt it concerns. */
export type ParsedReference =
  /** Ours, naming the attempt. */
  | { kind: 'attempt'; creditNoteId: string; attempt: number }
  /** Ours, too long to name it: only a credit note of the payment can be matched against it. */
  | { kind: 'digest'; reference: string }
  /** Not written by this library (a Customer Area refund, another system). */
  | { kind: 'foreign' };

const plainReference = /^([A-Za-z0-9_\-:.@]{1,200}):([1-9]\d{0,8})$/;
const digestReference = new RegExp(`^${digestPrefix}[0-9a-f]{${digestLength - digestPrefix.length}}$`);

export const parseAdyenReference = (reference: string | null | undefined): ParsedReference => {
  if (typeof reference !== 'string') return { kind: 'foreign' };
  if (digestReference.test(reference)) return { kind: 'digest', reference };
  const plain = plainReference.exec(reference);
  if (plain === null) return { kind: 'foreign' };
  return { kind: 'attempt', creditNoteId: plain[1] as string, attempt: Number(plain[2]) };
};

/** Whether `reference` is the one written for attempt `attempt` of `creditNoteId`. */
export const matchesReference = (reference: string, creditNoteId: string, attempt: number): boolean =>
  adyenRefundReference(creditNoteId, attempt) === reference;
