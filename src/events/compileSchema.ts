import type { z } from 'zod';

/** What a compiled check answers: the parsed value, or {@link REJECTED}. */
export const REJECTED: unique symbol = Symbol('rejected');
type Check = (input: unknown) => unknown;

/** The parts of zod 4's internal definitions this compiler reads (`schema._zod.def`). */
type Def = {
  type: string;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  [key: string]: unknown;
};
type CheckDef = {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
  tx?: (value: unknown) => unknown;
  when?: unknown;
};

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

const isPlainObject = (input: unknown): input is Record<string, unknown> =>
  typeof input === 'object' && input !== null && !Array.isArray(input);

/** Thrown while compiling: the schema uses a feature the compiler does not know, so zod itself must run it. */
class Unsupported extends Error {}

const fail = (what: string): never => {
  throw new Unsupported(what);
};

const stringCheck = (check: CheckDef): ((value: string) => string | typeof REJECTED) => {
  // Length checks carry a `when` that only asks whether the value has a length, which a string always has.
  if (check.when !== undefined && check.check !== 'min_length' && check.check !== 'max_length') fail('conditional check');
  switch (check.check) {
    case 'min_length': {
      const minimum = check.minimum!;
      return (value) => (value.length >= minimum ? value : REJECTED);
    }
    case 'max_length': {
      const maximum = check.maximum!;
      return (value) => (value.length <= maximum ? value : REJECTED);
    }
    case 'string_format': {
      // Formats whose whole check is their pattern; others (url, jwt…) run code of their own.
      if ((check.format !== 'regex' && check.format !== 'datetime') || !(check.pattern instanceof RegExp)) {
        return fail(`string format ${check.format}`);
      }
      const pattern = check.pattern;
      if (pattern.global || pattern.sticky) fail('stateful pattern');
      return (value) => (pattern.test(value) ? value : REJECTED);
    }
    case 'overwrite': {
      const tx = check.tx!;
      return (value) => tx(value) as string;
    }
    default:
      return fail(`string check ${check.check}`);
  }
};

const numberCheck = (check: CheckDef): ((value: number) => boolean) => {
  if (check.when !== undefined) fail('conditional check');
  switch (check.check) {
    case 'number_format':
      if (check.format !== 'safeint') fail(`number format ${check.format}`);
      return (value) => Number.isSafeInteger(value);
    case 'greater_than': {
      const bound = check.value!;
      return check.inclusive ? (value) => value >= bound : (value) => value > bound;
    }
    case 'less_than': {
      const bound = check.value!;
      return check.inclusive ? (value) => value <= bound : (value) => value < bound;
    }
    default:
      return fail(`number check ${check.check}`);
  }
};

const compileString = (def: Def): Check => {
  const checks = (def.checks ?? []).map((check) => stringCheck(check._zod.def));
  // A format schema (z.iso.datetime(), z.email()…) carries its own check in its definition.
  if (typeof def.check === 'string') checks.unshift(stringCheck(def as unknown as CheckDef));
  return (input) => {
    if (typeof input !== 'string') return REJECTED;
    let value: string | typeof REJECTED = input;
    for (const check of checks) {
      value = check(value);
      if (value === REJECTED) return REJECTED;
    }
    return value;
  };
};

const compileNumber = (def: Def): Check => {
  if (typeof def.check === 'string') fail('number format schema');
  const checks = (def.checks ?? []).map((check) => numberCheck(check._zod.def));
  return (input) => {
    // zod 4 refuses NaN and the infinities as numbers.
    if (typeof input !== 'number' || !Number.isFinite(input)) return REJECTED;
    for (const check of checks) if (!check(input)) return REJECTED;
    return input;
  };
};

const compileObject = (def: Def): Check => {
  // z.strictObject: any key outside the shape (inherited enumerable ones too, as zod's for…in sees them) refuses.
  const strict = def.catchall !== undefined && defOf(def.catchall as z.ZodType).type === 'never';
  if (def.catchall !== undefined && !strict) fail('object catchall');
  const shape = def.shape as Record<string, z.ZodType>;
  const known = new Set(Object.keys(shape));
  const fields = Object.entries(shape).map(([key, schema]) => {
    const { optin, optout } = (schema as unknown as { _zod: { optin?: string; optout?: string } })._zod;
    // zod leaves an absent optional key out of its answer; other ways of being optional stay with zod.
    const optional = optin === 'optional' && optout === 'optional';
    if (!optional && optin === 'optional') fail('optional input with a required output');
    return { key, check: compileNode(schema), optional };
  });
  return (input) => {
    if (!isPlainObject(input)) return REJECTED;
    if (strict) for (const key in input) if (!known.has(key)) return REJECTED;
    // Unknown keys are dropped, as zod's default object does.
    const output: Record<string, unknown> = {};
    for (const { key, check, optional } of fields) {
      if (optional && !(key in input)) continue;
      const value = check(input[key]);
      if (value === REJECTED) return REJECTED;
      output[key] = value;
    }
    return output;
  };
};

