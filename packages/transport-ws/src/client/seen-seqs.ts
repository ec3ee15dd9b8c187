/** Out-of-order seqs remembered per chat before the oldest gap is given up on. */
const MAX_AHEAD = 10_000;

/**
 * Which seqs of one chat the client has seen: everything up to `watermark`, plus a set of
 * seqs above it (own messages acknowledged before earlier ones arrived). `resume` asks for
 * everything after the watermark; duplicates are recognised and dropped.
 */
export class SeenSeqs {
  watermark = 0;
  private ahead = new Set<number>();

  /** Records `seq`; false when it was already seen. */
  add(seq: number): boolean {
    if (seq <= this.watermark) return false;
    // The usual case, the next seq with nothing ahead: no set operations (adding then
    // deleting shrinks and regrows the set's table every time).
    if (seq === this.watermark + 1 && this.ahead.size === 0) {
      this.watermark = seq;
      return true;
    }
    if (this.ahead.has(seq)) return false;
    this.ahead.add(seq);
    while (this.ahead.delete(this.watermark + 1)) this.watermark++;
    if (this.ahead.size > MAX_AHEAD) {
      // A gap that never filled: stop waiting for it rather than grow forever.
      this.watermark = Math.min(...this.ahead);
      this.ahead.delete(this.watermark);
      while (this.ahead.delete(this.watermark + 1)) this.watermark++;
    }
    return true;
  }

  has(seq: number): boolean {
    return seq <= this.watermark || this.ahead.has(seq);
  }
}
