/**
 * The logger port, in pino's calling convention: an object of fields first,
 * then a short message (`logger.info({ creditNoteId }, 'refund created')`).
 * A pino instance fits as is, and so does anything with the same four
 * methods. `child` is optional: the library writes its fields on each line
 * itself and never calls it.
 *
 * The library writes ids, codes, statuses and durations only: never a raw
 * webhook body, a notification or hook payload, card data or a secret.
 */
export type Logger = {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: object): Logger;
};

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const nothing = (): void => {};

/** The default: writes nothing. */
export const silentLogger: Logger = Object.freeze({ debug: nothing, info: nothing, warn: nothing, error: nothing });
