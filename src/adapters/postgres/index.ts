import pg from 'pg';
import { sqlEventStore, type SqlEventStore } from '../sql/sqlEventStore.js';
import type { SqlClient } from '../sql/sqlClient.js';

export { INIT_SQL, LATEST_SCHEMA_VERSION, MIGRATIONS } from '../sql/schema.js';
export { DEFAULT_SCHEMA, type SqlClient } from '../sql/sqlClient.js';
export type { SqlEventStore } from '../sql/sqlEventStore.js';

export type PostgresStoreOptions = (
  | { /** A pool the host owns (and ends). */ pool: pg.Pool; connectionString?: never }
  | { /** The store opens its own pool, ended by `close()`. */ connectionString: string; pool?: never }
) & {
  /** PostgreSQL schema holding the tables; default `refund_lifecycle`. */
  schema?: string;
};

export type PostgresEventStore = SqlEventStore & {
  /** Ends the pool when the store opened it; a pool passed in is left to its owner. */
  close(): Promise<void>;
};

/** Queries run on any pooled connection; a transaction holds one connection from BEGIN to COMMIT. */
const poolClient = (pool: pg.Pool): SqlClient => {
  const on = (connection: pg.Pool | pg.PoolClient, inTransaction: boolean): SqlClient => ({
    async query<T>(sql: string, params?: unknown[]) {
      const result = await connection.query(sql, params);
      return { rows: result.rows as T[] };
    },
    async exec(sql: string) {
      await connection.query(sql);
    },
    async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
      if (inTransaction) return fn(on(connection, true));
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        try {
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
        client.release(broken);
      }
    },
  });
  return on(pool, false);
};

const ownPool = (connectionString: string): pg.Pool => {
  const pool = new pg.Pool({ connectionString });
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
  const ownsPool = options.pool === undefined;
  const pool = options.pool ?? ownPool(options.connectionString);
  const store = sqlEventStore(poolClient(pool), options.schema === undefined ? {} : { schema: options.schema });
  return {
    ...store,
    async close() {
      if (ownsPool) await pool.end();
    },
  };
};
