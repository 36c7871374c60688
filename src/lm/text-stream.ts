/**
 * Turning a stream of token ids into a stream of text. Decoding token by token breaks multi-byte characters
 * (one emoji spans several byte-level tokens) and word-boundary rules of some tokenizers, so we decode the
 * whole generated sequence each time and emit only the new suffix, holding back a trailing U+FFFD (an
 * incomplete character) until the next token completes it.
 */
export class IncrementalDecoder {
  private ids: number[] = [];
  private emitted = '';

  constructor(private readonly decode: (ids: number[]) => string) {}

  /** Adds a token; returns the newly completed text (possibly ''). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.ids);
    if (text.endsWith('\uFFFD')) return '';
    const delta = text.startsWith(this.emitted) ? text.slice(this.emitted.length) : '';
    this.emitted = text;
    return delta;
  }

  /** Whatever is left (an incomplete character at the very end is emitted as is). */
  flush(): string {
    const text = this.decode(this.ids);
    const delta = text.startsWith(this.emitted) ? text.slice(this.emitted.length) : '';
    this.emitted = text;
    return delta;
  }

  get text(): string {
    return this.emitted;
  }
}

/**
 * Stop strings (OpenAI's `stop`): text is released only once it cannot be the start of a stop string, and
 * generation ends at the first full match, which is not emitted.
 */
export class StopStringFilter {
  private pending = '';
  stopped = false;

  constructor(private readonly stops: string[]) {}

  /** Feeds new text; returns what may be emitted now. Sets `stopped` on a match. */
  push(delta: string): string {
    if (this.stopped) return '';
    if (this.stops.length === 0) return delta;
    this.pending += delta;
    let cut = -1;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i !== -1 && (cut === -1 || i < cut)) cut = i;
    }
    if (cut !== -1) {
      this.stopped = true;
      const out = this.pending.slice(0, cut);
      this.pending = '';
      return out;
    }
    // Hold back the longest suffix that is a prefix of some stop string.
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return out;
  }

  /** Releases held-back text at the end of generation. */
  flush(): string {
    if (this.stopped) return '';
    const out = this.pending;
    this.pending = '';
    return out;
  }
}
