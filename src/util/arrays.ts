/**
 * Array helpers that work at any length. `a.push(...b)` and `Math.max(...b)` pass every element as a call
 * argument, on the stack: past roughly 100k elements they throw `RangeError: Maximum call stack size exceeded`
 * (a long prompt did exactly that). These loop instead.
 */

/** Appends every element of `src` to `dst` (in place); returns `dst`. */
export function appendAll<T>(dst: T[], src: ArrayLike<T>): T[] {
  for (let i = 0; i < src.length; i++) dst.push(src[i]!);
  return dst;
}

/** Largest value (`-Infinity` for an empty list, as `Math.max()`). */
export function maxOf(values: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > m || Number.isNaN(values[i]!)) m = values[i]!;
  return m;
}

/** Smallest value (`Infinity` for an empty list, as `Math.min()`). */
export function minOf(values: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! < m || Number.isNaN(values[i]!)) m = values[i]!;
  return m;
}
