import argon2 from 'argon2'
import { serveIpc } from '../lib/ipc.js'
import { Histogram, type LatencySummary } from '../lib/histogram.js'

/**
 * Floor for logins: argon2id verifications of the server's own hash, back to back at a given concurrency in
 * one process (they run on libuv's thread pool, as in the server), with no HTTP, JSON or database around them.
 */
export type Argon2FloorApi = {
  run(args: { hash: string; password: string; concurrency: number; seconds: number }): Promise<{
    verifies: number
    per_s: number
    latency: LatencySummary
  }>
}

serveIpc<Argon2FloorApi>({
  async run({ hash, password, concurrency, seconds }) {
    const histogram = new Histogram()
    const started = performance.now()
    const deadline = started + seconds * 1000
    let verifies = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const t0 = performance.now()
          if (!(await argon2.verify(hash, password))) throw new Error('the floor hash does not verify')
          histogram.record(performance.now() - t0)
          verifies += 1
        }
      }),
    )
    const elapsed = (performance.now() - started) / 1000
    return { verifies, per_s: verifies / elapsed, latency: histogram.summary() }
  },
})
