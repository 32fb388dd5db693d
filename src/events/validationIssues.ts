import type { z } from 'zod';
import type { ValidationIssue } from '../errors.js';

/** zod's issues as `{ path: 'payment.paymentId', message }`, the shape every typed error carries. */
export const toValidationIssues = (error: z.ZodError): ValidationIssue[] =>
  error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...issue.path, key].map(String).join('.'), message: 'is not a known field' }))
      : [{ path: issue.path.map(String).join('.'), message: issue.message }],
  );