const literalValues = (schema: z.ZodType): unknown[] | null => {
  const def = defOf(schema);
  return def.type === 'literal' ? (def.values as unknown[]) : null;
};

const compileUnion = (def: Def): Check => {
  const options = def.options as z.ZodType[];
  const discriminator = def.discriminator as string | undefined;
  if (discriminator === undefined) {
    const checks = options.map(compileNode);
    return (input) => {
      for (const check of checks) {
        const value = check(input);
        if (value !== REJECTED) return value;
      }
      return REJECTED;
    };
  }
  const byValue = new Map<unknown, Check>();
  for (const option of options) {
    const optionDef = defOf(option);
    if (optionDef.type !== 'object') fail('discriminated option that is not an object');
    const values = literalValues((optionDef.shape as Record<string, z.ZodType>)[discriminator]!);
    if (values === null) fail('discriminator that is not a literal');
    const check = compileNode(option);
    for (const value of values!) byValue.set(value, check);
  }
  return (input) => {
    if (!isPlainObject(input)) return REJECTED;
    const check = byValue.get(input[discriminator]);
    return check === undefined ? REJECTED : check(input);
  };
};

const compileNode = (schema: z.ZodType): Check => {
  const def = defOf(schema);
  if (def.type !== 'string' && def.type !== 'number' && def.type !== 'array' && (def.checks ?? []).length > 0) {
    fail(`checks on ${def.type}`);
  }
  switch (def.type) {
    case 'boolean':
      return (input) => (typeof input === 'boolean' ? input : REJECTED);
    case 'array': {
      const element = compileNode(def.element as z.ZodType);
      const lengthChecks = (def.checks ?? []).map(({ _zod: { def: check } }) => {
        if (check.check === 'min_length') return (length: number) => length >= check.minimum!;
        if (check.check === 'max_length') return (length: number) => length <= check.maximum!;
        return fail(`array check ${check.check}`);
      });
      return (input) => {
        if (!Array.isArray(input)) return REJECTED;
        for (const check of lengthChecks) if (!check(input.length)) return REJECTED;
        const output = new Array<unknown>(input.length);
        for (let index = 0; index < input.length; index += 1) {
          const value = element(input[index]);
          if (value === REJECTED) return REJECTED;
          output[index] = value;
        }
        return output;
      };
    }
    case 'string':
      return compileString(def);
    case 'number':
      return compileNumber(def);
    case 'object':
      return compileObject(def);
    case 'union':
      return compileUnion(def);
    case 'literal': {
      const values = def.values as unknown[];
      return (input) => (values.includes(input) ? input : REJECTED);
    }
    case 'enum': {
      const values = new Set(Object.values(def.entries as Record<string, unknown>));
      return (input) => (values.has(input) ? input : REJECTED);
    }
    case 'optional': {
      const inner = compileNode(def.innerType as z.ZodType);
      return (input) => (input === undefined ? undefined : inner(input));
    }
    case 'nullable': {
      const inner = compileNode(def.innerType as z.ZodType);
      return (input) => (input === null ? null : inner(input));
    }
    case 'default': {
      const inner = compileNode(def.innerType as z.ZodType);
      // Read on every use, as zod does: its getter hands out a fresh copy of an object default.
      return (input) => (input === undefined ? def.defaultValue : inner(input));
    }
    case 'pipe': {
      const into = compileNode(def.in as z.ZodType);
      const outDef = defOf(def.out as z.ZodType);
      if (outDef.type !== 'transform') fail('pipe into a schema');
      const transform = outDef.transform as (value: unknown) => unknown;
      // A transform that takes zod's context may report issues through it: only zod can run that.
      if (transform.length > 1) fail('transform with a context');
      return (input) => {
        const value = into(input);
        return value === REJECTED ? REJECTED : transform(value);
      };
    }
    default:
      return fail(def.type);
  }
};

/** A schema compiled for speed, and whether it fell back to running zod because of a feature the compiler lacks. */
export type CompiledSchema = { check: Check; compiled: true } | { check: Check; compiled: false; unsupported: string };

/**
 * Compiles a zod schema into one plain function that accepts exactly what
 * the schema accepts and returns what it would return (defaults, transforms,
 * unknown keys dropped), or {@link REJECTED}. The schema stays the single
 * source of truth: the compiler only reads its definition. On a rejection the
 * caller asks zod itself, for its error messages; only the accepting path has
 * to be fast. A schema using a feature not covered here runs through zod
 * (`compiled: false`), so nothing is ever validated less.
 */
export const compileSchema = (schema: z.ZodType): CompiledSchema => {
  try {
    return { check: compileNode(schema), compiled: true };
  } catch (error) {
    if (!(error instanceof Unsupported)) throw error;
    return {
      check: (input) => {
        const parsed = schema.safeParse(input);
        return parsed.success ? parsed.data : REJECTED;
      },
      compiled: false,
      unsupported: error.message,
    };
  }
};
