import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { APPEND_FUNCTION_SQL, INIT_SQL, MIGRATIONS } from '../src/adapters/sql/schema.js';
import { outboxChannel } from '../src/adapters/sql/sqlClient.js';

describe('SQL schema', () => {
  it('ships sql/001_init.sql byte for byte as INIT_SQL, for hosts with their own migration tool', () => {
    expect(readFileSync(new URL('../sql/001_init.sql', import.meta.url), 'utf8')).toBe(INIT_SQL);
  });

  it('ships sql/002_append_function.sql byte for byte as migration 2', () => {
    expect(readFileSync(new URL('../sql/002_append_function.sql', import.meta.url), 'utf8')).toBe(APPEND_FUNCTION_SQL);
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
