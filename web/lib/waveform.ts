/**
 * The line's waveform for the timeline inspector: min/max peaks per bucket of media time, built from the streamed
 * PCM chunks as they arrive (each chunk at its `start_ms`), cut at a provider switch like the audio itself.
 */

/** Bucket width: 10 ms gives ~100 peaks a second, plenty for a strip a few hundred pixels wide. */
export const BUCKET_MS = 10;

export class WaveformTrack {
  /** per bucket: [min, max] in -1..1 (0, 0 where nothing was heard) */
  mins: number[] = [];
  maxs: number[] = [];

  constructor(readonly bucketMs = BUCKET_MS) {}

  /** Add mono samples at `rate` that play from `startMs`. */
  add(samples: Float32Array, rate: number, startMs: number): void {
    if (!(rate > 0) || samples.length === 0) return;
    const perBucket = (rate * this.bucketMs) / 1000;
    const first = Math.floor(startMs / this.bucketMs);
    const offset = ((startMs / this.bucketMs) - first) * perBucket; // samples into the first bucket
    const last = first + Math.floor((offset + samples.length - 1) / perBucket);
    this.grow(last + 1);
    for (let i = 0; i < samples.length; i++) {
      const b = first + Math.floor((offset + i) / perBucket);
      const v = samples[i];
      if (v < this.mins[b]) this.mins[b] = v;
      if (v > this.maxs[b]) this.maxs[b] = v;
    }
  }

  private grow(n: number): void {
    while (this.mins.length < n) {
      this.mins.push(0);
      this.maxs.push(0);
    }
  }

  /** Forget everything from `ms` on (the next provider re-speaks from there). */
  truncate(ms: number): void {
    const keep = Math.ceil(ms / this.bucketMs);
    this.mins.length = Math.min(this.mins.length, keep);
    this.maxs.length = Math.min(this.maxs.length, keep);
  }

  get endMs(): number {
    return this.mins.length * this.bucketMs;
  }

  /**
   * `columns` peaks over 0..`durationMs` (each the widest min/max of the buckets it covers): what a strip of
   * that many pixels draws.
   */
  columns(columns: number, durationMs: number): { min: number; max: number }[] {
    const out: { min: number; max: number }[] = [];
    if (columns <= 0 || !(durationMs > 0)) return out;
    const perColumn = durationMs / this.bucketMs / columns;
    for (let c = 0; c < columns; c++) {
      const from = Math.floor(c * perColumn);
      const to = Math.max(from + 1, Math.floor((c + 1) * perColumn));
      let min = 0;
      let max = 0;
      for (let b = from; b < to && b < this.mins.length; b++) {
        if (this.mins[b] < min) min = this.mins[b];
        if (this.maxs[b] > max) max = this.maxs[b];
      }
      out.push({ min, max });
    }
    return out;
  }
}
