/**
 * Stripe's v1 API takes `application/x-www-form-urlencoded` bodies (and query
 * strings) with bracketed nested keys, as the SDK writes them:
 * `metadata[creditNoteId]=cn_1&expand[0]=latest_charge`. This reads them back
 * into plain objects and arrays so the fake can compare and inspect parameters.
 */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type FormRecord = { [key: string]: FormValue };

// Keys a hostile or sloppy body could use to reach Object.prototype.
const forbiddenSegments = new Set(['__proto__', 'prototype', 'constructor']);

/** `a[b][0]` → `['a', 'b', '0']`; `a[]` → `['a', '']`. */
const keySegments = (key: string): string[] => {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  for (const match of key.slice(open).matchAll(/\[([^\]]*)\]/g)) segments.push(match[1] ?? '');
  return segments;
};

/** Objects whose keys are all indexes (`expand[0]`, `expand[1]`, or `expand[]`) become arrays. */
const arraysFromIndexedObjects = (value: FormValue): FormValue => {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const converted: FormRecord = {};
  for (const key of keys) converted[key] = arraysFromIndexedObjects(value[key]!);
  if (keys.length > 0 && keys.every((key) => /^\d+$/.test(key))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((key) => converted[key]!);
  }
  return converted;
};

export const parseForm = (encoded: string): FormRecord => {
  const root: FormRecord = {};
  for (const [key, value] of new URLSearchParams(encoded)) {
    const segments = keySegments(key);
    if (segments.some((segment) => forbiddenSegments.has(segment))) continue;
    let node: FormRecord = root;
    segments.forEach((rawSegment, index) => {
      // `a[]` appends: give it the next free index so repeated keys keep their order.
      const segment = rawSegment === '' ? String(Object.keys(node).length) : rawSegment;
      if (index === segments.length - 1) {
        node[segment] = value;
        return;
      }
      const child = node[segment];
      if (child === undefined || typeof child === 'string' || Array.isArray(child)) node[segment] = {};
      node = node[segment] as FormRecord;
    });
  }
  return arraysFromIndexedObjects(root) as FormRecord;
};

/** Stable text of parameters, for "same parameters as the first request with this key". */
export const canonicalForm = (value: FormValue): string => {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalForm).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalForm(value[key]!)}`).join(',')}}`;
};

/** The `expand` parameter as a list of dotted paths, whatever form it arrived in. */
export const expansions = (params: FormRecord): string[] => {
  const expand = params['expand'];
  if (expand === undefined) return [];
  if (typeof expand === 'string') return [expand];
  if (Array.isArray(expand)) return expand.filter((item): item is string => typeof item === 'string');
  return Object.values(expand).filter((item): item is string => typeof item === 'string');
};
