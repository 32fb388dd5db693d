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

type Internals = { def: Def; optin?: string; optout?: string; values?: Set<unknown>; traits?: Set<string> };
const internalsOf = (schema: z.ZodType): Internals => (schema as unknown as { _zod: Internals })._zod;
const defOf = (schema: z.ZodType): Def => internalsOf(schema).def;
const traitsOf = (schema: z.ZodType): Set<string> => internalsOf(schema).traits ?? new Set();
const valuesOf = (schema: z.ZodType): Set<unknown> => {
  const values = internalsOf(schema).values;
  return values instanceof Set ? values : fail('a literal or enum without values');
};

/** Whether a schema could take `undefined` for a value: then only the key's presence tells zod's answer. */
const acceptsUndefined = (schema: z.ZodType): boolean => {
  const def = defOf(schema);
  switch (def.type) {
    case 'custom':
    case 'optional':
      return true;
    case 'literal':
      return valuesOf(schema).has(undefined);
    case 'nullable':
      return acceptsUndefined(def.innerType as z.ZodType);
    case 'pipe':
      return acceptsUndefined(def.in as z.ZodType);
    case 'union':
      return (def.options as z.ZodType[]).some(acceptsUndefined);
    default:
      return false;
  }
};

/** Thrown while compiling: the schema uses a feature the compiler does not know, so zod itself must run it. */
class Unsupported extends Error {}

const fail = (what: string): never => {
  throw new Unsupported(what);
};

/** Unicode code points in a string, as zod 4 measures lengths: a well-formed surrogate pair counts once. */
const codePoints = (text: string): number => {
  let count = text.length;
  for (let index = 0; index < text.length - 1; index += 1) {
    const high = text.charCodeAt(index);
    const low = text.charCodeAt(index + 1);
    if (high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
      count -= 1;
      index += 1;
    }
  }
  return count;
};

/**
 * Writes the source of one plain function per schema. Values the code needs
 * (patterns, sets, transforms, nested functions) travel in `constants` and
 * are read as `k[i]`; nothing from a schema is ever spliced into the source
 * except numbers and JSON-quoted keys.
 */
class Emitter {
  readonly constants: unknown[] = [];
  private names = 0;

  constant(value: unknown): string {
    this.constants.push(value);
    return `k[${this.constants.length - 1}]`;
  }

