import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { INIT_SQL, MIGRATIONS } from '../src/adapters/sql/schema.js';

describe('SQL schema', () => {
  it('ships sql/001_init.sql byte for byte as INIT_SQL, for hosts with their own migration tool', () => {
    expect(readFileSync(new URL('../sql/001_init.sql', import.meta.url), 'utf8')).toBe(INIT_SQL);
  });

  it('numbers migrations 1, 2, 3… with no gap', () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
  });
});
