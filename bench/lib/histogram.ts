/**
 * A latency histogram with 10 µs buckets up to 10 s (values above land in one overflow bucket, the max is
 * kept exactly). Fixed buckets make histograms from several processes mergeable by adding counts, and
 * recording is one array increment: cheap enough for every delivery of a fan-out.
 * (autocannon's own histogram rounds to whole milliseconds, too coarse for 2 ms targets.)
 */
const BUCKET_MS = 0.01
const BUCKETS = 1_000_000

/** What crosses process boundaries: the non-empty buckets only. */
export interface HistogramData {
  buckets: [index: number, count: number][]
  count: number
  sum: number
  max: number
}

export interface LatencySummary {
  count: number
  mean_ms: number
  p50_ms: number
  p90_ms: number
  p99_ms: number
  p999_ms: number
  max_ms: number
}

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS + 1)
  count = 0
  sum = 0
  max = 0

  record(ms: number): void {
    const value = ms > 0 ? ms : 0
    const index = Math.min(Math.floor(value / BUCKET_MS), BUCKETS)
    this.counts[index]! += 1
    this.count += 1
    this.sum += value
    if (value > this.max) this.max = value
  }

  merge(data: HistogramData): this {
    for (const [index, count] of data.buckets) this.counts[index]! += count
    this.count += data.count
    this.sum += data.sum
    if (data.max > this.max) this.max = data.max
    return this
  }

  toData(): HistogramData {
    const buckets: [number, number][] = []
    for (let index = 0; index <= BUCKETS; index++) {
      const count = this.counts[index]!
      if (count > 0) buckets.push([index, count])
    }
    return { buckets, count: this.count, sum: this.sum, max: this.max }
  }

  /** The upper edge of the bucket holding the p-th quantile (0 < p ≤ 1), capped by the true max. */
  percentile(p: number): number {
    if (this.count === 0) return 0
    const rank = Math.ceil(p * this.count)
    let seen = 0
    for (let index = 0; index <= BUCKETS; index++) {
      seen += this.counts[index]!
      if (seen >= rank) return Math.min((index + 1) * BUCKET_MS, this.max)
    }
    return this.max
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      mean_ms: round(this.count ? this.sum / this.count : 0),
      p50_ms: round(this.percentile(0.5)),
      p90_ms: round(this.percentile(0.9)),
      p99_ms: round(this.percentile(0.99)),
      p999_ms: round(this.percentile(0.999)),
      max_ms: round(this.max),
    }
  }
}

/** Rounds for the report: 3 significant decimals are plenty for milliseconds and ratios. */
export function round(value: number, digits = 3): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes on one machine. */
export const wallMs = (): number => performance.timeOrigin + performance.now()
