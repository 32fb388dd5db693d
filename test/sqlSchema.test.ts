import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { APPEND_FUNCTION_SQL, INIT_SQL, LATEST_SCHEMA_VERSION, MIGRATIONS, OPERATIONS_READS_SQL } from '../src/adapters/sql/schema.js';
import { outboxChannel } from '../src/adapters/sql/sqlClient.js';

describe('SQL schema', () => {
  it('ships sql/001_init.sql byte for byte as INIT_SQL, for hosts with their own migration tool', () => {
    expect(readFileSync(new URL('../sql/001_init.sql', import.meta.url), 'utf8')).toBe(INIT_SQL);
  });

  it('ships sql/002_append_function.sql byte for byte as migration 2', () => {
    expect(readFileSync(new URL('../sql/002_append_function.sql', import.meta.url), 'utf8')).toBe(APPEND_FUNCTION_SQL);
  });

  it('ships sql/003_operations_reads.sql byte for byte as migration 3', () => {
    expect(readFileSync(new URL('../sql/003_operations_reads.sql', import.meta.url), 'utf8')).toBe(OPERATIONS_READS_SQL);
    expect(MIGRATIONS[2]).toEqual({ version: 3, name: '003_operations_reads', sql: OPERATIONS_READS_SQL });
  });

  it('ships every migration as sql/<name>.sql, and the latest version is the last one', () => {
    for (const migration of MIGRATIONS) {
      expect(readFileSync(new URL(`../sql/${migration.name}.sql`, import.meta.url), 'utf8'), migration.name).toBe(migration.sql);
    }
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('numbers migrations 1, 2, 3… with no gap', () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
  });
});

describe('the outbox notification channel', () => {
  it('is the schema name plus _outbox, and a hash of it when that would pass the 63-byte identifier limit', () => {
    expect(outboxChannel('refund_lifecycle')).toBe('refund_lifecycle_outbox');
    const long = 'a'.repeat(60);
    expect(outboxChannel(long)).toMatch(/^outbox_[0-9a-f]{16}$/);
    expect(outboxChannel(long)).toBe(outboxChannel(long));
    expect(outboxChannel(long)).not.toBe(outboxChannel('b'.repeat(60)));
  });
});
