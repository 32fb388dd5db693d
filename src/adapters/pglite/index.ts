import { sqlEventStore, type SqlEventStore } from '../sql/sqlEventStore.js';
import { outboxChannel, type SqlClient } from '../sql/sqlClient.js';

export { INIT_SQL, LATEST_SCHEMA_VERSION, MIGRATIONS } from '../sql/schema.js';
export { DEFAULT_SCHEMA, type SqlClient } from '../sql/sqlClient.js';
export type { SqlEventStore } from '../sql/sqlEventStore.js';

/*
 * PGlite's own declarations need `@types/emscripten` and the DOM lib in any
 * program that type-checks them (skipLibCheck off). This entry therefore
 * speaks to PGlite through the few members it uses, and loads the module
 * itself only at run time: neither this library nor its users need those types.
 */

/** What the store uses of a PGlite transaction. */
export type PGliteTransactionLike = {
  query<T>(sql: string, params?: any[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<unknown>;
};

/** What the store uses of a PGlite instance; a `PGlite` from `@electric-sql/pglite` is one. */
export type PGliteLike = PGliteTransactionLike & {
  transaction<T>(fn: (tx: PGliteTransactionLike) => Promise<T>): Promise<T>;
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
};

export type PgliteStoreOptions = (
  | { /** A PGlite instance the host owns (and closes). */ db: PGliteLike; dataDir?: never }
  | {
      /** Where the store opens its own PGlite (`memory://`, a directory, `idb://…`); closed by `close()`. */
      dataDir: string;
      db?: never;
    }
) & {
  /** PostgreSQL schema holding the tables; default `refund_lifecycle`. */
  schema?: string;
};

export type PgliteEventStore = SqlEventStore & {
  /** Closes the database when the store opened it; an instance passed in is left to its owner. */
  close(): Promise<void>;
};

// A specifier the compiler does not follow, so PGlite's declarations stay out of every program (see above).
const PGLITE_MODULE: string = '@electric-sql/pglite';

/** Opens a PGlite database (`memory://` for one in memory) from the optional peer `@electric-sql/pglite`. */
export const openPglite = async (dataDir = 'memory://'): Promise<PGliteLike> => {
  const { PGlite } = (await import(/* @vite-ignore */ PGLITE_MODULE)) as {
    PGlite: { create(dataDir?: string): Promise<PGliteLike> };
  };
  return PGlite.create(dataDir);
};

const onTransaction = (tx: PGliteTransactionLike): SqlClient => ({
  async query<T>(sql: string, params?: unknown[]) {
    return { rows: (await tx.query<T>(sql, params)).rows };
  },
  async exec(sql: string) {
    await tx.exec(sql);
  },
  transaction: (fn) => fn(onTransaction(tx)),
});

/** PGlite runs one statement or transaction at a time; its `transaction` queues behind the others. */
const pgliteClient = (open: () => Promise<PGliteLike>): SqlClient => ({
  async query<T>(sql: string, params?: unknown[]) {
    return { rows: (await (await open()).query<T>(sql, params)).rows };
  },
  async exec(sql: string) {
    await (await open()).exec(sql);
  },
  transaction: async (fn) => (await open()).transaction((tx) => fn(onTransaction(tx))),
});

/**
 * The event store in PGlite (PostgreSQL compiled to WebAssembly): the same
 * SQL as `refund-lifecycle/postgres`, in process, for tests, demos, desktop
 * and edge apps. Call `migrate()` once before using it.
 *
 * ```ts
 * const store = pgliteStore({ dataDir: 'memory://' });
 * await store.migrate();
 * ```
 */
export const pgliteStore = (options: PgliteStoreOptions): PgliteEventStore => {
  const given = options.db;
  let opening: Promise<PGliteLike> | undefined;
  const open = (): Promise<PGliteLike> =>
    given !== undefined ? Promise.resolve(given) : (opening ??= openPglite(options.dataDir));
  const store = sqlEventStore(pgliteClient(open), options.schema === undefined ? {} : { schema: options.schema });
  return {
    ...store,
    async watchOutbox(onAppended) {
      // PGlite is one process: this wakes the dispatchers that share the instance.
      return (await open()).listen(outboxChannel(store.schema), () => onAppended());
    },
    async close() {
      if (given === undefined && opening !== undefined) await (await opening).close();
    },
  };
};
