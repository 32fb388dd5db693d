import pg from 'pg';
import { sqlEventStore, type SqlEventStore } from '../sql/sqlEventStore.js';
import { outboxChannel, quoteIdentifier, type SqlClient } from '../sql/sqlClient.js';

export { INIT_SQL, LATEST_SCHEMA_VERSION, MIGRATIONS } from '../sql/schema.js';
export { DEFAULT_SCHEMA, type SqlClient } from '../sql/sqlClient.js';
export type { SqlEventStore } from '../sql/sqlEventStore.js';

export type PostgresStoreOptions = (
  | { /** A pool the host owns (and ends). */ pool: pg.Pool; connectionString?: never }
  | { /** The store opens its own pool, ended by `close()`. */ connectionString: string; pool?: never }
) & {
  /** PostgreSQL schema holding the tables; default `refund_lifecycle`. */
  schema?: string;
  /**
   * Longest a statement of the store may run, in milliseconds (PostgreSQL's
   * `statement_timeout`): a statement stuck behind a lock or on a slow server
   * fails instead, the append rolls back whole and the command answers a
   * `StoreError`. On a pool the store opens it is set per connection; on a
   * pool the host passes it is set with `SET LOCAL` inside each of the store's
   * transactions (its single statements then run in one too), so the host's
   * own use of its connections is untouched. Default: the server's setting.
   */
  statementTimeoutMs?: number;
  /**
   * Each connection prepares the store's statements once instead of parsing
   * and planning them on every call (measured: about 30 % more webhooks per
   * second). Default true; set false behind a connection pooler in
   * transaction mode that cannot carry prepared statements (PgBouncer before
   * 1.21, or without `max_prepared_statements`).
   */
  preparedStatements?: boolean;
};

export type PostgresEventStore = SqlEventStore & {
  /** Ends the pool when the store opened it; a pool passed in is left to its owner. */
  close(): Promise<void>;
};

const ignoreError = () => {};

const statementNames = new Map<string, string>();
/** A prepared statement's name, the same for the same text in every process (FNV-1a of it, twice seeded). */
const statementName = (sql: string): string => {
  let name = statementNames.get(sql);
  if (name === undefined) {
    const fnv = (seed: number) => {
      let hash = seed;
      for (let index = 0; index < sql.length; index += 1) hash = Math.imul(hash ^ sql.charCodeAt(index), 16777619) >>> 0;
      return hash.toString(16).padStart(8, '0');
    };
    name = `refund_lifecycle_${fnv(2166136261)}${fnv(84696351)}`;
    statementNames.set(sql, name);
  }
  return name;
};

/**
 * Queries run on any pooled connection; a transaction holds one connection
 * from BEGIN to COMMIT. With `localTimeoutMs`, each transaction sets its own
 * `statement_timeout` and single statements run in a transaction of their own.
 */
const poolClient = (pool: pg.Pool, localTimeoutMs: number | undefined, prepared: boolean): SqlClient => {
  const on = (connection: pg.Pool | pg.PoolClient, inTransaction: boolean): SqlClient => ({
    async query<T>(sql: string, params?: unknown[]) {
      if (!inTransaction && localTimeoutMs !== undefined) return on(pool, false).transaction((tx) => tx.query<T>(sql, params));
      // Named, so each connection parses and plans a statement of the store once, not on every call.
      const result = prepared
        ? await connection.query({ name: statementName(sql), text: sql, values: params ?? [] })
        : await connection.query(sql, params);
      return { rows: result.rows as T[] };
    },
    async exec(sql: string) {
      await connection.query(sql);
    },
    async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
      if (inTransaction) return fn(on(connection, true));
      const client = await pool.connect();
      // A connection the server drops while it is checked out emits 'error' besides failing the query in flight:
      // listened to here, it only fails the transaction (and is destroyed on release), never the process.
      client.on('error', ignoreError);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        try {
          if (localTimeoutMs !== undefined) await client.query(`SET LOCAL statement_timeout = ${localTimeoutMs}`);
          const result = await fn(on(client, true));
          await client.query('COMMIT');
          return result;
        } catch (error) {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackError) {
            // The connection is unusable: destroy it instead of returning it to the pool.
            broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
          }
          throw error;
        }
      } finally {
        client.removeListener('error', ignoreError);
        client.release(broken);
      }
    },
  });
  return on(pool, false);
};

const ownPool = (connectionString: string, statementTimeoutMs?: number): pg.Pool => {
  const pool = new pg.Pool({
    connectionString,
    ...(statementTimeoutMs === undefined ? {} : { statement_timeout: statementTimeoutMs }),
  });
  // An idle connection dropped by the server is removed from the pool; without a listener it would crash the process.
  pool.on('error', () => {});
  return pool;
};

/**
 * The event store in a PostgreSQL server (13 or later) through `pg`. Call
 * `migrate()` once at start-up (idempotent) before using it.
 *
 * ```ts
 * const store = postgresStore({ connectionString: process.env.DATABASE_URL! });
 * await store.migrate();
 * ```
 */
export const postgresStore = (options: PostgresStoreOptions): PostgresEventStore => {
  const timeout = options.statementTimeoutMs;
  if (timeout !== undefined && (!Number.isSafeInteger(timeout) || timeout <= 0)) {
    throw new RangeError(`statementTimeoutMs must be a positive whole number of milliseconds, got ${timeout}`);
  }
  const ownsPool = options.pool === undefined;
  const pool = options.pool ?? ownPool(options.connectionString, timeout);
  const store = sqlEventStore(
    poolClient(pool, ownsPool ? undefined : timeout, options.preparedStatements ?? true),
    options.schema === undefined ? {} : { schema: options.schema },
  );
  return {
    ...store,
    async watchOutbox(onAppended) {
      // A connection of its own for as long as it listens: LISTEN belongs to a session.
      const channel = outboxChannel(store.schema);
      const listener = await pool.connect();
      // A dropped listening connection must not crash the process: the worker falls back to polling.
      let dropped: Error | undefined;
      const lost = (error: Error) => {
        dropped = error;
      };
      const heard = (message: { channel: string }) => {
        if (message.channel === channel) onAppended();
      };
      listener.on('error', lost);
      listener.on('notification', heard);
      try {
        await listener.query(`LISTEN ${quoteIdentifier(channel)}`);
      } catch (error) {
        listener.off('notification', heard);
        listener.release(error instanceof Error ? error : true);
        throw error;
      }
      return async () => {
        listener.off('notification', heard);
        try {
          if (dropped === undefined) await listener.query(`UNLISTEN ${quoteIdentifier(channel)}`);
        } finally {
          listener.off('error', lost);
          listener.release(dropped ?? false);
        }
      };
    },
    async close() {
      if (ownsPool) await pool.end();
    },
  };
};
