/**
 * The project's one seeded random source: weight initialisation (tiny checkpoints, projectors, LoRA), dropout,
 * data shuffling and synthetic data, and sampling all draw from it, so a seed reproduces a run exactly.
 */

/** Mulberry32: a small, fast, seedable PRNG; its state is one 32-bit integer so it checkpoints easily. */
export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}