  /** A test that `input` is one of `values`: compared inline when they are few plain strings or numbers. */
  oneOf(values: unknown[], input: string): string {
    const inlinable = (value: unknown) => typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0));
    if (values.length > 0 && values.length <= 8 && values.every(inlinable)) {
      return `(${values.map((value) => `${input} === ${JSON.stringify(value)}`).join(' || ')})`;
    }
    return `${this.constant(new Set(values))}.has(${input})`;
  }

  /** A bound as a literal when it prints back to itself, else as a constant. */
  numberLiteral(value: number | undefined): string {
    return typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0) && Number(String(value)) === value
      ? String(value)
      : this.constant(value);
  }

  name(): string {
    this.names += 1;
    return `v${this.names}`;
  }

  /** Code that reads `input` and assigns the parsed value to `output`, or returns REJECTED (`r`). */
  emit(schema: z.ZodType, input: string, output: string): string {
    const def = defOf(schema);
    if (def.type !== 'string' && def.type !== 'number' && def.type !== 'array' && (def.checks ?? []).length > 0) {
      fail(`checks on ${def.type}`);
    }
    switch (def.type) {
      case 'string':
        return this.string(def, input, output);
      case 'number':
        return this.number(def, input, output);
      case 'boolean':
        return `if (typeof ${input} !== 'boolean') return r; ${output} = ${input};`;
      // The values zod itself accepts (an enum built from a numeric TypeScript enum leaves out its reverse keys).
      case 'literal':
      case 'enum':
        return `if (!${this.oneOf([...valuesOf(schema)], input)}) return r; ${output} = ${input};`;
      case 'nullable':
        return `if (${input} === null) ${output} = null; else { ${this.emit(def.innerType as z.ZodType, input, output)} }`;
      case 'optional':
        if (traitsOf(schema).has('$ZodExactOptional')) fail('exact optional');
        if (internalsOf(def.innerType as z.ZodType).optin === 'defaulted') fail('optional over a default');
        return `if (${input} === undefined) ${output} = undefined; else { ${this.emit(def.innerType as z.ZodType, input, output)} }`;
      case 'default':
        // Read on every use, as zod does: its getter hands out a fresh copy of an object default.
        return `if (${input} === undefined) ${output} = ${this.constant(def)}.defaultValue; else { ${this.emit(def.innerType as z.ZodType, input, output)} }`;
      case 'custom': {
        // z.custom(fn): the predicate decides. One answering a promise only zod can await: refused here, zod then runs it.
        const verdict = this.name();
        return `const ${verdict} = ${this.constant(def.fn)}(${input}); if (!${verdict} || typeof ${verdict}.then === 'function') return r; ${output} = ${input};`;
      }
      case 'pipe':
        return this.pipe(def, input, output);
      case 'object':
        return this.object(def, input, output);
      case 'array':
        return this.array(def, input, output);
      case 'union':
        return this.union(def, input, output);
      default:
        return fail(def.type);
    }
  }

  private string(def: Def, input: string, output: string): string {
    const checks = (def.checks ?? []).map((check) => check._zod.def);
    // A format schema (z.iso.datetime(), z.email()…) carries its own check in its definition.
    if (typeof def.check === 'string') checks.unshift(def as unknown as CheckDef);
    const value = this.name();
    const lines = [`if (typeof ${input} !== 'string') return r;`, `let ${value} = ${input};`];
    for (const check of checks) {
      // Length checks carry a `when` that only asks whether the value has a length, which a string always has.
      if (check.when !== undefined && check.check !== 'min_length' && check.check !== 'max_length') fail('conditional check');
      switch (check.check) {
        // zod measures strings in code points: a surrogate pair is one. Counted only where units leave it in doubt.
        case 'min_length': {
          const minimum = Number(check.minimum);
          lines.push(`if (${value}.length < ${minimum} || (${value}.length < ${minimum * 2} && ${this.constant(codePoints)}(${value}) < ${minimum})) return r;`);
          break;
        }
        case 'max_length': {
          const maximum = Number(check.maximum);
          lines.push(`if (${value}.length > ${maximum} && ${this.constant(codePoints)}(${value}) > ${maximum}) return r;`);
          break;
        }
        case 'string_format':
          // Formats whose whole check is their pattern; others (url, jwt…) run code of their own.
          if ((check.format !== 'regex' && check.format !== 'datetime') || !(check.pattern instanceof RegExp)) {
            fail(`string format ${check.format}`);
          }
          if (check.pattern!.global || check.pattern!.sticky) fail('stateful pattern');
          lines.push(`if (!${this.constant(check.pattern)}.test(${value})) return r;`);
          break;
        case 'overwrite':
          lines.push(`${value} = ${this.constant(check.tx)}(${value});`);
          break;
        default:
          fail(`string check ${check.check}`);
      }
    }
    lines.push(`${output} = ${value};`);
    return lines.join(' ');
  }

  private number(def: Def, input: string, output: string): string {
    if (typeof def.check === 'string') fail('number format schema');
    // zod 4 refuses NaN and the infinities as numbers.
    const lines = [`if (typeof ${input} !== 'number' || !Number.isFinite(${input})) return r;`];
    for (const { _zod: { def: check } } of def.checks ?? []) {
      if (check.when !== undefined) fail('conditional check');
      switch (check.check) {
        case 'number_format':
          if (check.format !== 'safeint') fail(`number format ${check.format}`);
          lines.push(`if (!Number.isSafeInteger(${input})) return r;`);
          break;
        case 'greater_than':
          lines.push(`if (!(${input} ${check.inclusive ? '>=' : '>'} ${this.numberLiteral(check.value)})) return r;`);
          break;
        case 'less_than':
          lines.push(`if (!(${input} ${check.inclusive ? '<=' : '<'} ${this.numberLiteral(check.value)})) return r;`);
          break;
        default:
          fail(`number check ${check.check}`);
      }
    }
    lines.push(`${output} = ${input};`);
    return lines.join(' ');
  }

  private pipe(def: Def, input: string, output: string): string {
    const outDef = defOf(def.out as z.ZodType);
    if (outDef.type !== 'transform') fail('pipe into a schema');
    const transform = outDef.transform as (value: unknown, payload: { value: unknown; issues: unknown[] }) => unknown;
    // Called as zod calls it, with a payload to report issues in. One that reports any, answers a promise or
    // throws is refused here, and zod then runs it (and throws what it throws).
    const value = this.name();
    const payload = this.name();
    const result = this.name();
    return [
      `let ${value}; ${this.emit(def.in as z.ZodType, input, value)}`,
      `const ${payload} = { value: ${value}, issues: [] }; let ${result};`,
      `try { ${result} = ${this.constant(transform)}(${value}, ${payload}); } catch { return r; }`,
      `if (${payload}.issues.length > 0 || (typeof ${result} === 'object' && ${result} !== null && typeof ${result}.then === 'function')) return r;`,
      `${output} = ${result};`,
    ].join(' ');
  }

  private object(def: Def, input: string, output: string): string {
    // z.strictObject: any key outside the shape (inherited enumerable ones too, as zod's for…in sees them) refuses.
    const strict = def.catchall !== undefined && defOf(def.catchall as z.ZodType).type === 'never';
    if (def.catchall !== undefined && !strict) fail('object catchall');
    const shape = def.shape as Record<string, z.ZodType>;
    const result = this.name();
    const lines = [`if (typeof ${input} !== 'object' || ${input} === null || Array.isArray(${input})) return r;`];
    if (strict) {
      const key = this.name();
      lines.push(`for (const ${key} in ${input}) if (!${this.constant(new Set(Object.keys(shape)))}.has(${key})) return r;`);
    }
    // Unknown keys are dropped, as zod's default object does.
    if (Object.hasOwn(shape, '__proto__')) fail('a __proto__ key');
    const fields = Object.entries(shape).map(([key, schema]) => {
      const { optin, optout } = internalsOf(schema);
      // zod leaves an absent optional key out of its answer; other ways of being optional stay with zod.
      const optional = optin === 'optional' && optout === 'optional';
      if (!optional && optin === 'optional') fail('optional input with a required output');
      // zod refuses an absent required key even when its schema would take `undefined` (z.custom, a literal).
      const mustBePresent = optin === undefined && acceptsUndefined(schema);
      return { key, quoted: JSON.stringify(key), schema, optional, mustBePresent, field: this.name(), value: this.name() };
    });
    for (const { quoted, mustBePresent } of fields) if (mustBePresent) lines.push(`if (!(${quoted} in ${input})) return r;`);
    // Built as one literal when every key is always there (V8 then creates it with its final shape at once);
    // key by key otherwise. A `__proto__` key would set a literal's prototype: that shape is built key by key too.
    const literal = fields.every(({ optional, key }) => !optional && key !== '__proto__');
    if (literal) {
      for (const { quoted, schema, field, value } of fields) {
        lines.push(`const ${field} = ${input}[${quoted}]; let ${value}; ${this.emit(schema, field, value)}`);
      }
      lines.push(`${output} = { ${fields.map(({ quoted, value }) => `${quoted}: ${value}`).join(', ')} };`);
      return lines.join(' ');
    }
    lines.push(`const ${result} = {};`);
    for (const { quoted, schema, optional, field, value } of fields) {
      const read = `const ${field} = ${input}[${quoted}]; let ${value}; ${this.emit(schema, field, value)} ${result}[${quoted}] = ${value};`;
      lines.push(optional ? `if (${quoted} in ${input}) { ${read} }` : `{ ${read} }`);
    }
    lines.push(`${output} = ${result};`);
    return lines.join(' ');
  }

  private array(def: Def, input: string, output: string): string {
    const lines = [`if (!Array.isArray(${input})) return r;`];
    for (const { _zod: { def: check } } of def.checks ?? []) {
      if (check.check === 'min_length') lines.push(`if (${input}.length < ${Number(check.minimum)}) return r;`);
      else if (check.check === 'max_length') lines.push(`if (${input}.length > ${Number(check.maximum)}) return r;`);
      else fail(`array check ${check.check}`);
    }
    const result = this.name();
    const index = this.name();
    const element = this.name();
    const value = this.name();
    lines.push(
      `const ${result} = new Array(${input}.length);`,
      `for (let ${index} = 0; ${index} < ${input}.length; ${index} += 1) { const ${element} = ${input}[${index}]; let ${value}; ${this.emit(def.element as z.ZodType, element, value)} ${result}[${index}] = ${value}; }`,
      `${output} = ${result};`,
    );
    return lines.join(' ');
  }

  private union(def: Def, input: string, output: string): string {
    const options = def.options as z.ZodType[];
    const discriminator = def.discriminator as string | undefined;
    const value = this.name();
    if (discriminator === undefined) {
      // The first option that accepts, as zod's union answers; each option is a function of its own.
      const checks = options.map((option) => this.constant(compileNode(option)));
      const tries = checks.map((check) => `${value} = ${check}(${input}); if (${value} === r) `).join('');
      return `let ${value}; ${tries}return r; ${output} = ${value};`;
    }
    const byValue = new Map<unknown, Check>();
    for (const option of options) {
      const optionDef = defOf(option);
      if (optionDef.type !== 'object') fail('discriminated option that is not an object');
      const discriminant = (optionDef.shape as Record<string, z.ZodType>)[discriminator]!;
      if (defOf(discriminant).type !== 'literal') fail('discriminator that is not a literal');
      const check = compileNode(option);
      for (const literal of valuesOf(discriminant)) byValue.set(literal, check);
    }
    const check = this.name();
    return [
      `if (typeof ${input} !== 'object' || ${input} === null || Array.isArray(${input})) return r;`,
      `const ${check} = ${this.constant(byValue)}.get(${input}[${JSON.stringify(discriminator)}]);`,
      `if (${check} === undefined) return r;`,
      `const ${value} = ${check}(${input}); if (${value} === r) return r; ${output} = ${value};`,
    ].join(' ');
  }
}

