/** The version the library reports to tracers and meters; `test/observability.test.ts` keeps it equal to package.json's. */
export const libraryVersion = '0.1.0';

/** The instrumentation scope name of every span and metric. */
export const instrumentationName = 'refund-lifecycle';
