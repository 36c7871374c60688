/** Which frames of a video to keep: shared by every frame decoder (ffmpeg, `<video>`) and by frame lists. */

/** `n` evenly spaced sample times over `duration` seconds: the middle of each of `n` equal segments. */
export function sampleTimes(duration: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (duration * (i + 0.5)) / n);
}

/** Exactly `n` items chosen evenly from `items` (the middle of each of `n` equal spans), repeating when it has fewer. */
export function resampleFrames<T>(items: T[], n: number): T[] {
  if (items.length === n) return items;
  return Array.from({ length: n }, (_, i) => items[Math.min(items.length - 1, Math.floor(((i + 0.5) * items.length) / n))]!);
}

/** Picks `n` items evenly from a longer list (all of them when it has at most `n`). */
export function sampleEvenly<T>(items: T[], n: number): T[] {
  return items.length <= n ? items : resampleFrames(items, n);
}
