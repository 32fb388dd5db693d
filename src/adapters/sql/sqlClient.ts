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

/**
 * The channel an append that enqueued outbox entries notifies (delivered at
 * commit, to every listener). Channel names are identifiers, 63 bytes at most:
 * a longer schema name is shortened with a hash of itself.
 */
export const outboxChannel = (schema: string): string => {
  const channel = `${schema}_outbox`;
  if (new TextEncoder().encode(channel).length <= 63) return channel;
  // FNV-1a, twice with different seeds: short, stable, and free of Node-only modules (PGlite runs in browsers too).
  const fnv = (seed: number) => {
    let hash = seed;
    for (const char of schema) hash = Math.imul(hash ^ char.codePointAt(0)!, 16777619) >>> 0;
    return hash.toString(16).padStart(8, '0');
  };
  return `outbox_${fnv(2166136261)}${fnv(84696351)}`;
};
