import { err, ok, type Result } from 'neverthrow';
import { z } from 'zod';
import { fastSafeParse } from '../events/compileSchema.js';
import { ValidationError } from '../errors.js';
import {
  actorSchema,
  creditNoteIdSchema,
  currencySchema,
  eventSourceSchema,
  failureClassificationSchema,
  identifierSchema,
  minorAmountSchema,
  processorPendingReasonSchema,
  processorRefundStatusSchema,
  refundMethodSchema,
} from '../events/primitives.js';
import { toValidationIssues } from '../events/validationIssues.js';

const correlation = {
  /** Ties together everything one request caused; generated when absent. */
  correlationId: z.string().min(1).max(255).optional(),
};

export const issueCreditNoteInputSchema = z.strictObject({
  creditNoteId: creditNoteIdSchema,
  amount: minorAmountSchema,
  currency: currencySchema,
  /** The processor payment to refund, or null when the client paid outside the processor. */
  payment: z
    .strictObject({
      processor: identifierSchema.optional(),
      paymentId: identifierSchema,
      /** Connect account of a direct charge (Stripe `acct_…`). */
      account: identifierSchema.nullable().optional(),
    })
    .nullable(),
  reason: z.string().trim().min(1, 'is required').max(1000),
  /** The host already knows the charge is confirmed (it saw the payment succeed). */
  chargeConfirmed: z.boolean().optional(),
  actor: actorSchema,
  ...correlation,
});
export type IssueCreditNoteInput = z.input<typeof issueCreditNoteInputSchema>;

export const retryRefundInputSchema = z.strictObject({ actor: actorSchema, ...correlation });
export type RetryRefundInput = z.input<typeof retryRefundInputSchema>;

export const markRefundedInputSchema = z.strictObject({
  /** Mandatory: why and how it was refunded, typically a bank reference. */
  reason: z.string().trim().min(1, 'is required').max(1000),
  reference: z.string().trim().min(1).max(255).nullable().optional(),
  method: refundMethodSchema.optional(),
  actor: actorSchema,
  ...correlation,
});
export type MarkRefundedInput = z.input<typeof markRefundedInputSchema>;

export const confirmChargeInputSchema = z.strictObject({
  paymentId: identifierSchema,
  /** The same payment's other id (Stripe: the intent's charge): credit notes issued on it are released too, at once. */
  alsoKnownAs: identifierSchema.nullable().optional(),
  processor: identifierSchema.optional(),
  source: eventSourceSchema.optional(),
  /** Who confirmed it; the processor by default. */
  actor: actorSchema.optional(),
  /** What carried the confirmation, e.g. the webhook event id. */
  causationId: z.string().min(1).max(255).nullable().optional(),
  ...correlation,
});
export type ConfirmChargeInput = z.input<typeof confirmChargeInputSchema>;

export const processorRefundSchema = z.strictObject({
  processorRefundId: identifierSchema,
  paymentId: identifierSchema,
  paymentAliases: z.array(identifierSchema).max(4).optional(),
  amount: minorAmountSchema,
  currency: currencySchema,
  status: processorRefundStatusSchema,
  pendingReason: processorPendingReasonSchema.nullable().optional(),
  failure: z
    .strictObject({ reason: z.string().min(1), classification: failureClassificationSchema, message: z.string() })
    .nullable(),
  metadata: z.strictObject({
    creditNoteId: creditNoteIdSchema.nullable(),
    attempt: z.number().int().min(1).nullable(),
  }),
});

export const observeRefundInputSchema = z.strictObject({
  refund: processorRefundSchema,
  /**
   * The processor account the news came from (Stripe: the event's `account`).
   * When given, it must be the account of the credit note's payment.
   */
  account: identifierSchema.nullable().optional(),
  source: eventSourceSchema,
  /** The webhook event id or refresh request that carried the observation. */
  causationId: z.string().min(1).max(255).nullable().optional(),
  ...correlation,
});
export type ObserveRefundInput = z.input<typeof observeRefundInputSchema>;


export const dispatchInputSchema = z.strictObject({
  /** Entries claimed per round. */
  limit: z.number().int().min(1).max(500).optional(),
});
export type DispatchInput = z.input<typeof dispatchInputSchema>;

export const listCreditNotesInputSchema = z.strictObject({
  status: z.enum(['issued', 'pending', 'requested', 'succeeded', 'failed', 'manual']).optional(),
  paymentId: identifierSchema.optional(),
  after: identifierSchema.optional(),
  limit: z.number().int().min(1).max(500).optional(),
});
export type ListCreditNotesInput = z.input<typeof listCreditNotesInputSchema>;

/** Parses a command's input; the error lists every wrong field and nothing has been read or written. */
const parsers = new WeakMap<z.ZodType, (input: unknown) => z.ZodSafeParseResult<unknown>>();
const parserFor = (schema: z.ZodType) => {
  let parse = parsers.get(schema);
  if (parse === undefined) {
    parse = fastSafeParse(schema);
    parsers.set(schema, parse);
  }
  return parse;
};

/** The input as the schema parses it (a compiled check; zod only explains a rejection), or every issue found. */
export const validateInput = <S extends z.ZodType>(schema: S, input: unknown): Result<z.output<S>, ValidationError> => {
  const parsed = parserFor(schema)(input);
  return parsed.success ? ok(parsed.data as z.output<S>) : err(new ValidationError(toValidationIssues(parsed.error)));
};

/** A command addressed to one credit note: its id, then its input, each validated before anything is read. */
export const validateCreditNoteCommand = <S extends z.ZodType>(
  rawCreditNoteId: unknown,
  schema: S,
  rawInput: unknown,
): Result<{ creditNoteId: string; input: z.output<S> }, ValidationError> =>
  validateCreditNoteId(rawCreditNoteId).andThen((creditNoteId) =>
    validateInput(schema, rawInput).map((input) => ({ creditNoteId, input })),
  );

/** A credit note id passed as an argument, reported under the name `creditNoteId`. */
const creditNoteIdArgumentSchema = z.object({ creditNoteId: creditNoteIdSchema });
export const validateCreditNoteId = (raw: unknown): Result<string, ValidationError> =>
  validateInput(creditNoteIdArgumentSchema, { creditNoteId: raw }).map((value) => value.creditNoteId);
