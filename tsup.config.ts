import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing/index.ts',
    stripe: 'src/adapters/stripe/index.ts',
    'stripe-testing': 'src/testing/stripe/index.ts',
    adyen: 'src/adapters/adyen/index.ts',
    'adyen-testing': 'src/testing/adyen/index.ts',
    postgres: 'src/adapters/postgres/index.ts',
    pglite: 'src/adapters/pglite/index.ts',
    opentelemetry: 'src/adapters/opentelemetry/index.ts',
    // The bin; esbuild keeps its #! line.
    cli: 'src/cli/main.ts',
  },
  // Optional peers: resolved from the host's node_modules, never bundled.
  external: ['stripe', '@adyen/api-library', 'pg', '@electric-sql/pglite', '@opentelemetry/api'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
});
