/** Deepest nesting an API input may have (a task's input is a form's worth of values). */
export const MAX_INPUT_DEPTH = 64;

function kindOf(v: unknown): string | null {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(v) ? null : String(v);
    case 'bigint':
      return 'a BigInt';
    case 'undefined':
      return 'undefined';
    case 'object': {
      if (v === null || Array.isArray(v)) return null;
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto === Object.prototype || proto === null) return null;
      const name = (v as object).constructor?.name;
      return name ? `a ${name}` : 'an object that is not plain';
    }
    default:
      return `a ${typeof v}`;
  }
}

const showPath = (path: readonly (string | number)[]): string => (path.length === 0 ? 'the input' : `input.${path.join('.')}`);

/**
 * What keeps a value from being plain JSON, with its path; null if it is plain JSON. The API
 * stores what it is given: a BigInt, NaN, a Map, a Set, a RegExp, a Date or an undefined (all of
 * which superjson would otherwise carry) would be changed on the way in, so they are refused.
 * Iterative, so a deeply nested input cannot overflow the stack.
 */
export function plainJsonProblem(value: unknown, maxDepth = MAX_INPUT_DEPTH): string | null {
  if (value === undefined) return null; // no input at all
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    // A procedure's own optional parameter left undefined (a client's `{cursor: undefined}`) is
    // simply absent; deeper, in the data a task stores, an undefined would be changed.
    if (v === undefined && path.length === 1 && typeof path[0] === 'string') continue;
    const bad = kindOf(v);
    if (bad) return `${showPath(path)} is ${bad}; the API takes plain JSON only (strings, finite numbers, booleans, null, arrays and objects)`;
    if (typeof v !== 'object' || v === null) continue;
    if (path.length >= maxDepth) return `${showPath(path.slice(0, 8))}… is nested deeper than ${maxDepth} levels; flatten the input`;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], path: [...path, i] });
    } else {
      for (const k of Object.keys(v)) stack.push({ v: (v as Record<string, unknown>)[k], path: [...path, k] });
    }
  }
  return null;
}
