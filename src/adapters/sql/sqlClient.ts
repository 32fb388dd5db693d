/**
 * The little a SQL event store needs from a PostgreSQL driver: parameterised
 * queries, multi-statement scripts and a transaction on one connection. The
 * `pg` and PGlite adapters each implement it in a few lines.
 */
export type SqlClient = {
  /** One statement with `$1`-style parameters. */
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** A script of several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
};

/** The SQLSTATE and constraint of a driver error, when it carries them (`pg` and PGlite both do). */
export const sqlErrorOf = (error: unknown): { code?: string; constraint?: string } => {
  if (typeof error !== 'object' || error === null) return {};
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  return {
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof constraint === 'string' ? { constraint } : {}),
  };
};

export const UNIQUE_VIOLATION = '23505';

/** `"name"` with embedded quotes doubled, for schema names given by the host. */
export const quoteIdentifier = (name: string): string => {
  if (name.length === 0 || name.length > 63) throw new RangeError(`Invalid PostgreSQL schema name: ${JSON.stringify(name)}`);
  return `"${name.replaceAll('"', '""')}"`;
};

export const DEFAULT_SCHEMA = 'refund_lifecycle';

/** The channel an append that enqueued outbox entries notifies (delivered at commit, to every listener). */
export const outboxChannel = (schema: string): string => `${schema}_outbox`;
