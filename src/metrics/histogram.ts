/**
 * A fixed-bucket histogram kept as plain numbers: observing is a short scan and three additions,
 * with no allocation (prom-client's `observe` hashes its label set and allocates on every call).
 */
import type { Sample } from './exposition.js';
import { promValue } from './number-format.js';

export class Histogram {
  /** Per-bucket counts, not cumulative; the last slot counts values above every bound. */
  private readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(v: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && v > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += v;
    this.count++;
  }

  /** `_bucket` (cumulative, `le` last as the Go client writes it), `_sum`, `_count`. */
  samples(name: string, labelNames: readonly string[], labelValues: readonly string[]): Sample[] {
    const bucketNames = [...labelNames, 'le'];
    const out: Sample[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i] as number;
      out.push({ name: `${name}_bucket`, labelNames: bucketNames, labelValues: [...labelValues, promValue(this.bounds[i] as number)], value: cumulative });
    }
    out.push({ name: `${name}_bucket`, labelNames: bucketNames, labelValues: [...labelValues, '+Inf'], value: this.count });
    out.push({ name: `${name}_sum`, labelNames, labelValues, value: this.sum });
    out.push({ name: `${name}_count`, labelNames, labelValues, value: this.count });
    return out;
  }
}