/** One generated function for the schema; throws {@link Unsupported}, or whatever forbids code generation here. */
const compileNode = (schema: z.ZodType): Check => {
  const emitter = new Emitter();
  const body = emitter.emit(schema, 'input', 'output');
  const factory = new Function('k', 'r', `return function check(input) { let output; ${body} return output; };`);
  return factory(emitter.constants, REJECTED) as Check;
};

/** A schema compiled for speed, or run through zod because of a feature the compiler lacks (`unsupported` says which). */
export type CompiledSchema = { check: Check; compiled: true } | { check: Check; compiled: false; unsupported: string };

/**
 * Compiles a zod schema into one generated function that accepts exactly
 * what the schema accepts and returns what it would return (defaults,
 * transforms, unknown keys dropped), or {@link REJECTED}: zod's own checks
 * run through a generic loop per field, which costs several times a
 * straight-line function on the hot paths (every stored event read, every
 * line of a replay). The schema stays the single source of truth: the
 * compiler only reads its definition. On a rejection the caller asks zod
 * itself, for its error messages; only the accepting path has to be fast. A
 * schema using a feature not covered here, or a runtime that forbids code
 * generation (a strict Content-Security-Policy), runs through zod
 * (`compiled: false`), so nothing is ever validated less.
 */
export const compileSchema = (schema: z.ZodType): CompiledSchema => {
  try {
    return { check: compileNode(schema), compiled: true };
  } catch (error) {
    return {
      check: (input) => {
        const parsed = schema.safeParse(input);
        return parsed.success ? parsed.data : REJECTED;
      },
      compiled: false,
      unsupported: error instanceof Error ? error.message : String(error),
    };
  }
};

/**
 * The schema's compiled check, compiled on its first call: a module that
 * declares its checks costs nothing to import, and a check never used is never
 * generated.
 */
export const lazyCheck = (schema: z.ZodType): Check => {
  let check: Check | undefined;
  return (input) => (check ??= compileSchema(schema).check)(input);
};

/**
 * A drop-in for `schema.safeParse`: the compiled check answers an accepted
 * input; zod runs only on a rejected one, to say what is wrong.
 */
export const fastSafeParse = <S extends z.ZodType>(schema: S): ((input: unknown) => z.ZodSafeParseResult<z.output<S>>) => {
  const check = lazyCheck(schema);
  return (input) => {
    const value = check(input);
    return value === REJECTED ? schema.safeParse(input) : { success: true, data: value as z.output<S> };
  };
};

/** A drop-in for `schema.parse`: the compiled check answers an accepted input; zod throws its error for a rejected one. */
export const fastParse = <S extends z.ZodType>(schema: S): ((input: unknown) => z.output<S>) => {
  const check = lazyCheck(schema);
  return (input) => {
    const value = check(input);
    return value === REJECTED ? schema.parse(input) : (value as z.output<S>);
  };
};
